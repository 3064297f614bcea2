"""The simulated exchange's queue position on L3 (market-by-order) tapes: hand-built cases with known answers and
a property test against a tiny reference FIFO queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tapeflow.backtest.engine import Backtest
from tapeflow.model import (
    Event,
    LiquiditySide,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Side,
    TimeInForce,
)
from tapeflow.model.book_events import OrderDiscovered
from tapeflow.model.market import BookLevel, BookOrder, BookSnapshot

from .scenario import MS, SYM, T0, Scripted, px

LEVEL = px("50.00")


@dataclass
class Tape:
    """Market-by-order messages at one bid level, one a millisecond from ``T0 + 1 ms`` on."""

    events: list[Event] = field(default_factory=list)

    @property
    def next_ts(self) -> int:
        return T0 + (len(self.events) + 1) * MS

    def add(self, oid: int, size: int, price: int = LEVEL, side: Side = Side.BUY) -> int:
        ts = self.next_ts
        self.events.append(
            OrderAdded(ts_event=ts, ts_init=ts, symbol=SYM, order_id=oid, side=side, price=price, size=size)
        )
        return ts

    def execute(self, oid: int, size: int) -> int:
        ts = self.next_ts
        self.events.append(OrderExecuted(ts_event=ts, ts_init=ts, symbol=SYM, order_id=oid, size=size))
        return ts

    def reduce(self, oid: int, size: int) -> int:
        ts = self.next_ts
        self.events.append(OrderReduced(ts_event=ts, ts_init=ts, symbol=SYM, order_id=oid, size=size))
        return ts

    def delete(self, oid: int) -> int:
        ts = self.next_ts
        self.events.append(OrderDeleted(ts_event=ts, ts_init=ts, symbol=SYM, order_id=oid))
        return ts

    def replace(self, oid: int, new_oid: int, size: int, price: int = LEVEL) -> int:
        ts = self.next_ts
        self.events.append(
            OrderReplaced(
                ts_event=ts, ts_init=ts, symbol=SYM, order_id=oid, new_order_id=new_oid, price=price, size=size
            )
        )
        return ts

    def discover(self, oid: int, size: int) -> int:
        ts = self.next_ts
        self.events.append(
            OrderDiscovered(ts_event=ts, ts_init=ts, symbol=SYM, order_id=oid, side=Side.BUY, price=LEVEL, size=size)
        )
        return ts

    def resync(self, orders: list[tuple[int, int]]) -> int:
        """A snapshot of our level alone, holding exactly ``orders`` (id, size) in queue order."""
        ts = self.next_ts
        level = BookLevel(LEVEL, sum(size for _, size in orders))
        book = tuple(BookOrder(oid, Side.BUY, LEVEL, size) for oid, size in orders)
        self.events.append(BookSnapshot(ts_event=ts, ts_init=ts, symbol=SYM, bids=(level,), orders=book))
        return ts

    def now(self) -> int:
        """A moment after the last message and before the next: when our order reaches the exchange."""
        return self.next_ts - MS // 2


def _buy(quantity: int) -> Callable[[Scripted], str]:
    return lambda s: s.buy(SYM, quantity, LEVEL, time_in_force=TimeInForce.GTC)


def _run(tape: Tape, orders: dict[int, int], unseen: int = 0) -> tuple[Backtest, Scripted]:
    """Buy ``orders[t]`` shares at ``LEVEL`` at each time ``t`` (no latency: it arrives at ``t``); GTC, so what
    has not filled still rests when the run ends (a DAY order would expire as the run drains). The tape starts
    with a snapshot of ``unseen`` shares at ``LEVEL`` whose orders nobody saw arrive."""
    bids = (BookLevel(LEVEL, unseen),) if unseen else ()
    start = BookSnapshot(ts_event=T0, ts_init=T0, symbol=SYM, bids=bids, asks=())
    return _run_actions(tape, {t: _buy(q) for t, q in orders.items()}, start)


def _run_actions(
    tape: Tape, actions: dict[int, Callable[[Scripted], object]], start: BookSnapshot | None = None
) -> tuple[Backtest, Scripted]:
    s = Scripted(actions)
    bt = Backtest([s], level="L3")
    start = start or BookSnapshot(ts_event=T0, ts_init=T0, symbol=SYM, bids=(), asks=())
    bt.run([[start, *tape.events]], until=tape.next_ts)
    return bt, s


def _ahead(bt: Backtest) -> list[tuple[str, int, int, int]]:
    """Our resting orders as (id, price, remaining, shares ahead): the exchange's own record."""
    return [(o.client_order_id, o.price, o.remaining, o.ahead) for o in bt.exchange.resting(SYM)]


