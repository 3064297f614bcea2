"""The same recorded tape through the backtest driver and the live driver gives byte-identical output."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tapeflow.backtest import run_backtest
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine import Kernel, merge_sorted
from tapeflow.engine.recorder import EventLog
from tapeflow.live import replay, run_live
from tapeflow.model import Event, Signal, TimerFired, Trade
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


def test_realtime_live_driver_fires_timers_while_the_feed_is_quiet() -> None:
    """With a wall clock, timers fire between arrivals: the driver does not wait for data to move time."""
    fired: list[int] = []
    trades: list[int] = []

    class Heartbeat:
        def attach(self, kernel: Kernel) -> None:
            self.kernel = kernel
            kernel.subscribe(TimerFired, lambda e: fired.append(e.ts_init))
            kernel.subscribe(Trade, lambda e: trades.append(e.ts_init))

        def on_start(self) -> None:
            self.kernel.set_timer("hb", interval=10_000_000)  # 10 ms

        def on_stop(self) -> None:
            return None

    async def slow_feed() -> AsyncIterator[Event]:
        for i in range(2):
            await asyncio.sleep(0.08)
            yield Trade(ts_event=i, ts_init=i, symbol="AAPL", price=1_000_000, size=1)

    kernel = Kernel()
    kernel.add(Heartbeat())
    asyncio.run(run_live(kernel, slow_feed(), realtime=True))
    assert len(trades) == 2
    assert trades[0] > 10**18  # stamped with wall time on arrival, not the source's ts
    between = [t for t in fired if trades[0] < t < trades[1]]
    assert len(between) >= 3  # ~8 heartbeats in 80 ms of silence; allow a slow machine
    assert fired == sorted(fired)


def test_signals_are_recorded_with_reasons() -> None:
    tape = _tape()
    kernel, _, _ = _kernel()
    signals: list[Signal] = []
    kernel.subscribe(Signal, signals.append)
    run_backtest(kernel, [tape])
    assert signals
    assert all("crossed" in s.reason and set(s.features) == {"ema_fast", "ema_slow", "mid"} for s in signals)
