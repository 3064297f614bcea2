"""The live dashboard: a page served by the running node, updated over a websocket, with a kill button.

``tapeflow live CONFIG --dashboard [HOST:]PORT`` serves it (``LiveSession``); ``tapeflow paper ... --speed 1x``
beside it makes it a backtest replayed in real time. What runs where:

- the server (starlette on uvicorn) runs on the node's own event loop, as a task beside the driver, so everything
  it reads is read between two dispatches, as the console reads it (``tapeflow.live.console``). uvicorn's own
  signal handling is off (``_Server``): SIGINT/SIGTERM stay the node's graceful stop (``tapeflow.live.shutdown``);
- one pump task takes a frame (``tapeflow.live.dashboard_state``) at most every ``interval_s`` (4 a second) and
  only while a page is connected; each page has its own sender that always sends the newest frame and drops the
  ones it had no time for, so a slow browser never makes the loop wait and never makes memory grow;
- the page itself (``dashboard_static/``: HTML, one script, one style sheet) is served by the app, no CDN, no
  framework: tables filled with ``textContent`` (a symbol or a reason is never parsed as HTML) and a small SVG
  chart of equity;
- ``POST /kill`` with ``Authorization: Bearer TOKEN``: ``tapeflow.live.dashboard_kill`` (the control socket's path
  to the kill switch). ``GET /snapshot``: the current frame as JSON, for scripts.

What the page can reach is bounded: bound to 127.0.0.1 unless the operator names another host (``dashboard_address``);
requests whose ``Host`` is not this server's address are refused (DNS rebinding), a websocket from another origin too; a
content security policy allows only this server's own script, style and socket. Viewing needs no token (it shows
what the console shows); the kill does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Generator
from importlib import resources
from typing import Final

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketClose, WebSocketDisconnect

from tapeflow.config import is_loopback
from tapeflow.engine.inbox import InboxLike
from tapeflow.live.control_desk import ControlDesk
from tapeflow.live.dashboard_kill import KillLever, kill_reason, read_body
from tapeflow.live.dashboard_state import FrameSource, RecentSignals
from tapeflow.live.snapshot import NodeSnapshot
from tapeflow.model.errors import ConfigError

log = logging.getLogger(__name__)

LOOPBACK: Final = "127.0.0.1"
SEND_S = 5.0
"""A page that does not take a frame within this is dropped (its socket closed)."""
START_S = 10.0
STOP_S = 3
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STATIC: Final = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/favicon.ico": ("favicon.svg", "image/svg+xml"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}


class DashboardConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Where the dashboard listens (``port`` 0: a free one), the token its kill button needs, its frame rate."""

    host: str = LOOPBACK
    port: int = 0
    token: str
    interval_s: float = 0.25
    answer_s: float = 5.0


def dashboard_address(spec: str, host: str | None = None) -> tuple[str, int]:
    """``--dashboard [HOST:]PORT`` and ``--dashboard-host`` as (host, port): 127.0.0.1 unless a host is named, and
    a host other machines can reach only when ``--dashboard-host`` names it (a typo must not expose the node)."""
    named, sep, port_text = spec.strip().rpartition(":")
    named = named.strip("[]") if sep else ""
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"{spec!r} is not [HOST:]PORT (e.g. 8765)", field="--dashboard") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{port} is not a port", field="--dashboard")
    if host is not None:
        if not host.strip():
            raise ConfigError("the host is empty; leave --dashboard-host out for 127.0.0.1", field="--dashboard-host")
        if named and named != host:
            raise ConfigError(f"--dashboard names {named} but --dashboard-host {host}", field="--dashboard")
        return host, port
    bound = named or LOOPBACK
    if not is_loopback(bound):
        raise ConfigError(
            f"{bound} is reachable from other machines: anyone there could watch the node (and try its kill "
            f"button); give --dashboard-host {bound} to bind it there on purpose",
            field="--dashboard",
        )
    return bound, port


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the node's graceful stop owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _HostGuard:
    """Refuses a request whose ``Host`` is not this server's address (a page of another site that had its name
    resolve to 127.0.0.1, DNS rebinding, must not read the node or reach its kill): 400, or a closed websocket."""

    def __init__(self, app: ASGIApp, board: Dashboard) -> None:
        self.app = app
        self.board = board

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and Headers(scope=scope).get("host") not in self.board._hosts:
            self.board.refused_hosts += 1
            if scope["type"] == "http":
                await PlainTextResponse("unknown host", status_code=400)(scope, receive, send)
            else:
                await WebSocketClose(code=1008)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Page:
    """One connected page: the newest frame not sent yet (older ones are dropped, never queued)."""

    def __init__(self) -> None:
        self.frame: str | None = None
        self.closed = False
        self.ready = asyncio.Event()

    def offer(self, frame: str) -> None:
        self.frame = frame
        self.ready.set()

    def close(self) -> None:
        self.closed = True
        self.ready.set()

    async def next(self) -> str | None:
        await self.ready.wait()
        self.ready.clear()
        frame, self.frame = self.frame, None
        return None if self.closed else frame


