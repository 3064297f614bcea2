"""The whole paper venue in one process: a venue over a configured tape, its REST API, both streams, and its pace.

``PaperServer`` wires what ``app``, ``trade_stream`` and ``data_stream`` provide: the hubs go into the venue (the
venue publishes on them) and their routes into the app. ``serve`` runs it on the current thread's event loop, so
the pacing task (``pace``), the REST handlers and the hubs share one loop and the venue is only ever stepped from
it, as the hubs require.

In ``Nx`` mode ``pace`` advances the venue to ``tape start + elapsed wall time x N`` every few milliseconds. The
wall clock and the sleep are parameters, so a test drives hours of tape with a fake clock in no time.

With ``journal`` (``tapeflow paper --journal FILE``) the venue's calls are journaled (``tapeflow.paper.journal``)
and a journal already there is replayed first: a server killed in any way (SIGKILL included) and started again with
the same configuration and journal serves the same orders, positions and account, at the same tape time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import uvicorn

from tapeflow.model.errors import ConfigError
from tapeflow.paper.app import LOOPBACK_HOST, base_url, create_app, listen, serve_config
from tapeflow.paper.auth import Check
from tapeflow.paper.config import PaperConfig, build_tape, parse_speed
from tapeflow.paper.data_stream import MarketDataHub, data_stream_route
from tapeflow.paper.faults import Faults, Hub
from tapeflow.paper.journal import Journal, Replayed
from tapeflow.paper.trade_stream import TradeUpdateHub, trade_stream_route
from tapeflow.paper.venue import PaperVenue

TICK_S = 0.01
"""How often ``pace`` steps the venue: often enough that a client sees time move smoothly, rarely enough that the
loop spends its time serving requests."""


@dataclass(frozen=True)
class Urls:
    """What to give a client: alpaca-py's ``TradingClient``, ``TradingStream`` and ``StockDataStream``."""

    rest: str
    trade_stream: str
    data_stream: str


def urls(host: str, port: int) -> Urls:
    base = base_url(host, port)
    ws = "ws" + base.removeprefix("http")
    return Urls(rest=base, trade_stream=f"{ws}/stream", data_stream=f"{ws}/v2/iex")


class PaperServer:
    """A venue over ``cfg``'s tape with both hubs, served on ``host`` (127.0.0.1 unless asked) and ``port``."""

    def __init__(
        self,
        cfg: PaperConfig,
        *,
        check: Check,
        host: str = LOOPBACK_HOST,
        port: int = 0,
        admin_token: str | None = None,
        journal: Path | None = None,
    ) -> None:
        """``admin_token``: serve the faults admin route (``tapeflow.paper.faults``) to loopback callers with it.
        ``journal``: record the venue's calls there, after replaying what it already holds (see the module)."""
        if not host:
            raise ConfigError("the host to bind is empty; the default is 127.0.0.1", field="--host")
        self.speed = parse_speed(cfg.paper.speed)
        self.speed_text = cfg.paper.speed.strip().lower()
        tape, self.level = build_tape(cfg)
        names = ", ".join(Path(p).name for p in cfg.data.paths[:3]) + (" and more" if len(cfg.data.paths) > 3 else "")
        self.tape_name = f"{cfg.data.kind} ({self.level})" + (f": {names}" if names else "")
        self.trade_hub = TradeUpdateHub()
        self.data_hub = MarketDataHub()
        self.venue = PaperVenue(
            tape,
            config=cfg.node_config(self.level),
            seed=cfg.paper.seed,
            trade_hub=self.trade_hub,
            data_hub=self.data_hub,
            symbols=cfg.data.symbols,
        )
        self.journal: Journal | None = None
        self.replayed = Replayed(0, 0)
        if journal is not None:
            self.journal, self.replayed = Journal.open(journal, self.venue)
        routes = [trade_stream_route(self.trade_hub, check), data_stream_route(self.data_hub, check)]
        self.restart_requested = False
        """Set by the ``restart`` fault: ``serve`` has returned so that the command can start its process again."""
        hubs: dict[str, Hub] = {"trade_updates": self.trade_hub, "data": self.data_hub}
        on_restart = self._restart if self.journal is not None else None
        self.faults = Faults(hubs=hubs, on_restart=on_restart) if admin_token is not None else None
        self.app = create_app(self.venue, check=check, extra_routes=routes, admin_token=admin_token, faults=self.faults)
        self.server = uvicorn.Server(serve_config(self.app, host=host, port=port))
        try:
            self.sock = listen(host, port, field="--port")
        except ConfigError:
            if self.journal is not None:
                self.journal.close()
            raise
        self.urls = urls(host, self.sock.getsockname()[1])
        self.tape_ended = False

    async def serve(self, *, on_started: Callable[[], None] | None = None) -> None:
        """Serve until asked to stop (``server.should_exit``, a signal) or, when paced, until the tape ends."""
        pacer: asyncio.Task[None] | None = None
        if self.speed is not None:
            pacer = asyncio.create_task(self._pace_then_stop())
        notify = None if on_started is None else asyncio.create_task(self._when_started(on_started))
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            for task in (pacer, notify):
                if task is not None:
                    task.cancel()
            self.sock.close()
            if self.journal is not None:
                self.journal.close()
        failed = pacer.exception() if pacer is not None and pacer.done() and not pacer.cancelled() else None
        if failed is not None:
            raise failed

    def _restart(self) -> None:
        """The ``restart`` fault: stop serving (uvicorn answers what is in flight first, the fault's POST included);
        the command then replaces its process with a new one on the same port and journal."""
        self.restart_requested = True
        self.server.should_exit = True

    async def _when_started(self, on_started: Callable[[], None]) -> None:
        while not self.server.started:
            await asyncio.sleep(0.005)
        on_started()

    async def _pace_then_stop(self) -> None:
        assert self.speed is not None
        try:
            await pace(self.venue, self.speed)
            self.tape_ended = True
        finally:  # an error while stepping stops the server too (and ``serve`` raises it): fail closed
            self.server.should_exit = True


async def pace(
    venue: PaperVenue,
    speed: Fraction,
    *,
    clock: Callable[[], int] = time.monotonic_ns,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    tick_s: float = TICK_S,
) -> None:
    """Step ``venue`` so that its time runs ``speed`` times as fast as ``clock`` (ns), until the tape ends.

    The target is computed from the start each time (not added up tick by tick), so late wake-ups never make the
    venue fall behind for good. A client that stepped the venue ahead (``POST /tapeflow/step``) is waited for."""
    tape_start, wall_start = venue.now, clock()
    while not venue.done:
        await sleep(tick_s)
        target = tape_start + int((clock() - wall_start) * speed)
        if target > venue.now:
            venue.step(target)
