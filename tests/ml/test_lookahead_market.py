"""The two look-ahead tests of issue 17, on the synthetic market.

(a) On a market with no predictability (the regime market at strength 0: the mid is a random walk the book tells
nothing about), the guarded retrainer's predictions hit the sign of the realized forward return about half the
time (inside binomial bounds), while a deliberately leaky variant, a trainer handed the window of the interval it
is about to predict, with labels computed from the full future mid series, looks prophetic. That is the proof that
the guard matters and that this test can fail.

(b) The set that made the leaky variant prophetic, planted through the public API (``Retrainer.train_on``,
``accept_training_set``, a ``TrainingSet`` re-stamped with an earlier trigger), is refused with a
``LookAheadError`` whose message says what leaked and how to fix it, and no trainer ever sees it.

tests/ml/test_window.py and test_retrain.py check the guard's rule on hand-built sets and the plain market; these
run the retrainer itself through a market and score what it predicts. Scoring uses one prediction per label
horizon per symbol, so the scored outcomes do not overlap and the binomial bounds are honest.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass

import msgspec
import numpy as np
import pytest

from tapeflow.config import RegimeConfig, SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.kernel import Kernel
from tapeflow.engine.merge import merge_sorted
from tapeflow.ml.config import MlSection, build_ml
from tapeflow.ml.features import FeatureRecorder
from tapeflow.ml.models import FloatArray, Model
from tapeflow.ml.pool import TrainResult
from tapeflow.ml.retrain import InProcessTrainer, Retrainer
from tapeflow.ml.window import TrainingSet, accept_training_set
from tapeflow.model.errors import LookAheadError
from tapeflow.model.events import Event, ModelTrainingFailed, ModelUpdated

MS = 1_000_000
SEC = 1_000_000_000
SECTION = MlSection(
    model_id="rw",
    kind="ridge",
    sample_interval_ms=250,
    horizon_ms=2_000,
    window_s=10,
    interval_s=10,
    effect_delay_ms=500,
    min_samples=20,
    trainer="inline",
)
HORIZON = SECTION.horizon_ms * MS
INTERVAL = SECTION.interval_s * SEC
RANDOM_WALK = SyntheticConfig(
    symbols=("AAA", "BBB"),
    seed=21,
    events_per_symbol=400_000,
    regime=RegimeConfig(period_s=3600, strength=0.0, vol=(1.0,)),
)


class ModelLog:
    """Kernel component after the retrainer: each model in force, from the dispatch of its ModelUpdated."""

    def __init__(self, retrainer: Retrainer) -> None:
        self.retrainer = retrainer
        self.in_force: list[tuple[int, Model]] = []
        self.failures: list[ModelTrainingFailed] = []

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(ModelUpdated, self._updated)
        kernel.subscribe(ModelTrainingFailed, self.failures.append)

    def _updated(self, event: ModelUpdated) -> None:
        model = self.retrainer.model(event.model_id)
        assert model is not None and model.version == event.model_hash
        self.in_force.append((event.ts_init, model))

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None


def oracle_recorder() -> FeatureRecorder:
    """A recorder like the section's that keeps every sample: the full series of features and realized labels."""
    cfg = SECTION.recorder_config()
    return FeatureRecorder(msgspec.structs.replace(cfg, capacity=20_000))


@dataclass
class Run:
    log: ModelLog
    trainer: InProcessTrainer
    retrainer: Retrainer
    oracle: FeatureRecorder


def run(tape: list[Event], trainer: InProcessTrainer, oracle: FeatureRecorder) -> Run:
    """The section's recorder and retrainer (deterministic, in process) on the random-walk market."""
    parts = build_ml(SECTION, mode="deterministic", trainer=trainer)
    log = ModelLog(parts.retrainer)
    kernel = Kernel()
    for component in (*parts.components, log, oracle):
        kernel.add(component)
    if isinstance(trainer, LeakyTrainer):
        trainer.kernel = kernel
    kernel.start(at=RANDOM_WALK.start_ns)
    kernel.run(tape)
    kernel.stop()
    return Run(log, trainer, parts.retrainer, oracle)


def leaky_window(oracle: FeatureRecorder, trigger: int) -> TrainingSet:
    """The bug: the window asked for at the next trigger plus a horizon instead of this one, from a recorder that
    already holds the whole day (a precomputed feature file): the samples of the very interval the model will
    predict, with their realized labels."""
    return oracle.training_set(trigger + INTERVAL + HORIZON, INTERVAL + HORIZON)


class LeakyTrainer(InProcessTrainer):
    """Bypasses the gate: ignores the guarded window the retrainer hands it and fits ``leaky_window`` instead."""

    def __init__(self, oracle: FeatureRecorder) -> None:
        super().__init__()
        self.oracle = oracle
        self.kernel: Kernel | None = None
        self.leaked: list[TrainingSet] = []

    def submit(
        self,
        kind: str,
        params: Mapping[str, object] | msgspec.Struct | None,
        xs: FloatArray,
        y: FloatArray,
        seed: int,
    ) -> Future[TrainResult]:
        assert self.kernel is not None
        leak = leaky_window(self.oracle, self.kernel.now)  # submit runs at the trigger, on the kernel's clock
        self.leaked.append(leak)
        return super().submit(kind, params, leak.X, leak.y, seed)


@dataclass(frozen=True)
class Score:
    hits: int
    scored: int

    @property
    def rate(self) -> float:
        return self.hits / self.scored

    def chance_bounds(self, sigmas: float = 3.0) -> tuple[float, float]:
        half = sigmas * math.sqrt(0.25 / self.scored)
        return 0.5 - half, 0.5 + half


