"""The same recorded tape through the backtest driver and the live driver gives byte-identical output."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from tapeflow.backtest import run_backtest
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine import Inbox, InboxLike, Kernel, ScheduledInbox, merge_sorted
from tapeflow.engine.recorder import EventLog
from tapeflow.live import replay, run_live
from tapeflow.live.clock import FakeClock
from tapeflow.model import Event, OutOfOrderError, Signal, TimerFired, Trade
from tapeflow.strategy.ema_signal import EmaCrossSignals


def _tape() -> list[Event]:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAPL", "MSFT", "TSLA"), seed=11, events_per_symbol=4_000))
    return list(merge_sorted(market.sources()))


def _kernel() -> tuple[Kernel, EventLog, EmaCrossSignals]:
    kernel = Kernel()
    log = EventLog()
    strategy = EmaCrossSignals(fast_window=10, slow_window=40, report_interval_ns=250_000_000)
    kernel.add(log)
    kernel.add(strategy)
    return kernel, log, strategy


def test_live_replay_and_backtest_give_byte_identical_logs() -> None:
    tape = _tape()
    until = tape[-1].ts_init + 1_000_000_000

    k_bt, log_bt, strat_bt = _kernel()
    run_backtest(k_bt, [tape], until=until)

    k_live, log_live, strat_live = _kernel()
    asyncio.run(run_live(k_live, replay(tape), until=until))

    assert log_bt.records == log_live.records
    assert log_bt.digest() == log_live.digest()
    # the comparison is meaningful: the logs hold feed, emitted and timer events
    kinds = {type(e).__name__ for e in tape}
    assert {"Quote", "Trade", "BookDelta"} <= kinds
    assert strat_bt.signals == strat_live.signals > 10
    assert strat_bt.timer_ticks == strat_live.timer_ticks > 10
    assert log_bt.count == len(tape) + strat_bt.signals + strat_bt.timer_ticks


MS = 1_000_000
T0 = 1_767_364_200_000_000_000
"""2026-01-02 14:30 UTC: where the fake wall clock starts."""


class _Heartbeat:
    """Records timer firings, trades and signals with their ``ts_init``; sets a repeating timer if asked."""

    def __init__(self, every_ns: int | None = None) -> None:
        self.every_ns = every_ns
        self.seen: list[str] = []

    def attach(self, kernel: Kernel) -> None:
        self.kernel = kernel
        kernel.subscribe(TimerFired, self.on_timer)
        kernel.subscribe(Trade, lambda e: self.seen.append(f"trade@{(e.ts_init - T0) // MS}"))
        kernel.subscribe(Signal, lambda e: self.seen.append(f"{e.name}@{(e.ts_init - T0) // MS}"))

    def on_timer(self, e: TimerFired) -> None:
        """Also when it ran by the wall clock: a timer run late, at the next arrival, would show it."""
        wall = (self.kernel.clock.now() - T0) // MS
        self.seen.append(f"timer@{(e.ts_init - T0) // MS}" + ("" if wall == (e.ts_init - T0) // MS else f" ran@{wall}"))

    def on_start(self) -> None:
        if self.every_ns is not None:
            self.kernel.set_timer("hb", interval=self.every_ns)

    def on_stop(self) -> None:
        return None


def _trade(ts: int = 0) -> Trade:
    return Trade(ts_event=ts, ts_init=ts, symbol="AAPL", price=1_000_000, size=1)


def _signal(name: str, ts: int = 0) -> Signal:
    return Signal(ts_event=ts, ts_init=ts, strategy_id="outside", symbol="AAPL", name=name, value=1.0, reason="test")


def test_realtime_live_driver_fires_timers_while_the_feed_is_quiet() -> None:
    """With a wall clock, timers fire between arrivals: the driver does not wait for data to move time."""
    clock = FakeClock(T0)

    async def slow_feed() -> AsyncIterator[Event]:
        for i in range(2):
            await clock.sleep_until(clock.now() + 80 * MS)
            yield _trade(i)

    kernel = Kernel(clock=clock)  # components read the wall clock, as in live trading
    heartbeat = _Heartbeat(every_ns=10 * MS)
    kernel.add(heartbeat)
    asyncio.run(run_live(kernel, slow_feed(), realtime=True, wall=clock))
    beats = [f"timer@{10 * i}" for i in range(1, 17)]
    # stamped with (fake) wall time on arrival, not the source's ts; a timer due with a trade runs first
    assert heartbeat.seen == [*beats[:8], "trade@80", *beats[8:], "trade@160"]


def test_realtime_upkeep_runs_every_interval_of_wall_time_while_the_feed_is_quiet() -> None:
    clock = FakeClock(T0)
    upkeeps: list[int] = []

    class Keeper(_Heartbeat):
        def on_upkeep(self) -> None:
            upkeeps.append((clock.now() - T0) // MS)

    async def quiet_feed() -> AsyncIterator[Event]:
        yield _trade()
        await clock.sleep_until(T0 + 1_100 * MS)

    kernel = Kernel()
    kernel.add(Keeper())
    asyncio.run(run_live(kernel, quiet_feed(), realtime=True, wall=clock, upkeep_interval_ns=200 * MS))
    assert upkeeps == [200, 400, 600, 800, 1000]


def test_realtime_inbox_events_are_stamped_on_arrival_and_interleaved_with_the_feed() -> None:
    clock = FakeClock(T0)
    inbox = Inbox()

    async def feed() -> AsyncIterator[Event]:
        for at in (10, 50):
            await clock.sleep_until(T0 + at * MS)
            yield _trade()
        await clock.sleep_until(T0 + 70 * MS)

    async def dashboard() -> None:  # commands arriving on the event loop while the feed is quiet
        await clock.sleep_until(T0 + 30 * MS)
        inbox.put(_signal("pause"))
        await clock.sleep_until(T0 + 70 * MS)
        inbox.put(_signal("resume"))  # arrives as the feed ends: still delivered

    kernel = Kernel()
    heartbeat = _Heartbeat()
    kernel.add(heartbeat)

    async def main() -> None:
        commands = asyncio.create_task(dashboard())
        await run_live(kernel, feed(), realtime=True, wall=clock, inbox=inbox)
        await commands

    asyncio.run(main())
    assert heartbeat.seen == ["trade@10", "pause@30", "trade@50", "resume@70"]
    assert inbox.received == 2 and len(inbox) == 0


def test_a_put_from_a_plain_thread_wakes_a_quiet_realtime_driver() -> None:
    """The one test on the real wall clock: no timer and an hour between upkeeps, so only the put can wake it."""
    inbox = Inbox()
    kernel = Kernel()
    heartbeat = _Heartbeat()
    kernel.add(heartbeat)

    async def main() -> None:
        answered = asyncio.Event()
        kernel.subscribe(Signal, lambda e: answered.set())

        async def feed() -> AsyncIterator[Event]:
            yield _trade()
            threading.Thread(target=inbox.put, args=(_signal("fill"),)).start()  # while the driver waits
            await answered.wait()

        run = run_live(kernel, feed(), realtime=True, upkeep_interval_ns=3_600_000_000_000, inbox=inbox)
        await asyncio.wait_for(run, timeout=10)

    asyncio.run(main())
    assert [s.split("@")[0] for s in heartbeat.seen] == ["trade", "fill"]
    assert inbox.received == 1


class _Pool:
    """Sends every 50th trade away and posts the result 3 ms later to whichever inbox it was given."""

    def __init__(self, inbox: InboxLike) -> None:
        self.inbox = inbox
        self.trades = 0

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Trade, self.on_trade)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_trade(self, trade: Trade) -> None:
        self.trades += 1
        if self.trades % 50 == 0:
            done = trade.ts_init + 3 * MS
            self.inbox.put(
                Signal(
                    ts_event=done,
                    ts_init=done,
                    strategy_id="pool",
                    symbol=trade.symbol,
                    name="result",
                    value=float(self.trades),
                    reason="computed off the loop",
                )
            )


def test_backtest_inbox_and_live_replay_inbox_give_byte_identical_logs() -> None:
    tape = _tape()
    k_bt, log_bt, _ = _kernel()
    scheduled = ScheduledInbox(k_bt)
    k_bt.add(_Pool(scheduled))
    run_backtest(k_bt, [tape])

    k_live, log_live, _ = _kernel()
    inbox = Inbox()
    k_live.add(_Pool(inbox))
    asyncio.run(run_live(k_live, replay(tape), inbox=inbox))

    assert log_bt.records == log_live.records
    assert scheduled.received == inbox.received > 10
    assert log_bt.count == len(tape) + k_bt.scheduled_events


def test_live_replay_refuses_an_inbox_event_dated_before_the_kernels_clock() -> None:
    inbox = Inbox()

    async def feed() -> AsyncIterator[Event]:
        yield _trade(10)
        inbox.put(_signal("stale", ts=5))
        yield _trade(20)

    with pytest.raises(OutOfOrderError, match="emitted Signal at ts=5"):
        asyncio.run(run_live(Kernel(), feed(), inbox=inbox))


def test_signals_are_recorded_with_reasons() -> None:
    tape = _tape()
    kernel, _, _ = _kernel()
    signals: list[Signal] = []
    kernel.subscribe(Signal, signals.append)
    run_backtest(kernel, [tape])
    assert signals
    assert all("crossed" in s.reason and set(s.features) == {"ema_fast", "ema_slow", "mid"} for s in signals)
