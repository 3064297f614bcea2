"""The compiled flow handler (``_quote_core.FlowQuoteHandler``) against the keeper's Python ``on_quote_flow``, the
reference: the same quotes fed to a flow-tracking keeper of each kind, and the same books (every slot, the last
quote and the order flow base with them), the same new-book notices, the same errors, after each quote of a
hypothesis stream and along every real shared quote file."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book import keeper as keeper_module
from tapeflow.book.keeper import BookKeeper, Impl
from tapeflow.book.quote_book import FlowQuoteBook, QuoteBook
from tapeflow.engine.kernel import Kernel
from tapeflow.model import Quote

from .test_quote_core import (
    _PRICE,
    _ROWS,
    _SIZE,
    Row,
    _attached,
    _feed_rows,
    _quote,
    _quote_files,
    _quotes,
    _same_books,
    _same_outcome,
)

pytestmark = pytest.mark.skipif(not keeper_module.COMPILED_AVAILABLE, reason="the compiled quote handler was not built")


_SLOTS = (*QuoteBook.__slots__, *FlowQuoteBook.__slots__)


def _state(book: FlowQuoteBook) -> tuple[object, ...]:
    """Every slot with its type; the last quote by identity (the handler keeps the object it was given)."""
    return tuple(
        (name, type(getattr(book, name)), id(book.quote) if name == "quote" else getattr(book, name)) for name in _SLOTS
    )


class _Pair:
    """A Python and a compiled flow-tracking keeper fed the same quotes through the handlers they subscribe."""

    def __init__(self) -> None:
        self.told_python: list[str] = []
        self.told_compiled: list[str] = []
        self.python, self.on_python = _attached("python", told=self.told_python)
        self.referred: list[Any] = []
        self.compiled, self.on_compiled = _attached("compiled", self.referred, told=self.told_compiled)
        assert (self.python.impl, self.compiled.impl) == ("python", "compiled")
        assert self.on_python == self.python.on_quote_flow
        assert self.on_compiled != self.compiled.on_quote_flow

    def feed(self, quote: Any, check: bool = True) -> None:
        _same_outcome((self.on_python, self.on_compiled), quote)
        if check:
            self.check()

    def check(self) -> None:
        assert self.told_python == self.told_compiled
        _same_books(self.python, self.compiled, FlowQuoteBook, _state)


@settings(max_examples=300, deadline=None)
@given(_ROWS)
def test_compiled_flow_handler_keeps_the_reference_books_flow_and_errors_on_hypothesis_streams(rows: list[Row]) -> None:
    _feed_rows(_Pair(), rows)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            _PRICE | st.sampled_from([2**63, 2**70 + 100]),
            _SIZE | st.sampled_from([2**64]),
            _PRICE | st.sampled_from([2**63, 2**70 + 100]),
            _SIZE | st.sampled_from([2**64]),
            st.sampled_from(["NBBO", "XNAS"]),
        ),
        max_size=60,
    )
)
def test_compiled_flow_handler_takes_ints_beyond_64_bits_whole_and_sums_them_as_the_reference(
    rows: list[tuple[int, int, int, int, str]],
) -> None:
    """Exact ints of any size are the compiled handler's own (only the first quote goes to the reference), and its
    order flow sums are Python's."""
    pair = _Pair()
    for ts, (bid, bid_size, ask, ask_size, venue) in enumerate(rows, 1):
        pair.feed(_quote("BAC", bid, bid_size, ask, ask_size, venue, ts))
    assert len(pair.referred) == min(len(rows), 1)


def test_compiled_flow_handler_moves_the_order_flow_base_only_when_a_price_moves() -> None:
    pair = _Pair()
    steps = [
        (100, 300, 200, 100),
        (100, 500, 200, 100),
        (110, 200, 200, 100),
        (110, 200, 190, 400),
        (0, 0, 190, 400),
        (120, 100, 195, 300),
        (120, 100, 199, 300),
        (115, 100, 199, 300),
    ]
    bases = []
    for ts, (bid, bid_size, ask, ask_size) in enumerate(steps, 1):
        pair.feed(_quote("BAC", bid, bid_size, ask, ask_size, "NBBO", ts))
        book = pair.compiled.book("BAC")
        assert isinstance(book, FlowQuoteBook)
        bases.append(book.ofi_base)
    # first: -300 + 100; a size change keeps the base; bid up adds the old bid size; ask down takes the old ask
    # size; a step to an empty side adds the old bid size less the old ask size; a step from it starts again
    # (-100 + 300); ask up adds the new ask size; bid down takes the new bid size
    assert bases == [-200, -200, 300, 200, 0, 200, 500, 400]
    assert len(pair.referred) == 1  # the first quote builds the book; the compiled handler takes the rest


# prices one digit, two digits (2**30 and up), beyond 64 bits and negative, each beside a value equal to it in the
# low 30 or 32 bits: the compiled handler reads small ints from their digits to tell whether a price moved
_DIGIT_EDGES = [5, 2**30 + 5, 2**32 + 5, 2**60 + 5, 2**62 + 5, 2**63 + 5, 2**64 + 5, -5, -(2**30) - 5, 2**30 - 1, 2**30]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_DIGIT_EDGES), st.sampled_from(_DIGIT_EDGES)), min_size=2, max_size=40))
def test_compiled_flow_handler_sees_a_price_move_in_any_digit_as_the_reference(rows: list[tuple[int, int]]) -> None:
    """A move above the lowest digit (or of the sign) moves the order flow base in both handlers alike."""
    pair = _Pair()
    for ts, (bid, ask) in enumerate(rows, 1):
        pair.feed(_quote("BAC", bid, 300, ask, 100, "NBBO", ts))
    assert len(pair.referred) == 1


