"""The compiled ``L2Book.apply`` against the Python reference: the same stream fed to both, and after every delta
the same ladders, best prices, integrity counters and state, the same emitted events and the same errors."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book import L2Book
from tapeflow.book import l2 as l2_module
from tapeflow.book.depth import execution_price
from tapeflow.book.integrity import Integrity
from tapeflow.book.keeper import L3_EVENTS
from tapeflow.book.l3 import L3Book
from tapeflow.book.view import Depth
from tapeflow.calibration.l2view import L2View
from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.data.dbn import DbnReader
from tapeflow.data.lobster_events import iter_events
from tapeflow.model import BookAction, BookDelta, BookLevel, BookSnapshot, Event, Side
from tapeflow.model.book_events import DepthRevealed
from tapeflow.model.errors import ConfigError
from tapeflow.model.prices import NO_PRICE
from tests.book.test_l2 import _next_delta, _ReferenceL2

pytestmark = pytest.mark.skipif(not l2_module.COMPILED_AVAILABLE, reason="the compiled L2 apply was not built")

BUY, SELL = Side.BUY, Side.SELL
_INTEGRITY_FIELDS = tuple(name for name in Integrity.__slots__ if name not in ("emit", "symbol"))


class _Pair:
    """A Python and a compiled book fed the same events, compared after each one."""

    def __init__(self) -> None:
        self.events: dict[str, list[Event]] = {"python": [], "compiled": []}
        self.books = {impl: L2Book("X", emit=self.events[impl].append, impl=impl) for impl in ("python", "compiled")}
        assert [b.impl for b in self.books.values()] == ["python", "compiled"]

    def apply(self, event: Any, full: bool = True) -> None:
        """``full=False``: after this event compare the touched level, ladder lengths, best prices, integrity and
        events, not every level (for the long real-data streams, which compare every level every 10th event)."""
        outcomes = []
        for book in self.books.values():
            try:
                book.apply(event)
                outcomes.append(None)
            except Exception as exc:  # the errors themselves are compared
                outcomes.append((type(exc), str(exc)))
        assert outcomes[0] == outcomes[1], event
        if full:
            self.check(event)
            return
        py, cc = self.books["python"], self.books["compiled"]
        if type(event) is BookDelta:
            assert py.size_at(event.side, event.price) == cc.size_at(event.side, event.price), event
        assert (len(py.bids), len(py.asks), py.best_bid, py.best_ask) == (
            len(cc.bids),
            len(cc.asks),
            cc.best_bid,
            cc.best_ask,
        )
        assert _state(py)[3] == _state(cc)[3], event
        assert len(self.events["python"]) == len(self.events["compiled"]), event

    def check(self, event: Any = None) -> None:
        py, cc = self.books["python"], self.books["compiled"]
        assert _state(py) == _state(cc), event
        assert self.events["python"] == self.events["compiled"], event
        assert _answers(py) == _answers(cc), event


def _answer(read: Callable[[], Any]) -> Any:
    """What a read returns, or the error it raises (type and message), in a form ``==`` compares."""
    try:
        value = read()
    except Exception as exc:
        return (type(exc), str(exc))
    if isinstance(value, Depth):
        return tuple(getattr(value, name).tolist() for name in value.__struct_fields__)
    return value


def _answers(book: L2Book) -> list[Any]:
    """Every public read of the book (the ``BookView`` API, the depth walk), as the compiled book's ladders answer
    them through their ``LevelSizes`` tables and the Python book's through dicts."""
    prices = [book.best_bid, book.best_ask, 100, 99, 0, 2**70, 100.0]
    reads: list[Callable[[], Any]] = [
        book.top,
        book.spread,
        book.mid,
        lambda: book.depth(3),
        lambda: book.depth(0),
        book.health,
        book.snapshot,
        lambda: (book.stale, book.crossed, book.trustworthy, book.unknown_order_refs, book.symbol),
        lambda: (book.best_bid, book.best_ask, book.bids.best, book.asks.best),
    ]
    for side in (BUY, SELL):
        reads += [
            lambda side=side: book.levels(side),
            lambda side=side: book.levels(side, 2),
            lambda side=side: book.level_count(side),
            lambda side=side: execution_price(book, side, 7),
            lambda side=side: (book.side(side).prices(), book.side(side).between(NO_PRICE, NO_PRICE)),
            lambda side=side: [book.side(side).rank(p) for p in prices[:4]],
        ]
        reads += [lambda side=side, p=p: book.size_at(side, p) for p in prices]  # type: ignore[misc]
    return [_answer(read) for read in reads]


