from __future__ import annotations

import itertools
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book.keeper import BookKeeper
from tapeflow.book.signals import SignalConfig, ofi
from tapeflow.book.view import TopOfBook
from tapeflow.config import SyntheticConfig
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.kernel import Kernel
from tapeflow.engine.merge import merge_sorted
from tapeflow.ml.features import FEATURES, FeatureRecorder, RecorderConfig
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.model.market import Quote

from .recompute import Tape, expected

SEC = 1_000_000_000
AAPL = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


def run(events: list[Event], recorder: FeatureRecorder, *before: object) -> None:
    kernel = Kernel()
    for component in before:
        kernel.add(component)  # type: ignore[arg-type]
    kernel.add(recorder)
    kernel.start(at=events[0].ts_init)
    kernel.run(events)
    kernel.stop()


def check_against_recomputation(recorder: FeatureRecorder, tape: Tape, interval: int, vol_samples: int) -> int:
    ring = recorder.ring(tape.symbol)
    slots = ring.order()
    times = [int(t) for t in ring.times[slots]]
    checked = 0
    for k in range(vol_samples, len(times), max(1, len(times) // 6)):  # earlier ones read mids since overwritten
        t = times[k]
        want = expected(tape, t, t - interval, times[:k], vol_samples)
        np.testing.assert_allclose(ring.X[slots[k]], want, rtol=1e-12, atol=1e-9, err_msg=f"sample {k} at {t}")
        checked += 1
    return checked


def synthetic_events(events_per_symbol: int = 20_000) -> list[Event]:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAA", "BBB"), events_per_symbol=events_per_symbol, seed=3))
    return list(merge_sorted(market.sources()))


def test_features_on_the_synthetic_market_equal_an_independent_recomputation() -> None:
    cfg = RecorderConfig(interval_ns=SEC, horizon_ns=2 * SEC, vol_samples=5)
    recorder, tapes = FeatureRecorder(cfg), [Tape("AAA"), Tape("BBB")]
    run(synthetic_events(), recorder, *tapes)
    assert recorder.symbols() == ["AAA", "BBB"]
    for tape in tapes:
        assert len(recorder.ring(tape.symbol)) >= 20
        assert check_against_recomputation(recorder, tape, cfg.interval_ns, cfg.vol_samples) >= 5
    x = recorder.ring("AAA").X[: len(recorder.ring("AAA"))]
    for column in ("ofi", "signed_volume", "realized_vol"):  # the recomputation is not trivially zero
        assert np.any(x[:, FEATURES.index(column)] != 0), column


def test_samples_fall_on_a_grid_of_the_interval_in_event_time() -> None:
    recorder = FeatureRecorder(RecorderConfig(interval_ns=SEC // 2))
    run(synthetic_events(5_000), recorder)
    times = recorder.ring("AAA").times[: len(recorder.ring("AAA"))]
    assert len(times) > 4 and np.all(times % (SEC // 2) == 0) and np.all(np.diff(times) == SEC // 2)


def test_features_on_the_real_aapl_lobster_day_equal_an_independent_recomputation(data_dir: Path) -> None:
    events = list(itertools.islice(iter_events(data_dir / AAPL), 15_000))
    cfg = RecorderConfig(interval_ns=SEC, horizon_ns=5 * SEC, vol_samples=10)
    recorder, tape = FeatureRecorder(cfg), Tape("AAPL")
    run(events, recorder, BookKeeper("L3", signals=SignalConfig(imbalance_levels=0)), tape)
    ring = recorder.ring("AAPL")
    assert len(ring) >= 20 and tape.trades
    assert check_against_recomputation(recorder, tape, cfg.interval_ns, cfg.vol_samples) >= 5
    assert ring.appended == len(ring)  # nothing overwritten: slot 0 is the first sample
    assert ring.X[0, FEATURES.index("time_of_day")] == 1.0  # the day starts at 09:30:00.004; first grid time 09:30:01


def test_the_ring_keeps_only_the_last_capacity_samples() -> None:
    recorder = FeatureRecorder(RecorderConfig(interval_ns=SEC // 10, capacity=16))
    run(synthetic_events(5_000), recorder)
    ring = recorder.ring("AAA")
    assert recorder.samples > 2 * 2 * 16 and len(ring) == 16 and ring.times.shape == (16,)
    times = ring.times[ring.order()]
    assert np.all(np.diff(times) == SEC // 10) and times[-1] == ring.times[(ring.appended - 1) % 16]


def test_on_demand_sampling_takes_one_sample_per_quoted_symbol_at_the_kernel_time() -> None:
    recorder = FeatureRecorder(RecorderConfig(interval_ns=0))
    kernel = Kernel()
    kernel.add(recorder)
    kernel.start(at=10 * SEC)
    kernel.run(
        [Quote(ts_event=11 * SEC, ts_init=11 * SEC, symbol="X", bid_price=100, bid_size=3, ask_price=102, ask_size=1)]
    )
    assert recorder.sample() == 1 and recorder.samples == 1
    ring = recorder.ring("X")
    assert ring.times[0] == 11 * SEC and ring.X[0, FEATURES.index("spread")] == 2.0
    assert ring.X[0, FEATURES.index("imbalance")] == 0.5 and ring.X[0, FEATURES.index("microprice_minus_mid")] == 0.5


def test_other_venues_quotes_are_ignored_once_a_symbol_has_an_nbbo() -> None:
    recorder = FeatureRecorder(RecorderConfig(interval_ns=0))
    kernel = Kernel()
    kernel.add(recorder)
    kernel.start(at=SEC)
    nbbo = Quote(
        ts_event=SEC, ts_init=SEC, symbol="X", bid_price=100, bid_size=1, ask_price=104, ask_size=1, venue="NBBO"
    )
    kernel.run([nbbo, msgspec.structs.replace(nbbo, bid_price=101, ask_price=102, venue="Q")])
    recorder.sample()
    assert recorder.ring("X").X[0, FEATURES.index("spread")] == 4.0


@pytest.mark.parametrize("field", ["horizon_ns", "window_ns", "vol_samples", "interval_ns", "capacity"])
def test_a_non_positive_setting_is_a_config_error(field: str) -> None:
    with pytest.raises(ConfigError):
        FeatureRecorder(RecorderConfig(**{field: -1}))


size = st.integers(1, 500)
top = st.tuples(st.sampled_from([0, 9_900, 10_000, 10_100]), size, st.sampled_from([0, 10_000, 10_100, 10_200]), size)


@settings(max_examples=200, deadline=None)
@given(prev=top, cur=top)
def test_ofi_step_equals_signals_ofi(prev: tuple[int, int, int, int], cur: tuple[int, int, int, int]) -> None:
    """The recorder inlines book.signals.ofi for speed; this keeps the two formulas one."""
    recorder = FeatureRecorder(RecorderConfig(interval_ns=0))
    kernel = Kernel()
    kernel.add(recorder)
    kernel.start(at=SEC)
    quotes = [
        Quote(ts_event=SEC, ts_init=SEC, symbol="X", bid_price=b, bid_size=bs, ask_price=a, ask_size=az)
        for b, bs, a, az in (prev, cur)
    ]
    kernel.run(quotes)
    recorder.sample()  # resets the sum; a two-sided last quote also records it
    tops = [TopOfBook(bid_price=b, bid_size=bs, ask_price=a, ask_size=az) for b, bs, a, az in (prev, cur)]
    ring = recorder.ring("X")
    if len(ring):
        assert ring.X[0, FEATURES.index("ofi")] == ofi(tops[0], tops[1])
    else:
        assert cur[0] == 0 or cur[2] == 0  # not sampled: the last quote is one-sided
