"""The retrain scheduler: every ``interval_ns`` of event time a model is refitted on the last ``window_ns`` and takes
effect with a ``ModelUpdated`` event, never before it.

Timeline of one retrain of a model, triggered at T (timers aligned to multiples of the interval, as the recorder's):

- the recorder's purged window at T (samples in [T - window, T) whose label ended by T - embargo) goes through
  ``accept_training_set`` with T itself, so a set that claims a later trigger or was altered is refused
  (``LookAheadError``) before any trainer sees it;
- the trainer (the process pool, or ``InProcessTrainer`` in tests) gets it and returns a future at once: the
  kernel's thread never fits a model in a live run;
- the model takes effect when ``ModelUpdated`` is dispatched, and only then does ``model(model_id)`` return it, so
  a strategy never predicts with a model before the event that announces it (add the retrainer before the
  strategies so that their own ``ModelUpdated`` handlers already see the new model).

Two modes, chosen by the driver (a strategy cannot tell them apart):

- ``deterministic`` (backtest): the model takes effect at T + ``effect_delay_ns`` exactly. A one-shot kernel timer
  at that time waits for the future (bounded by ``wait_timeout_s``: a backtest is not real time, waiting there
  costs wall time, not correctness) and emits the event; the version is a counter and the duration the configured
  one, so two runs give identical events and hashes. The delay must be shorter than the interval.
- ``live``: the future's done-callback (on the pool's thread) puts the event into the node's inbox, stamped with
  ``now()`` at arrival, carrying the measured duration; the driver dispatches it like any other arrival.

In both, a failed training, or one not ready by the next trigger, leaves the old model in force and emits
``ModelTrainingFailed``; trading continues. A model never has two trainings at once: a trigger that finds the last
one still running reports it as late and starts none (the late result is dropped when it arrives).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Literal, Protocol

import msgspec

from tapeflow.engine.inbox import InboxLike
from tapeflow.engine.kernel import Kernel
from tapeflow.ml.features import FeatureRecorder
from tapeflow.ml.models import FloatArray, Model, check_params, model_from_bytes
from tapeflow.ml.pool import TrainResult, train
from tapeflow.ml.window import TrainingSet, accept_training_set
from tapeflow.model.errors import ConfigError, DataError
from tapeflow.model.events import ModelTrainingFailed, ModelUpdated, TimerFired

NS = 1_000_000_000
MODEL_SUFFIX = ".tfml"


class Trainer(Protocol):
    """What the retrainer submits to: ``TrainingPool`` or ``InProcessTrainer``."""

    def submit(
        self,
        kind: str,
        params: Mapping[str, object] | msgspec.Struct | None,
        xs: FloatArray,
        y: FloatArray,
        seed: int,
    ) -> Future[TrainResult]: ...


class InProcessTrainer:
    """Trains on the calling thread and returns a finished future: for tests and deterministic backtests that want
    no worker processes. Never in a live run (the fit would stall the loop)."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(
        self,
        kind: str,
        params: Mapping[str, object] | msgspec.Struct | None,
        xs: FloatArray,
        y: FloatArray,
        seed: int,
    ) -> Future[TrainResult]:
        typed = check_params(kind, params)
        builtins: dict[str, object] = msgspec.to_builtins(typed)
        self.submitted += 1
        future: Future[TrainResult] = Future()
        future.set_result(train(kind, builtins, xs, y, seed))
        return future


class RetrainSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Which model to retrain: its id (what ``ModelUpdated`` and the audit trail name), kind, params and seed."""

    model_id: str
    kind: str
    params: dict[str, object] = {}
    seed: int = 0


class RetrainConfig(msgspec.Struct, frozen=True, kw_only=True):
    mode: Literal["deterministic", "live"] = "deterministic"
    interval_ns: int = 300 * NS
    """Event time between triggers (default 5 minutes)."""
    window_ns: int = 3600 * NS
    """The training window before each trigger (default 60 minutes)."""
    embargo_ns: int = 0
    """Labels must have ended this long before the trigger."""
    effect_delay_ns: int = NS
    """Deterministic mode: the model takes effect this long after its trigger (the modelled training time)."""
    min_samples: int = 10
    """A window with fewer samples is not trained on (reported as a failure: the old model stays)."""
    wait_timeout_s: float = 60.0
    """Deterministic mode: the longest wall time to wait for a training at its effect time."""
    symbols: tuple[str, ...] = ()
    """Symbols whose samples train the model; empty: all recorded."""
    output_dir: str = ""
    """When set, every model that takes effect is stored there as ``<hash>.tfml``."""
    max_updates: int = 0
    """Models to train at most (0: unlimited). 1 freezes the first model: the baseline retraining is compared with.
    A training that failed does not count, so a frozen twin still gets its one model."""


class _Pending:
    """One submitted training: its trigger, window and future; ``late`` once a trigger found it still running."""

    __slots__ = ("future", "late", "samples", "trigger_ts", "version")

    def __init__(self, future: Future[TrainResult], trigger_ts: int, samples: int, version: int) -> None:
        self.future = future
        self.trigger_ts = trigger_ts
        self.samples = samples
        self.version = version
        self.late = False


class Retrainer:
    """Kernel component: retrains ``spec`` on ``recorder``'s window every interval through ``trainer``.

    ``inbox`` and ``now`` are needed in live mode only: where the result goes (the node's inbox, any thread) and
    the clock that stamps its arrival (the node's wall clock)."""

    def __init__(
        self,
        recorder: FeatureRecorder,
        spec: RetrainSpec,
        trainer: Trainer,
        config: RetrainConfig | None = None,
        *,
        inbox: InboxLike | None = None,
        now: Callable[[], int] | None = None,
    ) -> None:
        cfg = self.config = config or RetrainConfig()
        if cfg.interval_ns <= 0 or cfg.window_ns <= 0 or cfg.embargo_ns < 0:
            raise ConfigError("interval and window must be positive, embargo not negative", field="ml.retrain")
        if cfg.mode == "deterministic" and not 0 <= cfg.effect_delay_ns < cfg.interval_ns:
            raise ConfigError(
                f"effect delay {cfg.effect_delay_ns} ns must be in [0, interval {cfg.interval_ns} ns): a model "
                "would otherwise take effect after the next trigger",
                field="ml.retrain.effect_delay_ns",
            )
        if cfg.max_updates < 0:
            raise ConfigError(f"must not be negative, got {cfg.max_updates}", field="ml.retrain.max_updates")
        if cfg.mode == "live" and (inbox is None or now is None):
            raise ConfigError("live mode needs the node's inbox and its clock (now)", field="ml.retrain.mode")
        check_params(spec.kind, spec.params)
        self.recorder = recorder
        self.spec = spec
        self.trainer = trainer
        self._inbox = inbox
        self._now = now
        self._kernel: Kernel | None = None
        self._lock = threading.Lock()
        self._pending: _Pending | None = None
        self._ready: dict[str, bytes] = {}
        """Model bytes by hash, waiting for their ModelUpdated to be dispatched (live: filled on the pool's thread)."""
        self._models: dict[str, Model] = {}
        self._versions = 0
        self.triggers = 0
        self.last_accepted: TrainingSet | None = None
        """The last training set that passed the gate (for inspection)."""
        self.failures = 0
        self.updates = 0

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(ModelUpdated, self._on_model_updated)

    def on_start(self) -> None:
        kernel = self._kernel
        assert kernel is not None
        interval = self.config.interval_ns
        first = (kernel.now // interval + 1) * interval  # multiples of the interval: live and backtest alike
        kernel.set_timer(f"ml.retrain.{self.spec.model_id}", at=first, interval=interval, callback=self._on_trigger)

    def on_stop(self) -> None:
        return None

    # -- the model in force -------------------------------------------------------------------------------------

    def model(self, model_id: str) -> Model | None:
        """The model announced by the last dispatched ``ModelUpdated`` for ``model_id``, or None before the first."""
        return self._models.get(model_id)

    # -- trigger ------------------------------------------------------------------------------------------------

    def _on_trigger(self, fired: TimerFired) -> None:
        trigger = fired.ts_init
        self.triggers += 1
        with self._lock:
            pending = self._pending
            if pending is not None and not pending.future.done():
                pending.late = True
                self._pending = None
            else:
                pending = None
        if pending is not None:
            self._fail(pending.trigger_ts, "training not ready by the next trigger; none started at this one", trigger)
            return
        cfg = self.config
        if cfg.max_updates:
            with self._lock:
                announced = len(self._ready)
            if self.updates + announced >= cfg.max_updates:
                return  # frozen: the models asked for exist (or are on their way to being announced)
        self.train_on(self.recorder.training_set(trigger, cfg.window_ns, cfg.embargo_ns, cfg.symbols), trigger)

    def train_on(self, training: TrainingSet, trigger_ts: int) -> None:
        """Submits ``training`` for the retrain triggered at ``trigger_ts``: the gate refuses a set that knows of
        anything after it (``LookAheadError``, raised here, on the kernel's thread, before any trainer sees it)."""
        accepted = accept_training_set(training, trigger_ts)
        self.last_accepted = accepted
        if len(accepted) < self.config.min_samples:
            self._fail(trigger_ts, f"{len(accepted)} samples in the window, fewer than {self.config.min_samples}")
            return
        spec = self.spec
        future = self.trainer.submit(spec.kind, spec.params, accepted.X, accepted.y, spec.seed)
        self._versions += 1
        pending = _Pending(future, trigger_ts, len(accepted), self._versions)
        with self._lock:
            self._pending = pending
        kernel = self._kernel
        assert kernel is not None
        if self.config.mode == "deterministic":
            effect = trigger_ts + self.config.effect_delay_ns
            kernel.call_at(effect, self._take_effect, pending)
        else:
            future.add_done_callback(lambda done: self._arrived(pending, done))

    # -- deterministic: at trigger + delay ----------------------------------------------------------------------

    def _take_effect(self, pending: _Pending) -> None:
        with self._lock:
            if self._pending is pending:
                self._pending = None
        try:
            result = pending.future.result(timeout=self.config.wait_timeout_s)
        except FutureTimeout:
            self._fail(pending.trigger_ts, f"training not done within {self.config.wait_timeout_s} s of wall time")
            return
        if not result.ok:
            self._fail(pending.trigger_ts, f"training failed: {result.error}")
            return
        kernel = self._kernel
        assert kernel is not None
        self._ready[result.version] = result.model_bytes
        kernel.emit(self._event(pending, result, kernel.now, self.config.effect_delay_ns))

    # -- live: on the pool's thread -----------------------------------------------------------------------------

    def _arrived(self, pending: _Pending, done: Future[TrainResult]) -> None:
        """The future's done-callback, on the pool's thread: only the inbox and the lock are touched here."""
        assert self._inbox is not None and self._now is not None
        with self._lock:
            if self._pending is pending:
                self._pending = None
            late = pending.late
        if late:
            return  # already reported as not ready by the next trigger; a later model supersedes it
        stamp = self._now()
        if done.cancelled():
            self._inbox.put(self._failure(pending.trigger_ts, "training cancelled (the pool closed)", stamp))
            return
        result = done.result()
        if not result.ok:
            self._inbox.put(self._failure(pending.trigger_ts, f"training failed: {result.error}", stamp))
            return
        with self._lock:
            self._ready[result.version] = result.model_bytes
        self._inbox.put(self._event(pending, result, stamp, result.duration_ns))

    # -- dispatch: the swap -------------------------------------------------------------------------------------

    def _on_model_updated(self, event: ModelUpdated) -> None:
        if event.model_id != self.spec.model_id:
            return
        with self._lock:
            data = self._ready.pop(event.model_hash, None)
        if data is None:
            return  # announced by someone else (a replayed record): no bytes here to load
        try:
            model = model_from_bytes(data, expected_version=event.model_hash)
        except DataError as exc:
            self._fail(event.trigger_ts, f"model bytes refused: {exc}")
            return
        self._models[event.model_id] = model
        self.updates += 1
        if self.config.output_dir:
            folder = Path(self.config.output_dir)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{event.model_hash}{MODEL_SUFFIX}"
            if not path.exists():
                path.write_bytes(data)

    # -- events -------------------------------------------------------------------------------------------------

    def _event(self, pending: _Pending, result: TrainResult, stamp: int, duration_ns: int) -> ModelUpdated:
        trigger = pending.trigger_ts
        return ModelUpdated(
            ts_event=stamp,
            ts_init=stamp,
            model_id=self.spec.model_id,
            version=pending.version,
            train_start=max(0, trigger - self.config.window_ns),
            train_end=trigger,
            metrics=dict(result.metrics),
            model_hash=result.version,
            samples=result.n_samples,
            duration_ns=duration_ns,
            trigger_ts=trigger,
        )

    def _failure(self, trigger_ts: int, reason: str, stamp: int) -> ModelTrainingFailed:
        return ModelTrainingFailed(
            ts_event=stamp, ts_init=stamp, model_id=self.spec.model_id, reason=reason[:500], trigger_ts=trigger_ts
        )

    def _fail(self, trigger_ts: int, reason: str, stamp: int | None = None) -> None:
        """On the kernel's thread: the failure is an event now; the model in force stays."""
        kernel = self._kernel
        assert kernel is not None
        self.failures += 1
        kernel.emit(self._failure(trigger_ts, reason, kernel.now if stamp is None else stamp))