def _fills(s: Scripted) -> list[tuple[str, int, int, LiquiditySide]]:
    return [(f.client_order_id, f.ts_event, f.quantity, f.liquidity_side) for f in s.fills]


def test_l3_order_counts_the_whole_level_ahead_on_arrival_and_later_orders_behind() -> None:
    tape = Tape()
    tape.add(1, 300)
    tape.add(2, 200)
    arrival = tape.now()
    tape.add(3, 400)
    bt, s = _run(tape, {arrival: 100})
    assert s.kinds() == ["OrderAccepted"]
    assert _ahead(bt) == [("s-1", LEVEL, 100, 500)]


def test_l3_delete_ahead_moves_the_order_up_and_it_fills_once_the_rest_ahead_traded() -> None:
    tape = Tape()
    tape.add(1, 300)
    tape.add(2, 200)
    arrival = tape.now()
    tape.add(3, 400)
    tape.delete(1)  # 500 -> 200 ahead
    tape.execute(2, 150)  # 50 ahead: the seller stopped before us
    before = tape.execute(2, 50)  # nothing ahead now, still no fill: order 2 was ahead of us
    fill = tape.execute(3, 120)  # the next seller reaches us before order 3
    bt, s = _run(tape, {arrival: 100})
    assert _fills(s) == [("s-1", fill, 100, LiquiditySide.MAKER)]
    assert all(f.ts_event > before for f in s.fills) and s.fills
    assert _ahead(bt) == []


def test_l3_partial_cancel_ahead_moves_the_order_up_by_the_cancelled_shares() -> None:
    tape = Tape()
    tape.add(1, 300)
    arrival = tape.now()
    tape.add(2, 400)
    tape.reduce(1, 120)  # 300 -> 180 ahead
    bt, s = _run(tape, {arrival: 100})
    assert s.fills == []
    assert _ahead(bt) == [("s-1", LEVEL, 100, 180)]

    fill = tape.execute(1, 180)  # order 1 traded out, ahead of us: still no fill
    tape.execute(2, 70)  # then the next seller reaches us: 70 of our 100
    bt, s = _run(tape, {arrival: 100})
    assert _fills(s) == [("s-1", fill + MS, 70, LiquiditySide.MAKER)]
    assert _ahead(bt) == [("s-1", LEVEL, 30, 0)]


def test_l3_cancels_and_deletes_behind_the_order_do_not_move_it() -> None:
    tape = Tape()
    tape.add(1, 300)
    arrival = tape.now()
    tape.add(2, 400)
    tape.add(3, 100)
    tape.reduce(2, 150)
    tape.delete(3)
    tape.replace(2, 4, 250)  # a replace is a delete and an add at the back: still behind us
    bt, s = _run(tape, {arrival: 100})
    assert s.fills == []
    assert _ahead(bt) == [("s-1", LEVEL, 100, 300)]


def test_l3_replace_ahead_sends_that_order_behind_us() -> None:
    tape = Tape()
    tape.add(1, 300)
    tape.add(2, 200)
    arrival = tape.now()
    tape.replace(1, 5, 300)  # order 1 loses its place: 200 ahead, 300 behind
    tape.execute(2, 200)
    fill = tape.execute(5, 300)
    bt, s = _run(tape, {arrival: 100})
    assert _fills(s) == [("s-1", fill, 100, LiquiditySide.MAKER)]
    assert _ahead(bt) == []


def test_l3_two_of_our_orders_at_one_level_fill_in_time_priority() -> None:
    tape = Tape()
    tape.add(1, 100)
    first = tape.now()
    tape.add(2, 100)
    second = tape.now()
    tape.add(3, 500)
    tape.execute(1, 100)
    one = tape.execute(2, 100)  # behind our first order, ahead of our second: only the first fills
    two = tape.execute(3, 250)  # behind both: the first's last 100, then 150 of the second's 300
    bt, s = _run(tape, {first: 200, second: 300})
    assert _fills(s) == [
        ("s-1", one, 100, LiquiditySide.MAKER),
        ("s-1", two, 100, LiquiditySide.MAKER),
        ("s-2", two, 150, LiquiditySide.MAKER),
    ]
    assert _ahead(bt) == [("s-2", LEVEL, 150, 0)]


