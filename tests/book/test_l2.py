"""L2 book: writes, reads, integrity, snapshots, and a property test against a two-dict reference."""

from __future__ import annotations

from fractions import Fraction

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.book import L2Book
from tapeflow.model import (
    BookAction,
    BookDelta,
    BookLevel,
    BookSnapshot,
    Event,
    Side,
    from_msgpack,
    to_msgpack,
)
from tapeflow.model.book_events import BookCrossed, BookGap, BookResynced, DepthRevealed

BUY, SELL = Side.BUY, Side.SELL


def _delta(action: BookAction, side: Side, price: int, size: int, seq: int = 0, ts: int = 1) -> BookDelta:
    return BookDelta(
        ts_event=ts, ts_init=ts, symbol="X", action=action, side=side, price=price, size=size, sequence=seq
    )


def _book() -> tuple[L2Book, list[Event]]:
    events: list[Event] = []
    return L2Book("X", emit=events.append), events


def test_best_prices_follow_inserts_and_removals_without_scanning() -> None:
    book, _ = _book()
    for price, size in ((100, 5), (102, 3), (101, 7)):
        book.update(BUY, price, size)
    for price, size in ((105, 1), (103, 2), (104, 9)):
        book.update(SELL, price, size)
    assert (book.best_bid, book.best_ask) == (102, 103)
    book.update(BUY, 102, 0)
    book.update(SELL, 103, 0)
    assert (book.best_bid, book.best_ask) == (101, 104)
    assert book.spread() == 3
    assert book.mid() == Fraction(205, 2)
    book.update(BUY, 101, 0)
    book.update(BUY, 100, 0)
    assert book.best_bid == 0
    assert book.spread() is None and book.mid() is None


def test_depth_returns_best_first_arrays_and_size_at_price() -> None:
    book, _ = _book()
    for i in range(10):
        book.update(BUY, 100 - i, 10 + i)
        book.update(SELL, 101 + i, 20 + i)
    d = book.depth(3)
    assert d.bid_prices.tolist() == [100, 99, 98]
    assert d.bid_sizes.tolist() == [10, 11, 12]
    assert d.ask_prices.tolist() == [101, 102, 103]
    assert d.ask_sizes.tolist() == [20, 21, 22]
    assert book.size_at(SELL, 105) == 24
    assert book.size_at(SELL, 99) == 0
    assert book.top().bid_size == 10


def test_delta_actions_add_update_delete_clear() -> None:
    book, _ = _book()
    book.apply(_delta(BookAction.ADD, BUY, 100, 5))
    book.apply(_delta(BookAction.UPDATE, BUY, 100, 8))
    book.apply(_delta(BookAction.ADD, SELL, 101, 2))
    assert book.levels(BUY) == [(100, 8)]
    book.apply(_delta(BookAction.DELETE, BUY, 100, 0))
    assert book.levels(BUY) == []
    book.apply(_delta(BookAction.CLEAR, SELL, 0, 0))
    assert book.levels(SELL) == []


def test_sequence_gap_marks_stale_until_snapshot_resyncs() -> None:
    book, events = _book()
    book.apply(_delta(BookAction.ADD, BUY, 100, 5, seq=1, ts=10))
    book.apply(_delta(BookAction.ADD, SELL, 101, 5, seq=2, ts=20))
    assert not book.stale and book.trustworthy
    book.apply(_delta(BookAction.UPDATE, BUY, 100, 7, seq=5, ts=30))
    assert book.stale and not book.trustworthy
    gaps = [e for e in events if isinstance(e, BookGap)]
    assert [(g.expected_sequence, g.received_sequence) for g in gaps] == [(3, 5)]
    assert book.levels(BUY) == [(100, 7)], "updates after a gap are still applied"
    book.apply(_delta(BookAction.UPDATE, BUY, 100, 9, seq=4, ts=35))
    assert book.levels(BUY) == [(100, 7)], "an older sequence is dropped"
    snap = BookSnapshot(ts_event=50, ts_init=50, symbol="X", bids=(BookLevel(99, 1),), asks=(), sequence=6)
    book.apply(snap)
    assert not book.stale and book.trustworthy
    assert book.levels(BUY) == [(99, 1)]
    (resynced,) = [e for e in events if isinstance(e, BookResynced)]
    assert resynced.sequence == 6 and resynced.stale_for_ns == 20
    assert book.health().gaps == 1


