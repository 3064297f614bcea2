"""The quote flow a keeper keeps for a feature recorder: the raw last quote and the cumulative order flow imbalance,
equal to the sum of ``book.signals.ofi`` over every step between accepted quotes, on the raw prices."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book import keeper as keeper_module
from tapeflow.book.keeper import BookKeeper, Impl
from tapeflow.book.quote_book import FlowQuoteBook, QuoteBook, QuoteFlow, ofi_total
from tapeflow.book.signals import ofi
from tapeflow.book.view import TopOfBook
from tapeflow.data.taq import TaqReader
from tapeflow.engine.kernel import Kernel
from tapeflow.model import Quote
from tapeflow.model.errors import EngineError

from .test_quote_book import _reference, _state

BAC = "lean-algoseek-us-equity/tick/bac/20131007_quote.zip"


def _top(q: Quote) -> TopOfBook:
    return TopOfBook(bid_price=q.bid_price, bid_size=q.bid_size, ask_price=q.ask_price, ask_size=q.ask_size)


def _ofi_sums(quotes: list[Quote]) -> dict[str, int]:
    """Per symbol, ``book.signals.ofi`` summed over each step between the quotes the keeper accepts (an NBBO
    symbol ignores other venues), on the raw prices, as the feature recorder once did per quote."""
    last: dict[str, Quote] = {}
    nbbo: set[str] = set()
    sums: dict[str, int] = {}
    for q in quotes:
        if q.venue == "NBBO":
            nbbo.add(q.symbol)
        elif q.symbol in nbbo:
            continue
        prev = last.get(q.symbol)
        sums[q.symbol] = sums.get(q.symbol, 0) + (ofi(_top(prev), _top(q)) if prev is not None else 0)
        last[q.symbol] = q
    return sums


def _flow_keeper() -> tuple[BookKeeper, list[str]]:
    keeper, told = BookKeeper("L1"), []
    assert keeper.track_flow(lambda book: told.append(book.symbol))
    return keeper, told


rows = st.lists(
    st.tuples(
        st.sampled_from(["BAC", "AAPL"]),
        st.integers(0, 4),
        st.integers(0, 3),
        st.integers(0, 4),
        st.integers(0, 3),
        st.sampled_from(["NBBO", "XNAS", "ARCX", "XNAS"]),
        st.integers(0, 10),
    ),
    max_size=80,
)


def _quotes(data: list[tuple[str, int, int, int, int, str, int]]) -> list[Quote]:
    out, ts = [], 0
    for symbol, bid, bid_size, ask, ask_size, venue, gap in data:
        ts += gap
        out.append(
            Quote(
                ts_event=ts,
                ts_init=ts + 1,
                symbol=symbol,
                bid_price=bid * 100,
                bid_size=bid_size * 100,
                ask_price=ask * 100,
                ask_size=ask_size * 100,
                venue=venue,
            )
        )
    return out


@settings(max_examples=300, deadline=None)
@given(rows)
def test_the_flow_path_keeps_the_plain_book_and_an_order_flow_equal_to_summed_signals_ofi(
    data: list[tuple[str, int, int, int, int, str, int]],
) -> None:
    quotes = _quotes(data)
    keeper, told = _flow_keeper()
    for q in quotes:
        keeper.on_quote_flow(q)
    reference, sums = _reference(quotes), _ofi_sums(quotes)
    assert sorted(told) == sorted(reference)  # each new book announced once
    flows: dict[str, QuoteFlow] = {}
    for q in quotes:  # the recorder's own flow (no keeper: L2/L3) with the same NBBO rule
        if q.venue != "NBBO" and q.symbol in flows and reference[q.symbol].nbbo and _seen_nbbo(quotes, q):
            continue
        flows.setdefault(q.symbol, QuoteFlow()).apply(q)
    for symbol, plain in reference.items():
        book = keeper.book(symbol)
        assert isinstance(book, FlowQuoteBook)
        assert _state(book) == _state(plain)  # the book everyone reads is the plain path's
        assert ofi_total(book.ofi_base, book.quote) == sums[symbol]
        accepted = [q for q in quotes if q.symbol == symbol and (q.venue == "NBBO" or not _seen_nbbo(quotes, q))]
        assert book.quote is accepted[-1]  # the raw last quote, its ts_init with it
        assert (flows[symbol].quote, flows[symbol].ofi_base) == (book.quote, book.ofi_base)
        applied = FlowQuoteBook(symbol)  # the reference ``apply`` the keeper writes out
        for q in accepted:
            applied.apply(q)
        applied.nbbo = book.nbbo  # the keeper's rule, not the book's
        assert _state(applied) == _state(book) and applied.ofi_base == book.ofi_base


def _seen_nbbo(quotes: list[Quote], q: Quote) -> bool:
    """An NBBO quote of ``q``'s symbol came before ``q``."""
    for other in quotes:
        if other is q:
            return False
        if other.symbol == q.symbol and other.venue == "NBBO":
            return True
    return False


def test_the_flow_path_on_a_real_taq_day_equals_the_plain_book_and_summed_signals_ofi(data_dir: Path) -> None:
    quotes = [e for e in TaqReader.for_day(data_dir / BAC) if isinstance(e, Quote)]
    keeper, told = _flow_keeper()
    sums, checked = 0, 0
    last: Quote | None = None
    for i, q in enumerate(quotes):
        keeper.on_quote_flow(q)
        if q.venue == "NBBO" or last is None:  # this day is NBBO throughout
            sums += ofi(_top(last), _top(q)) if last is not None else 0
            last = q
        if i % 10_000 == 0:
            book = keeper.book("BAC")
            assert isinstance(book, FlowQuoteBook) and ofi_total(book.ofi_base, book.quote) == sums
            checked += 1
    book = keeper.book("BAC")
    assert isinstance(book, FlowQuoteBook) and told == ["BAC"] and checked > 10
    assert ofi_total(book.ofi_base, book.quote) == sums and sums != 0
    assert _state(book) == _state(_reference(quotes)["BAC"])


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_a_keeper_no_one_asks_builds_plain_quote_books_through_its_plain_handler(impl: Impl) -> None:
    if impl == "compiled" and not keeper_module.COMPILED_AVAILABLE:
        pytest.skip("the compiled quote handler was not built")
    kernel, keeper = Kernel(), BookKeeper("L1", impl=impl)
    kernel.add(keeper)
    kernel.start(at=1)
    kernel.run([Quote(ts_event=1, ts_init=1, symbol="X", bid_price=100, bid_size=1, ask_price=101, ask_size=1)])
    book = keeper.book("X")
    assert type(book) is QuoteBook and kernel._table[Quote] == keeper.quote_handler != keeper.on_quote_flow
    assert (kernel._table[Quote] == keeper.on_quote) is (impl == "python")


def test_flow_is_asked_before_the_keeper_is_attached_and_only_on_l1() -> None:
    kernel, keeper = Kernel(), BookKeeper("L1")
    kernel.add(keeper)
    with pytest.raises(EngineError, match="before the keeper is attached"):
        keeper.track_flow(lambda book: None)
    assert not BookKeeper("L2").track_flow(lambda book: None)
    assert not BookKeeper("L3").track_flow(lambda book: None)
