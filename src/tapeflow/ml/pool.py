"""The training pool: models are fitted in other processes, the loop only ever holds futures.

A retrain of a 60-minute window takes from milliseconds (Ridge) to seconds (gradient boosting); on the event loop
that would be a stall in which quotes queue and orders go stale. ``TrainingPool`` runs each training in a
``ProcessPoolExecutor`` (a process, not a thread: the GIL would stall the loop just the same) and hands back a
``Future[TrainResult]`` at once; the caller (the retrain scheduler) moves the result into the node's inbox when
it completes.

Why forkserver: fork copies a process that may already run threads (the live node's feed and REST threads), and a
lock held by one of them at the fork stays locked forever in the child. Forkserver forks workers from a clean
single-threaded server instead.

Why warm: a fresh worker spends seconds importing scikit-learn and river, so the first retrain of a session would
report a training time several times its real one and arrive late. Each worker runs ``_warm_worker`` when it
starts (it imports both and fits one tiny model of every kind), and ``start()`` brings every worker up at once.
``TrainResult.modules_imported`` counts the modules a task had to import, so a test can prove the warming by a
count (0 after warming) rather than by a timing on a busy machine.

A training that raises comes back as a failed ``TrainResult`` (``ok`` false, ``error`` the message), never as a
dead worker or a broken pool: one bad window must not end model updates for the session. A worker that dies
(killed, out of memory) fails its training the same way, and the next submit brings up a fresh executor.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import msgspec
import numpy as np

from tapeflow.ml.models import KINDS, FloatArray, check_params, make_model
from tapeflow.model.errors import ConfigError

_WARM_ROWS = 64


class TrainResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one training sends back across the process boundary.

    ``duration_ns`` is the wall time of the fit and serialisation measured in the worker (what a live
    ModelUpdated adds to the trigger time); ``modules_imported`` is how many modules the task imported (0 in a
    warmed worker).
    """

    ok: bool
    kind: str
    seed: int
    n_samples: int
    duration_ns: int
    worker_pid: int
    model_bytes: bytes = b""
    version: str = ""
    metrics: dict[str, float] = msgspec.field(default_factory=dict)
    error: str = ""
    modules_imported: int = 0


class WarmReport(msgspec.Struct, frozen=True):
    """Which worker processes are up and warmed (one entry per worker)."""

    worker_pids: tuple[int, ...]


def _warm_worker() -> None:
    """Runs once in every worker as it starts: imports scikit-learn and river by fitting a tiny model of each
    kind, so that no real training pays for the imports."""
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(_WARM_ROWS, 2))
    y = xs @ np.array([1.0, -1.0])
    for kind in KINDS:
        model = make_model(kind, None, seed=0)
        model.fit(xs, y)
        model.predict(xs[0])
        model.to_bytes()


def _worker_pid() -> int:
    return os.getpid()


def train(kind: str, params: Mapping[str, object], xs: FloatArray, y: FloatArray, seed: int) -> TrainResult:
    """One training, in the worker. Every exception becomes a failed result: the pool outlives a bad window."""
    before = len(sys.modules)
    start = time.perf_counter_ns()
    try:
        model = make_model(kind, params, seed=seed)
        metrics = model.fit(xs, y)
        data = model.to_bytes()
        version = model.version
    except Exception as exc:  # the boundary: whatever a model raises is reported, never kills the worker
        return TrainResult(
            ok=False,
            kind=kind,
            seed=seed,
            n_samples=len(y),
            duration_ns=time.perf_counter_ns() - start,
            worker_pid=os.getpid(),
            error=f"{type(exc).__name__}: {exc}",
            modules_imported=len(sys.modules) - before,
        )
    return TrainResult(
        ok=True,
        kind=kind,
        seed=seed,
        n_samples=len(y),
        duration_ns=time.perf_counter_ns() - start,
        worker_pid=os.getpid(),
        model_bytes=data,
        version=version,
        metrics=metrics,
        modules_imported=len(sys.modules) - before,
    )


class TrainingPool:
    """A warmed forkserver process pool for trainings; created once per node, ``close()`` at stop.

    ``warm=False`` leaves the workers cold (only for measuring what warming saves).
    """

    def __init__(self, workers: int = 1, *, warm: bool = True) -> None:
        if workers < 1:
            raise ConfigError(f"the training pool needs at least 1 worker, got {workers}", field="workers")
        self.workers = workers
        self.warm = warm
        self.restarts = 0
        self._executor = self._new_executor()
        self._closed = False

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_warm_worker if self.warm else None,
        )

    def start(self) -> Future[WarmReport]:
        """Brings every worker up (each warms itself as it starts); the future completes when all are warm.
        Never blocks: the caller may train at once, a training simply queues behind the warming."""
        pending = [self._executor.submit(_worker_pid) for _ in range(self.workers)]
        done: Future[WarmReport] = Future()
        remaining = [len(pending)]

        def collect(_: Future[int]) -> None:
            remaining[0] -= 1
            if remaining[0] > 0 or done.done():
                return
            failed = next((f.exception() for f in pending if f.exception() is not None), None)
            if failed is not None:
                done.set_exception(failed)
            else:
                done.set_result(WarmReport(tuple(sorted({f.result() for f in pending}))))

        for future in pending:
            future.add_done_callback(collect)
        return done

    def submit(
        self,
        kind: str,
        params: Mapping[str, object] | msgspec.Struct | None,
        xs: FloatArray,
        y: FloatArray,
        seed: int,
    ) -> Future[TrainResult]:
        """Queues one training and returns at once. Kind and params are checked here (a ConfigError now, in the
        caller, rather than a failed result later); xs and y are copied to the worker as they are now.

        The future always ends in a ``TrainResult`` (or is cancelled by ``close``): a worker that died (killed,
        out of memory) is a failed result too, and the next submit replaces the broken executor with a fresh
        warmed one. Done-callbacks run on the executor's own thread: hand the result to the node's inbox there.
        """
        if self._closed:
            raise ConfigError("the training pool is closed", field="pool")
        typed = check_params(kind, params)
        builtins: dict[str, object] = msgspec.to_builtins(typed)
        try:
            inner = self._executor.submit(train, kind, builtins, xs, y, seed)
        except BrokenProcessPool:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            self.restarts += 1
            inner = self._executor.submit(train, kind, builtins, xs, y, seed)
        outer: Future[TrainResult] = Future()

        def relay(done: Future[TrainResult]) -> None:
            if done.cancelled():
                outer.cancel()
                return
            failure = done.exception()
            if failure is None:
                outer.set_result(done.result())
                return
            outer.set_result(
                TrainResult(
                    ok=False,
                    kind=kind,
                    seed=seed,
                    n_samples=len(y),
                    duration_ns=0,
                    worker_pid=0,
                    error=f"{type(failure).__name__}: {failure}",
                )
            )

        inner.add_done_callback(relay)
        return outer

    def close(self, *, wait: bool = True) -> None:
        """Stops the workers; queued trainings are cancelled (their results would arrive after the node)."""
        self._closed = True
        self._executor.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> TrainingPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
