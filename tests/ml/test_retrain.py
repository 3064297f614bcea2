"""The retrain scheduler: a model retrained on the synthetic market takes effect at trigger + delay in a backtest
(identically across runs, in-process or through the pool), only through sets the look-ahead gate accepted, keeps
the old model when a training fails or is late, and in live mode arrives through the inbox; the model in force
changes only when its ModelUpdated is dispatched."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path

import msgspec
import numpy as np
import pytest

from tapeflow.backtest.engine import Backtest
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.inbox import Inbox
from tapeflow.engine.kernel import Kernel
from tapeflow.engine.merge import merge_sorted
from tapeflow.ml import retrain as retrain_module
from tapeflow.ml.features import FeatureRecorder, RecorderConfig
from tapeflow.ml.models import FloatArray, model_from_bytes
from tapeflow.ml.pool import TrainingPool, TrainResult
from tapeflow.ml.retrain import InProcessTrainer, RetrainConfig, Retrainer, RetrainSpec
from tapeflow.ml.window import TrainingSet, accept_training_set
from tapeflow.model.errors import ConfigError, LookAheadError
from tapeflow.model.events import Event, ModelTrainingFailed, ModelUpdated

MS = 1_000_000
SEC = 1_000_000_000
INTERVAL = 5 * SEC
DELAY = 700 * MS
WAIT_S = 60.0  # a bound for a hung pool, not a speed test: a loaded 2-core machine once took over 10 s
WARM_TIMEOUT_S = 120.0
SPEC = RetrainSpec(model_id="ridge-1", kind="ridge", params={"alpha": 1.0}, seed=4)


def events(count: int = 20_000) -> list[Event]:
    """About 25 s of two symbols: five triggers at a 5 s interval."""
    market = SyntheticMarket(SyntheticConfig(symbols=("AAA", "BBB"), events_per_symbol=count, seed=3))
    return list(merge_sorted(market.sources()))


def recorder() -> FeatureRecorder:
    return FeatureRecorder(RecorderConfig(interval_ns=100 * MS, horizon_ns=500 * MS, window_ns=10 * SEC))


def config(**changes: object) -> RetrainConfig:
    base = RetrainConfig(interval_ns=INTERVAL, window_ns=10 * SEC, embargo_ns=100 * MS, effect_delay_ns=DELAY)
    return msgspec.structs.replace(base, **changes)


class Collector:
    """Records the retrainer's events and, at each one, the hash of the model in force."""

    def __init__(self, retrainer: Retrainer | None = None) -> None:
        self.events: list[ModelUpdated | ModelTrainingFailed] = []
        self.retrainer = retrainer
        self.in_force: list[tuple[Event, str]] = []

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(ModelUpdated, self.events.append)
        kernel.subscribe(ModelTrainingFailed, self.events.append)
        if self.retrainer is not None:
            kernel.subscribe(Event, self._probe)

    def _probe(self, event: Event) -> None:
        assert self.retrainer is not None
        model = self.retrainer.model(SPEC.model_id)
        self.in_force.append((event, "" if model is None else model.version))

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def updates(self) -> list[ModelUpdated]:
        return [e for e in self.events if isinstance(e, ModelUpdated)]

    def failures(self) -> list[ModelTrainingFailed]:
        return [e for e in self.events if isinstance(e, ModelTrainingFailed)]


def backtest(trainer: retrain_module.Trainer, cfg: RetrainConfig | None = None) -> tuple[Retrainer, Collector]:
    rec = recorder()
    retrainer = Retrainer(rec, SPEC, trainer, cfg or config())
    collector = Collector(retrainer)
    Backtest([], extra=[rec, retrainer, collector]).run([events()])
    return retrainer, collector


def test_a_backtest_model_takes_effect_exactly_at_trigger_plus_the_configured_delay() -> None:
    retrainer, collector = backtest(InProcessTrainer())
    updates = collector.updates()
    assert len(updates) >= 3
    assert not collector.failures()
    for number, event in enumerate(updates, start=1):
        assert event.trigger_ts % INTERVAL == 0
        assert event.ts_init == event.ts_event == event.trigger_ts + DELAY
        assert event.version == number
        assert (event.train_start, event.train_end) == (event.trigger_ts - 10 * SEC, event.trigger_ts)
        assert event.samples >= 10
        assert event.duration_ns == DELAY
        assert len(event.model_hash) == 16
        assert "r2" in event.metrics
    model = retrainer.model(SPEC.model_id)
    assert model is not None and model.version == updates[-1].model_hash


def test_two_backtests_give_identical_events_and_hashes() -> None:
    _, first = backtest(InProcessTrainer())
    _, second = backtest(InProcessTrainer())
    assert first.events
    assert [msgspec.msgpack.encode(e) for e in first.events] == [msgspec.msgpack.encode(e) for e in second.events]


@pytest.fixture(scope="module")
def pool() -> Iterator[TrainingPool]:
    with TrainingPool(workers=1) as training_pool:
        training_pool.start().result(timeout=WARM_TIMEOUT_S)
        yield training_pool