def test_crossed_book_is_reported_once_and_clears_when_uncrossed() -> None:
    book, events = _book()
    book.update(BUY, 100, 5)
    book.update(SELL, 101, 5)
    book.update(BUY, 101, 1)
    book.update(BUY, 102, 1)
    assert book.crossed and not book.trustworthy
    crossed = [e for e in events if isinstance(e, BookCrossed)]
    assert [(c.bid_price, c.ask_price) for c in crossed] == [(101, 101)]
    book.update(BUY, 102, 0)
    assert book.crossed
    book.update(BUY, 101, 0)
    assert not book.crossed and book.trustworthy


def test_reveal_sets_revealed_levels_and_drops_levels_that_vanished_out_of_view() -> None:
    book, _ = _book()
    for p in (100, 99, 98, 97):
        book.update(BUY, p, 10)
    book.update(BUY, 100, 0)  # the only visible level of an L1 feed went away
    book.apply(DepthRevealed(ts_event=1, ts_init=1, symbol="X", side=BUY, after_price=100, levels=(BookLevel(98, 30),)))
    assert book.levels(BUY) == [(98, 30), (97, 10)]
    book.apply(DepthRevealed(ts_event=2, ts_init=2, symbol="X", side=BUY, after_price=98, through_end=True))
    assert book.levels(BUY) == [(98, 30)]


def test_snapshot_round_trips_through_load_and_the_codec() -> None:
    book, _ = _book()
    for i in range(5):
        book.update(BUY, 100 - i, 10 * (i + 1))
        book.update(SELL, 101 + i, 7 * (i + 1))
    snap = book.snapshot(ts=123)
    again, _ = _book()
    again.apply(snap)
    assert again.snapshot(ts=123) == snap
    assert from_msgpack(to_msgpack(snap)) == snap


updates = st.lists(st.tuples(st.sampled_from([BUY, SELL]), st.integers(90, 110), st.integers(0, 500)), max_size=300)


@given(updates)
def test_book_equals_two_dict_reference_after_any_sequence(ops: list[tuple[Side, int, int]]) -> None:
    book, _ = _book()
    ref: dict[Side, dict[int, int]] = {BUY: {}, SELL: {}}
    for side, price, size in ops:
        book.update(side, price, size)
        if size:
            ref[side][price] = size
        else:
            ref[side].pop(price, None)
        bids, asks = ref[BUY], ref[SELL]
        assert book.best_bid == (max(bids) if bids else 0)
        assert book.best_ask == (min(asks) if asks else 0)
        assert book.crossed == bool(bids and asks and max(bids) >= min(asks))
    assert book.levels(BUY) == sorted(ref[BUY].items(), reverse=True)
    assert book.levels(SELL) == sorted(ref[SELL].items())
    assert len(book.bids) == len(ref[BUY])
    evented, _ = _book()
    for seq, (side, price, size) in enumerate(ops, 1):
        action = BookAction.UPDATE if size else BookAction.DELETE
        evented.apply(_delta(action, side, price, size, seq=seq))
    assert evented.snapshot(ts=0) == msgspec.structs.replace(book.snapshot(ts=0), sequence=len(ops))
    assert not evented.stale