def test_l3_unseen_shares_count_ahead_and_a_discovered_order_trading_moves_the_order_up() -> None:
    tape = Tape()
    arrival = tape.now()  # the snapshot's 300 shares nobody saw arrive are older than us: 300 ahead
    tape.add(1, 200)
    tape.discover(7, 120)  # 120 of the 300 belong to order 7 (still ahead of us)
    tape.execute(7, 120)  # 180 ahead
    bt, s = _run(tape, {arrival: 100}, unseen=300)
    assert s.fills == []
    assert _ahead(bt) == [("s-1", LEVEL, 100, 180)]


def test_l3_execution_behind_the_order_fills_it_only_after_the_shares_still_counted_ahead() -> None:
    """A tape that contradicts our count (an order that joined after us trades while the shares nobody saw
    arrive, assumed older, are still there): the fill waits for the volume ahead, never comes early."""
    tape = Tape()
    arrival = tape.now()  # 300 unseen shares ahead
    tape.add(1, 500)  # behind us
    tape.execute(1, 200)  # 200 of the 300 counted ahead: no fill
    fill = tape.execute(1, 250)  # the last 100 ahead, then 150 of our 200
    bt, s = _run(tape, {arrival: 200}, unseen=300)
    assert _fills(s) == [("s-1", fill, 150, LiquiditySide.MAKER)]
    assert _ahead(bt) == [("s-1", LEVEL, 50, 0)]


def test_l3_resync_snapshot_recounts_what_is_ahead_from_the_orders_it_shows() -> None:
    """A gap, then a snapshot: order 1 left unseen; 2 (ahead) and 3 (behind us) are still there. At most
    600 - 400 = 200 shares can be ahead now, not the 500 counted before the gap."""
    tape = Tape()
    tape.add(1, 300)
    tape.add(2, 200)
    arrival = tape.now()
    tape.add(3, 400)
    tape.resync([(2, 200), (3, 400)])
    bt, s = _run(tape, {arrival: 100})
    assert _ahead(bt) == [("s-1", LEVEL, 100, 200)]

    tape.execute(2, 200)
    fill = tape.execute(3, 150)  # order 3 is still known to be behind us: the seller met us first
    bt, s = _run(tape, {arrival: 100})
    assert _fills(s) == [("s-1", fill, 100, LiquiditySide.MAKER)]


# -- property: the exchange against a reference FIFO queue ------------------------------------------------------

OURS = -1
"""Our order's place in the reference queue (market order ids are positive)."""
UNSEEN = 0
"""The reference's entry for shares at the level whose orders nobody saw arrive (always at the front)."""


@dataclass
class Reference:
    """One price level as a FIFO queue of [order id, shares], with our virtual order somewhere in it.

    The market's tape is the truth about the market: our order never changes it. A seller that executes the first
    market order would have met us first if we stand before it: we fill ``min(ours, executed)``."""

    queue: list[list[int]] = field(default_factory=list)
    ours: int = 0
    fills: list[tuple[int, int]] = field(default_factory=list)

    def ahead(self) -> int:
        return sum(size for oid, size in self.queue[: self._our_index()])

    def _our_index(self) -> int:
        return [oid for oid, _ in self.queue].index(OURS)

    def market(self) -> list[list[int]]:
        return [o for o in self.queue if o[0] != OURS]

    def arrive(self, quantity: int) -> None:
        self.ours = quantity
        self.queue.append([OURS, quantity])

    def execute(self, ts: int, size: int) -> None:
        if self.ours and self.queue[0][0] == OURS:
            take = min(self.ours, size)
            self.ours -= take
            self.fills.append((ts, take))
            if not self.ours:
                del self.queue[0]
        front = self.market()[0]
        front[1] -= size
        if not front[1]:
            self.queue.remove(front)


_KINDS = ["add", "reduce", "replace", "delete", "execute", "trade out", "trade out"]
_op = st.tuples(st.sampled_from(_KINDS), st.integers(0, 10**6))