class Dashboard:
    """The dashboard of one node: ``start`` on the node's loop (the socket is bound here already, so ``url`` is
    known before), ``close`` after the run (a last frame says the run ended)."""

    def __init__(self, config: DashboardConfig, *, frames: FrameSource, lever: KillLever) -> None:
        if not config.host:
            raise ConfigError("the host to bind is empty; the default is 127.0.0.1", field="--dashboard-host")
        if config.interval_s <= 0:
            raise ConfigError("the dashboard's frame interval must be > 0", field="dashboard.interval_s")
        self.config = config
        self.frames = frames
        self.lever = lever
        frames.refused = lambda: lever.refused
        self.sent = 0
        """Frames sent, all pages together."""
        self.refused_sockets = 0
        """Websockets refused for coming from another origin."""
        self.ignored = 0
        """Messages a page sent on its websocket (the page sends none; they are read and dropped)."""
        self._pages: set[_Page] = set()
        self._static = {
            path: (resources.files(__package__).joinpath("dashboard_static", name).read_bytes(), kind)
            for path, (name, kind) in _STATIC.items()
        }
        self.sock = _listen(config.host, config.port)
        self.port: int = self.sock.getsockname()[1]
        names = {config.host, LOOPBACK, "localhost"} if is_loopback(config.host) else {config.host}
        self._hosts = {f"[{n}]:{self.port}" if ":" in n else f"{n}:{self.port}" for n in names}
        """What a request's ``Host`` may be (and a websocket's origin, after ``http://``): this server, by name."""
        self.refused_hosts = 0
        """Requests refused for naming another host (DNS rebinding)."""
        self.app = _HostGuard(
            Starlette(
                routes=[
                    *(Route(path, self._static_file, methods=["GET"]) for path in _STATIC),
                    Route("/snapshot", self._snapshot, methods=["GET"]),
                    Route("/kill", self._kill, methods=["POST"]),
                    WebSocketRoute("/ws", self._socket),
                ]
            ),
            self,
        )
        self._server: _Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}/"

    # -- lifecycle ------------------------------------------------------------------------------------------------

    async def start(self) -> Dashboard:
        cfg = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=STOP_S
        )
        server = self._server = _Server(cfg)
        self._serving = asyncio.create_task(server.serve(sockets=[self.sock]), name="dashboard")
        deadline = asyncio.get_running_loop().time() + START_S
        while not server.started:
            if self._serving.done() or asyncio.get_running_loop().time() > deadline:
                await self.close()
                raise ConfigError(f"the dashboard did not start on {self.url}", field="--dashboard")
            await asyncio.sleep(0.01)
        self._pump = asyncio.create_task(self._run_pump(), name="dashboard-pump")
        return self

    async def close(self) -> None:
        """The last frame (``ended``) to every page, then the server stopped (at most ``STOP_S``)."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        if self._pages:
            with contextlib.suppress(Exception):  # a last frame is a courtesy: the run's end must not fail on it
                last = self.frames.encode(self.frames.take(ended=True))
                for page in list(self._pages):
                    page.offer(last)
                await asyncio.sleep(0.05)
        for page in list(self._pages):
            page.close()
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._serving, STOP_S + 1.0)
            self._server = None
            self._serving = None
        self.sock.close()

    async def _run_pump(self) -> None:
        """A frame every ``interval_s`` while a page is connected; a frame that fails is logged once, not fatal."""
        failures = 0
        while True:
            await asyncio.sleep(self.config.interval_s)
            if not self._pages:
                continue
            try:
                frame = self.frames.encode(self.frames.take())
            except Exception:  # a display must never stop the node
                failures += 1
                if failures == 1:
                    log.exception("dashboard: a frame failed; the run goes on (further failures are counted)")
                continue
            for page in self._pages:
                page.offer(frame)

    # -- routes ---------------------------------------------------------------------------------------------------

    async def _static_file(self, request: Request) -> Response:
        body, kind = self._static[request.url.path]
        return Response(body, media_type=kind, headers=SECURITY_HEADERS)

    async def _snapshot(self, request: Request) -> Response:
        return Response(self.frames.encode(self.frames.take()), media_type="application/json", headers=SECURITY_HEADERS)

    async def _kill(self, request: Request) -> Response:
        client = request.client
        origin = f"dashboard:{client.host}:{client.port}" if client is not None else "dashboard"
        auth = request.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if not auth:
            self.lever.refuse(origin, "no token")
            return _answer(403, {"ok": False, "code": "unauthorized", "error": "no token: the kill needs the node's"})
        if scheme.lower() != "bearer" or not self.lever.authorized(given.strip()):
            self.lever.refuse(origin, "wrong token")
            return _answer(403, {"ok": False, "code": "unauthorized", "error": "wrong token"})
        reason, problem = kill_reason(await read_body(request.stream()))
        if problem:
            self.lever.reject(origin, problem)
            return _answer(400, {"ok": False, "code": "malformed", "error": problem})
        reply = await self.lever.kill(reason, origin)
        return _answer(200 if reply.get("ok") else 504, reply)

    async def _socket(self, websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if origin is not None and origin.removeprefix("http://") not in self._hosts:
            self.refused_sockets += 1
            log.warning("dashboard: websocket from another origin refused: %s", origin[:100])
            await websocket.close(code=1008)
            return
        await websocket.accept()
        page = _Page()
        self._pages.add(page)
        listener = asyncio.create_task(self._listen(websocket, page))
        try:
            page.offer(self.frames.encode(self.frames.take()))
            while True:
                frame = await page.next()
                if frame is None:
                    break
                await asyncio.wait_for(websocket.send_text(frame), SEND_S)
                self.sent += 1
        except (WebSocketDisconnect, TimeoutError, RuntimeError, OSError):
            pass  # the page went away, or stopped reading: drop it
        finally:
            self._pages.discard(page)
            listener.cancel()
            with contextlib.suppress(Exception):
                await websocket.close()

    async def _listen(self, websocket: WebSocket, page: _Page) -> None:
        """Read what the page sends (nothing is expected) until it disconnects, then end its sender."""
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                self.ignored += 1
        except Exception:  # a broken socket ends the page like a disconnect
            pass
        finally:
            page.close()


def build_dashboard(
    config: DashboardConfig,
    *,
    snapshot: Callable[[], NodeSnapshot],
    recent: RecentSignals | None,
    inbox: InboxLike,
    desk: ControlDesk,
    now: Callable[[], int],
    run_id: str,
    venue: str,
) -> Dashboard:
    """The dashboard of a node: ``snapshot`` a ``SnapshotBuilder.take`` of its own, ``recent`` in the node's
    ``extra=``, ``desk`` its bound ``ControlDesk``, ``now`` the clock that stamps operator commands."""
    lever = KillLever(token=config.token, inbox=inbox, desk=desk, now=now, answer_s=config.answer_s)
    return Dashboard(config, frames=FrameSource(snapshot, recent, run_id=run_id, venue=venue), lever=lever)


def _answer(status: int, body: dict[str, object]) -> Response:
    return JSONResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now (a port that is taken fails the start, naming the option)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", field="--dashboard") from exc
    sock.setblocking(False)
    return sock