def _state(book: L2Book) -> tuple[Any, ...]:
    ladders = tuple((s.keys, s.sizes, s.best) for s in (book.bids, book.asks))
    integrity = tuple(getattr(book.integrity, name) for name in _INTEGRITY_FIELDS)
    assert book._bid_sizes is book.bids.sizes and book._ask_sizes is book.asks.sizes
    return ladders, book.best_bid, book.best_ask, integrity


@given(st.data())
def test_compiled_apply_equals_python_apply_over_feed_like_streams_with_rejected_deltas(data: st.DataObject) -> None:
    """The streams of test_l2's property test (gaps, duplicates, older and missing sequence numbers, clears,
    deletes at the touch, levels inside the spread), fed to both implementations in lockstep."""
    pair = _Pair()
    ref = _ReferenceL2()
    last = 0
    for ts in range(1, data.draw(st.integers(1, 150)) + 1):
        step = data.draw(st.sampled_from([1] * 12 + [0, -1, 3, None]))
        seq = 0 if step is None else max(0, last + step)
        delta = _next_delta(data, ref, seq, ts)
        ref.apply(delta)
        pair.apply(delta)
        last = ref.sequence
    assert pair.books["compiled"].levels(BUY) == ref.levels(BUY)


_odd_ints = st.one_of(
    st.integers(-3, 3),
    st.integers(95, 105),
    st.sampled_from([2**62, -(2**62), 2**63, 2**64 + 1, -(2**63) - 1, 2**31, 2**40]),
)
_values = st.one_of(_odd_ints, st.booleans(), st.sampled_from([100.0, 101.5, "101", None]))


@st.composite
def _odd_event(draw: st.DrawFn) -> Any:
    """Mostly well-formed deltas around a few prices, and now and then what a broken feed handler could build:
    floats, bools, strings and ints past 64 bits in any field, snapshots, reveals, events that are no update."""
    kind = draw(st.sampled_from(["delta"] * 12 + ["odd_delta", "snapshot", "reveal", "other"]))
    ts = draw(st.integers(0, 50))
    if kind == "snapshot":
        levels = st.lists(st.builds(BookLevel, price=st.integers(90, 110), size=st.integers(0, 9)), max_size=4)
        return BookSnapshot(
            ts_event=ts, ts_init=ts, symbol="X", bids=draw(levels), asks=draw(levels), sequence=draw(st.integers(0, 9))
        )
    if kind == "reveal":
        return DepthRevealed(
            ts_event=ts,
            ts_init=ts,
            symbol="X",
            side=draw(st.sampled_from([BUY, SELL])),
            after_price=draw(st.integers(95, 105)),
            levels=[BookLevel(price=draw(st.integers(90, 110)), size=draw(st.integers(1, 9)))],
            through_end=draw(st.booleans()),
            sequence=draw(st.integers(0, 9)),
        )
    if kind == "other":
        return draw(st.sampled_from([BookLevel(price=1, size=1), "not an event", None]))
    odd = kind == "odd_delta"
    return BookDelta(
        ts_event=draw(_values) if odd else ts,
        ts_init=ts,
        symbol="X",
        action=draw(st.sampled_from(list(BookAction))),
        side=draw(st.sampled_from([BUY, SELL])),
        price=draw(_values if odd else st.integers(95, 105)),
        size=draw(_values if odd else st.integers(-1, 9)),
        sequence=draw(_values if odd else st.sampled_from([0, 0, *range(1, 12)])),
    )


@settings(max_examples=300)
@given(st.lists(_odd_event(), max_size=60))
def test_compiled_apply_equals_python_apply_on_any_input_including_malformed(events: list[Any]) -> None:
    pair = _Pair()
    for event in events:
        pair.apply(event)