def _replay(before: list[int], unseen: int, ops: list[tuple[str, int]], arrive_at: int, quantity: int) -> Reference:
    """Build the tape and the reference side by side, run the exchange on the tape and compare.

    ``unseen`` shares rest at the level from the start with no order we saw arrive (the front of the queue); a
    message about some of them names an order the feed handler first discovers."""
    tape, ref = Tape(), Reference()
    if unseen:
        ref.queue.append([UNSEEN, unseen])
    next_id = 1
    for size in before:
        tape.add(next_id, size)
        ref.queue.append([next_id, size])
        next_id += 1
    arrival = None
    for i, (kind, pick) in enumerate([*ops, ("end", 0)]):
        if i == min(arrive_at, len(ops)):
            arrival = tape.now()
            ref.arrive(quantity)
        market = ref.market()
        known = [o for o in market if o[0] != UNSEEN]
        cuttable = [o for o in known if o[1] > 1]
        if kind == "add" or (kind != "end" and not market):
            size = 1 + pick % 600
            tape.add(next_id, size)
            ref.queue.append([next_id, size])
            next_id += 1
        elif kind == "reduce" and cuttable:
            target = cuttable[pick % len(cuttable)]
            cut = 1 + pick % (target[1] - 1)
            tape.reduce(target[0], cut)
            target[1] -= cut
        elif kind == "replace" and known:
            target = known[pick % len(known)]
            size = 1 + pick % 600
            elsewhere = pick % 3 == 0  # to another price: it leaves our level
            tape.replace(target[0], next_id, size, price=LEVEL - 100 if elsewhere else LEVEL)
            ref.queue.remove(target)
            if not elsewhere:
                ref.queue.append([next_id, size])
            next_id += 1
        elif kind == "delete":
            target = market[pick % len(market)]
            if target[0] == UNSEEN:  # some of the unseen shares were one order, which leaves
                gone = 1 + pick % target[1]
                tape.discover(next_id, gone)
                tape.delete(next_id)
                next_id += 1
                target[1] -= gone
                if not target[1]:
                    ref.queue.remove(target)
            else:
                tape.delete(target[0])
                ref.queue.remove(target)
        elif kind in ("execute", "reduce", "replace", "trade out"):
            front = market[0]
            size = front[1] if kind == "trade out" else 1 + pick % front[1]
            oid = front[0]
            if oid == UNSEEN:
                oid = next_id
                next_id += 1
                tape.discover(oid, size)
            ref.execute(tape.execute(oid, size), size)
    assert arrival is not None
    bt, s = _run(tape, {arrival: quantity}, unseen=unseen)
    assert s.kinds()[0] == "OrderAccepted"
    assert [(f.ts_event, f.quantity) for f in s.fills] == ref.fills
    resting = [(o.remaining, o.ahead) for o in bt.exchange.resting(SYM)]
    assert resting == ([(ref.ours, ref.ahead())] if ref.ours else [])
    return ref


def test_l3_fills_and_queue_position_equal_a_reference_fifo_queue() -> None:
    """Random adds, partial cancels, replaces, deletes and front executions at one level, some shares there from
    the start unseen, our order arriving after any of them: every fill (time, shares) and, if it still rests, the
    shares ahead of it equal the reference's. The generator must reach both outcomes often, or the comparison
    proves little."""
    outcomes = {"filled": 0, "resting": 0}

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(st.integers(1, 600), max_size=4),
        st.sampled_from([0, 0, 1, 250, 800]),
        st.lists(_op, min_size=8, max_size=40),
        st.integers(0, 12),
        st.integers(1, 900),
    )
    def check(before: list[int], unseen: int, ops: list[tuple[str, int]], arrive_at: int, quantity: int) -> None:
        ref = _replay(before, unseen, ops, arrive_at, quantity)
        event(f"fills: {min(len(ref.fills), 2)}, resting: {bool(ref.ours)}")
        outcomes["filled"] += bool(ref.fills)
        outcomes["resting"] += bool(ref.ours)

    check()
    assert outcomes["filled"] >= 30 and outcomes["resting"] >= 30, outcomes


def test_l3_liquidity_we_took_stays_consumed_when_an_order_joins_that_level() -> None:
    tape = Tape()
    tape.add(1, 300, price=px("50.05"), side=Side.SELL)
    first = tape.now()
    tape.add(2, 50, price=px("50.06"), side=Side.SELL)  # another level: ours stays consumed
    second = tape.now()
    tape.add(3, 100, price=px("50.05"), side=Side.SELL)  # joins our level: only its 100 are new to us
    third = tape.now()
    ioc = TimeInForce.IOC
    _, s = _run_actions(
        tape,
        {
            first: lambda s: s.buy(SYM, 200, px("50.05"), time_in_force=ioc),
            second: lambda s: s.buy(SYM, 200, px("50.05"), time_in_force=ioc),
            third: lambda s: s.buy(SYM, 500, px("50.05"), time_in_force=ioc),
        },
    )
    assert [(f.client_order_id, f.quantity, f.liquidity_side) for f in s.fills] == [
        ("s-1", 200, LiquiditySide.TAKER),
        ("s-2", 100, LiquiditySide.TAKER),
        ("s-3", 100, LiquiditySide.TAKER),  # not the 400 shown: the 300 before it were all ours already
    ]
