from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from tapeflow.backtest.engine import Backtest
from tapeflow.book.signals import SignalConfig
from tapeflow.config import SyntheticConfig
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.kernel import Kernel
from tapeflow.ml.features import FeatureRecorder, RecorderConfig
from tapeflow.ml.labels import ForwardReturnLabels, forward_return
from tapeflow.ml.window import SampleRing
from tapeflow.model.errors import ConfigError
from tapeflow.model.market import Quote

SEC = 1_000_000_000
H = 10 * SEC
T0 = 1_718_976_600 * SEC  # 09:30 New York, 2024-06-21
AAPL = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


def quote(ts: int, bid: int, ask: int, bid_size: int = 100) -> Quote:
    return Quote(ts_event=ts, ts_init=ts, symbol="X", bid_price=bid, bid_size=bid_size, ask_price=ask, ask_size=100)


def started(interval_ns: int = SEC) -> tuple[Kernel, FeatureRecorder]:
    recorder = FeatureRecorder(RecorderConfig(interval_ns=interval_ns, horizon_ns=H))
    kernel = Kernel()
    kernel.add(recorder)
    kernel.start(at=T0)
    return kernel, recorder


def test_a_label_matures_exactly_at_sample_time_plus_horizon_and_not_a_nanosecond_before() -> None:
    kernel, recorder = started()
    kernel.run([quote(T0, 1_000_000, 1_000_200)])
    kernel.run([quote(T0 + SEC // 2, 1_000_000, 1_000_200)])  # the sample at T0 + 1 s is taken after this
    kernel.run([quote(T0 + SEC + H - 1, 1_010_000, 1_010_200)])  # the mid the label at T0 + 1 s + H reads
    ring = recorder.ring("X")
    first = int(np.flatnonzero(ring.times[: len(ring)] == T0 + SEC)[0])
    assert kernel.now == T0 + SEC + H - 1 and math.isnan(ring.y[first]) and recorder.labels.matured == 0
    assert ring.label_end[first] == T0 + SEC + H
    kernel.run([quote(T0 + SEC + H, 990_000, 990_200)])  # at t + H: drained before this quote is dispatched
    assert ring.y[first] == forward_return(2_000_200, 2_020_200)
    assert ring.y[first] == pytest.approx(1_010_100 / 1_000_100 - 1, rel=1e-15)
    later = int(np.flatnonzero(ring.times[: len(ring)] == T0 + 2 * SEC)[0])
    assert math.isnan(ring.y[later])  # its horizon has not ended


def test_every_label_is_set_only_after_its_end_time_across_a_run() -> None:
    kernel, recorder = started(interval_ns=SEC // 4)
    seen: list[tuple[int, int]] = []  # (kernel time, labels matured) after each quote
    for i in range(200):
        kernel.run([quote(T0 + i * (SEC // 7), 1_000_000 + 100 * (i % 5), 1_000_300 + 100 * (i % 5))])
        ring = recorder.ring("X")
        held = ring.order()
        matured = held[~np.isnan(ring.y[held])]
        assert np.all(ring.label_end[matured] <= kernel.now)
        pending = held[np.isnan(ring.y[held])]
        assert np.all(ring.label_end[pending] > kernel.now - SEC // 7)  # nothing overdue by a whole step
        seen.append((kernel.now, len(matured)))
    assert seen[-1][1] > 50


def test_a_horizon_ending_on_a_one_sided_quote_leaves_the_sample_unlabelled() -> None:
    kernel, recorder = started()
    kernel.run([quote(T0, 1_000_000, 1_000_200), quote(T0 + 2 * SEC, 1_000_000, 1_000_200, bid_size=0)])
    kernel.run([quote(T0 + 2 * SEC + H, 1_000_000, 1_000_200)])
    # samples at T0 + 1 s and T0 + 2 s (the timer runs before the one-sided quote at T0 + 2 s); both end on it
    ring = recorder.ring("X")
    assert list(ring.times[:2]) == [T0 + SEC, T0 + 2 * SEC]
    assert recorder.labels.unlabelled == 2 and np.all(np.isnan(ring.y[:2])) and recorder.labels.matured == 0


def test_a_non_positive_horizon_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="horizon"):
        ForwardReturnLabels(0, lambda _: None)


def rings_bytes(recorder: FeatureRecorder) -> dict[str, bytes]:
    out = {}
    for symbol in recorder.symbols():
        ring = recorder.ring(symbol)
        parts = (ring.times, ring.X, ring.mids, ring.y, ring.label_end)
        out[symbol] = b"".join(a.tobytes() for a in parts) + ring.appended.to_bytes(8, "little")
    return out


def synthetic_backtest(recorder: FeatureRecorder, events_per_symbol: int = 20_000) -> None:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAA", "BBB"), events_per_symbol=events_per_symbol, seed=3))
    Backtest([], level="L1", extra=[recorder]).run(market.sources())  # finish() too: timers dropped, calls run


@pytest.mark.parametrize(("interval", "horizon"), [(SEC, 10 * SEC), (SEC // 10, 10 * SEC), (SEC // 4, SEC // 2)])
def test_labels_set_by_the_ticks_equal_a_kernel_call_per_sample_byte_for_byte(interval: int, horizon: int) -> None:
    cfg = RecorderConfig(interval_ns=interval, horizon_ns=horizon, vol_samples=5)
    by_ticks, by_calls = FeatureRecorder(cfg), FeatureRecorder(cfg, labels_on_ticks=False)
    synthetic_backtest(by_ticks)
    synthetic_backtest(by_calls)
    assert by_ticks.samples == by_calls.samples > 50
    assert rings_bytes(by_ticks) == rings_bytes(by_calls)
    assert by_ticks.labels.matured == by_calls.labels.matured == by_ticks.samples  # the tail too (the backstop)
    assert by_ticks.labels.pending == 0 and by_ticks.labels.ambiguous == 0


def test_labels_set_by_the_ticks_equal_kernel_calls_on_the_real_aapl_lobster_day(data_dir: Path) -> None:
    events = list(itertools.islice(iter_events(data_dir / AAPL), 40_000))
    cfg = RecorderConfig(interval_ns=SEC // 10, horizon_ns=3 * SEC)
    by_ticks, by_calls = FeatureRecorder(cfg), FeatureRecorder(cfg, labels_on_ticks=False)
    for recorder in (by_ticks, by_calls):
        signals = SignalConfig(imbalance_levels=0, microprice=False, ofi=False)
        Backtest([], level="L3", signals=signals, extra=[recorder]).run([events])
    assert by_ticks.samples == by_calls.samples > 1_000
    assert rings_bytes(by_ticks) == rings_bytes(by_calls) and by_ticks.labels.matured == by_calls.labels.matured


def test_a_horizon_not_a_multiple_of_two_intervals_or_more_keeps_a_kernel_call_per_sample() -> None:
    for interval, horizon, deferred in ((SEC, SEC, 0), (3 * SEC, 10 * SEC, 0), (SEC, 10 * SEC, 3)):
        recorder = FeatureRecorder(RecorderConfig(interval_ns=interval, horizon_ns=horizon))
        kernel = Kernel()
        kernel.add(recorder)
        kernel.start(at=T0)
        kernel.run([quote(T0, 1_000_000, 1_000_200), quote(T0 + 3 * interval, 1_000_000, 1_000_200)])
        assert recorder.samples == 3 and recorder.labels.pending == deferred, (interval, horizon)


def test_a_quote_scheduled_at_exactly_a_label_end_before_the_tick_leaves_that_label_unset_and_counted() -> None:
    """The kernel call would have read before that quote (it was queued at the sample, before the quote); the tick
    comes after it and cannot tell, so it fails closed instead of guessing."""
    kernel, recorder = started()
    kernel.run([quote(T0, 1_000_000, 1_000_200)])
    kernel.run([quote(T0 + 2 * SEC + SEC // 2, 1_000_000, 1_000_200)])  # after the sample at T0 + 2 s
    kernel.emit(quote(T0 + 2 * SEC + H, 1_010_000, 1_010_200))  # queued now: before the tick at T0 + 2 s + H
    kernel.run([quote(T0 + 2 * SEC + H + 1, 1_000_000, 1_000_200)])
    ring = recorder.ring("X")
    first, second = (int(np.flatnonzero(ring.times[: len(ring)] == T0 + k * SEC)[0]) for k in (1, 2))
    assert ring.y[first] == 0.0  # ended at T0 + 11 s on the unchanged quote
    assert math.isnan(ring.y[second]) and recorder.labels.ambiguous == 1
    assert recorder.labels.matured == 1  # T0 + 1 s labelled; T0 + 2 s not guessed
    later = int(np.flatnonzero(ring.times[: len(ring)] == T0 + 4 * SEC)[0])
    assert ring.label_end[later] > kernel.now and math.isnan(ring.y[later])  # not due yet


def test_at_the_end_of_a_run_labels_ending_after_the_last_tick_are_set_at_their_end_time() -> None:
    kernel, recorder = started()
    kernel.run([quote(T0, 1_000_000, 1_000_200), quote(T0 + 5 * SEC, 1_002_000, 1_002_200)])
    ends_seen: list[int] = []
    write = recorder.labels._set

    def spy(symbol: str, ring: SampleRing, seq: int, mid2: int) -> None:
        ends_seen.append(int(ring.label_end[seq % ring.capacity]) - kernel.now)
        write(symbol, ring, seq, mid2)

    recorder.labels._set = spy  # type: ignore[method-assign]
    kernel.finish()  # timers after T0 + 5 s are dropped; the five labels' horizons end at T0 + 11..15 s
    ring = recorder.ring("X")
    assert recorder.samples == 5 and recorder.labels.matured == 5 and recorder.labels.pending == 0
    assert ends_seen and max(ends_seen) <= 0  # none set before its end
    assert ring.y[0] == forward_return(2_000_200, 2_004_200)  # the mid in force at its end (the last quote)
