"""The recorder's tables equal those of a frozen copy of its code before issue 19's speed work, byte for byte: every
sample time, feature, mid, label and label end, and the label counters, through a whole ``Backtest`` (so the end of
the run, where the labels' backstop call sets the last labels, is included)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tapeflow.backtest.engine import Backtest
from tapeflow.book.signals import SignalConfig
from tapeflow.config import SyntheticConfig
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.merge import merge_sorted
from tapeflow.ml.features import FeatureRecorder, RecorderConfig
from tapeflow.model.events import Event
from tapeflow.portfolio import PortfolioConfig

from . import frozen_features as frozen

SEC = 1_000_000_000
MS = 1_000_000
AAPL = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
PAIRS = [(SEC, 10 * SEC), (100 * MS, 10 * SEC), (300 * MS, SEC)]
"""(interval, horizon): labels set by the ticks (two cadences) and by a kernel call per sample."""

Recorder = FeatureRecorder | frozen.FrozenFeatureRecorder


def replay(events: list[Event], recorder: Recorder, level: str) -> None:
    signals = SignalConfig(imbalance_levels=0, microprice=False, ofi=False) if level == "L3" else None
    bt = Backtest(
        [],
        level=level,  # type: ignore[arg-type]
        signals=signals,
        portfolio=PortfolioConfig(sample_interval_ns=None),
        extra=[recorder],
    )
    bt.run([events])


def table(recorder: Recorder) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for symbol in recorder.symbols():
        ring = recorder.ring(symbol)
        arrays = (ring.times, ring.X, ring.mids, ring.y, ring.label_end)
        rows.append((symbol, ring.appended, *(a.tobytes() for a in arrays)))
    return rows


def counters(recorder: Recorder) -> tuple[int, int, int, int, int]:
    labels = recorder.labels
    return recorder.samples, labels.matured, labels.unlabelled, labels.ambiguous, labels.pending


def assert_same(events: list[Event], level: str, interval: int, horizon: int, vol_samples: int = 10) -> int:
    params: dict[str, Any] = {"interval_ns": interval, "horizon_ns": horizon, "vol_samples": vol_samples}
    now = FeatureRecorder(RecorderConfig(**params))
    before = frozen.FrozenFeatureRecorder(frozen.RecorderConfig(**params))
    replay(events, now, level)
    replay(events, before, level)
    assert now.samples > 40 and now.labels.matured > 20  # the comparison is not of empty tables
    assert table(now) == table(before)
    assert counters(now) == counters(before)
    return now.samples


@pytest.mark.parametrize(("interval", "horizon"), PAIRS)
def test_recorded_tables_on_the_aapl_lobster_day_equal_the_frozen_recorder_byte_for_byte(
    data_dir: Path, interval: int, horizon: int
) -> None:
    events = list(itertools.islice(iter_events(data_dir / AAPL), 30_000))
    assert_same(events, "L3", interval, horizon)


@pytest.mark.parametrize(("interval", "horizon"), PAIRS)
def test_recorded_tables_on_the_synthetic_quote_feed_equal_the_frozen_recorder_byte_for_byte(
    interval: int, horizon: int
) -> None:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAA", "BBB"), events_per_symbol=30_000, seed=5))
    events: list[Event] = list(merge_sorted(market.sources()))
    assert_same(events, "L1", interval, horizon)


@pytest.mark.parametrize("vol_samples", [1, 2, 3])
def test_realized_vol_over_the_shortest_windows_equals_the_frozen_recorder_byte_for_byte(vol_samples: int) -> None:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAA",), events_per_symbol=20_000, seed=7))
    events: list[Event] = list(merge_sorted(market.sources()))
    assert_same(events, "L1", 100 * MS, SEC, vol_samples)