class _ReferenceL2:
    """The L2 book as plainly as it can be said: two dicts, sorted on every read, the sequence rules spelled out."""

    def __init__(self) -> None:
        self.sides: dict[Side, dict[int, int]] = {BUY: {}, SELL: {}}
        self.sequence = 0
        self.stale = False

    def apply(self, d: BookDelta) -> None:
        if d.sequence and self.sequence and d.sequence != self.sequence + 1:
            if d.sequence <= self.sequence:
                return  # duplicate or older: dropped
            self.stale = True  # a gap: applied, but the book is stale
        if d.sequence:
            self.sequence = d.sequence
        if d.action is BookAction.CLEAR:
            self.sides[BUY].clear()
            self.sides[SELL].clear()
        elif d.action is BookAction.DELETE or d.size <= 0:
            self.sides[d.side].pop(d.price, None)
        else:
            self.sides[d.side][d.price] = d.size

    def best(self, side: Side) -> int:
        levels = self.sides[side]
        return (max(levels) if side is BUY else min(levels)) if levels else 0

    def levels(self, side: Side) -> list[tuple[int, int]]:
        return sorted(self.sides[side].items(), reverse=side is BUY)


_KINDS = ("update", "update", "update", "zero", "delete_touch", "delete", "inside", "outside", "add_existing")


def _next_delta(data: st.DataObject, ref: _ReferenceL2, seq: int, ts: int) -> BookDelta:
    """One delta of a kind a feed sends, chosen against the reference book's state so that the rare kinds (a
    delete at the touch, a level inside the spread) come up often."""
    side = data.draw(st.sampled_from([BUY, SELL]))
    levels = ref.sides[side]
    bid, ask = ref.best(BUY), ref.best(SELL)
    kind = data.draw(st.sampled_from(_KINDS + ("clear",) * (data.draw(st.integers(0, 30)) == 0)))
    size = data.draw(st.integers(1, 500))
    action = BookAction.UPDATE
    price = data.draw(st.integers(90, 110))
    if kind in ("update", "zero", "add_existing", "delete") and levels:
        price = data.draw(st.sampled_from(sorted(levels)))
    if kind == "zero":
        size = 0
    elif kind == "add_existing":
        action = BookAction.ADD
    elif kind == "delete":
        action, size = BookAction.DELETE, data.draw(st.sampled_from([0, size]))
    elif kind == "delete_touch":
        action, size = BookAction.DELETE, 0
        price = ref.best(side) or price
    elif kind == "inside" and bid and ask and ask - bid > 1:
        action, price = BookAction.ADD, data.draw(st.integers(bid + 1, ask - 1))
    elif kind == "outside":
        action = BookAction.ADD
        price = data.draw(
            st.integers(bid - 20, bid - 1)
            if side is BUY and bid
            else st.integers(ask + 1, ask + 20)
            if ask
            else st.integers(80, 120)
        )
    elif kind == "clear":
        action, price, size = BookAction.CLEAR, 0, 0
    return BookDelta(
        ts_event=ts, ts_init=ts, symbol="X", action=action, side=side, price=price, size=size, sequence=seq
    )


@given(st.data())
def test_apply_equals_sorted_dict_reference_over_feed_like_streams_with_rejected_deltas(data: st.DataObject) -> None:
    book, events = _book()
    ref = _ReferenceL2()
    last = 0
    for ts in range(1, data.draw(st.integers(1, 150)) + 1):
        # mostly the next sequence number; sometimes a duplicate or older one (dropped), a gap, or none at all
        step = data.draw(st.sampled_from([1] * 12 + [0, -1, 3, None]))
        seq = 0 if step is None else max(0, last + step)
        delta = _next_delta(data, ref, seq, ts)
        was_accepted = not (seq and last and seq <= last)
        ref.apply(delta)
        book.apply(delta)
        last = ref.sequence
        assert (book.best_bid, book.best_ask) == (ref.best(BUY), ref.best(SELL))
        assert (book.best_bid, book.best_ask) == (book.bids.best, book.asks.best)
        bid, ask = ref.best(BUY), ref.best(SELL)
        assert book.crossed == bool(bid and ask and bid >= ask)
        assert book.stale == ref.stale
        assert book.integrity.sequence == ref.sequence
        if was_accepted:
            assert book.integrity.ts == ts
    assert book.levels(BUY) == ref.levels(BUY)
    assert book.levels(SELL) == ref.levels(SELL)
    assert sum(isinstance(e, BookGap) for e in events) == book.health().gaps
