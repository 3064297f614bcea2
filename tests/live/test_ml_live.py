"""``[ml]`` in ``tapeflow live``: the session's process pool retrains on a real ``tapeflow paper`` replay of the AAPL
LOBSTER day (10x), the results enter through the node's inbox, failures and late trainings leave the old model in
force while quotes and orders keep flowing, and every way out of the run leaves no worker process behind.

A small window at a fast replay: a sample every 200 ms, a 1 s label horizon, a 60 s window, a retrain every 10 s of
the tape's time (1 s of wall time). Faults are injected by wrapping the session's pool (``LiveSession(ml_trainer=)``):
a poisoned window really fails in the worker (its features are NaN: the model's fit refuses them), a slow one holds
its finished result back longer than the interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Literal, cast

import msgspec
import numpy as np
import pytest

from tapeflow.backtest.config import OutputConfig, StrategyConfig
from tapeflow.live import session as session_module
from tapeflow.live.config import LiveConfig, LiveSection, check_live_config, load_live_config
from tapeflow.live.session import LiveResult, LiveSession
from tapeflow.ml.config import MlSection
from tapeflow.ml.models import FloatArray, model_from_bytes
from tapeflow.ml.pool import TrainingPool, TrainResult, WarmReport
from tapeflow.ml.retrain import MODEL_SUFFIX
from tapeflow.model.errors import EngineError, VenueError

from .live_rig import FAST, KEYS, PaperProcess, audit_events, kinds, live_config, until
from .ml_watch import ModelWatcher

REPO = Path(__file__).resolve().parents[2]
WATCHER = Path(__file__).with_name("ml_watch.py")
S = 1_000_000_000
BAD = 3
"""The submission the fault tests spoil: the third, so that a model is in force before it."""
ML = MlSection(
    model_id="mid10",
    kind="ridge",
    sample_interval_ms=200,
    horizon_ms=1000,
    window_s=60,
    interval_s=10,
    min_samples=10,
)


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[PaperProcess]:
    """One ``tapeflow paper`` at 10x for the module: each session trades on where the tape has got to."""
    served = PaperProcess(tmp_path_factory.mktemp("paper"), data_dir, speed="10x")
    try:
        yield served
    finally:
        served.close()


class Faulty:
    """The session's pool with faults by submission number (1 = the first window submitted): ``poison`` trains on
    NaN features, so the fit raises in the worker; ``slow`` holds a finished result back this many wall seconds."""

    def __init__(self, pool: TrainingPool, *, poison: frozenset[int] = frozenset(), slow: Mapping[int, float] = {}):
        self.pool = pool
        self.poison = poison
        self.slow = dict(slow)
        self.submitted = 0
        self.clock: Callable[[], int] = lambda: 0
        """The kernel's event time (set once the node exists): at a submit, the trigger's time."""
        self.triggers: dict[int, int] = {}
        """Submission number -> the trigger it was submitted at."""
        self.held: dict[int, list[float]] = {}
        """Submission number -> [wall time submitted, wall time released] of the slowed ones."""

    def submit(
        self, kind: str, params: Mapping[str, object] | msgspec.Struct | None, xs: FloatArray, y: FloatArray, seed: int
    ) -> Future[TrainResult]:
        self.submitted += 1
        n = self.submitted
        self.triggers[n] = self.clock()
        if n in self.poison:
            xs = np.full_like(xs, np.nan)
        inner = self.pool.submit(kind, params, xs, y, seed)
        delay = self.slow.get(n)
        if delay is None:
            return inner
        span = self.held[n] = [time.monotonic()]
        outer: Future[TrainResult] = Future()

        def release(done: Future[TrainResult]) -> None:
            span.append(time.monotonic())
            if done.cancelled():
                outer.cancel()
            else:
                outer.set_result(done.result())

        def hold(done: Future[TrainResult]) -> None:
            timer = threading.Timer(max(0.0, span[0] + delay - time.monotonic()), release, (done,))
            timer.daemon = True
            timer.start()

        inner.add_done_callback(hold)
        return outer


def _config(paper: PaperProcess, tmp: Path) -> LiveConfig:
    cfg = live_config(paper, tmp, strategy=StrategyConfig(name=f"{WATCHER}:ModelWatcher", params={"every": 50}))
    cfg = msgspec.structs.replace(cfg, ml=ML, output=OutputConfig(dir=str(tmp / "out")))
    check_live_config(cfg)
    return cfg


def _session(cfg: LiveConfig, faulty: dict[str, Faulty] | None = None, **faults: object) -> LiveSession:
    def wrap(pool: TrainingPool) -> Faulty:
        made = Faulty(pool, **faults)  # type: ignore[arg-type]
        if faulty is not None:
            faulty["trainer"] = made
        return made

    session = LiveSession(cfg, KEYS, console=False, ml_trainer=wrap if faults else None)
    assert session.ml is not None
    if faulty is not None:
        kernel = session.node.kernel
        faulty["trainer"].clock = lambda: kernel.now
    _watcher(session).in_force = session.ml.retrainer.model
    return session


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _assert_gone(pids: tuple[int, ...], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, (
            f"pool workers still running after the run: {[p for p in pids if _alive(p)]}"
        )
        time.sleep(0.05)


def _drive(
    session: LiveSession,
    script: Callable[[LiveSession], Awaitable[None]],
    *,
    stop: Literal["graceful", "hard"] = "graceful",
    timeout: float = 90.0,
) -> tuple[LiveResult, tuple[int, ...]]:
    """Run ``session`` until ``script`` returns, then stop it (gracefully, or at once: two requests); the result and
    the pool's worker pids (each alive while the run was)."""

    async def main() -> tuple[LiveResult, tuple[int, ...]]:
        run = asyncio.ensure_future(session.run())
        try:
            await until(lambda: session.pool_warm is not None, "the pool to start", 10)
            assert session.pool_warm is not None
            warm = await asyncio.wait_for(asyncio.wrap_future(session.pool_warm), 60)
            assert warm.worker_pids and all(_alive(p) for p in warm.worker_pids)
            await asyncio.wait_for(script(session), timeout)
            assert not run.done(), f"the session ended by itself: {run.exception() or run.result()}"
            session.stop.request("test done")
            if stop == "hard":
                session.stop.request("test done, at once")
            return await asyncio.wait_for(run, 30), warm.worker_pids
        finally:
            if not run.done():
                run.cancel()

    return asyncio.run(main())


