"""Faults on command: the paper venue misbehaving the way Alpaca's servers do, so a client's recovery is testable.

A ``Faults`` object holds the active faults; each lasts for a number of requests or messages (``count``), for a
time on an injected clock (``seconds``), or until cleared. It is consulted in three places:

- ``FaultMiddleware`` in front of the app's HTTP routes: ``rest_error`` answers 500 (Alpaca's body), 429 (with
  ``Retry-After``) or 503; ``refuse`` answers every request 503 at once and refuses every websocket handshake
  (HTTP 403). A refused TCP connect would need the listening socket unbound, which would lose the port; a 503
  before any route runs, and a refused handshake, are the nearest a client sees while the port stays the venue's.
- The hubs' ``filter`` attribute, ``None`` unless a stream fault is active (the hot path checks only that):
  ``silent`` (no data frames, the socket stays open and uvicorn still answers pings), ``drop``, ``duplicate`` and
  ``delay`` (``ms``) of matching messages, optionally of one ``channel`` and/or ``symbol``.
- ``close`` acts at once: the key's socket on a stream is closed with ``code`` (1001 "going away" by default).

Restarting with the state intact is not a fault here but a real process restart: ``tapeflow paper --journal``
(``tapeflow.paper.journal``). The admin routes (``admin_routes``) change the faults over HTTP: loopback callers
only, with the ``X-Tapeflow-Admin`` token; bad input is a 422 naming the field.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Protocol, TypeGuard

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tapeflow.model.errors import ConfigError, RequestError
from tapeflow.paper.auth import LOOPBACK_CLIENTS

Clock = Callable[[], float]
StreamFilter = Callable[[str, str], int]
"""``filter(channel, symbol) -> copies``: 0 to drop the message, 1 to send it, 2 to send it twice; a negative
number -D sends it once, D milliseconds later (on the server's event loop, not the faults' clock)."""

STREAMS: Final = ("trade_updates", "data")
STREAM_KINDS: Final = frozenset({"silent", "drop", "duplicate", "delay"})
REST_STATUS: Final[Mapping[int, tuple[int, str]]] = {
    500: (50010000, "internal server error"),
    429: (42910000, "rate limit exceeded"),
    503: (50310000, "service unavailable"),
}
"""Alpaca's error bodies: ``{"code", "message"}``, the code being the status followed by four digits."""
ADMIN_PATH: Final = "/tapeflow/faults"
ADMIN_HEADER: Final = "X-Tapeflow-Admin"
INVALID: Final = 42210000
MAX_DELAY_MS: Final = 600_000
_COPIES: Final = {"duplicate": 2}
SERVER_CLOSE_CODES: Final = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
"""RFC 6455 codes a server may send (1004-1006 are reserved and never sent on the wire)."""


class Hub(Protocol):
    """What a stream hub offers the faults: a filter slot and closing one key's socket."""

    filter: StreamFilter | None

    def disconnect(self, key: str, code: int = 1001, reason: str = "") -> bool: ...


class Fault:
    """One active fault; ``remaining`` (messages or requests) and ``until`` (clock seconds) bound it, or nothing."""

    __slots__ = ("channel", "kind", "ms", "remaining", "retry_after", "status", "stream", "symbol", "until")

    def __init__(self, kind: str, **fields: Any) -> None:
        self.kind = kind
        self.stream: str | None = fields.get("stream")
        self.status: int = fields.get("status", 503)
        self.retry_after: int | None = fields.get("retry_after")
        self.channel: str | None = fields.get("channel")
        self.symbol: str | None = fields.get("symbol")
        self.ms: int | None = fields.get("ms")
        self.remaining: int | None = fields.get("count")
        self.until: float | None = fields.get("until")

    def as_json(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"fault": self.kind}
        for name in ("stream", "status", "retry_after", "channel", "symbol", "ms"):
            value = getattr(self, name)
            if value is not None and (name != "status" or self.kind == "rest_error"):
                out[name] = value
        if self.remaining is not None:
            out["count"] = self.remaining
        if self.until is not None:
            out["seconds_left"] = max(0.0, self.until - now)
        return out

    def matches(self, channel: str, symbol: str) -> bool:
        return (self.channel is None or self.channel == channel) and (self.symbol is None or self.symbol == symbol)

    def use(self) -> bool:
        """Count one use; True when that was the last."""
        if self.remaining is None:
            return False
        self.remaining -= 1
        return self.remaining <= 0


