"""The L1 book: the last quote, and whether it is crossed (the one thing about its integrity it can know)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book.keeper import BookKeeper
from tapeflow.book.quote_book import QuoteBook
from tapeflow.model import Quote
from tapeflow.model.prices import NO_PRICE


def _quote(ts: int, bid: int, ask: int, bid_size: int = 100, ask_size: int = 100, venue: str = "NBBO") -> Quote:
    return Quote(
        ts_event=ts,
        ts_init=ts,
        symbol="BAC",
        bid_price=bid,
        bid_size=bid_size,
        ask_price=ask,
        ask_size=ask_size,
        venue=venue,
    )


def test_a_crossed_quote_is_one_episode_until_a_quote_uncrosses_it_and_locked_is_not_crossed() -> None:
    book = QuoteBook("BAC")
    book.apply(_quote(10, 150_000, 150_100))
    assert not book.crossed and book.trustworthy
    book.apply(_quote(20, 150_200, 150_100))
    book.apply(_quote(25, 150_300, 150_100))  # still the same episode
    assert book.crossed and not book.trustworthy and book.crossings == 1
    book.apply(_quote(40, 150_100, 150_100))  # locked
    assert not book.crossed
    book.apply(_quote(50, 150_200, 150_100))
    totals = book.totals(end_ns=70)
    assert (totals.crossings, totals.crossed_ns) == (2, 20 + 20)  # 20..40, and 50..70 closed at the end


def test_an_empty_side_never_crosses() -> None:
    book = QuoteBook("BAC")
    book.apply(_quote(1, 150_000, 140_000, ask_size=0))
    assert book.best_ask == NO_PRICE and not book.crossed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 10)), min_size=1, max_size=40))
def test_crossed_time_and_episodes_equal_a_reference_count(quotes: list[tuple[int, int, int]]) -> None:
    book = QuoteBook("BAC")
    ts = 0
    episodes = crossed_ns = 0
    was, since = False, 0
    for bid, ask, gap in quotes:
        ts += gap
        book.apply(_quote(ts, bid * 100, ask * 100))
        now = bid > ask > 0
        if now and not was:
            episodes, since = episodes + 1, ts
        elif was and not now:
            crossed_ns += ts - since
        was = now
        assert book.crossed is now
    if was:
        crossed_ns += ts + 5 - since
    assert (book.totals(ts + 5).crossings, book.totals(ts + 5).crossed_ns) == (episodes, crossed_ns)


def test_the_keeper_reports_quote_books_among_the_books(data_dir: Path) -> None:
    from tapeflow.data.taq import TaqReader

    keeper = BookKeeper("L1")
    reader = TaqReader.for_day(data_dir / "lean-algoseek-us-equity" / "tick" / "bac" / "20131007_quote.zip")
    n = 0
    for event in reader:
        if isinstance(event, Quote):
            keeper.on_quote(event)
            n += 1
    assert n > 100_000
    (row,) = keeper.totals()
    assert row.symbol == "BAC" and row.crossings == 0 and row.crossed_ns == 0  # the NBBO of this day never crosses


def test_the_keepers_book_lookup_read_once_finds_books_built_after_it() -> None:
    """Readers bind ``keeper.book`` once (risk's fast check, the exchange): the lookup is the registry's own, so a
    symbol first seen later is found through it, and an unknown one is None."""
    keeper = BookKeeper("L1")
    book = keeper.book
    assert book("BAC") is None
    keeper.on_quote(Quote(ts_event=1, ts_init=1, symbol="BAC", bid_price=100, bid_size=1, ask_price=101, ask_size=1))
    found = book("BAC")
    assert isinstance(found, QuoteBook) and found is keeper.book("BAC") and found.bid_price == 100


_STATE = ("bid_price", "bid_size", "ask_price", "ask_size", "ts", "version", "nbbo", "crossed", "crossings")


def _state(book: QuoteBook) -> tuple[object, ...]:
    return (*(getattr(book, name) for name in _STATE), book.crossed_ns, book.crossed_since)


def _reference(quotes: list[Quote]) -> dict[str, QuoteBook]:
    """The books ``QuoteBook.apply`` builds, with the keeper's NBBO rule applied by hand."""
    books: dict[str, QuoteBook] = {}
    for q in quotes:
        book = books.setdefault(q.symbol, QuoteBook(q.symbol))
        if q.venue == "NBBO":
            book.nbbo = True
        elif book.nbbo:
            continue
        book.apply(q)
    return books


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["BAC", "AAPL"]),
            st.integers(0, 5),
            st.integers(0, 3),
            st.integers(0, 5),
            st.integers(0, 3),
            st.sampled_from(["NBBO", "XNAS", "ARCX"]),
            st.integers(0, 10),
        ),
        max_size=60,
    )
)
def test_the_keepers_quote_path_builds_the_books_quote_book_apply_builds(
    rows: list[tuple[str, int, int, int, int, str, int]],
) -> None:
    quotes, ts = [], 0
    for symbol, bid, bid_size, ask, ask_size, venue, gap in rows:
        ts += gap
        quotes.append(
            Quote(
                ts_event=ts,
                ts_init=ts,
                symbol=symbol,
                bid_price=bid * 100,
                bid_size=bid_size * 100,
                ask_price=ask * 100,
                ask_size=ask_size * 100,
                venue=venue,
            )
        )
    keeper = BookKeeper("L1")
    for q in quotes:
        keeper.on_quote(q)
    reference = _reference(quotes)
    assert sorted(reference) == sorted(b.symbol for b in keeper._quote_books.values())
    for symbol, book in reference.items():
        assert _state(keeper._quote_books[symbol]) == _state(book)


def test_the_keepers_quote_path_equals_quote_book_apply_on_a_real_day(data_dir: Path) -> None:
    from tapeflow.data.taq import TaqReader

    reader = TaqReader.for_day(data_dir / "lean-algoseek-us-equity" / "tick" / "bac" / "20131007_quote.zip")
    quotes = [e for e in reader if isinstance(e, Quote)]
    keeper = BookKeeper("L1")
    for q in quotes:
        keeper.on_quote(q)
    reference = _reference(quotes)
    assert len(quotes) > 100_000 and list(reference) == ["BAC"]
    assert _state(keeper._quote_books["BAC"]) == _state(reference["BAC"])