def _watcher(session: LiveSession) -> ModelWatcher:
    """The session's strategy (loaded from ml_watch.py by path, so a class of its own module object)."""
    watcher = session.strategy
    assert type(watcher).__name__ == "ModelWatcher"
    return cast(ModelWatcher, watcher)


def test_live_ml_models_arrive_through_the_inbox_measured_in_order_stored_by_hash_and_the_pool_closes_on_stop(
    paper: PaperProcess, tmp_path: Path
) -> None:
    session = _session(_config(paper, tmp_path))
    watcher = _watcher(session)

    async def three_models(_: LiveSession) -> None:
        await until(lambda: len(watcher.updates) >= 3, "three ModelUpdated", 60)

    result, pids = _drive(session, three_models)
    assert result.stop.how == "graceful"
    updates = watcher.updates
    assert len(updates) >= 3
    versions = [u.version for u in updates]
    assert versions == sorted(set(versions)), f"versions strictly increase: {versions}"
    for u in updates:
        assert u.model_id == "mid10" and u.samples >= ML.min_samples
        assert u.duration_ns > 0, "live: the training time is measured, not configured"
        assert u.trigger_ts % (ML.interval_s * S) == 0, "the retrain timer runs on the node's (the tape's) time"
        assert u.train_end == u.trigger_ts and u.train_start == u.trigger_ts - ML.window_s * S
        # on the venue's clock the tape's time stands still between market events: the model comes after its trigger
        # (the wall-clock test below checks trigger + measured duration)
        assert u.ts_init >= u.ts_event >= u.trigger_ts
        stored = tmp_path / "out" / "models" / f"{u.model_hash}{MODEL_SUFFIX}"
        assert model_from_bytes(stored.read_bytes(), expected_version=u.model_hash).version == u.model_hash
    # the ML parts run before the strategy: its own handler already predicts with the announced model
    assert watcher.seen_in_force == [u.model_hash for u in updates]
    assert session.ml is not None and session.ml.retrainer.updates == len(updates)
    recorded = kinds(audit_events(tmp_path / "audit.db"))
    assert recorded.get("ModelUpdated", 0) == len(updates)
    assert result.ml == {
        "model_id": "mid10",
        "triggers": session.ml.retrainer.triggers,
        "updates": len(updates),
        "failures": len(watcher.failures),
        "pool_restarts": 0,
    }
    assert recorded.get("ModelTrainingFailed", 0) == len(watcher.failures)
    _assert_gone(pids)


