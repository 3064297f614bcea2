"""Integrity totals over a run: crossing episodes, time crossed and stale, per book and through the keeper."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book.integrity import Integrity, IntegrityTotals
from tapeflow.book.keeper import BookKeeper
from tapeflow.book.l2 import L2Book
from tapeflow.book.l3 import L3Book
from tapeflow.model import BookSnapshot, Event, OrderAdded, Side
from tapeflow.model.enums import BookAction
from tapeflow.model.market import BookDelta, BookLevel, Quote

BUY, SELL = Side.BUY, Side.SELL
ADD = BookAction.ADD


def test_a_crossing_add_then_its_delete_is_one_episode_timed_from_add_to_delete() -> None:
    book = L3Book("X")
    book.add(1, SELL, 101, 10, ts=10)
    book.add(2, BUY, 102, 10, ts=100)
    assert book.crossed
    book.delete(2, ts=350)
    assert not book.crossed
    totals = book.integrity.totals()
    assert (totals.crossings, totals.crossed_ns) == (1, 250)
    assert totals.anomalies == 1


def test_a_cross_still_open_at_the_end_is_closed_at_the_end_time() -> None:
    book = L3Book("X")
    book.add(1, SELL, 101, 10, ts=10)
    book.add(2, BUY, 101, 10, ts=100)
    assert book.integrity.totals(end_ns=1_000).crossed_ns == 900
    assert book.integrity.totals().crossed_ns == 0, "without an end, the episode runs to the last message (100)"


def test_a_gap_is_stale_until_the_snapshot_that_repairs_it() -> None:
    book = L2Book("X")
    for seq, ts in ((1, 10), (2, 20), (5, 30)):
        book.apply(
            BookDelta(action=ADD, ts_event=ts, ts_init=ts, symbol="X", side=BUY, price=100 + seq, size=1, sequence=seq)
        )
    assert book.stale
    book.apply(BookSnapshot(ts_event=130, ts_init=130, symbol="X", bids=(BookLevel(100, 1),), sequence=9))
    totals = book.integrity.totals(end_ns=500)
    assert (totals.gaps, totals.stale_ns, totals.crossings) == (1, 100, 0)


def test_a_snapshot_ends_a_cross_and_counts_its_time() -> None:
    book = L2Book("X")
    book.apply(BookDelta(action=ADD, ts_event=10, ts_init=10, symbol="X", side=SELL, price=100, size=1))
    book.apply(BookDelta(action=ADD, ts_event=40, ts_init=40, symbol="X", side=BUY, price=100, size=1))
    assert book.crossed
    book.apply(BookSnapshot(ts_event=70, ts_init=70, symbol="X", bids=(BookLevel(99, 1),), asks=(BookLevel(100, 1),)))
    assert not book.crossed
    totals = book.integrity.totals(end_ns=1_000)
    assert (totals.crossings, totals.crossed_ns) == (1, 30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 50)), min_size=1, max_size=40))
def test_crossed_time_is_the_sum_of_the_episodes_whatever_the_sequence(steps: list[tuple[bool, int]]) -> None:
    """Episodes driven directly: the totals equal a reference that sums every crossed stretch."""
    integrity = Integrity("X")
    ts, expected, episodes, since = 0, 0, 0, None
    for cross, dt in steps:
        ts += dt
        integrity.ts = ts
        if cross:
            integrity.on_crossed(2, 1)
            if since is None:
                since, episodes = ts, episodes + 1
        else:
            integrity.uncross()
            if since is not None:
                expected, since = expected + ts - since, None
    end = ts + 7
    if since is not None:
        expected += end - since
    totals = integrity.totals(end_ns=end)
    assert (totals.crossings, totals.crossed_ns) == (episodes, expected)


class _Bus:
    def __init__(self) -> None:
        self.emitted: list[Event] = []

    def subscribe(self, event_type: object, handler: object) -> None:
        return None

    def emit(self, event: Event) -> None:
        self.emitted.append(event)


def test_the_keeper_reports_every_l3_book_in_symbol_order_closing_open_episodes_at_the_last_event() -> None:
    keeper = BookKeeper("L3")
    keeper.attach(_Bus())

    def add(symbol: str, oid: int, side: Side, price: int, ts: int) -> None:
        keeper.on_event(
            OrderAdded(ts_event=ts, ts_init=ts, symbol=symbol, order_id=oid, side=side, price=price, size=1)
        )

    add("ZZZ", 1, SELL, 101, 10)
    add("AAA", 2, SELL, 101, 10)
    add("AAA", 3, BUY, 105, 20)  # one bad add crosses AAA for the rest of the run
    add("ZZZ", 4, BUY, 100, 90)
    totals = keeper.totals()
    assert [t.symbol for t in totals] == ["AAA", "ZZZ"]
    assert totals[0] == IntegrityTotals(symbol="AAA", crossings=1, crossed_ns=70)
    assert totals[1].anomalies == 0


def test_quote_books_report_their_crossings_only() -> None:
    keeper = BookKeeper("L1")
    keeper.attach(_Bus())
    keeper.on_quote(Quote(ts_event=1, ts_init=1, symbol="X", bid_price=1, bid_size=1, ask_price=2, ask_size=1))
    keeper.on_quote(Quote(ts_event=3, ts_init=3, symbol="X", bid_price=3, bid_size=1, ask_price=2, ask_size=1))
    assert keeper.symbols() == ["X"]
    assert keeper.totals(end_ns=10) == [IntegrityTotals(symbol="X", crossings=1, crossed_ns=7)]
