"""On L1 the keeper keeps the recorder's quote flow (``BookKeeper.track_flow``) and the recorder has no quote handler:
its tables stay those of the frozen recorder of before issue 19, byte for byte, over random quote and trade streams
and a real TAQ day."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.backtest.engine import Backtest
from tapeflow.book.keeper import BookKeeper
from tapeflow.data.taq import TaqReader
from tapeflow.engine.kernel import Kernel
from tapeflow.ml.features import FeatureRecorder, RecorderConfig
from tapeflow.model.enums import Aggressor
from tapeflow.model.events import Event
from tapeflow.model.market import Quote, Trade
from tapeflow.portfolio import PortfolioConfig

from . import frozen_features as frozen
from .test_features_frozen import counters, table

SEC = 1_000_000_000
MS = 1_000_000
T0 = 1_718_976_600 * SEC  # 09:30 New York, 2024-06-21
BAC = "lean-algoseek-us-equity/tick/bac/20131007_quote.zip"


def _pair(**params: Any) -> tuple[FeatureRecorder, frozen.FrozenFeatureRecorder]:
    return FeatureRecorder(RecorderConfig(**params)), frozen.FrozenFeatureRecorder(frozen.RecorderConfig(**params))


def _feed(kernel: Kernel, events: list[Event], sample: Callable[[], int], on_demand: frozenset[int]) -> None:
    """The events, with an on-demand ``sample()`` after each event whose index is in ``on_demand``."""
    kernel.start(at=events[0].ts_init)
    for i, event in enumerate(events):
        kernel.run([event])
        if i in on_demand:
            sample()
    kernel.finish()


def _run_tracked(events: list[Event], recorder: FeatureRecorder, on_demand: frozenset[int] = frozenset()) -> None:
    kernel, keeper = Kernel(), BookKeeper("L1")
    recorder.use_books(keeper)  # as the node's assembly does, before the keeper is attached
    kernel.add(keeper)
    kernel.add(recorder)
    _feed(kernel, events, recorder.sample, on_demand)
    assert recorder.tracked and all(h != recorder.on_quote for _, h in kernel._subscriptions)


def _run_frozen(
    events: list[Event], recorder: frozen.FrozenFeatureRecorder, on_demand: frozenset[int] = frozenset()
) -> None:
    kernel = Kernel()
    kernel.add(recorder)
    _feed(kernel, events, recorder.sample, on_demand)


step = st.tuples(
    st.integers(0, 300 * MS),  # gap
    st.sampled_from(["A", "B"]),
    st.sampled_from([0, 9_900, 10_000, 10_100]),
    st.integers(0, 4),
    st.sampled_from([0, 10_100, 10_200, 10_300]),
    st.integers(0, 4),
    st.sampled_from(["NBBO", "XNAS", "XNAS", "XNAS", "ARCX"]),
    st.sampled_from([None, Aggressor.BUY, Aggressor.SELL, Aggressor.UNKNOWN]),
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(step, min_size=20, max_size=300),
    st.sampled_from([(SEC // 2, 2 * SEC), (SEC // 4, SEC // 3), (SEC // 4, 3 * SEC)]),
    st.sampled_from([0, 3, 8]),
    st.frozensets(st.integers(0, 300), max_size=6),
)
def test_tracked_recording_equals_the_frozen_recorder_on_random_quote_and_trade_streams(
    steps: list[tuple[int, str, int, int, int, int, str, Aggressor | None]],
    cadence: tuple[int, int],
    capacity: int,
    on_demand: frozenset[int],
) -> None:
    """Also with rings too small to hold a sample until its label (capacity 3 or 8 against horizons of up to 12
    samples) and on-demand samples between the ticks: the ring path's lost and on-call samples."""
    events: list[Event] = []
    ts = T0
    for gap, symbol, bid, bid_size, ask, ask_size, venue, aggressor in steps:
        ts += gap
        events.append(
            Quote(
                ts_event=ts - 5,
                ts_init=ts,
                symbol=symbol,
                bid_price=bid,
                bid_size=bid_size * 100,
                ask_price=ask,
                ask_size=ask_size * 100,
                venue=venue,
            )
        )
        if aggressor is not None:
            events.append(Trade(ts_event=ts, ts_init=ts, symbol=symbol, price=bid, size=100, aggressor=aggressor))
    now, before = _pair(interval_ns=cadence[0], horizon_ns=cadence[1], vol_samples=3, capacity=capacity)
    _run_tracked(events, now, on_demand)
    _run_frozen(events, before, on_demand)
    assert table(now) == table(before)
    assert counters(now) == counters(before)


def test_tracked_recording_on_a_real_taq_day_through_a_backtest_equals_the_frozen_recorder(data_dir: Path) -> None:
    reader = TaqReader.for_day(data_dir / BAC)
    events: list[Event] = list(itertools.islice(reader, 150_000))
    results = []
    for recorder in _pair(interval_ns=SEC, horizon_ns=10 * SEC, vol_samples=30):
        bt = Backtest([], level="L1", portfolio=PortfolioConfig(sample_interval_ns=None), extra=[recorder])
        bt.run([events])
        results.append((table(recorder), counters(recorder)))
    assert isinstance(recorder, frozen.FrozenFeatureRecorder) and not hasattr(recorder, "use_books")
    now = results[0]
    assert now[1][0] > 1_000 and now[1][1] > 1_000  # samples and labels: not a comparison of empty tables
    assert now == results[1]


def test_a_backtest_hands_its_l1_keeper_to_the_recorder_and_not_its_l3_keeper() -> None:
    l1, l3 = FeatureRecorder(), FeatureRecorder()
    Backtest([], level="L1", extra=[l1])
    Backtest([], level="L3", extra=[l3])
    assert l1.tracked and not l3.tracked


def test_a_ring_smaller_than_the_horizon_with_on_demand_samples_equals_the_frozen_recorder() -> None:
    """Capacity 3 against a horizon of 12 samples: each sample is overwritten before its label (the ring path hands
    it to the labels' queue, where it is counted as before), with on-demand samples between the ticks."""
    rnd = random.Random(1)
    events: list[Event] = []
    ts = T0
    for _ in range(400):
        ts += rnd.randint(0, 300 * MS)
        bid, bid_size = rnd.choice([9_900, 10_000]), rnd.choice([0, 100, 200])
        events.append(
            Quote(ts_event=ts, ts_init=ts, symbol="A", bid_price=bid, bid_size=bid_size, ask_price=10_100, ask_size=100)
        )
    on_demand = frozenset(range(0, 400, 37))
    now, before = _pair(interval_ns=SEC // 4, horizon_ns=3 * SEC, vol_samples=3, capacity=3)
    _run_tracked(events, now, on_demand)
    _run_frozen(events, before, on_demand)
    assert now.samples > 150 and now.labels.unlabelled > 20  # the lost samples' horizons ending one-sided
    assert table(now) == table(before)
    assert counters(now) == counters(before)
