from __future__ import annotations

import dataclasses
import math
import random
import struct
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.kernel import Kernel
from tapeflow.engine.merge import merge_sorted
from tapeflow.ml.features import FEATURES, FeatureRecorder, RecorderConfig
from tapeflow.ml.window import SampleRing, SquaresSum, TrainingSet, accept_training_set, training_set
from tapeflow.model.errors import ConfigError, EngineError, LookAheadError, ValueRangeError

SEC = 1_000_000_000

sample = st.tuples(
    st.integers(0, 1_000),  # sample time
    st.integers(1, 300),  # horizon
    st.booleans(),  # matured
)


def filled(rows: list[tuple[int, int, int, bool]], capacity: int) -> SampleRing:
    """rows: (id, sample time, horizon, matured), in time order; feature 0 is the id."""
    ring = SampleRing(capacity, 2)
    for ident, t, h, matured in rows:
        seq = ring.append(t, [float(ident), float(t)], 100.0, t + h)
        if matured:
            ring.set_label(seq, float(ident) / 1000)
    return ring


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 2), sample), max_size=80),
    capacity=st.integers(1, 40),
    trigger=st.integers(0, 1_400),
    window=st.integers(1, 1_200),
    embargo=st.integers(0, 200),
)
def test_the_window_returns_exactly_the_held_matured_samples_inside_it_whose_label_ended_by_trigger_minus_embargo(
    rows: list[tuple[int, tuple[int, int, bool]]], capacity: int, trigger: int, window: int, embargo: int
) -> None:
    per_ring: list[list[tuple[int, int, int, bool]]] = [[], [], []]  # three symbols
    for ident, (r, (t, h, matured)) in enumerate(rows):
        per_ring[r].append((ident, t, h, matured))
    for ring_rows in per_ring:
        ring_rows.sort(key=lambda row: row[1])
    got = training_set([filled(rr, capacity) for rr in per_ring], trigger, window, embargo)
    want = [
        (t, ident)
        for ring_rows in per_ring
        for ident, t, h, matured in ring_rows[-capacity:]  # what the ring still holds
        if trigger - window <= t < trigger and t + h <= trigger - embargo and matured
    ]
    want.sort(key=lambda pair: pair[0])  # stable: equal times keep the rings' order
    assert [int(x) for x in got.X[:, 0]] == [ident for _, ident in want]  # all that satisfy the rule, only those
    assert np.all(got.label_end_times <= trigger - embargo) and np.all(got.sample_times < trigger)
    assert np.all(got.sample_times >= trigger - window) and np.all(np.diff(got.sample_times) >= 0)
    assert np.all(got.y == got.X[:, 0] / 1000) and got.X.shape == (len(want), 2)


def hand_built(label_end: list[int], trigger: int = 100, embargo: int = 0) -> TrainingSet:
    n = len(label_end)
    return TrainingSet(
        X=np.zeros((n, 2)),
        y=np.zeros(n),
        sample_times=np.arange(n, dtype=np.int64),
        label_end_times=np.array(label_end, dtype=np.int64),
        trigger_ts=trigger,
        window_ns=1_000,
        embargo_ns=embargo,
    )


def test_a_hand_built_set_with_a_label_ending_after_the_trigger_is_refused_with_a_look_ahead_error() -> None:
    with pytest.raises(LookAheadError, match=r"1 training sample\(s\) .* ts=100 .* at ts=130, 30 ns too late"):
        hand_built([50, 130, 90])


def test_a_label_inside_the_embargo_is_refused() -> None:
    assert len(hand_built([80], embargo=20)) == 1
    with pytest.raises(LookAheadError, match="1 ns too late"):
        hand_built([81], embargo=20)


def test_the_gate_refuses_a_set_that_claims_a_later_trigger_than_the_retrain_it_is_handed_to() -> None:
    leaky = hand_built([50, 130], trigger=200)  # honest about its own trigger, but the retrain runs at 100
    assert accept_training_set(leaky, 200) is leaky
    with pytest.raises(LookAheadError, match="at ts=130"):
        accept_training_set(leaky, 100)


def test_the_gate_refuses_a_set_altered_after_it_was_built() -> None:
    ok = hand_built([50, 60])
    assert not ok.label_end_times.flags.writeable  # read-only copies: altering them takes a deliberate step
    ends = np.array([50, 160], dtype=np.int64)
    object.__setattr__(ok, "label_end_times", ends)
    with pytest.raises(LookAheadError):
        accept_training_set(ok, 100)


def test_look_ahead_is_an_engine_error_and_an_unknown_label_a_value_error() -> None:
    assert issubclass(LookAheadError, EngineError)
    with pytest.raises(ValueRangeError, match="NaN"):
        dataclasses.replace(hand_built([50]), y=np.array([np.nan]))


def test_a_label_that_does_not_end_after_its_sample_is_refused() -> None:
    with pytest.raises(ValueRangeError, match="after its sample"):
        dataclasses.replace(hand_built([50, 60]), sample_times=np.array([10, 60], dtype=np.int64))


def test_a_set_of_mismatched_shapes_is_refused() -> None:
    with pytest.raises(ValueRangeError, match="X"):
        dataclasses.replace(hand_built([50, 60]), y=np.zeros(3))


def test_a_non_positive_window_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        training_set([SampleRing(4, 2)], 100, 0)