def test_the_process_pool_gives_the_in_process_events_and_hashes(pool: TrainingPool) -> None:
    _, in_process = backtest(InProcessTrainer())
    _, pooled = backtest(pool, config(wait_timeout_s=WAIT_S))
    assert pooled.updates()
    assert [msgspec.msgpack.encode(e) for e in pooled.events] == [msgspec.msgpack.encode(e) for e in in_process.events]


def test_every_set_handed_to_the_trainer_passed_the_gate_with_its_own_trigger(monkeypatch: pytest.MonkeyPatch) -> None:
    gated: list[tuple[TrainingSet, int]] = []

    def spy(ts: TrainingSet, trigger_ts: int) -> TrainingSet:
        gated.append((ts, trigger_ts))
        return accept_training_set(ts, trigger_ts)

    monkeypatch.setattr(retrain_module, "accept_training_set", spy)
    trainer = RecordingTrainer()
    _, collector = backtest(trainer)
    assert len(trainer.seen) == len(collector.updates()) >= 3
    for (xs, y), (ts, trigger), event in zip(trainer.seen, gated, collector.updates(), strict=True):
        assert trigger == event.trigger_ts == ts.trigger_ts
        assert np.array_equal(xs, ts.X) and np.array_equal(y, ts.y)
        assert ts.label_end_times.max() <= trigger - 100 * MS  # the embargo held


def test_a_leak_planted_through_the_trainer_api_is_refused_before_the_trainer_sees_it() -> None:
    kernel = Kernel()
    rec = recorder()
    trainer = RecordingTrainer()
    retrainer = Retrainer(rec, SPEC, trainer, config())
    kernel.add(rec)
    kernel.add(retrainer)
    data = events()
    kernel.start(at=data[0].ts_init)
    kernel.run(data)
    late = data[-1].ts_init
    leaky = rec.training_set(late, 10 * SEC)  # labels that end up to the end of the tape
    assert len(leaky) > 10
    trainer.seen.clear()
    with pytest.raises(LookAheadError, match="look-ahead"):
        retrainer.train_on(leaky, late - 5 * SEC)  # a retrain at an earlier trigger handed the later window
    assert not trainer.seen


class RecordingTrainer(InProcessTrainer):
    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__()
        self.seen: list[tuple[FloatArray, FloatArray]] = []
        self.fail_after = fail_after

    def submit(
        self, kind: str, params: Mapping[str, object] | msgspec.Struct | None, xs: FloatArray, y: FloatArray, seed: int
    ) -> Future[TrainResult]:
        self.seen.append((np.array(xs), np.array(y)))
        if self.fail_after is not None and len(self.seen) > self.fail_after:
            future: Future[TrainResult] = Future()
            future.set_result(
                TrainResult(
                    ok=False,
                    kind=kind,
                    seed=seed,
                    n_samples=len(y),
                    duration_ns=0,
                    worker_pid=0,
                    error="ValueError: planted",
                )
            )
            return future
        return super().submit(kind, params, xs, y, seed)


def test_a_failing_training_emits_training_failed_and_the_old_model_stays_in_force() -> None:
    retrainer, collector = backtest(RecordingTrainer(fail_after=1))
    updates, failures = collector.updates(), collector.failures()
    assert len(updates) == 1
    assert len(failures) >= 2
    assert all("planted" in f.reason for f in failures)
    assert all(f.ts_init == f.trigger_ts + DELAY for f in failures)
    model = retrainer.model(SPEC.model_id)
    assert model is not None and model.version == updates[0].model_hash
    assert collector.in_force[-1][1] == updates[0].model_hash  # trading went on with it to the end


def test_the_model_in_force_changes_only_when_its_model_updated_is_dispatched() -> None:
    _, collector = backtest(InProcessTrainer())
    changes = [
        (event, version)
        for (_, before), (event, version) in zip(collector.in_force, collector.in_force[1:], strict=False)
        if version != before
    ]
    assert len(changes) == len(collector.updates()) >= 3
    for event, version in changes:
        assert isinstance(event, ModelUpdated) and event.model_hash == version


def test_each_model_that_takes_effect_is_stored_by_its_hash(tmp_path: Path) -> None:
    _, collector = backtest(InProcessTrainer(), config(output_dir=str(tmp_path / "models")))
    for event in collector.updates():
        data = (tmp_path / "models" / f"{event.model_hash}.tfml").read_bytes()
        assert model_from_bytes(data, expected_version=event.model_hash).version == event.model_hash


# -- live mode ---------------------------------------------------------------------------------------------------


class ControlledTrainer:
    """A trainer whose futures the test completes (as a pool's thread would)."""

    def __init__(self) -> None:
        self.futures: list[tuple[Future[TrainResult], TrainResult]] = []

    def submit(
        self, kind: str, params: Mapping[str, object] | msgspec.Struct | None, xs: FloatArray, y: FloatArray, seed: int
    ) -> Future[TrainResult]:
        result = InProcessTrainer().submit(kind, params, xs, y, seed).result(timeout=WAIT_S)
        future: Future[TrainResult] = Future()
        self.futures.append((future, result))
        return future