def _in_force_before(watcher: ModelWatcher, trigger_ts: int) -> str:
    """The hash of the last model announced for a trigger before ``trigger_ts`` (there must be one)."""
    before = [u for u in watcher.updates if u.trigger_ts < trigger_ts]
    assert before, "a model was in force before the faulty window"
    return before[-1].model_hash


def test_live_ml_training_that_fails_in_the_worker_keeps_the_old_model_while_quotes_and_orders_continue(
    paper: PaperProcess, tmp_path: Path
) -> None:
    made: dict[str, Faulty] = {}
    session = _session(_config(paper, tmp_path), made, poison=frozenset({BAD}))
    watcher = _watcher(session)

    def failed() -> list[int]:
        trigger = made["trainer"].triggers.get(BAD)
        return [i for i, f in enumerate(watcher.failures) if f.trigger_ts == trigger]

    async def failure_then_recovery(_: LiveSession) -> None:
        await until(lambda: failed() and watcher.updates and watcher.updates[-1].version > BAD, "recovery", 60)
        fills = len(watcher.fills)
        await until(lambda: len(watcher.fills) > fills, "a fill after the failure", 30)

    result, pids = _drive(session, failure_then_recovery)
    (i,) = failed()
    failure = watcher.failures[i]
    assert failure.reason.startswith("training failed: DataError") and "not finite" in failure.reason, failure.reason
    # the failure changed nothing: the model announced before it was still in force when the failure was handled
    assert watcher.failed_in_force[i] == _in_force_before(watcher, failure.trigger_ts)
    assert all(u.version != BAD for u in watcher.updates), "the poisoned window never became a model"
    assert result.ml["failures"] == len(watcher.failures) >= 1
    assert [u for u in watcher.updates if u.trigger_ts > failure.trigger_ts], "retraining went on after the failure"
    assert result.feed["malformed"] == 0
    _assert_gone(pids)


def test_live_ml_training_slower_than_the_interval_is_reported_late_while_events_flow_and_a_hard_stop_ends_the_pool(
    paper: PaperProcess, tmp_path: Path
) -> None:
    made: dict[str, Faulty] = {}
    session = _session(_config(paper, tmp_path), made, slow={BAD: 3.0})
    watcher = _watcher(session)

    def late() -> list[int]:
        trigger = made["trainer"].triggers.get(BAD)
        return [i for i, f in enumerate(watcher.failures) if f.trigger_ts == trigger]

    async def late_then_next(_: LiveSession) -> None:
        await until(lambda: late() and watcher.updates and watcher.updates[-1].version > BAD, "a model after", 60)
        await until(lambda: len(made["trainer"].held[BAD]) == 2, "the slow result's release", 10)

    result, pids = _drive(session, late_then_next, stop="hard")
    assert result.stop.how == "hard"
    (i,) = late()
    reported = watcher.failures[i]
    assert reported.reason.startswith("training not ready by the next trigger"), reported.reason
    assert watcher.failed_in_force[i] == _in_force_before(watcher, reported.trigger_ts), "the old model stays"
    assert all(u.version != BAD for u in watcher.updates), "the late result is dropped when it finally arrives"
    started, released = made["trainer"].held[BAD]
    during = [w for w in watcher.quote_walls if started < w < released]
    assert len(during) > 10, f"quotes kept being handled while the training was out: {len(during)}"
    _assert_gone(pids)


