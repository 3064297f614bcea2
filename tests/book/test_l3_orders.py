"""``L3Orders``, the compiled book's C table of orders and queues, against ``DictOrders`` (the reference): a book
over each, given the same random writes, must read the same through every public read after every write, and
``BookSignals`` over each must emit the same events.

The writes reach every case the table handles differently: reused and unknown ids, overfills, partial and whole
executions and cancels, deletes with a size, replaces to another level, discoveries (at a level, at none, of an id
held), levels set, emptied and refilled, a book cleared, bursts of adds past the table's first capacities, slots
and levels freed and reused, and values that are not 64-bit ints (the table then moves into dicts for good).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book import BookSignals, L3Book, SignalConfig
from tapeflow.book import l3 as l3_module
from tapeflow.book.l3_orders import DictOrders
from tapeflow.model.enums import Side
from tapeflow.model.events import Event
from tapeflow.model.market import OrderAdded, OrderDeleted, OrderExecuted, OrderReduced, OrderReplaced
from tests.book.test_l3_sizes import _CHAINED

pytestmark = pytest.mark.skipif(not l3_module.SIZES_TABLE_AVAILABLE, reason="the compiled L3 core was not built")

if l3_module.SIZES_TABLE_AVAILABLE:
    from tapeflow.book._l3_core import L3Orders

BUY, SELL = Side.BUY, Side.SELL
# ids and prices with the same home slot in a first (16-slot) index: long probe chains, which a delete must shift
# back whole
IDS = list(range(1, 41)) + _CHAINED
PRICES = list(range(95, 107)) + _CHAINED[:6]

_side = st.sampled_from([BUY, SELL])
_id = st.one_of(st.integers(1, 40), st.sampled_from(_CHAINED))
_price = st.one_of(st.integers(95, 106), st.sampled_from(_CHAINED[:6]))
_size = st.integers(1, 300)
_odd = st.sampled_from([2**64, -(2**63) - 1, 2**70])
_ops = st.one_of(
    st.tuples(st.just("add"), _id, _side, _price, _size, st.integers(0, 10**9)),
    st.tuples(st.just("add"), _id, _side, _price, _size, st.integers(0, 10**9)),
    st.tuples(st.just("exec"), _id, st.integers(1, 350)),
    st.tuples(st.just("cancel"), _id, st.integers(1, 350)),
    st.tuples(st.just("delete"), _id, st.sampled_from([0, 0, 1, 50, 400])),
    st.tuples(st.just("replace"), _id, _id, _price, _size),
    st.tuples(st.just("discover"), _id, _side, _price, _size),
    st.tuples(st.just("set_level"), _side, _price, st.sampled_from([0, 0, 1, 100, 1000])),
    st.tuples(st.just("burst"), _side, _price, st.integers(1, 150)),
    st.tuples(st.just("clear")),
    st.tuples(st.just("odd"), st.sampled_from(["id", "price", "size", "ts"]), _odd, _side, _price),
)


def _reads(book: L3Book, extra_ids: list[int]) -> tuple[Any, ...]:
    """Every public read of an L3 book."""
    ids = IDS + extra_ids
    return (
        len(book),
        [oid in book for oid in ids],
        [book.order(oid) for oid in ids],
        [book.queue_ahead(oid) for oid in ids],
        [
            (book.orders_at(side, p), book.order_count(side, p), book.unattributed(side, p))
            for side in (BUY, SELL)
            for p in [*PRICES, 2**64]
        ],
        book.side_queues(BUY),
        book.side_queues(SELL),
        book.snapshot(0),
        list(book.bids.sizes.items()),
        list(book.asks.sizes.items()),
        list(book.bids.keys),
        list(book.asks.keys),
        book.top(),
        book.integrity.totals(),
        book.integrity.crossed,
        book.overfills,
        book.dropped_orders,
        book.discover_misses,
    )


class _Driven:
    """A book of one impl behind ``BookSignals`` (large orders watched, so that it reads the queues), with
    everything both emit recorded."""

    def __init__(self, impl: l3_module.Impl) -> None:
        self.out: list[Event] = []
        self.book = L3Book("X", emit=self.out.append, impl=impl)
        config = SignalConfig(imbalance_levels=3, large_order_size=200, large_order_level_multiple=1.5)
        self.signals = BookSignals(self.book, self.out.append, config)

    def event(self, e: Event) -> None:
        self.signals.on_event(e)


def _apply(d: _Driven, op: tuple[Any, ...], ts: int, burst_ids: list[int]) -> None:
    kind, *args = op
    book = d.book
    common: dict[str, Any] = {"ts_event": ts, "ts_init": ts, "symbol": "X"}
    if kind == "add":
        oid, side, price, size, t = args
        d.event(OrderAdded(**common, order_id=oid, side=side, price=price, size=size))
        book.add(oid + 1000, side, price, size, t)  # the direct write too, with its own arrival time
    elif kind in ("exec", "cancel"):
        oid, size = args
        d.event((OrderExecuted if kind == "exec" else OrderReduced)(**common, order_id=oid, size=size))
    elif kind == "delete":
        oid, size = args
        if size:
            book.delete(oid, ts, size)
        else:
            d.event(OrderDeleted(**common, order_id=oid))
    elif kind == "replace":
        oid, new_id, price, size = args
        d.event(OrderReplaced(**common, order_id=oid, new_order_id=new_id, price=price, size=size))
    elif kind == "discover":
        oid, side, price, size = args
        book.discover(oid, side, price, size, ts)
    elif kind == "set_level":
        book.set_level(*args)
    elif kind == "burst":  # past the table's first 64 order slots and 16 level slots
        side, price, n = args
        for i in range(n):
            oid = 10_000 + len(burst_ids)
            burst_ids.append(oid)
            book.add(oid, side, price + (i % 20) * (1 if side is SELL else -1), 1 + i % 7, ts)
    elif kind == "clear":
        book.clear()
    else:
        what, value, side, price = args
        oid, size, t = 2_000, 5, ts
        if what == "id":
            oid = value
        elif what == "price":
            price = value
        elif what == "size":
            size = value
        else:
            t = value
        book.add(oid, side, price, size, t)
        book.cancel(oid, 1, ts)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ops, max_size=80))
def test_a_book_over_the_table_reads_as_the_book_over_dicts_after_every_write(ops: list[tuple[Any, ...]]) -> None:
    python, compiled = _Driven("python"), _Driven("compiled")
    assert type(compiled.book._orders) is L3Orders and type(python.book._orders) is DictOrders
    python_ids: list[int] = []
    compiled_ids: list[int] = []
    for ts, op in enumerate(ops, start=1):
        _apply(python, op, ts, python_ids)
        _apply(compiled, op, ts, compiled_ids)
        extra = [i + 1000 for i in IDS] + python_ids[-40:] + [2_000, 2**64, 2**70]
        assert _reads(compiled.book, extra) == _reads(python.book, extra), op
        assert compiled.out == python.out, op


def test_the_table_moves_into_dicts_for_good_on_a_value_that_is_not_a_64_bit_int() -> None:
    """Queues keep their priority order through the move, and the book goes on as the reference does."""
    python, compiled = L3Book("X", impl="python"), L3Book("X", impl="compiled")
    for book in (python, compiled):
        book.add(1, BUY, 100, 10, 5)
        book.add(2, BUY, 100, 20, 6)
        book.discover(3, BUY, 100, 7)
        book.set_level(SELL, 105, 50)
        book.add(4, SELL, 105, 2**64, 7)  # the first odd value
        book.execute(1, 4)
        book.add(5, BUY, 100, 1, 8)
    table = compiled._orders
    assert isinstance(table, L3Orders) and type(table.py) is DictOrders
    assert [o.order_id for o in compiled.orders_at(BUY, 100)] == [3, 1, 2, 5]
    assert _reads(compiled, [2**64]) == _reads(python, [2**64])


def test_the_tables_memory_follows_the_orders_held_not_the_orders_ever_seen() -> None:
    """A day adds and removes orders all day: a table that held at most 8 orders at a time over ever new ids and
    prices stays as small as one that held 8 once."""
    book = L3Book("X", impl="compiled")
    for i in range(100_000):
        book.add(i, BUY, 1_000 + i % 50, 1 + i % 3)
        if i >= 8:
            book.delete(i - 8)
    assert len(book) == 8
    assert sys.getsizeof(book._orders) < 8 * 1024  # its first arrays: 64 order slots, 16 levels, 3 indexes
    for i in range(2_000):
        book.add(10**6 + i, SELL, 5_000 + i, 1)
    assert sys.getsizeof(book._orders) > 2_000 * 56  # it does count its arrays


def test_a_compiled_book_keeps_its_orders_in_the_table_unless_told_to_keep_dicts() -> None:
    assert type(L3Book("X", impl="compiled")._orders) is L3Orders
    assert type(L3Book("X", impl="python")._orders) is DictOrders


def test_the_table_refuses_what_the_reference_would_silently_get_wrong() -> None:
    """An id already held, or a queue opened twice, is a bug in the caller: the dicts would orphan an order. An id
    not held leaves nothing (None, as the reference answers)."""
    book = L3Book("X", impl="compiled")
    book.add(1, BUY, 100, 10)
    with pytest.raises(ValueError, match="already in the book"):
        book._orders.join(1, book.bids, 101, 5, 0)
    with pytest.raises(ValueError, match="already keeps a queue"):
        book._orders.open_level(book.bids, 100)
    assert book._orders.leave(2) is None and len(book) == 1
