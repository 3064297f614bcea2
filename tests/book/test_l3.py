"""L3 book: ITCH operations, queue priority, unknown orders, unattributed shares, and a property test against a
naive reference book."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book.l3 import L3Book
from tapeflow.model import (
    BookLevel,
    Event,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Side,
    from_msgpack,
    to_msgpack,
)
from tapeflow.model.book_events import BookCrossed, OrderDiscovered, UnknownOrderRef

BUY, SELL = Side.BUY, Side.SELL


def _book() -> tuple[L3Book, list[Event]]:
    events: list[Event] = []
    return L3Book("X", emit=events.append), events


def test_levels_aggregate_orders_and_keep_fifo_queues() -> None:
    book, _ = _book()
    book.add(1, BUY, 100, 300, ts=1)
    book.add(2, BUY, 100, 200, ts=2)
    book.add(3, BUY, 100, 100, ts=3)
    book.add(4, SELL, 101, 50, ts=4)
    assert book.levels(BUY) == [(100, 600)]
    assert [o.order_id for o in book.orders_at(BUY, 100)] == [1, 2, 3]
    pos = book.queue_ahead(3)
    assert pos is not None
    assert (pos.orders_ahead, pos.shares_ahead, pos.level_size) == (2, 500, 600)
    book.execute(1, 100)
    book.cancel(2, 50)
    pos = book.queue_ahead(3)
    assert pos is not None and (pos.orders_ahead, pos.shares_ahead) == (2, 350)
    assert book.order(2) is not None and book.order(2).size == 150  # type: ignore[union-attr]
    book.execute(1, 200)
    assert 1 not in book
    assert book.queue_ahead(2) is not None and book.queue_ahead(2).orders_ahead == 0  # type: ignore[union-attr]


def test_replace_loses_priority_and_moves_to_the_new_price() -> None:
    book, _ = _book()
    book.add(1, SELL, 105, 100)
    book.add(2, SELL, 105, 100)
    assert book.replace(1, 11, 105, 80)
    assert [o.order_id for o in book.orders_at(SELL, 105)] == [2, 11]
    assert book.replace(2, 12, 104, 100)
    assert book.levels(SELL) == [(104, 100), (105, 80)]
    assert book.best_ask == 104


def test_unknown_order_refs_are_counted_and_reported_never_raised() -> None:
    book, events = _book()
    book.add(1, BUY, 100, 10)
    assert book.execute(99, 5) is False
    assert book.cancel(98, 5) is False
    assert book.delete(97) is False
    assert book.replace(96, 95, 100, 1) is False
    book.apply(OrderDeleted(ts_event=7, ts_init=7, symbol="X", order_id=94))
    assert book.unknown_order_refs == 5
    refs = [e for e in events if isinstance(e, UnknownOrderRef)]
    assert [(r.order_id, r.operation, r.count) for r in refs][-1] == (94, "delete", 5)
    assert refs[-1].ts_event == 7
    assert book.levels(BUY) == [(100, 10)], "nothing else changed"


def test_crossing_add_is_reported_as_an_event() -> None:
    book, events = _book()
    book.add(1, SELL, 101, 10)
    book.add(2, BUY, 101, 10, ts=42)
    assert book.crossed
    (crossed,) = [e for e in events if isinstance(e, BookCrossed)]
    assert (crossed.bid_price, crossed.ask_price, crossed.ts_event) == (101, 101, 42)
    book.delete(1)
    assert not book.crossed


def test_unattributed_shares_are_ahead_until_an_order_is_discovered() -> None:
    book, _ = _book()
    book.load([BookLevel(100, 500)], [BookLevel(101, 300)])
    book.add(1, BUY, 100, 100)
    assert book.unattributed(BUY, 100) == 500
    pos = book.queue_ahead(1)
    assert pos is not None and (pos.shares_ahead, pos.unattributed_ahead) == (500, 500)
    book.apply(OrderDiscovered(ts_event=1, ts_init=1, symbol="X", order_id=7, side=BUY, price=100, size=200))
    assert [o.order_id for o in book.orders_at(BUY, 100)] == [7, 1]
    assert book.unattributed(BUY, 100) == 300
    book.delete(7)
    assert book.levels(BUY) == [(100, 400)]
    book.discover(8, BUY, 99, 10)  # no level there: a miss, not invented liquidity
    assert book.discover_misses == 1 and book.levels(BUY) == [(100, 400)]


def test_delete_with_feed_size_removes_what_the_feed_says() -> None:
    book, _ = _book()
    book.add(1, SELL, 101, 200)
    book.set_level(SELL, 101, 110)  # part of order 1 was cancelled while out of view
    book.delete(1, size=100)
    assert book.levels(SELL) == [(101, 10)] and 1 not in book


def test_level_emptied_by_the_feed_drops_orders_that_left_unseen() -> None:
    book, _ = _book()
    book.add(1, SELL, 101, 200)
    book.add(2, SELL, 101, 100)
    book.set_level(SELL, 101, 100)
    book.delete(2)
    assert book.levels(SELL) == [] and 1 not in book and book.dropped_orders == 1


def test_snapshot_round_trips_with_orders_and_unattributed_shares() -> None:
    book, _ = _book()
    book.load([BookLevel(99, 50)], [])
    for i, (side, price, size) in enumerate([(BUY, 100, 10), (BUY, 100, 20), (SELL, 102, 5), (BUY, 99, 7)]):
        book.add(i + 1, side, price, size)
    snap = book.snapshot(ts=5)
    assert snap.bids == (BookLevel(100, 30, 2), BookLevel(99, 57, 1))
    again, _ = _book()
    again.apply(snap)
    assert again.snapshot(ts=5) == snap
    assert again.unattributed(BUY, 99) == 50
    assert from_msgpack(to_msgpack(snap)) == snap


@st.composite
def l3_streams(draw: Any) -> list[Event]:
    """Valid ITCH-like streams: every reference is to a live order, sizes never exceed what is left."""
    live: dict[int, list[Any]] = {}
    next_id = 1
    out: list[Event] = []
    for ts in range(draw(st.integers(0, 120))):
        kind = draw(st.sampled_from(["add", "add", "exec", "cancel", "delete", "replace"]))
        if kind == "add" or not live:
            side = draw(st.sampled_from([BUY, SELL]))
            price = draw(st.integers(95, 100) if side is BUY else st.integers(101, 106))
            size = draw(st.integers(1, 300))
            live[next_id] = [side, price, size]
            out.append(
                OrderAdded(ts_event=ts, ts_init=ts, symbol="X", order_id=next_id, side=side, price=price, size=size)
            )
            next_id += 1
            continue
        oid = draw(st.sampled_from(sorted(live)))
        side, price, size = live[oid]
        if kind in ("exec", "cancel"):
            n = draw(st.integers(1, size))
            cls = OrderExecuted if kind == "exec" else OrderReduced
            out.append(cls(ts_event=ts, ts_init=ts, symbol="X", order_id=oid, size=n))
            if n == size:
                del live[oid]
            else:
                live[oid][2] -= n
        elif kind == "delete":
            out.append(OrderDeleted(ts_event=ts, ts_init=ts, symbol="X", order_id=oid))
            del live[oid]
        else:
            new_price = draw(st.integers(95, 100) if side is BUY else st.integers(101, 106))
            new_size = draw(st.integers(1, 300))
            out.append(
                OrderReplaced(
                    ts_event=ts,
                    ts_init=ts,
                    symbol="X",
                    order_id=oid,
                    new_order_id=next_id,
                    price=new_price,
                    size=new_size,
                )
            )
            del live[oid]
            live[next_id] = [side, new_price, new_size]
            next_id += 1
    return out


class NaiveBook:
    """The obvious implementation: a list of live orders in arrival order."""

    def __init__(self) -> None:
        self.orders: dict[int, list[Any]] = {}

    def apply(self, e: Event) -> None:
        if isinstance(e, OrderAdded):
            self.orders[e.order_id] = [e.side, e.price, e.size]
        elif isinstance(e, OrderExecuted | OrderReduced):
            self.orders[e.order_id][2] -= e.size
            if self.orders[e.order_id][2] == 0:
                del self.orders[e.order_id]
        elif isinstance(e, OrderDeleted):
            del self.orders[e.order_id]
        elif isinstance(e, OrderReplaced):
            side = self.orders.pop(e.order_id)[0]
            self.orders[e.new_order_id] = [side, e.price, e.size]

    def levels(self, side: Side) -> list[tuple[int, int]]:
        agg: dict[int, int] = {}
        for s, p, q in self.orders.values():
            if s is side:
                agg[p] = agg.get(p, 0) + q
        return sorted(agg.items(), reverse=side is BUY)

    def queue(self, side: Side, price: int) -> list[int]:
        return [i for i, (s, p, _) in self.orders.items() if s is side and p == price]


@settings(max_examples=150)
@given(l3_streams())
def test_random_valid_streams_give_the_same_l2_view_and_queues_as_a_naive_book(stream: list[Event]) -> None:
    book, events = _book()
    ref = NaiveBook()
    for e in stream:
        book.apply(e)
        ref.apply(e)
        assert book.levels(BUY, 3) == ref.levels(BUY)[:3]
        assert book.levels(SELL, 3) == ref.levels(SELL)[:3]
    assert book.levels(BUY) == ref.levels(BUY)
    assert book.levels(SELL) == ref.levels(SELL)
    for side in (BUY, SELL):
        for price, _ in ref.levels(side):
            assert [o.order_id for o in book.orders_at(side, price)] == ref.queue(side, price)
    assert book.unknown_order_refs == 0 and not events
    snap = book.snapshot(ts=0)
    again, _ = _book()
    again.apply(snap)
    assert again.snapshot(ts=0) == snap


def test_sequence_gap_in_order_messages_marks_the_l3_book_stale_until_a_snapshot() -> None:
    from tapeflow.model import BookSnapshot
    from tapeflow.model.book_events import BookGap, BookResynced

    book, events = _book()
    for seq, oid in ((1, 1), (2, 2), (4, 3)):
        book.apply(
            OrderAdded(ts_event=seq, ts_init=seq, symbol="X", order_id=oid, side=BUY, price=100, size=5, sequence=seq)
        )
    assert book.stale and [type(e) for e in events] == [BookGap]
    book.apply(OrderDeleted(ts_event=5, ts_init=5, symbol="X", order_id=1, sequence=3))
    assert 1 in book, "a message older than the last applied is dropped"
    snap = book.snapshot(ts=9)
    book.apply(BookSnapshot(ts_event=9, ts_init=9, symbol="X", bids=snap.bids, orders=snap.orders, sequence=10))
    assert not book.stale and book.trustworthy
    assert isinstance(events[-1], BookResynced) and events[-1].stale_for_ns == 5
    assert [o.order_id for o in book.orders_at(BUY, 100)] == [1, 2, 3]


def test_an_add_of_a_live_order_id_replaces_it_and_is_counted_as_a_duplicate() -> None:
    book = L3Book("X")
    book.add(7, Side.BUY, 1_000_000, 100, 1)
    book.add(7, Side.BUY, 1_000_100, 50, 2)  # its delete was missed: the new order wins
    assert book.integrity.duplicates == 1
    assert book.levels(Side.BUY) == [(1_000_100, 50)] and len(book) == 1
    book.add(8, Side.BUY, 1_000_100, 10, 3)
    assert book.integrity.duplicates == 1  # a new id is not a duplicate