def test_the_recorder_hands_out_a_purged_window_on_the_synthetic_market_that_passes_the_gate() -> None:
    cfg = RecorderConfig(interval_ns=SEC // 2, horizon_ns=3 * SEC, window_ns=10 * SEC)
    recorder = FeatureRecorder(cfg)
    kernel = Kernel()
    kernel.add(recorder)
    events = list(
        merge_sorted(SyntheticMarket(SyntheticConfig(symbols=("AAA", "BBB"), events_per_symbol=20_000)).sources())
    )
    kernel.start(at=events[0].ts_init)
    kernel.run(events)
    trigger = kernel.now - kernel.now % SEC
    ts = recorder.training_set(trigger, embargo_ns=SEC)
    assert ts.feature_names == FEATURES and ts.X.shape == (len(ts), len(FEATURES))
    # both symbols, samples from [trigger - 10 s, trigger - 4 s] (label end = t + 3 s <= trigger - 1 s)
    assert len(ts) == 2 * 13
    assert ts.sample_times.min() == trigger - 10 * SEC and ts.sample_times.max() == trigger - 4 * SEC
    assert np.all(ts.label_end_times == ts.sample_times + 3 * SEC)
    assert accept_training_set(ts, trigger) is ts
    with pytest.raises(LookAheadError):
        accept_training_set(ts, trigger - 2 * SEC)  # handed to a retrain 2 s earlier, its last labels leak


def test_a_ring_append_writes_the_same_doubles_as_numpy_and_refuses_a_row_of_the_wrong_width() -> None:
    ring = SampleRing(3, 3)
    rows = [[0.1, -2.5e-300, float("inf")], [1 / 3, 7.0, -0.0], [np.float64(2.2), 3, 1e308], [5e-324, 0.3, 1.0]]
    for k, row in enumerate(rows):
        assert ring.append(10 + k, row, 100.5 + k, 20 + k) == k
    want = np.array([rows[3], rows[1], rows[2]], dtype=np.float64)  # slot 0 overwritten by the fourth
    assert ring.X.tobytes() == want.tobytes() and list(ring.times) == [13, 11, 12]
    assert list(ring.label_end) == [23, 21, 22] and list(ring.mids) == [103.5, 101.5, 102.5]
    assert np.all(np.isnan(ring.y)) and ring.set_label(3, 0.25) and ring.y[0] == 0.25
    with pytest.raises(ValueRangeError):
        ring.append(14, [1.0, 2.0], 1.0, 24)
    assert ring.appended == 4  # nothing half-written counted


def _fsum_vol(values: list[float]) -> float:
    """What the recorder computed before ``SquaresSum``: sqrt(fsum) over the window, summed again each time."""
    return math.sqrt(math.fsum(values))


def _same_double(a: float, b: float) -> bool:
    return struct.pack("=d", a) == struct.pack("=d", b) or (math.isnan(a) and math.isnan(b))


# squared log returns as the recorder makes them (ticks of a price, so ties in the last bit are common), squares of
# any double (subnormal, huge, inf, NaN: outside the exact range, where fsum takes over), and exact zeros (held mids)
_log_return = st.builds(
    lambda mid, last: math.log(mid / last), st.integers(1, 10**7), st.integers(1, 10**7)
) | st.floats(allow_nan=True, allow_infinity=True)
_dyadic = st.builds(lambda m, e: math.ldexp(float(m), e), st.integers(1, 2**20), st.integers(-170, 60))
_r2 = st.one_of(_log_return.map(lambda r: r * r), _dyadic, st.just(0.0))


@settings(max_examples=400, deadline=None)
@given(stream=st.lists(_r2, max_size=400), n=st.integers(0, 40))
def test_squares_sum_equals_sqrt_fsum_over_the_window_at_every_push_byte_for_byte(stream: list[float], n: int) -> None:
    squares = SquaresSum(n)
    window: deque[float] = deque(maxlen=n)
    assert squares.vol == 0.0
    for r2 in stream:
        window.append(r2)
        got = squares.push(r2)
        assert _same_double(got, _fsum_vol(list(window))), (got, list(window))
        assert _same_double(squares.vol, got)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([1, 2, 29, 100]), hold=st.floats(0.0, 0.9))
def test_squares_sum_over_long_runs_of_tick_returns_with_held_mids_equals_sqrt_fsum(
    seed: int, n: int, hold: float
) -> None:
    """Long runs (a full day of 1 s samples is 23,400): the exact sum does not drift where a float sum would."""
    rng = random.Random(seed)
    squares = SquaresSum(n)
    window: deque[float] = deque(maxlen=n)
    mid = last = 1_000_000.0
    for _ in range(3_000):
        if rng.random() >= hold:
            mid = max(1.0, mid + rng.choice((-1.5, -1.0, -0.5, 0.5, 1.0, 1.5)))
        r2 = math.log(mid / last) ** 2 if mid != last else 0.0
        last = mid
        window.append(r2)
        assert _same_double(squares.push(r2), _fsum_vol(list(window)))


def test_squares_sum_after_a_nan_or_inf_leaves_the_window_is_exact_again() -> None:
    squares = SquaresSum(2)
    assert math.isnan(squares.push(math.nan))
    assert math.isnan(squares.push(math.inf))  # the NaN still held
    assert math.isinf(squares.push(2.5e-9))  # inf and 2.5e-9 held
    got = squares.push(1e-10)  # both leftovers gone: the int sum answers alone
    assert squares.odd == 0
    assert _same_double(got, _fsum_vol([2.5e-9, 1e-10]))
    assert SquaresSum(0).push(1.0) == 0.0  # vol_samples 1: no return is ever held