def test_compiled_flow_handler_moves_the_base_when_only_a_high_digit_of_a_price_moves() -> None:
    pair = _Pair()
    for ts, bid in enumerate([5, 2**32 + 5, 5, 2**30 + 5, -5, 5], 1):
        pair.feed(_quote("BAC", bid, 300, 2**40, 100, "NBBO", ts))
    book = pair.compiled.book("BAC")
    assert isinstance(book, FlowQuoteBook)
    # -300 + 100 first; then up (+300), down (-300), up (+300), down (-300), up (+300): the bid moved every time
    assert book.ofi_base == -200 + 300 - 300 + 300 - 300 + 300


def test_compiled_flow_handler_reads_the_last_quotes_sizes_and_the_base_only_when_a_price_moved() -> None:
    """The reference reads the last quote's sizes and the order flow base only to move the base, and so does the
    compiled handler: a last quote with a float size (msgspec does not check a field's type) or a base a reader
    replaced with a float leaves the next quote to the compiled handler while no price moves, and hands it to the
    reference, whole, when one does."""
    pair = _Pair()
    quotes = [
        _quote("BAC", 100, 100, 200, 100, "NBBO", 1),  # builds the book: the reference
        _quote("BAC", 100, 100.0, 200, 100, "NBBO", 2),  # a float size of its own: the reference
        _quote("BAC", 100, 300, 200, 100, "NBBO", 3),  # no price moved: the last quote's float size is not read
        _quote("BAC", 100, 300, 200, 50.0, "NBBO", 4),  # a float size of its own: the reference
        _quote("BAC", 110, 300, 200, 100, "NBBO", 5),  # the bid moved: the last quote's sizes are read
        _quote("BAC", 110, 200, 200, 100, "NBBO", 6),
    ]
    for quote in quotes:
        pair.feed(quote)
    for keeper in (pair.python, pair.compiled):
        book = keeper.book("BAC")
        assert isinstance(book, FlowQuoteBook)
        book.ofi_base = 0.5  # a reader's float
    pair.feed(_quote("BAC", 110, 100, 200, 100, "NBBO", 7))  # no price moved: the base is not read
    pair.feed(_quote("BAC", 110, 100, 190, 100, "NBBO", 8))  # the ask moved: the base is read
    pair.feed(_quote("BAC", 110, 100, 190, 300, "NBBO", 9))
    book = pair.compiled.book("BAC")
    assert isinstance(book, FlowQuoteBook) and isinstance(book.ofi_base, float)
    assert [q.ts_init for q in pair.referred] == [1, 2, 4, 5, 8]


def test_compiled_flow_handler_leaves_a_quote_of_another_type_and_what_follows_it_to_the_reference() -> None:
    """A subclass quote goes to the reference; it is then the book's last quote, which the compiled handler does
    not read, so the next quote goes there too; after that the compiled handler takes over again."""

    class Late(Quote, frozen=True, kw_only=True):
        note: str = ""

    pair = _Pair()
    pair.feed(_quote("BAC", 100, 100, 200, 100, "NBBO", 1))
    late = Late(
        ts_event=2, ts_init=2, symbol="BAC", bid_price=300, bid_size=100, ask_price=200, ask_size=100, venue="NBBO"
    )
    pair.feed(late)
    pair.feed(_quote("BAC", 300, 100, 400, 100, "NBBO", 3))
    pair.feed(_quote("BAC", 310, 100, 400, 100, "NBBO", 4))
    book = pair.compiled.book("BAC")
    assert isinstance(book, FlowQuoteBook) and (book.crossings, book.crossed_ns, book.version) == (1, 1, 4)
    assert [type(q) for q in pair.referred] == [Quote, Late, Quote]


def test_compiled_flow_handler_keeps_the_reference_books_along_every_shared_quote_file(data_dir: Path) -> None:
    """Every tick-resolution TAQ quote day (its first 300,000 quotes, to bound the time) and every DBN quote
    fixture; the books compared every 1,000th quote and at the end (the order flow base and the crossing counters
    carry the history, so a quote applied differently would show)."""
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


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_a_keeper_tracking_flow_subscribes_the_flow_handler_of_its_impl(impl: Impl) -> None:
    kernel, keeper, told = Kernel(), BookKeeper("L1", impl=impl), []
    assert keeper.track_flow(lambda book: told.append(book.symbol))
    kernel.add(keeper)
    kernel.start(at=1)
    kernel.run([Quote(ts_event=1, ts_init=1, symbol="X", bid_price=100, bid_size=1, ask_price=101, ask_size=1)])
    book = keeper.book("X")
    assert type(book) is FlowQuoteBook and book.version == 1 and told == ["X"]
    assert kernel._table[Quote] == keeper.quote_handler
    assert (keeper.quote_handler == keeper.on_quote_flow) is (impl == "python")
