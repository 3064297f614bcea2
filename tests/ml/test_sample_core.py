"""The compiled sample step (``ml._sample_core.Sampler``) records what the Python ``FeatureRecorder._take`` records,
byte for byte: every sample time, feature, mid, label and label end, and the label counters, over hypothesis streams
(odd field values among them, which it hands to the reference whole) and real quote days; and the recording's bytes
are pinned, so neither implementation can drift with the other."""

from __future__ import annotations

import hashlib
import itertools
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.backtest.engine import Backtest
from tapeflow.book.keeper import BookKeeper
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.data.taq import TaqReader
from tapeflow.engine.kernel import Kernel
from tapeflow.engine.merge import merge_sorted
from tapeflow.ml import features
from tapeflow.ml.features import FeatureRecorder, RecorderConfig
from tapeflow.ml.window import SquaresSum
from tapeflow.model.enums import Aggressor
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.model.market import Quote, Trade
from tapeflow.portfolio import PortfolioConfig

from .test_features_frozen import counters, table
from .test_window import _r2, _same_double

pytestmark = pytest.mark.skipif(not features.COMPILED_AVAILABLE, reason="the compiled sample step was not built")
_sample_core = pytest.importorskip("tapeflow.ml._sample_core")

SEC = 1_000_000_000
MS = 1_000_000
T0 = 1_718_976_600 * SEC  # 09:30 New York, 2024-06-21
BAC = "lean-algoseek-us-equity/tick/bac/20131007_quote.zip"


def _pair(**params: Any) -> tuple[FeatureRecorder, FeatureRecorder]:
    cfg = RecorderConfig(**params)
    return FeatureRecorder(cfg, impl="python"), FeatureRecorder(cfg, impl="compiled")


def _run(events: list[Event], recorder: FeatureRecorder, tracked: bool, on_demand: frozenset[int]) -> None:
    """On an L1 keeper that keeps the flow (``tracked``), or on a bare kernel where the recorder's own quote handler
    keeps it; an on-demand ``sample()`` after each event whose index is in ``on_demand``."""
    kernel = Kernel()
    if tracked:
        keeper = BookKeeper("L1")
        recorder.use_books(keeper)
        kernel.add(keeper)
    kernel.add(recorder)
    kernel.start(at=events[0].ts_init)
    for i, event in enumerate(events):
        kernel.run([event])
        if i in on_demand:
            recorder.sample()
    kernel.finish()


PLAIN_PRICES = [0, 9_900, 10_000, 10_100, 10_200, 10_300]
ODD_VALUES = [2**31, 2**40 + 7, 2**62, 2**70, -100, 10_100.5, True]
"""Beyond what the compiled step takes (prices and sizes in [0, 2**31), exact ints): the tick goes to the reference."""

step = st.tuples(
    st.integers(0, 300 * MS),  # gap
    st.sampled_from(["A", "B", "C"]),
    st.sampled_from(PLAIN_PRICES),
    st.integers(0, 4),
    st.sampled_from(PLAIN_PRICES),
    st.integers(0, 4),
    st.sampled_from(["NBBO", "XNAS", "XNAS", "XNAS", "ARCX"]),
    st.sampled_from([None, Aggressor.BUY, Aggressor.SELL, Aggressor.UNKNOWN]),
    st.sampled_from([None] * 30 + ODD_VALUES),
)


def _events(steps: list[tuple[Any, ...]]) -> list[Event]:
    events: list[Event] = []
    ts = T0
    for gap, symbol, bid, bid_size, ask, ask_size, venue, aggressor, odd in steps:
        ts += gap
        quote = Quote(
            ts_event=ts - 5,
            ts_init=ts,
            symbol=symbol,
            bid_price=bid if odd is None else odd,
            bid_size=bid_size * 100,
            ask_price=ask if odd is None else abs(odd) + 100,
            ask_size=ask_size * 100,
            venue=venue,
        )
        events.append(quote)
        if aggressor is not None:
            events.append(Trade(ts_event=ts, ts_init=ts, symbol=symbol, price=bid, size=100, aggressor=aggressor))
    return events


