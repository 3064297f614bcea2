"""Same inputs and seed, byte-identical results; a different seed, different results."""

from __future__ import annotations

from tapeflow.backtest import run_backtest
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine import Kernel
from tapeflow.engine.recorder import EventLog
from tapeflow.strategy.ema_signal import EmaCrossSignals


def _digest(seed: int) -> tuple[str, int]:
    market = SyntheticMarket(SyntheticConfig(seed=seed, events_per_symbol=3_000))
    kernel = Kernel()
    log = EventLog(keep=False)
    kernel.add(log)
    kernel.add(EmaCrossSignals(fast_window=10, slow_window=40, report_interval_ns=100_000_000))
    run_backtest(kernel, market.sources())
    return log.digest(), log.count


def test_three_runs_of_one_seed_have_one_digest() -> None:
    digests = {_digest(3) for _ in range(3)}
    assert len(digests) == 1
    (_, count) = digests.pop()
    assert count > 12_000


def test_another_seed_gives_another_log() -> None:
    assert _digest(3)[0] != _digest(4)[0]
