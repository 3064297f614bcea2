"""The paper venue's ASGI application: the REST routes of one venue, plus whatever websocket routes are given.

The streams (``trade_updates``, market data) are written elsewhere and arrive here as ``extra_routes``, so this
module wires and does not know them. ``serve_config`` is the one place a uvicorn server for the venue is
configured: bound to 127.0.0.1 unless another host is asked for explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from tapeflow.model.errors import ConfigError
from tapeflow.paper.auth import Check
from tapeflow.paper.rest import routes
from tapeflow.paper.venue import PaperVenue

LOOPBACK_HOST = "127.0.0.1"


def create_app(venue: PaperVenue, *, check: Check, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The app serving ``venue``: Alpaca's REST subset (``tapeflow.paper.rest``) and ``extra_routes``."""
    app = Starlette(routes=[*routes(venue, check), *extra_routes])
    app.state.venue = venue
    return app


def serve_config(app: Starlette, *, host: str = LOOPBACK_HOST, port: int = 0) -> uvicorn.Config:
    """A uvicorn configuration for ``app`` (port 0: the caller binds its own socket and hands it to ``serve``)."""
    if not host:
        raise ConfigError("the host to bind is empty; the default is 127.0.0.1", field="host")
    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