def score(result: Run) -> Score:
    """Each symbol's samples one horizon apart, each predicted by the model announced before it was taken (none
    before the first), against the sign of its realized forward return (unmoved mids are not scored)."""
    effects = [ts for ts, _ in result.log.in_force]
    hits = scored = 0
    step = HORIZON // (SECTION.sample_interval_ms * MS)
    for symbol in result.oracle.symbols():
        ring = result.oracle.ring(symbol)
        assert ring.appended <= ring.capacity, "the oracle keeps every sample"
        slots = ring.order()[::step]
        for t, x, label in zip(ring.times[slots], ring.X[slots], ring.y[slots], strict=True):
            k = int(np.searchsorted(effects, int(t), side="left")) - 1  # announced strictly before the sample
            if k < 0 or np.isnan(label) or label == 0.0:
                continue
            prediction = result.log.in_force[k][1].predict(x)
            hits += int(np.sign(prediction) == np.sign(label))
            scored += 1
    return Score(hits, scored)


@pytest.fixture(scope="module")
def tape() -> list[Event]:
    """About nine minutes of two symbols, generated once for both runs."""
    return list(merge_sorted(SyntheticMarket(RANDOM_WALK).sources()))


@pytest.fixture(scope="module")
def guarded(tape: list[Event]) -> Run:
    return run(tape, InProcessTrainer(), oracle_recorder())


@pytest.fixture(scope="module")
def leaky(tape: list[Event], guarded: Run) -> Run:
    return run(tape, LeakyTrainer(guarded.oracle), oracle_recorder())


def test_the_guarded_retrainer_on_a_random_walk_stays_near_chance(guarded: Run) -> None:
    assert not guarded.log.failures
    assert len(guarded.log.in_force) >= 40  # a model every 10 s over about nine minutes
    result = score(guarded)
    low, high = result.chance_bounds()
    assert result.scored > 400
    assert low < result.rate < high, f"{result.rate:.3f} outside chance bounds [{low:.3f}, {high:.3f}]"  # 0.493 of 503


def test_the_same_retrainer_fed_leaked_labels_looks_prophetic_on_the_same_random_walk(guarded: Run, leaky: Run) -> None:
    assert isinstance(leaky.trainer, LeakyTrainer) and leaky.trainer.leaked
    assert len(leaky.log.in_force) == len(guarded.log.in_force)
    result = score(leaky)
    _, high = result.chance_bounds()
    assert result.rate > high + 0.05, f"leaky {result.rate:.3f}, chance bound {high:.3f}"  # measured 0.646 > 0.567
    assert result.rate - score(guarded).rate > 0.1


def test_every_window_the_leaky_trainer_fitted_is_one_the_guard_refuses(leaky: Run) -> None:
    assert isinstance(leaky.trainer, LeakyTrainer)
    triggers = [leak.trigger_ts - INTERVAL - HORIZON for leak in leaky.trainer.leaked]
    for trigger, leak in zip(triggers, leaky.trainer.leaked, strict=True):
        with pytest.raises(LookAheadError):
            accept_training_set(leak, trigger)


def expected_message(leak: TrainingSet, trigger: int) -> str:
    late = leak.label_end_times > trigger
    first = int(np.flatnonzero(late)[np.argmax(leak.label_end_times[late])])
    end = int(leak.label_end_times[first])
    return (
        f"look-ahead: {int(late.sum())} training sample(s) have labels that end after ts={trigger} (trigger minus "
        f"embargo), the first (sampled at ts={int(leak.sample_times[first])}) at ts={end}, {end - trigger} ns "
        "too late; build the set with training_set(trigger, window, embargo), which purges them"
    )


def test_the_prophetic_window_planted_through_train_on_is_refused_before_any_trainer_sees_it(guarded: Run) -> None:
    kernel = Kernel()
    trainer = InProcessTrainer()
    parts = build_ml(SECTION, mode="deterministic", trainer=trainer)
    log = ModelLog(parts.retrainer)
    for component in (*parts.components, log):
        kernel.add(component)
    kernel.start(at=RANDOM_WALK.start_ns)
    trigger = RANDOM_WALK.start_ns + 30 * INTERVAL
    leak = leaky_window(guarded.oracle, trigger)
    assert len(leak) == 2 * 41 and np.all(np.isfinite(leak.y))  # both symbols, 10 s and 250 ms inclusive
    with pytest.raises(LookAheadError) as refused:
        parts.retrainer.train_on(leak, trigger)
    assert str(refused.value) == expected_message(leak, trigger)
    assert refused.value.count == int((leak.label_end_times > trigger).sum()) == len(leak)  # every sample leaked
    assert trainer.submitted == 0 and parts.retrainer.last_accepted is None
    kernel.run([])
    assert not log.in_force and not log.failures


def test_the_prophetic_window_is_refused_by_the_gate_and_when_restamped_with_the_trigger_it_is_used_at(
    guarded: Run,
) -> None:
    trigger = RANDOM_WALK.start_ns + 31 * INTERVAL
    leak = leaky_window(guarded.oracle, trigger)
    with pytest.raises(LookAheadError) as gate:
        accept_training_set(leak, trigger)
    assert str(gate.value) == expected_message(leak, trigger)
    with pytest.raises(LookAheadError) as restamped:
        dataclasses.replace(leak, trigger_ts=trigger)  # a set that claims to be the window at the trigger
    assert str(restamped.value) == expected_message(leak, trigger)
    honest = guarded.oracle.training_set(trigger, SECTION.window_s * SEC)
    assert accept_training_set(honest, trigger) is honest  # the window the recorder hands out at the trigger passes
    assert honest.label_end_times.max() <= trigger < leak.label_end_times.min()
