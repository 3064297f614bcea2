from __future__ import annotations

import math

import numpy as np
import pytest

from tapeflow.engine.kernel import Kernel
from tapeflow.ml.features import FeatureRecorder, RecorderConfig
from tapeflow.ml.labels import ForwardReturnLabels, forward_return
from tapeflow.model.errors import ConfigError
from tapeflow.model.market import Quote

SEC = 1_000_000_000
H = 10 * SEC
T0 = 1_718_976_600 * SEC  # 09:30 New York, 2024-06-21


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