class Faults:
    """The active faults of one server; every method runs on the server's event loop (no locking)."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        hubs: Mapping[str, Hub] | None = None,
        on_restart: Callable[[], None] | None = None,
    ) -> None:
        """``on_restart``: what ``{"fault": "restart"}`` calls (the server restarts its process from its journal);
        None (no journal to keep the state) refuses that fault."""
        self._clock = clock
        self._on_restart = on_restart
        self._hubs = dict(hubs or {})
        unknown = set(self._hubs) - set(STREAMS)
        if unknown:
            raise ConfigError(f"unknown stream(s) {sorted(unknown)}; one of {list(STREAMS)}", field="hubs")
        self._rest: list[Fault] = []
        self._streams: dict[str, list[Fault]] = {name: [] for name in STREAMS}
        self.applied: dict[str, int] = {}
        """Requests or messages each kind of fault has acted on, for tests and the GET listing."""

    def active(self) -> list[dict[str, Any]]:
        now = self._clock()
        self._expire(now)
        faults = [*self._rest, *(f for fs in self._streams.values() for f in fs)]
        return [f.as_json(now) for f in faults]

    def clear(self) -> None:
        self._rest.clear()
        for name in STREAMS:
            self._streams[name].clear()
            self._install(name)

    def add(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Start the fault ``body`` describes (see ``docs/PAPER.md``); ``RequestError`` 422 names a bad field."""
        kind = body.get("fault")
        if kind == "close":
            return self._close(body)
        if kind == "restart":
            if set(body) != {"fault"}:
                raise _bad(sorted(set(body) - {"fault"})[0], "restart takes no other field")
            if self._on_restart is None:
                raise _bad("fault", "restart needs a server started with --journal, so that its state survives")
            self._on_restart()
            self.applied["restart"] = self.applied.get("restart", 0) + 1
            return {"fault": "restart"}
        if kind not in ("rest_error", "refuse", *STREAM_KINDS):
            kinds = ", ".join(["rest_error", "refuse", "close", "restart", *sorted(STREAM_KINDS)])
            raise _bad("fault", f"must be one of {kinds}")
        allowed = {"fault", "count", "seconds"}
        fields: dict[str, Any] = _expiry(body, self._clock())
        if kind == "rest_error":
            allowed |= {"status", "retry_after"}
            fields["status"] = status = body.get("status", 500)
            if not _is_int(status) or status not in REST_STATUS:
                raise _bad("status", f"must be one of {sorted(REST_STATUS)}")
            if status == 429:
                fields["retry_after"] = retry = body.get("retry_after", 1)
                if not _is_int(retry) or retry < 0:
                    raise _bad("retry_after", "must be a whole number of seconds, at least 0")
        elif kind in STREAM_KINDS:
            allowed |= {"stream", "channel", "symbol"}
            fields["stream"] = self._stream(body)
            for name in ("channel", "symbol"):
                value = body.get(name)
                if value is not None and (not isinstance(value, str) or not value):
                    raise _bad(name, "must be a non-empty string")
                fields[name] = value
            if kind == "delay":
                allowed.add("ms")
                fields["ms"] = ms = body.get("ms")
                if not _is_int(ms) or not 1 <= ms <= MAX_DELAY_MS:
                    raise _bad("ms", f"must be a whole number of milliseconds, 1 to {MAX_DELAY_MS}")
        extra = sorted(set(body) - allowed)
        if extra:
            raise _bad(extra[0], f"is not a parameter of {kind}")
        fault = Fault(kind, **fields)
        if fault.stream is None:
            self._rest.append(fault)
        else:
            self._streams[fault.stream].append(fault)
            self._install(fault.stream)
        return fault.as_json(self._clock())

    def rest_response(self, *, websocket: bool) -> Response | None:
        """The answer a faulted request gets instead of its route's (None: no fault applies to it)."""
        if not self._rest:
            return None
        now = self._clock()
        self._expire(now)
        for fault in self._rest:
            if websocket and fault.kind != "refuse":
                continue
            self._count(fault.kind)
            if fault.use():
                self._rest.remove(fault)
            code, message = REST_STATUS[fault.status]
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
            return JSONResponse({"code": code, "message": message}, status_code=fault.status, headers=headers)
        return None

    def _close(self, body: Mapping[str, Any]) -> dict[str, Any]:
        stream = self._stream(body)
        key, code = body.get("key"), body.get("code", 1001)
        if not isinstance(key, str) or not key:
            raise _bad("key", "must be the API key whose socket to close")
        if not _is_int(code) or not (code in SERVER_CLOSE_CODES or 3000 <= code <= 4999):
            raise _bad("code", "must be a websocket close code a server may send (1000-1003, 1007-1014, 3000-4999)")
        extra = sorted(set(body) - {"fault", "stream", "key", "code"})
        if extra:
            raise _bad(extra[0], "is not a parameter of close")
        closed = self._hubs[stream].disconnect(key, code, "closed on command")
        if closed:
            self._count("close")
        return {"fault": "close", "stream": stream, "key": key, "code": code, "closed": closed}

    def _stream(self, body: Mapping[str, Any]) -> str:
        stream = body.get("stream")
        if stream not in self._hubs:
            raise _bad("stream", f"must be one of the streams this server has: {sorted(self._hubs)}")
        return str(stream)

    def _install(self, stream: str) -> None:
        hub = self._hubs.get(stream)
        if hub is not None:
            hub.filter = self._filter_for(stream) if self._streams[stream] else None

    def _filter_for(self, stream: str) -> StreamFilter:
        faults = self._streams[stream]

        def decide(channel: str, symbol: str) -> int:
            now = self._clock()
            for fault in faults:
                if fault.until is not None and now >= fault.until:
                    continue
                if fault.matches(channel, symbol):
                    self._count(fault.kind)
                    if fault.use():
                        faults.remove(fault)
                        self._install(stream)
                    return _COPIES.get(fault.kind, 0) if fault.ms is None else -fault.ms
            if any(f.until is not None and now >= f.until for f in faults):
                self._expire(now)
            return 1

        return decide

    def _expire(self, now: float) -> None:
        self._rest[:] = [f for f in self._rest if f.until is None or now < f.until]
        for name, faults in self._streams.items():
            live = [f for f in faults if f.until is None or now < f.until]
            if len(live) != len(faults):
                faults[:] = live
                self._install(name)

    def _count(self, kind: str) -> None:
        self.applied[kind] = self.applied.get(kind, 0) + 1


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(field: str, message: str) -> RequestError:
    return RequestError(422, INVALID, f"{field}: {message}")