def test_raw_updates_with_non_int_prices_send_the_compiled_apply_to_the_reference_ladder_path() -> None:
    """A float key put into a ladder by ``update`` must not be read as an int by the compiled path."""
    pair = _Pair()
    for book in pair.books.values():
        book.update(BUY, 100.5, 3)  # type: ignore[arg-type]
        book.update(SELL, 2**70, 3)
    for seq, (action, side, price, size) in enumerate(
        [
            (BookAction.ADD, BUY, 99, 4),
            (BookAction.ADD, BUY, 101, 4),
            (BookAction.DELETE, BUY, 101, 0),
            (BookAction.UPDATE, SELL, 2**70, 5),
            (BookAction.ADD, SELL, 102, 1),
            (BookAction.DELETE, SELL, 102, 0),
        ],
        1,
    ):
        pair.apply(
            BookDelta(
                ts_event=seq, ts_init=seq, symbol="X", action=action, side=side, price=price, size=size, sequence=seq
            )
        )


def _lockstep(events: Iterable[Event], symbol: str) -> Iterator[BookDelta | BookSnapshot]:
    """The L2 feed of an L3 tape (``L2View``), numbered 1, 2, ... as a feed numbers its messages."""
    l3, l2, view = L3Book(symbol), L2Book(symbol, impl="python"), L2View(symbol)
    seq = 0
    for event in events:
        if isinstance(event, BookSnapshot):
            l3.apply(event)
            l2.apply(event)
            yield event
            continue
        if not isinstance(event, L3_EVENTS):
            continue  # prints, status changes: no book update
        touched, _trade = view.before(event, l3)
        l3.apply(event)
        for delta in view.after(event, touched, l3, l2):
            seq += 1
            numbered = msgspec.structs.replace(delta, sequence=seq)
            l2.apply(numbered)
            yield numbered


@pytest.mark.parametrize(
    "name",
    [
        "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip",
        "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip",
        "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
        "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip",
        "LOBSTER_SampleFile_GOOG_2012-06-21_5.zip",
    ],
)
def test_compiled_apply_equals_python_apply_on_every_lobster_day_through_its_l2_view(data_dir: Path, name: str) -> None:
    pair = _Pair()
    n = 0
    # the first 40,000 messages of the day (the opening, when levels appear and go fastest): the whole day
    # costs a minute a file in the L3 book and the view that make the feed, not in the books compared
    events = islice(iter_events(data_dir / "lobster-samples-2012-06-21" / name), 40_000)
    for update in _lockstep(events, "X"):
        n += 1
        pair.apply(update, full=n % 10 == 0)
    pair.check()
    assert n > 20_000
    assert pair.books["compiled"].integrity.sequence > 20_000  # the in-sequence path ran, not only the fallback


def test_compiled_apply_equals_python_apply_on_the_dbn_mbp10_snapshots(data_dir: Path) -> None:
    pair = _Pair()
    snapshots = list(
        DbnReader(data_dir / "databento-dbn-us-equity-fixtures/XNAS.ITCH/test_data.mbp-10.dbn.zst").events()
    )
    assert snapshots
    for snapshot in snapshots:
        pair.apply(snapshot)
    assert pair.books["compiled"].best_bid


def test_impl_picks_the_apply_and_says_which() -> None:
    assert L2Book("X", impl="python").impl == "python"
    assert type(L2Book("X", impl="python")) is L2Book
    assert L2Book("X", impl="compiled").impl == "compiled"
    assert L2Book("X").impl == ("python" if os.environ.get(PURE_PYTHON_ENV) else "compiled")
    with pytest.raises(ConfigError, match="impl must be"):
        L2Book("X", impl="fast")  # type: ignore[arg-type]


def test_the_environment_can_force_the_python_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert L2Book("X").impl == "python"
    assert L2Book("X", impl="compiled").impl == "compiled"  # an explicit choice is kept


def test_compiled_book_is_an_l2book_with_the_same_reads() -> None:
    book = L2Book("X", impl="compiled")
    assert isinstance(book, L2Book)
    book.apply(
        BookDelta(ts_event=1, ts_init=1, symbol="X", action=BookAction.ADD, side=BUY, price=100, size=5, sequence=1)
    )
    assert (book.best_bid, book.bids.best, book.size_at(BUY, 100), book.symbol) == (100, 100, 5, "X")
