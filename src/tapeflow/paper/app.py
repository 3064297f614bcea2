"""The paper venue's ASGI application: the REST routes of one venue, plus whatever websocket routes are given.

The streams (``trade_updates``, market data) are written elsewhere and arrive here as ``extra_routes``, so this
module wires and does not know them. ``serve_config`` is the one place a uvicorn server for the venue is
configured: bound to 127.0.0.1 unless another host is asked for explicitly. ``ServerThread`` runs it in a thread
on a free port (tests, notebooks); the CLI will run it in the main thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from tapeflow.model.errors import ConfigError
from tapeflow.paper.auth import Check, require_base_url
from tapeflow.paper.faults import FaultMiddleware, Faults, admin_routes
from tapeflow.paper.market_rest import market_routes
from tapeflow.paper.rest import routes
from tapeflow.paper.venue import PaperVenue

LOOPBACK_HOST = "127.0.0.1"


def create_app(
    venue: PaperVenue,
    *,
    check: Check,
    extra_routes: Sequence[BaseRoute] = (),
    admin_token: str | None = None,
    faults: Faults | None = None,
) -> Starlette:
    """The app serving ``venue``: Alpaca's REST subset (``tapeflow.paper.rest``), its market data REST
    (``tapeflow.paper.market_rest``) and ``extra_routes``.

    ``faults`` (``tapeflow.paper.faults``) puts its REST faults in front of every route; ``admin_token`` adds the
    admin routes that change them (without a token they do not exist: 404)."""
    if admin_token is not None and faults is None:
        faults = Faults()
    admin = admin_routes(faults, admin_token) if admin_token is not None and faults is not None else []
    middleware = [Middleware(FaultMiddleware, faults=faults)] if faults is not None else []
    market = market_routes(venue, check)
    app = Starlette(routes=[*routes(venue, check), *market, *extra_routes, *admin], middleware=middleware)
    app.state.venue = venue
    app.state.faults = faults
    return app


def serve_config(app: Starlette, *, host: str = LOOPBACK_HOST, port: int = 0) -> uvicorn.Config:
    """A uvicorn configuration for ``app`` (port 0: the caller binds its own socket and hands it to ``serve``)."""
    if not host:
        raise ConfigError("the host to bind is empty; the default is 127.0.0.1", field="host")
    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)


def listen(host: str, port: int, *, field: str = "port") -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (0: a free port) for uvicorn to serve on; ``field`` names the option a
    port that cannot be taken is blamed on.

    Made with ``IPPROTO_TCP``, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto says TCP,
    and with Nagle on, a response written as headers then body waits for the client's delayed ACK: 44 ms a request.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restarted server takes its port back at once
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror})", field=field) from exc
    return sock


def base_url(host: str, port: int) -> str:
    """What a REST client is given for ``host``:``port`` (IPv6 literals bracketed); never empty."""
    return require_base_url(f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}")


class ServerThread:
    """``app`` served by uvicorn in a daemon thread on ``host`` and a free port; ``url`` is what a client is given.

    The socket is bound before the thread starts, so the port is known (and taken) at once; ``start`` returns
    when the server accepts connections, ``stop`` when its thread has ended."""

    def __init__(self, app: Starlette, *, host: str = LOOPBACK_HOST) -> None:
        self.server = uvicorn.Server(serve_config(app, host=host))
        self.sock = listen(host, 0)
        self.url = base_url(host, self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout: float = 10.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.stop()
                raise ConfigError(f"the paper venue's server did not start on {self.url}", field="host")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=timeout)
        self.sock.close()
