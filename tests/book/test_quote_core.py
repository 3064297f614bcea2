"""The compiled quote handler (``_quote_core.pyx``) against the keeper's Python ``on_quote``, the reference: the
same quotes fed to a keeper of each kind, and the same books (every slot), the same errors, after each quote of a
hypothesis stream and along every real shared quote file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book import keeper as keeper_module
from tapeflow.book.keeper import BookKeeper
from tapeflow.book.quote_book import QuoteBook
from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.data.dbn import DbnReader
from tapeflow.data.taq import TaqReader
from tapeflow.model import Quote
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event

pytestmark = pytest.mark.skipif(not keeper_module.COMPILED_AVAILABLE, reason="the compiled quote handler was not built")


class _Bus:
    """What a keeper attaches to: records the handler it subscribes for quotes."""

    def __init__(self) -> None:
        self.handlers: dict[Any, Callable[[Any], None]] = {}

    def subscribe(self, event_type: Any, handler: Callable[[Any], None]) -> None:
        self.handlers[event_type] = handler

    def emit(self, event: Event) -> None:
        raise AssertionError(f"a quote keeper emits nothing, got {event!r}")


def _attached(
    impl: str, referred: list[Any] | None = None, *, told: list[str] | None = None
) -> tuple[BookKeeper, Callable[[Any], None]]:
    """The keeper and its quote handler; ``referred`` collects the quotes the handler left to the reference.
    Given ``told``, the keeper tracks order flow (its flow handler, the reference ``on_quote_flow``) and ``told``
    collects the new-book notices."""
    keeper = BookKeeper("L1", impl=impl)  # type: ignore[arg-type]
    if told is not None:
        assert keeper.track_flow(lambda book: told.append(book.symbol))
    if referred is not None:
        name = "on_quote" if told is None else "on_quote_flow"
        reference = getattr(keeper, name)

        def counted(quote: Quote) -> None:
            referred.append(quote)
            reference(quote)

        setattr(keeper, name, counted)
    bus = _Bus()
    keeper.attach(bus)
    return keeper, bus.handlers[Quote]


def _state(book: QuoteBook) -> tuple[object, ...]:
    return tuple((name, type(getattr(book, name)), getattr(book, name)) for name in QuoteBook.__slots__)


class _Pair:
    """A Python and a compiled keeper fed the same quotes through the handlers they subscribe."""

    def __init__(self) -> None:
        self.python, self.on_python = _attached("python")
        self.referred: list[Any] = []
        self.compiled, self.on_compiled = _attached("compiled", self.referred)
        assert (self.python.impl, self.compiled.impl) == ("python", "compiled")
        assert self.on_python == self.python.on_quote and self.on_compiled != self.compiled.on_quote

    def feed(self, quote: Any, check: bool = True) -> None:
        _same_outcome((self.on_python, self.on_compiled), quote)
        if check:
            self.check()

    def check(self) -> None:
        _same_books(self.python, self.compiled, QuoteBook, _state)


def _same_outcome(handlers: tuple[Callable[[Any], None], Callable[[Any], None]], quote: Any) -> None:
    """Both handlers take ``quote`` alike: both return, or both raise the same error."""
    outcomes: list[tuple[type[Exception], str] | None] = []
    for handler in handlers:
        try:
            handler(quote)
            outcomes.append(None)
        except Exception as exc:  # the errors themselves are compared
            outcomes.append((type(exc), str(exc)))
    assert outcomes[0] == outcomes[1], quote


def _same_books(python: BookKeeper, compiled: BookKeeper, kind: type, state: Callable[[Any], object]) -> None:
    """The two keepers hold the same symbols, each book of type ``kind`` in both and equal slot by slot."""
    assert python.symbols() == compiled.symbols()
    for symbol in python.symbols():
        book_python, book_compiled = python.book(symbol), compiled.book(symbol)
        assert type(book_python) is kind and type(book_compiled) is kind
        assert state(book_python) == state(book_compiled), symbol
    assert python.totals() == compiled.totals()


def _quote(symbol: str, bid: Any, bid_size: Any, ask: Any, ask_size: Any, venue: Any, ts: Any) -> Quote:
    return Quote(
        ts_event=ts,
        ts_init=ts,
        symbol=symbol,
        bid_price=bid,
        bid_size=bid_size,
        ask_price=ask,
        ask_size=ask_size,
        venue=venue,
    )


_ODD = st.sampled_from([None, 1.5, True, False, 2**70, -(2**70), "100"])
"""Field values a quote should not hold but a msgspec Struct built in code can: the compiled handler must hand
them to the reference whole (the same writes, the same error)."""


class _Venue(str):
    """A ``str`` subclass: not the exact type the compiled handler reads."""


_PRICE = st.integers(0, 5).map(lambda t: t * 100)
_SIZE = st.integers(0, 3).map(lambda s: s * 100)
Row = tuple[str, Any, Any, Any, Any, Any, int, int]
_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["BAC", "AAPL"]),
        _PRICE | _ODD,
        _SIZE | _ODD,
        _PRICE | _ODD,
        _SIZE | _ODD,
        st.sampled_from(["NBBO", "XNAS", "ARCX", _Venue("NBBO"), None]),
        st.integers(0, 10),
        st.sampled_from([0, 2**64]),
    ),
    max_size=60,
)
"""Streams of quotes (symbol, four top fields, venue, time step, far jump) with odd values among the fields."""


def _feed_rows(pair: Any, rows: list[Row]) -> None:
    """Each row as a quote to both keepers of ``pair``, the clock moving by the row's step."""
    ts = 1_000_000_000
    for symbol, bid, bid_size, ask, ask_size, venue, gap, far in rows:
        ts += gap
        pair.feed(_quote(symbol, bid, bid_size, ask, ask_size, venue, ts + far))