def live_kernel(trainer: retrain_module.Trainer) -> tuple[Kernel, Inbox, Retrainer, Collector, list[Event]]:
    kernel = Kernel()
    inbox = Inbox()
    rec = recorder()
    retrainer = Retrainer(rec, SPEC, trainer, config(mode="live"), inbox=inbox, now=lambda: kernel.now)
    collector = Collector(retrainer)
    for component in (rec, retrainer, collector):
        kernel.add(component)
    data = events()
    kernel.start(at=data[0].ts_init)
    return kernel, inbox, retrainer, collector, data


def run_until(kernel: Kernel, data: list[Event], ts: int) -> list[Event]:
    kernel.run([e for e in data if e.ts_init <= ts])
    kernel.advance(ts)  # the live driver's wake-up for a timer
    return [e for e in data if e.ts_init > ts]


def wait_for(inbox: Inbox, count: int) -> list[Event]:
    deadline = time.monotonic() + WAIT_S
    while inbox.received < count:
        assert time.monotonic() < deadline, "the training's result never reached the inbox"
        time.sleep(0.01)
    return inbox.drain()


def test_live_mode_delivers_model_updated_through_the_inbox_and_swaps_only_on_dispatch(pool: TrainingPool) -> None:
    kernel, inbox, retrainer, collector, data = live_kernel(pool)
    first_trigger = (data[0].ts_init // INTERVAL + 1) * INTERVAL
    rest = run_until(kernel, data, first_trigger + 1)
    arrived = wait_for(inbox, 1)
    assert [type(e) for e in arrived] == [ModelUpdated]
    event = arrived[0]
    assert isinstance(event, ModelUpdated)
    # stamped on the node's clock when it arrived: at or after its trigger, never ahead of the node (the worker may
    # finish before or after the kernel's last step to first_trigger + 1)
    assert event.trigger_ts == first_trigger and first_trigger <= event.ts_init <= kernel.now
    assert event.duration_ns > 0 and event.samples >= 10
    assert retrainer.model(SPEC.model_id) is None  # arrived, not yet dispatched
    # what the live driver does with an inbox event: dispatched now, its ts_init never behind the kernel's clock
    delivered = msgspec.structs.replace(event, ts_init=max(event.ts_init, kernel.now))
    kernel.emit(delivered)
    kernel.run(rest[:1])
    model = retrainer.model(SPEC.model_id)
    assert model is not None and model.version == event.model_hash
    assert collector.updates() == [delivered]


def test_live_training_not_ready_by_the_next_trigger_fails_and_its_late_result_is_dropped() -> None:
    trainer = ControlledTrainer()
    kernel, inbox, retrainer, collector, data = live_kernel(trainer)
    first_trigger = (data[0].ts_init // INTERVAL + 1) * INTERVAL
    rest = run_until(kernel, data, first_trigger + INTERVAL)  # the second trigger finds the first still training
    assert len(trainer.futures) == 1  # no overlap: nothing started at the second trigger
    (failure,) = collector.failures()
    assert failure.trigger_ts == first_trigger and "not ready" in failure.reason
    future, result = trainer.futures[0]
    future.set_result(result)
    assert inbox.received == 0  # the late model never takes effect
    run_until(kernel, rest, first_trigger + 2 * INTERVAL)
    assert len(trainer.futures) == 2  # the next trigger trains again
    future, result = trainer.futures[1]
    future.set_result(result)
    assert [type(e) for e in wait_for(inbox, 1)] == [ModelUpdated]
    assert retrainer.model(SPEC.model_id) is None


def test_a_delay_not_shorter_than_the_interval_or_a_live_mode_without_inbox_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="effect delay"):
        Retrainer(recorder(), SPEC, InProcessTrainer(), config(effect_delay_ns=INTERVAL))
    with pytest.raises(ConfigError, match="inbox"):
        Retrainer(recorder(), SPEC, InProcessTrainer(), config(mode="live"))
    with pytest.raises(ConfigError, match="unknown model kind"):
        Retrainer(recorder(), RetrainSpec(model_id="x", kind="nope"), InProcessTrainer(), config())


def test_max_updates_one_freezes_the_first_model_and_trains_no_other() -> None:
    trainer = RecordingTrainer()
    retrainer, collector = backtest(trainer, config(max_updates=1))
    _, unlimited = backtest(InProcessTrainer())
    assert len(unlimited.updates()) >= 3
    assert collector.updates() == unlimited.updates()[:1] and not collector.failures()
    assert len(trainer.seen) == 1 and retrainer.triggers == len(unlimited.updates())
    model = retrainer.model(SPEC.model_id)
    assert model is not None and model.version == unlimited.updates()[0].model_hash


def test_a_failed_training_does_not_count_towards_max_updates() -> None:
    _, collector = backtest(RecordingTrainer(fail_after=0), config(max_updates=1))
    assert not collector.updates() and len(collector.failures()) >= 3  # keeps trying: it never got its model