@settings(max_examples=120, deadline=None)
@given(
    st.lists(step, min_size=20, max_size=300),
    st.sampled_from([(SEC // 2, 2 * SEC), (SEC // 4, SEC // 3), (SEC // 4, 3 * SEC), (100 * MS, SEC)]),
    st.sampled_from([0, 3, 8]),
    st.sampled_from([1, 3, 30]),
    st.frozensets(st.integers(0, 300), max_size=6),
    st.booleans(),
)
def test_compiled_sampling_equals_the_python_reference_on_random_streams_byte_for_byte(
    steps: list[tuple[Any, ...]],
    cadence: tuple[int, int],
    capacity: int,
    vol_samples: int,
    on_demand: frozenset[int],
    tracked: bool,
) -> None:
    """Also rings too small to hold a sample until its label, on-demand samples between the ticks (the labels'
    kernel calls), one-sided and empty quotes, and odd field values that send a tick to the reference."""
    events = _events(steps)
    python, compiled = _pair(interval_ns=cadence[0], horizon_ns=cadence[1], vol_samples=vol_samples, capacity=capacity)
    _run(events, python, tracked, on_demand)
    _run(events, compiled, tracked, on_demand)
    assert python.sampler is None and compiled.sampler is not None
    assert table(compiled) == table(python)
    assert counters(compiled) == counters(python)


def test_a_tick_with_a_price_beyond_the_compiled_range_goes_to_the_reference_and_records_the_same() -> None:
    steps = [(200 * MS, "A", 10_000, 2, 10_100, 3, "XNAS", None, None)] * 40
    steps[20:28] = [(200 * MS, "A", 10_000, 2, 10_100, 3, "XNAS", None, 2**40)] * 8  # 1.6 s: a tick sees it
    events = _events(steps)
    python, compiled = _pair(interval_ns=SEC, horizon_ns=2 * SEC, vol_samples=3)
    _run(events, python, True, frozenset())
    _run(events, compiled, True, frozenset())
    assert compiled.sampler is not None
    assert compiled.sampler.fallbacks >= 1 and compiled.sampler.compiled_ticks >= 3
    assert table(compiled) == table(python)
    assert counters(compiled) == counters(python)


def test_compiled_sampling_on_a_real_taq_day_through_a_backtest_equals_the_python_reference(data_dir: Path) -> None:
    events: list[Event] = list(itertools.islice(TaqReader.for_day(data_dir / BAC), 150_000))
    results = []
    recorders = _pair(interval_ns=SEC, horizon_ns=10 * SEC, vol_samples=30)
    for recorder in recorders:
        bt = Backtest([], level="L1", portfolio=PortfolioConfig(sample_interval_ns=None), extra=[recorder])
        bt.run([events])
        results.append((table(recorder), counters(recorder)))
    sampler = recorders[1].sampler
    assert sampler is not None and sampler.compiled_ticks > 1_000 and sampler.fallbacks == 0
    assert results[0][1][0] > 1_000 and results[0][1][1] > 1_000  # samples and labels: not empty tables
    assert results[1] == results[0]


def _synthetic_recording(impl: str, level: str) -> tuple[str, tuple[int, int, int, int, int]]:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAA", "BBB"), events_per_symbol=20_000, seed=5))
    events: list[Event] = list(merge_sorted(market.sources()))
    recorder = FeatureRecorder(RecorderConfig(interval_ns=100 * MS, horizon_ns=SEC), impl=impl)  # type: ignore[arg-type]
    Backtest([], level=level, portfolio=PortfolioConfig(sample_interval_ns=None), extra=[recorder]).run(  # type: ignore[arg-type]
        [events]
    )
    digest = hashlib.sha256()
    for row in table(recorder):
        for part in row:
            digest.update(part if isinstance(part, bytes) else repr(part).encode())
    return digest.hexdigest(), counters(recorder)


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_the_synthetic_feed_recording_is_pinned_byte_for_byte_in_each_implementation(impl: str) -> None:
    """What a retrain trains on: any change of a recorded double, in either implementation, changes this digest."""
    digest, counts = _synthetic_recording(impl, "L1")
    assert counts == PINNED_COUNTS
    assert digest == PINNED_DIGEST


PINNED_DIGEST = "5f9d673e9c2f578f3f199e8011c9e9e1bb00547ce96397cafe3eb317b4ed0fdc"
"""The recording of main before the compiled step (the Python `_take`), the same from both implementations."""
PINNED_COUNTS = (546, 546, 0, 0, 0)


def test_the_recorder_says_which_sample_step_it_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    assert FeatureRecorder(impl="compiled").impl == "compiled"
    assert FeatureRecorder(impl="python").sampler is None
    monkeypatch.setenv("TAPEFLOW_PURE_PYTHON", "1")
    assert FeatureRecorder().impl == "python"
    monkeypatch.delenv("TAPEFLOW_PURE_PYTHON")
    assert FeatureRecorder().impl == "compiled"
    with pytest.raises(ConfigError, match="impl"):
        FeatureRecorder(impl="fast")  # type: ignore[arg-type]


def test_a_ring_whose_capacity_no_longer_matches_its_arrays_goes_to_the_reference_never_past_the_arrays() -> None:
    """The compiled step writes through raw pointers, so it refuses a ring whose ``capacity`` was changed after the
    arrays were made (a slot index past them); the reference then fails as it always did."""
    steps = [(200 * MS, "A", 10_000, 2, 10_100, 3, "XNAS", None, None)] * 20
    events = _events(steps)
    python, compiled = _pair(interval_ns=SEC, horizon_ns=2 * SEC, vol_samples=3, capacity=4)
    errors = []
    for recorder in (python, compiled):
        _run(events, recorder, True, frozenset())
        ring = recorder.ring("A")
        ring.capacity = 1_000  # the arrays hold 4
        ring.appended = 10  # the next slot, 10, is past them
        with pytest.raises((IndexError, struct.error)) as caught:
            recorder.sample()
        errors.append(f"{type(caught.value).__name__}: {caught.value}")
    assert compiled.sampler is not None and compiled.sampler.fallbacks == 1
    assert errors[0] == errors[1]


def test_the_labels_backstop_call_is_compiled_and_records_what_the_reference_records() -> None:
    """At 1 s with a 10 s horizon the labels' backstop call fires before the tick at a sample's label end every
    ~9 samples; the compiled recorder queues ``Sampler.backstop`` there (the same place, the same argument), which
    sets the same labels, counters and next call as ``ForwardReturnLabels._backstop``; the run's tail included."""
    steps = [
        (130 * MS, "A", 10_000 + 100 * (i % 3), 0 if 200 <= i < 260 else 2, 10_300, 3 + i % 2, "XNAS", None, None)
        for i in range(400)
    ]  # one-sided for ~8 s: the labels ending then are left unlabelled
    events = _events(steps)
    python, compiled = _pair(interval_ns=SEC, horizon_ns=10 * SEC, vol_samples=5)
    for recorder in (python, compiled):
        _run(events, recorder, True, frozenset())
    assert compiled.sampler is not None and python.labels.backstop == python.labels._backstop
    assert compiled.labels.backstop == compiled.sampler.backstop
    assert compiled.sampler.compiled_backstops >= 5 and compiled.sampler.backstop_fallbacks == 0
    assert python.labels.matured > 30 and python.labels.unlabelled > 0  # not an empty comparison
    assert table(compiled) == table(python)
    assert counters(compiled) == counters(python)


def test_a_backstop_with_labels_in_the_defer_queue_goes_to_the_reference_and_records_the_same() -> None:
    """A ring too small to hold a sample until its label moves it to ``defer``'s queue (``lose_oldest``): the
    compiled backstop hands that call to the reference whole."""
    steps = [(130 * MS, "A", 10_000 + 100 * (i % 3), 2, 10_300, 3, "XNAS", None, None) for i in range(200)]
    events = _events(steps)
    python, compiled = _pair(interval_ns=SEC, horizon_ns=10 * SEC, vol_samples=5, capacity=4)
    for recorder in (python, compiled):
        _run(events, recorder, True, frozenset())
    assert compiled.sampler is not None and compiled.sampler.backstop_fallbacks >= 1
    assert python.labels.matured > 0
    assert table(compiled) == table(python)
    assert counters(compiled) == counters(python)


def _same_sum(compiled: SquaresSum, reference: SquaresSum) -> bool:
    return (
        compiled.total == reference.total
        and type(compiled.total) is int
        and compiled.odd == reference.odd
        and len(compiled.values) == len(reference.values)
        and all(map(_same_double, compiled.values, reference.values))
        and _same_double(compiled.vol, reference.vol)
    )


@settings(max_examples=300, deadline=None)
@given(
    stream=st.lists(st.tuples(_r2, st.integers(0, 9)), max_size=300),
    n=st.sampled_from([0, 1, 2, 3, 5, 29, 40]),
)
def test_the_compiled_volatility_sum_in_limbs_equals_squares_sum_push_byte_for_byte(
    stream: list[tuple[float, int]], n: int
) -> None:
    """The tick's ``SquaresSum.push`` (``_push``: the exact sum in C limbs, the int written back to ``total``)
    against the reference's, push by push: the volatility's bits and every slot. One push in ten on the compiled
    side is the reference's own (a tick handed to it), after which the limbs must read ``total`` again."""
    reference, compiled, sums = SquaresSum(n), SquaresSum(n), _sample_core.ExactSum()
    for r2, which in stream:
        want = reference.push(r2)
        got = compiled.push(r2) if which == 0 else _sample_core.push_exact(compiled, r2, sums)
        assert _same_double(got, want), (got, want, list(reference.values))
        assert _same_sum(compiled, reference)


@pytest.mark.parametrize(
    "values",
    [
        [1.0, 2.0**-53],  # a tie: to the even 1.0
        [1.0, 2.0**-52, 2.0**-53],  # a tie: up to the even 1 + 2**-51
        [1.0, 2.0**-53, 2.0**-140],  # above the tie only by a bit far below it (the sticky bit)
        [3.0, 3 * 2.0**-52, 2.0**-54],  # under the tie
        [2.0**99, 2.0**-148],  # the range's two ends: the limbs' highest and lowest bits
        [2.0**99, 2.0**99, 2.0**99, 2.0**99 - 2.0**46],  # carries into the top limb
    ],
)
def test_the_compiled_volatility_sum_rounds_as_float_of_the_exact_int_does(values: list[float]) -> None:
    """Sums whose exact value is at, just above or just below a tie between two doubles, pushed in every order and
    then pushed out again (the limbs' borrows): ``float()`` of the int rounds half to even, and so must the
    limbs."""
    for order in itertools.permutations(values):
        reference, compiled, sums = SquaresSum(len(values)), SquaresSum(len(values)), _sample_core.ExactSum()
        for r2 in [*order, *([0.5] * len(values))]:
            assert _same_double(_sample_core.push_exact(compiled, r2, sums), reference.push(r2)), order
            assert _same_sum(compiled, reference)