def _expiry(body: Mapping[str, Any], now: float) -> dict[str, Any]:
    count, seconds = body.get("count"), body.get("seconds")
    if count is not None and seconds is not None:
        raise _bad("count", "give count or seconds, not both")
    if count is not None and (not _is_int(count) or count < 1):
        raise _bad("count", "must be a whole number, at least 1")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0):
        raise _bad("seconds", "must be a positive number")
    return {"count": count, "until": None if seconds is None else now + seconds}


class FaultMiddleware:
    """REST faults in front of every HTTP route and websocket handshake but the admin routes (so a fault can
    always be cleared)."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not scope["path"].startswith(ADMIN_PATH):
            websocket = scope["type"] == "websocket"
            response = self.faults.rest_response(websocket=websocket)
            if response is not None:
                if websocket:
                    await send({"type": "websocket.close", "code": 1008, "reason": ""})  # handshake refused: 403
                else:
                    await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def admin_routes(faults: Faults, token: str) -> list[Route]:
    """``POST`` starts a fault, ``GET`` lists them, ``DELETE`` clears all: loopback only, with the admin token."""
    if not token:
        raise ConfigError("must be non-empty (None disables the admin routes)", field="admin_token")
    want = token.encode()

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.client is None or request.client.host not in LOOPBACK_CLIENTS:
                return _error(403, 40310000, "the faults admin is allowed from the loopback interface only")
            if not hmac.compare_digest(request.headers.get(ADMIN_HEADER, "").encode(), want):
                return _error(401, 40110000, f"the {ADMIN_HEADER} header is missing or wrong")
            try:
                return await handler(request)
            except RequestError as exc:
                return _error(exc.status, exc.code, exc.message)

        return endpoint

    async def post(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _bad("body", "must be a JSON object naming a fault")
        return JSONResponse(faults.add(body), status_code=201)

    async def get(request: Request) -> Response:
        return JSONResponse({"faults": faults.active(), "applied": faults.applied})

    async def delete(request: Request) -> Response:
        faults.clear()
        return JSONResponse({"faults": []})

    return [
        Route(ADMIN_PATH, guarded(post), methods=["POST"]),
        Route(ADMIN_PATH, guarded(get), methods=["GET"]),
        Route(ADMIN_PATH, guarded(delete), methods=["DELETE"]),
    ]


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)
