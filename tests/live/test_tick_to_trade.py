"""Tick-to-trade: the meter's histogram against NumPy, its threads, the ack round trip, and the driver's stamps.

The driver's ``stamp`` option lives in ``tapeflow.live.driver``; it is tested here because it is what makes a
``SubmitOrder.ts_init`` the arrival of the data behind it, which is what the meter subtracts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.engine import Inbox, Kernel
from tapeflow.live import LiveNode, run_live
from tapeflow.live.clock import FakeClock
from tapeflow.live.tick_to_trade import (
    BUCKETS,
    EXACT,
    MAX_VALUE,
    RELATIVE_ERROR,
    AckLatency,
    LatencyMeter,
    bucket_bounds,
    bucket_of,
)
from tapeflow.model import EngineError, Event, Signal, Trade
from tapeflow.model.enums import OrderType, Side
from tapeflow.model.orders import OrderAccepted, OrderRejected, SubmitOrder
from tapeflow.strategy.base import Strategy

MS = 1_000_000
T0 = 1_767_364_200_000_000_000
"""2026-01-02 14:30 UTC: where the fake wall clock starts."""


# -- the histogram -----------------------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=MAX_VALUE))
def test_every_value_falls_in_the_bucket_whose_bounds_contain_it(value: int) -> None:
    index = bucket_of(value)
    lo, width = bucket_bounds(index)
    assert 0 <= index < BUCKETS
    assert lo <= value < lo + width
    assert width == 1 or width * 128 <= lo  # a bucket is at most 1/128 of its lower bound wide


def test_buckets_tile_the_range_without_gap_or_overlap() -> None:
    expected = 0
    for index in range(BUCKETS):
        lo, width = bucket_bounds(index)
        assert lo == expected, index
        expected = lo + width
    assert expected == MAX_VALUE + 1


def _within(estimate: int, truth: float) -> bool:
    return abs(estimate - truth) <= float(RELATIVE_ERROR) * truth + 1e-9


latencies = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=2 * EXACT),
        st.integers(min_value=0, max_value=10**6),
        st.integers(min_value=0, max_value=10**12),
    ),
    min_size=1,
    max_size=3_000,
)


@settings(max_examples=150, deadline=None)
@given(latencies)
def test_percentiles_match_numpys_nearest_rank_within_the_stated_error(values: list[int]) -> None:
    meter = LatencyMeter()
    for v in values:
        meter.record(v)
    stats = meter.stats()
    data = np.array(values, dtype=np.int64)
    for got, q in ((stats.p50, 50), (stats.p99, 99), (stats.p999, 99.9)):
        truth = float(np.percentile(data, q, method="inverted_cdf"))
        assert _within(got, truth), (q, got, truth)
    assert stats.count == len(values)
    assert stats.max == max(values) and stats.min == min(values)
    assert stats.mean == sum(values) // len(values)


@settings(max_examples=50, deadline=None)
@given(latencies, st.integers(min_value=1, max_value=1000))
def test_any_percentile_is_within_the_error_of_the_exact_order_statistic(values: list[int], permille: int) -> None:
    meter = LatencyMeter()
    for v in values:
        meter.record(v)
    q = Fraction(permille, 10)
    (got,) = meter.percentiles((q,))
    rank = max(1, -(-q * len(values) // 100))
    truth = sorted(values)[rank - 1]
    assert abs(got - truth) <= RELATIVE_ERROR * truth


def test_small_latencies_are_counted_exactly() -> None:
    meter = LatencyMeter()
    for v in range(1, 101):
        meter.record(v)
    assert meter.percentiles((Fraction(50), Fraction(99), Fraction(100))) == [50, 99, 100]


def test_memory_is_fixed_however_many_values_are_recorded() -> None:
    meter = LatencyMeter()
    for v in range(0, 10**9, 997):
        meter.record(v)
    merged = meter.merged()
    assert len(merged.counts) == BUCKETS
    assert sum(merged.counts) == len(range(0, 10**9, 997))


def test_negative_latencies_are_counted_apart_and_do_not_move_the_percentiles() -> None:
    meter = LatencyMeter()
    meter.record(-5)
    meter.record(1000)
    stats = meter.stats()
    assert (stats.count, stats.negative, stats.min, stats.p50) == (1, 1, 1000, 1000)


def test_an_empty_meter_reports_zeros() -> None:
    stats = LatencyMeter().stats()
    assert (stats.count, stats.p50, stats.p99, stats.max, stats.rate_per_s) == (0, 0, 0, 0, 0.0)
    assert LatencyMeter().percentiles() == []


def test_rate_is_records_per_second_between_the_first_and_last_write() -> None:
    meter = LatencyMeter()
    for i in range(101):
        meter.record(1_000, T0 + i * 10 * MS)  # 100 intervals of 10 ms: 100 per second
    assert meter.stats().rate_per_s == pytest.approx(100.0)


def _submit(cid: str, ts: int) -> SubmitOrder:
    return SubmitOrder(
        ts_event=ts, ts_init=ts, strategy_id="s", client_order_id=cid, symbol="AAPL", side=Side.BUY,
        order_type=OrderType.LIMIT, quantity=1, price=1_000_000,
    )  # fmt: skip


def test_on_written_records_write_time_minus_the_commands_ts_init() -> None:
    meter = LatencyMeter()
    meter.on_written(_submit("c", T0), T0 + 25_000)
    meter.on_written(_submit("c", T0), T0 + 75_000)
    stats = meter.stats()
    assert (stats.count, stats.min, stats.max) == (2, 25_000, 75_000)


def test_threads_record_without_a_lock_and_none_is_lost_even_after_they_end() -> None:
    meter = LatencyMeter()
    per_thread = 20_000
    start = threading.Barrier(4)

    def sender(offset: int) -> None:
        start.wait(timeout=10)
        for i in range(per_thread):
            meter.record(offset + i % 1000)

    threads = [threading.Thread(target=sender, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    stats = meter.stats()  # the threads ended: their counts are folded into the retired set, not dropped
    assert stats.count == 4 * per_thread
    assert (stats.min, stats.max) == (0, 3999)
    assert _within(stats.p50, 1999)
    assert meter._threads == []  # nothing kept per dead thread
    meter.record(5)
    assert meter.stats().count == 4 * per_thread + 1


# -- the round trip to the venue's ack -----------------------------------------------------------------------------


def _accepted(cid: str, ts: int) -> OrderAccepted:
    return OrderAccepted(ts_event=ts, ts_init=ts, strategy_id="s", client_order_id=cid, symbol="AAPL")


def test_ack_latency_measures_submit_to_accept_and_forgets_refused_orders() -> None:
    ack = AckLatency(max_pending=2)
    kernel = Kernel()
    kernel.add(ack)
    kernel.start(at=T0)

    kernel.run(
        [
            _submit("a", T0),
            _submit("b", T0 + 1 * MS),
            _accepted("a", T0 + 3 * MS),
            OrderRejected(
                ts_event=T0, ts_init=T0 + 4 * MS, strategy_id="s", client_order_id="b", symbol="AAPL", reason="no"
            ),
            _accepted("b", T0 + 5 * MS),
            _submit("c", T0 + 6 * MS),
            _submit("d", T0 + 6 * MS),
            _submit("e", T0 + 6 * MS),  # a third unanswered order: the oldest ("c") is dropped
            _accepted("c", T0 + 8 * MS),
            _accepted("e", T0 + 9 * MS),
        ]
    )
    stats = ack.meter.stats()
    assert (stats.count, stats.min, stats.max) == (2, 3 * MS, 3 * MS)
    assert ack.dropped == 1
    assert ack.waiting == 1, "d is the one order still unanswered (a, b answered, c dropped, e accepted)"


# -- arrival stamps in the driver ----------------------------------------------------------------------------------


class _BuyOnTrade(Strategy):
    """Buys one share on every trade, far under the market (it rests): the order's ts_init is the trade's."""

    def __init__(self) -> None:
        super().__init__("buyer")
        self.trades: list[int] = []

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade.ts_init)
        self.buy("AAPL", 1, 500_000)


class _Submits:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(SubmitOrder, lambda e: self.seen.append(("submit", e.ts_init)))
        kernel.subscribe(Signal, lambda e: self.seen.append((e.name, e.ts_init)))

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None


def _stamped_feed(clock: FakeClock) -> AsyncIterator[Event]:
    """A market data adapter: a frame read at 10 ms holds two trades (stamped 10 ms), handed over at 30 ms and
    31 ms (the driver was busy); then two trades stamped by another clock: before the kernel's time (at 40 ms)
    and ahead of the wall (at 50 ms)."""

    async def feed() -> AsyncIterator[Event]:
        await clock.sleep_until(T0 + 10 * MS)
        read_at = clock.now()
        await clock.sleep_until(T0 + 30 * MS)
        yield Trade(ts_event=T0, ts_init=read_at, symbol="AAPL", price=1_000_000, size=1)
        await clock.sleep_until(T0 + 31 * MS)
        yield Trade(ts_event=T0, ts_init=read_at, symbol="AAPL", price=1_000_000, size=1)
        await clock.sleep_until(T0 + 40 * MS)
        yield Trade(ts_event=T0, ts_init=T0 - 5 * MS, symbol="AAPL", price=1_000_000, size=1)
        await clock.sleep_until(T0 + 50 * MS)
        yield Trade(ts_event=T0, ts_init=T0 + 10_000 * MS, symbol="AAPL", price=1_000_000, size=1)

    return feed()


def _run_stamped(stamp: str) -> tuple[list[int], list[tuple[str, int]]]:
    clock = FakeClock(T0)
    strategy, submits = _BuyOnTrade(), _Submits()
    node = LiveNode([strategy], run_id="", wall=clock, extra=[submits])
    asyncio.run(node.run(_stamped_feed(clock), realtime=True, stamp=stamp))  # type: ignore[arg-type]
    return [(t - T0) // 1000 for t in strategy.trades], [(k, (t - T0) // 1000) for k, t in submits.seen]


def test_source_stamps_keep_the_adapters_arrival_time_so_orders_carry_it() -> None:
    trades, submits = _run_stamped("source")
    # both trades of the frame keep its read time (10 ms); the one stamped in the past is lifted to the kernel's
    # clock, the one stamped in the future is held to the wall's
    assert trades == [10_000, 10_000, 10_000, 50_000]
    assert submits == [("submit", 10_000)] * 3 + [("submit", 50_000)]


def test_dispatch_stamps_give_each_event_the_time_the_driver_took_it() -> None:
    trades, submits = _run_stamped("dispatch")
    assert trades == [30_000, 31_000, 40_000, 50_000]
    assert submits == [("submit", 30_000), ("submit", 31_000), ("submit", 40_000), ("submit", 50_000)]


def test_source_stamps_dispatch_one_wake_up_in_time_order_feed_first_then_the_inbox() -> None:
    clock = FakeClock(T0)
    inbox = Inbox()
    submits = _Submits()

    async def feed() -> AsyncIterator[Event]:
        await clock.sleep_until(T0 + 10 * MS)
        read_at = clock.now()
        await clock.sleep_until(T0 + 30 * MS)
        # a command lands in the inbox in the same loop pass as the trade read at 10 ms
        inbox.put(Signal(ts_event=T0, ts_init=T0, strategy_id="x", symbol="AAPL", name="cmd", value=1.0, reason=""))
        yield Trade(ts_event=T0, ts_init=read_at, symbol="AAPL", price=1_000_000, size=1)

    strategy = _BuyOnTrade()
    node = LiveNode([strategy], run_id="", wall=clock, extra=[submits], inbox=inbox)
    asyncio.run(node.run(feed(), realtime=True, stamp="source"))
    assert [(k, (t - T0) // MS) for k, t in submits.seen] == [("submit", 10), ("cmd", 30)]


def test_an_unknown_stamp_mode_is_refused() -> None:
    async def empty() -> AsyncIterator[Event]:
        return
        yield

    with pytest.raises(EngineError, match="stamp must be one of"):
        asyncio.run(run_live(Kernel(), empty(), realtime=True, wall=FakeClock(T0), stamp="arrival"))  # type: ignore[arg-type]


def test_a_reader_summing_while_a_thread_records_sees_consistent_growing_counts() -> None:
    meter = LatencyMeter()
    done = threading.Event()

    def sender() -> None:
        for i in range(200_000):
            meter.record(1_000 + i % 5_000)
        done.set()

    thread = threading.Thread(target=sender)
    thread.start()
    counts = []
    while not done.is_set() and len(counts) < 10_000:
        stats = meter.stats()
        if stats.count:
            assert 1_000 <= stats.min <= stats.p50 <= stats.p99 <= stats.p999 <= stats.max <= 5_999
        counts.append(stats.count)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert counts == sorted(counts)  # never goes back, never corrupt
    assert meter.stats().count == 200_000