@settings(max_examples=300, deadline=None)
@given(_ROWS)
def test_compiled_quote_handler_keeps_the_reference_books_and_errors_on_hypothesis_streams(rows: list[Row]) -> None:
    _feed_rows(_Pair(), rows)


def test_compiled_quote_handler_counts_crossing_episodes_and_time_as_the_reference() -> None:
    pair = _Pair()
    for ts, bid, ask in [(10, 100, 200), (20, 300, 200), (25, 300, 250), (40, 100, 200), (50, 200, 200), (60, 9, 0)]:
        pair.feed(_quote("BAC", bid, 100, ask, 100, "NBBO", ts))
    book = pair.compiled.book("BAC")
    assert isinstance(book, QuoteBook) and (book.crossings, book.crossed_ns, book.version) == (1, 20, 6)
    assert len(pair.referred) == 1  # the first quote builds the book; the compiled handler takes the rest


def test_compiled_quote_handler_leaves_a_quote_of_another_type_to_the_reference() -> None:
    class Late(Quote, frozen=True, kw_only=True):
        note: str = ""

    pair = _Pair()
    pair.feed(_quote("BAC", 100, 100, 200, 100, "NBBO", 1))
    pair.feed(
        Late(
            ts_event=2, ts_init=2, symbol="BAC", bid_price=300, bid_size=100, ask_price=200, ask_size=100, venue="NBBO"
        )
    )
    book = pair.compiled.book("BAC")
    assert isinstance(book, QuoteBook) and (book.crossed, book.version) == (True, 2)
    assert [type(q) for q in pair.referred] == [Quote, Late]


def _quote_files(data_dir: Path) -> list[Path]:
    taq = sorted((data_dir / "lean-algoseek-us-equity" / "tick").glob("*/*_quote.zip"))
    dbn = sorted((data_dir / "databento-dbn-us-equity-fixtures").glob("*/test_data.*.dbn.zst"))
    return taq + [p for p in dbn if p.name.split(".")[1] in ("mbp-1", "tbbo") or p.name.split(".")[1].startswith("bbo")]


def _quotes(path: Path) -> Iterable[Quote]:
    reader: Iterable[Any] = DbnReader(path).events() if path.suffix == ".zst" else TaqReader.for_day(path)
    return (e for e in reader if isinstance(e, Quote))


def test_compiled_quote_handler_keeps_the_reference_books_along_every_shared_quote_file(data_dir: Path) -> None:
    """Every tick-resolution TAQ quote day (its first 300,000 quotes, to bound the time: the AIG days hold ~1.5M)
    and every DBN quote fixture; the books compared every 1,000th quote and at the end (the crossing counters carry
    the history, so a quote applied differently would show)."""
    files = _quote_files(data_dir)
    assert len(files) >= 10 and any(p.suffix == ".zst" for p in files)
    for path in files:
        pair, n = _Pair(), 0
        for n, quote in enumerate(islice(_quotes(path), 300_000), 1):
            pair.feed(quote, check=n % 1000 == 0)
        pair.check()
        assert n > 0, path
        # the compiled handler took every quote but each symbol's first, which builds the book
        assert len(pair.referred) == len(pair.compiled.symbols()), path


def test_keeper_impl_follows_the_argument_and_the_pure_python_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BookKeeper("L1").impl == "compiled"
    assert BookKeeper("L1", impl="python").impl == "python"
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert BookKeeper("L1").impl == "python"
    assert BookKeeper("L1", impl="compiled").impl == "compiled"
    with pytest.raises(ConfigError, match="impl must be"):
        BookKeeper("L1", impl="fast")  # type: ignore[arg-type]
