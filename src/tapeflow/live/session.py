"""One ``tapeflow live`` run: the trading node between a venue's order API, its market data and an operator.

What runs where (the seed's concurrency, made concrete):

- the event loop (this thread): the market data socket (``AlpacaMarketFeed``), the ``trade_updates`` socket
  (``AlpacaVenue.run_stream``), the control socket (``ControlServer``), the console, the dashboard's server
  (``--dashboard``, ``tapeflow.live.dashboard``), the signal handlers, and the kernel itself, fed one arrival at a
  time by ``run_live``;
- a thread: REST calls to the venue (``OrderSender``: orders in FIFO order, reconciliation between them), so the
  loop never waits on a request;
- a process: the audit trail's writer (``compliance/writer_process.py``), which commits to SQLite off the loop;
- with an ``[ml]`` section, a pool of processes (``tapeflow.ml.pool.TrainingPool``, forkserver, warmed when the run
  starts): the retrainer's timer fires in the node's time, submits the window and returns; the pool's thread puts
  the ``ModelUpdated`` (or ``ModelTrainingFailed``) into the inbox, stamped by the node's clock, so the loop never
  waits on a fit. Every way out of ``run`` (graceful stop, hard stop, error) closes the pool without waiting for a
  training, and a worker still busy after a short grace is terminated: no process outlives the run.

Everything that is not market data (order reports, reconciliations, operator commands) enters the kernel through
the node's inbox. Start-up order matters: the venue's account is read (start reconciliation) and restored into the
node before the first market event, so a restarted node knows its open orders and positions before it can decide
anything; the risk engine refuses orders until the ``trade_updates`` stream is up (``VenueConnected``).

The node's clock is the wall clock, or for the paper venue the venue's (``tapeflow.live.venue_clock``): a replayed
2012 day keeps its session times.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Final, TextIO

import msgspec
from rich.console import Console

from tapeflow.backtest.sources import build_strategy
from tapeflow.compliance.audit import AuditTrail
from tapeflow.compliance.stp import StpMode
from tapeflow.engine.clock import LiveClock
from tapeflow.engine.inbox import Inbox
from tapeflow.execution.order_ids import new_run_id
from tapeflow.live.alpaca_venue import AlpacaVenue
from tapeflow.live.clock import RealTimeClock, WallClock
from tapeflow.live.config import LiveConfig
from tapeflow.live.console import LiveConsole
from tapeflow.live.control import Control, ControlServer
from tapeflow.live.control_desk import ControlDesk
from tapeflow.live.dashboard import Dashboard, DashboardConfig, build_dashboard
from tapeflow.live.dashboard_state import RecentSignals
from tapeflow.live.keys import Keys
from tapeflow.live.market_config import MarketFeedConfig
from tapeflow.live.market_feed import AlpacaMarketFeed, regular_hours
from tapeflow.live.node import LiveNode
from tapeflow.live.shutdown import GracefulStop, StopOutcome
from tapeflow.live.snapshot import Monitors, NodeSnapshot
from tapeflow.live.venue_clock import Arrivals, TickToTradeBridge, VenueClock, on_venue_time
from tapeflow.ml.config import MlParts, build_ml
from tapeflow.ml.pool import TrainingPool, WarmReport
from tapeflow.ml.retrain import Trainer
from tapeflow.model.errors import EngineError, VenueError
from tapeflow.model.events import ModelTrainingFailed
from tapeflow.model.sessions import calendar_for
from tapeflow.model.venue_state import VenueState
from tapeflow.node import NodeConfig
from tapeflow.portfolio import PortfolioConfig

VENUE: Final = "alpaca"
"""The venue name orders and status events carry (the paper venue speaks Alpaca's API: the same adapter)."""
POOL_GRACE_S: Final = 2.0
"""After a graceful stop, how long a training still running may finish before its worker is terminated."""
WARM_WAIT_S: Final = 30.0
"""The longest wait for the pool's workers to warm (import scikit-learn and river): at start, before the node
trades, and at a stop that came while they still warmed (to learn their ids)."""


class LiveResult(msgspec.Struct, kw_only=True):
    """What a finished run tells its caller (the CLI prints it; ``--json`` writes it as one object)."""

    run_id: str
    venue: str
    clock: str
    stop: StopOutcome
    summary: dict[str, Any]
    engine: dict[str, Any]
    feed: dict[str, Any]
    orders: dict[str, Any]
    last: NodeSnapshot | None = None
    ml: dict[str, Any] = {}
    """With ``[ml]``: the model's id and how many retrains were triggered, took effect and failed."""


class LiveSession:
    """Builds the node, the adapters and the operator's levers from a ``LiveConfig``, then runs them (``run``).

    ``out``: where the console draws (None: stdout; ``console=False``: nothing is drawn); ``wall``: the wall clock
    (tests inject one); ``dashboard``: serve the live dashboard (``tapeflow.live.dashboard``) while the run lasts;
    ``ml_trainer``: what the retrainer submits to, given the session's pool (default the pool itself; tests wrap it
    to inject failing or slow trainings)."""

    def __init__(
        self,
        cfg: LiveConfig,
        keys: Keys,
        *,
        json_out: bool = False,
        out: TextIO | Console | None = None,
        console: bool = True,
        wall: WallClock | None = None,
        dashboard: DashboardConfig | None = None,
        ml_trainer: Callable[[TrainingPool], Trainer] | None = None,
    ) -> None:
        self.cfg = cfg
        live = cfg.live
        self.endpoints = live.endpoints()
        self.venue_time = live.node_clock == "venue"
        self.wall: WallClock = wall if wall is not None else RealTimeClock(LiveClock())
        self.run_id = live.run_id or new_run_id(self.wall.now())
        self.strategy = build_strategy(cfg.strategy)
        self.inbox = Inbox()
        self.monitors = Monitors()
        self.desk = ControlDesk()
        self.recent = RecentSignals() if dashboard is not None else None
        self.stop = GracefulStop(cancel_orders=live.cancel_on_stop, ack_timeout_s=live.stop_timeout_s)
        self.venue_clock = VenueClock() if self.venue_time else None
        self.arrivals = Arrivals() if self.venue_time else None
        meter = self.monitors.tick_to_trade
        self.bridge = TickToTradeBridge(self.arrivals, meter.record) if self.arrivals is not None else None
        node_now = self.venue_clock.now if self.venue_clock is not None else self.wall.now
        self.venue = AlpacaVenue(
            base_url=self.endpoints.trading,
            stream_url=self.endpoints.trade_stream,
            key=keys.key_id,
            secret=keys.secret_key,
            inbox=self.inbox,
            strategies=[self.strategy.strategy_id],
            name=VENUE,
            stream_backoff=live.backoff,
            seed=live.seed,
            on_written=self.bridge.on_written if self.bridge is not None else meter.on_written,
            clock=node_now,
        )
        bt = cfg.as_backtest()
        self.pool: TrainingPool | None = None
        self.pool_warm: Future[WarmReport] | None = None
        """Completes with the worker pids once every worker is up and warmed (set by ``run``)."""
        self.ml: MlParts | None = None
        if cfg.ml is not None:
            self.pool = TrainingPool(cfg.ml.workers)  # no process yet: the workers start with the run
            self.ml = build_ml(
                cfg.ml,
                mode="live",
                trainer=self.pool if ml_trainer is None else ml_trainer(self.pool),
                inbox=self.inbox,
                now=node_now,  # the node's clock: the venue's replayed time or the wall's, as the kernel's
                output_dir=str(Path(cfg.output.dir) / "models") if cfg.output.dir is not None else "",
            )
        self.audit = None if cfg.audit.path is None else AuditTrail.open(cfg.audit.path, key=cfg.audit.key())
        self.node = LiveNode(
            [self.strategy],
            config=NodeConfig(
                level="L1",
                exchange=cfg.exchange,
                portfolio=PortfolioConfig(
                    starting_cash=cfg.portfolio.capital_units(),
                    sample_interval_ns=cfg.portfolio.sample_interval_ms * 1_000_000,
                    sample_clock="data" if self.venue_time else "timer",
                ),
                risk=bt.risk_config(),
                stp=None if cfg.stp.mode == "off" else StpMode(cfg.stp.mode),
                returns_period=cfg.portfolio.returns_period,
            ),
            venues=[self.venue],
            run_id=self.run_id,
            wall=self.venue_clock if self.venue_clock is not None else self.wall,
            risk_rules=[self.stop.desk],
            extra=[*self.monitors.components, self.desk, self.stop.desk, *([self.recent] if self.recent else [])],
            audit=self.audit,
            inbox=self.inbox,
            before_strategies=self.ml.components if self.ml is not None else (),
        )
        self.desk.bind(self.node.node)
        self.ml_failures = 0
        """``ModelTrainingFailed`` events dispatched (the retrainer's own count misses those its pool thread posts)."""
        if self.ml is not None:
            self.node.kernel.subscribe(ModelTrainingFailed, self._count_ml_failure)
        calendar = calendar_for(cfg.exchange.calendar, "exchange.calendar")
        self.feed = AlpacaMarketFeed(
            MarketFeedConfig(
                url=self.endpoints.data_stream,
                symbols=live.symbols,
                channels=live.channels,
                rest_url=self.endpoints.data_rest,
                feed=live.feed,
                venue=VENUE,
                stale_after=live.stale_after_s,
                reconnect_after=max(live.silent_reconnect_s - live.stale_after_s, 0.1),  # silent_reconnect_s in all
                backoff=live.backoff,
                backfill_lookback=live.backfill_lookback_s,
            ),
            key=keys.key_id,
            secret=keys.secret_key,
            wall=self.wall,
            # the paper venue's tape is "the market" while it plays; Alpaca's feed is judged by the real session
            is_open=(lambda ts: True) if self.venue_time else regular_hours(calendar),
            seed=live.seed,
        )
        self.snapshots = self.monitors.builder(self.node.node, clock=None if self.venue_time else self.wall)
        self.console = LiveConsole(self.snapshots.take, wall=self.wall, json=json_out, out=out) if console else None
        self.control: ControlServer | None = None
        if live.control_socket is not None:
            self.control = ControlServer(
                Control(unix=live.control_socket),
                inbox=self.inbox,
                desk=self.desk,
                on_stop=self.stop.request,
                now=node_now,
            )
        self.dashboard: Dashboard | None = None
        if dashboard is not None:  # last: it binds its port now, so nothing after it can fail and leave it bound
            self.dashboard = build_dashboard(
                dashboard,
                snapshot=self.monitors.builder(self.node.node, clock=None if self.venue_time else self.wall).take,
                recent=self.recent,
                inbox=self.inbox,
                desk=self.desk,
                now=node_now,
                run_id=self.run_id,
                venue=live.venue,
            )

    async def run(self) -> LiveResult:
        """Start (account read and restored, streams up, control socket open), trade until the feed ends or a stop
        is asked for (signal, control socket), then stop everything in reverse order."""
        if self.pool is not None:
            self.pool_warm = self.pool.start()
        outcome: StopOutcome | None = None
        try:
            outcome = await self._run()
        finally:  # graceful: a running training may finish; a hard stop or an error: at once
            await self._close_pool(POOL_GRACE_S if outcome is not None and outcome.how != "hard" else 0.0)
        return self.result(outcome)

    async def _run(self) -> StopOutcome:
        try:
            # the pool warms before the account is read, so the state restored here is current when trading starts
            await self._pool_warmed()
            state = await asyncio.to_thread(self._start_venue)
        except BaseException:
            if self.dashboard is not None:
                await self.dashboard.close()  # its port was bound when the session was built
            raise
        stream: asyncio.Task[None] | None = None
        try:
            if self.venue_clock is not None:
                if not state.ts:
                    raise VenueError(f"{self.endpoints.trading}/v2/clock gave no time: the node cannot start")
                self.venue_clock.advance(state.ts)  # the node starts on the venue's day, not at 1970
            self.node.restore(state)
            stream = asyncio.create_task(self.venue.run_stream(), name="trade_updates")
            source = (
                on_venue_time(self.feed, self.venue_clock, self.arrivals) if self.venue_clock is not None else self.feed
            )
            if self.control is not None:
                await self.control.start()
            if self.dashboard is not None:
                await self.dashboard.start()
            running = self.stop.run(self.node, source, realtime=True, stamp="source")
            return await (self.console.run_with(running) if self.console is not None else running)
        finally:
            self.feed.close()
            if self.dashboard is not None:
                await self.dashboard.close()
            if self.control is not None:
                await self.control.close()
            if stream is not None:
                await self.venue.stop_stream()
                with contextlib.suppress(asyncio.CancelledError):
                    await stream
            await asyncio.to_thread(self.venue.stop)

    async def _pool_warmed(self) -> None:
        """Wait (bounded) until every worker has imported the model libraries: a first retrain queued behind the
        warming would be reported late, and a pool that cannot start must stop the run before it trades."""
        if self.pool_warm is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self.pool_warm)), WARM_WAIT_S)
        except TimeoutError as exc:
            raise EngineError(f"the training pool's workers were not up within {WARM_WAIT_S:.0f} s") from exc
        except Exception as exc:  # whatever a worker raised while starting: the run must not trade without it
            raise EngineError(f"the training pool did not start: {type(exc).__name__}: {exc}") from exc

    async def _close_pool(self, grace_s: float) -> None:
        """Close the training pool without waiting on the loop: queued trainings are cancelled, idle workers exit;
        one still fitting gets ``grace_s`` to finish, then is terminated (its result would arrive after the run)."""
        pool = self.pool
        if pool is None:
            return
        pool.close(wait=False)
        pids: tuple[int, ...] = ()
        if self.pool_warm is not None:
            # a run that failed at once may close the pool while its workers still warm: learn their ids first
            with contextlib.suppress(Exception):
                warmed = asyncio.wrap_future(self.pool_warm)
                pids = (await asyncio.wait_for(asyncio.shield(warmed), WARM_WAIT_S)).worker_pids
        deadline = time.monotonic() + grace_s
        while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _start_venue(self) -> VenueState:
        """The start reconciliation (``AlpacaVenue.start``), with a failure said in the user's terms."""
        try:
            return self.venue.start()
        except VenueError as exc:
            self.venue.stop()
            hint = "is `tapeflow paper` running there?" if self.cfg.live.venue == "paper" else "check the keys"
            raise VenueError(f"cannot start on {self.endpoints.trading} ({exc}); {hint}") from exc

    def result(self, outcome: StopOutcome) -> LiveResult:
        node = self.node
        sender = self.venue.sender
        return LiveResult(
            run_id=self.run_id,
            venue=self.cfg.live.venue,
            clock=self.cfg.live.node_clock,
            stop=outcome,
            summary=msgspec.to_builtins(node.summary()),
            engine=node.stats(),
            feed=msgspec.to_builtins(self.feed.quality()),
            orders={
                "requests": sender.requests,
                "retries": sender.retries,
                "given_up": sender.given_up,
                "errors": list(self.venue.errors),
            },
            last=self.snapshots.take(),
            ml={} if self.ml is None else self._ml_counts(),
        )

    def _count_ml_failure(self, _: ModelTrainingFailed) -> None:
        self.ml_failures += 1

    def _ml_counts(self) -> dict[str, Any]:
        assert self.ml is not None and self.pool is not None
        retrainer = self.ml.retrainer
        return {
            "model_id": retrainer.spec.model_id,
            "triggers": retrainer.triggers,
            "updates": retrainer.updates,
            "failures": self.ml_failures,
            "pool_restarts": self.pool.restarts,
        }


def _alive(pid: int) -> bool:
    """Whether a process with this id still exists (the forkserver reaps its workers, so an exited one is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