def test_live_ml_on_the_wall_clock_stamps_each_model_after_its_trigger_plus_its_measured_training_time(
    paper: PaperProcess, tmp_path: Path
) -> None:
    """Against Alpaca the node's clock is the wall's: the retrain timer fires on it, and a model's stamp is its
    arrival, at least its trigger plus the training time the worker measured."""
    cfg = _config(paper, tmp_path)
    cfg = msgspec.structs.replace(
        cfg,
        live=msgspec.structs.replace(cfg.live, clock="wall"),
        ml=msgspec.structs.replace(ML, interval_s=1, effect_delay_ms=0),
    )
    check_live_config(cfg)
    session = _session(cfg)
    watcher = _watcher(session)

    async def three_models(_: LiveSession) -> None:
        await until(lambda: len(watcher.updates) >= 3, "three ModelUpdated", 30)

    started = time.time_ns()
    result, pids = _drive(session, three_models)
    assert result.clock == "wall"
    for u in watcher.updates:
        assert started < u.trigger_ts < time.time_ns() and u.trigger_ts % S == 0, "today's wall time, whole seconds"
        assert u.duration_ns > 0
        assert u.ts_init >= u.ts_event >= u.trigger_ts + u.duration_ns, "the model comes after trigger + training"
    assert watcher.seen_in_force == [u.model_hash for u in watcher.updates]
    _assert_gone(pids)


@contextlib.contextmanager
def _nowhere() -> Iterator[LiveConfig]:
    """A configuration whose paper venue is a loopback port held bound, never listening, while it is used: connecting
    is refused (a port bound and released at once could meet another process's listener)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        yield LiveConfig(
            live=LiveSection(url=f"http://127.0.0.1:{port}", symbols=("AAPL",), backoff=FAST),
            strategy=StrategyConfig(name=f"{WATCHER}:ModelWatcher"),
            ml=ML,
        )


def test_live_ml_run_that_cannot_start_still_closes_the_pool() -> None:
    async def main(session: LiveSession) -> tuple[int, ...]:
        with pytest.raises(VenueError, match="cannot start"):
            await asyncio.wait_for(session.run(), 60)
        assert session.pool_warm is not None and session.pool_warm.done()
        return session.pool_warm.result().worker_pids

    with _nowhere() as cfg:
        pids = asyncio.run(main(LiveSession(cfg, KEYS, console=False)))
    assert pids, "the workers had started (warming) when the run failed"
    _assert_gone(pids)


class NeverStarts(TrainingPool):
    """A pool whose workers cannot start (as when the model libraries fail to import in them)."""

    def start(self) -> Future[WarmReport]:
        failed: Future[WarmReport] = Future()
        failed.set_exception(ImportError("No module named 'sklearn'"))
        return failed


def test_live_ml_run_whose_pool_cannot_start_stops_before_it_reads_the_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "TrainingPool", NeverStarts)

    async def main(session: LiveSession) -> None:
        # nothing listens at the venue's address: reading the account first would have raised a VenueError
        with pytest.raises(EngineError, match="the training pool did not start: ImportError"):
            await asyncio.wait_for(session.run(), 30)

    with _nowhere() as cfg:
        session = LiveSession(cfg, KEYS, console=False)
        asyncio.run(main(session))
    assert isinstance(session.pool, NeverStarts)


def test_the_live_ml_example_loads_and_passes_the_live_checks() -> None:
    cfg = load_live_config(REPO / "examples" / "live_ml_paper.toml")
    assert cfg.ml is not None and cfg.ml.trainer == "pool" and cfg.live.venue == "paper"
    check_live_config(cfg)
