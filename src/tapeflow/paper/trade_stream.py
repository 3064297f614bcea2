"""The ``trade_updates`` websocket of the paper venue, spoken as Alpaca's trading stream so that alpaca-py's
``TradingStream`` works against it unmodified.

The protocol, as alpaca-py 0.44 speaks it and Alpaca's "Websocket Streaming" page documents it:

- client ``{"action": "authenticate", "data": {"key_id": K, "secret_key": S}}`` (what alpaca-py sends) or
  ``{"action": "auth", "key": K, "secret": S}`` (the form Alpaca's newer docs show); server
  ``{"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}}``, or ``"unauthorized"``
  with ``"message": "access key verification failed"``, after which the socket closes (fail closed: no guessing
  secrets on one socket).
- One socket per key: a second authenticated socket for a key that has one gets ``"unauthorized"`` with
  ``"message": "connection limit exceeded"`` (Alpaca's words, code 406 on its data stream) and is closed; the first
  keeps its stream. alpaca-py treats that as a failed authentication and retries with back-off, as against Alpaca.
- client ``{"action": "listen", "data": {"streams": [...]}}``; server
  ``{"stream": "listening", "data": {"streams": [the known ones asked for]}}``. The list replaces the previous one,
  so an empty list stops the updates. Before authentication the answer is
  ``{"stream": "authorization", "data": {"action": "listen", "status": "unauthorized"}}`` (what Alpaca answered in
  alpaca-trade-api-python issue 48).
- updates ``{"stream": "trade_updates", "data": {...}}`` with the dict the venue publishes, unchanged.
- Alpaca documents no answer for bad JSON or an unknown action on this stream; it gets the data stream's
  ``{"code": 400, "message": "invalid syntax"}`` on an ``error`` stream and the socket stays open. alpaca-py
  ignores every stream but ``trade_updates``, so only other clients see it.

Frames: Alpaca's paper stream sends binary frames carrying JSON; alpaca-py runs ``json.loads`` on whatever arrives,
bytes included, so every server frame here is binary JSON. Clients may send text or binary JSON. MessagePack, which
Alpaca offers on request, is not spoken: alpaca-py never asks for it.

The venue never waits for a client: ``publish`` encodes once and appends to each listening socket's bounded
outbox; a socket whose outbox is full is a stuck client, disconnected (close code 1008, "slow client") and counted,
and the venue moves on. ``disconnect(key)`` ends a socket on command, the server side of a broken stream that the
fault injection and the tests of a client's reconnect need.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

import anyio
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tapeflow.model.errors import ConfigError
from tapeflow.model.prices import price_to_str
from tapeflow.paper.alpaca_orders import rfc3339
from tapeflow.paper.auth import Check

"""Whether a key/secret pair may use the venue; the core part of the venue provides the real one."""

STREAM = "trade_updates"
AUTH_FAILED = "access key verification failed"
CONNECTION_LIMIT = "connection limit exceeded"
INVALID_SYNTAX = "invalid syntax"
ALREADY_AUTHENTICATED = "already authenticated"
SLOW_CLIENT = "slow client"
CLOSE_POLICY = 1008
"""RFC 6455 "policy violation": the close code for refused credentials, a second socket and a stuck client."""
CLOSE_TIMEOUT_S = 1.0
"""How long a socket that is being closed may take to take its last frames; a stuck one is then simply dropped."""
DEFAULT_MAX_PENDING = 1024
"""Frames a socket may have waiting before it counts as stuck: alpaca-py's own receive queue is 1024 deep too."""


def encode(message: Mapping[str, Any]) -> bytes:
    """One frame's bytes: compact JSON, keys in insertion order, so the same updates give the same bytes."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


class _Connection:
    """One socket: its outbox (every frame to it goes through here, so answers and updates keep their order)."""

    __slots__ = ("closing", "dropped", "key", "kicked", "listening", "outbox", "wake")

    def __init__(self) -> None:
        self.key: str | None = None
        self.listening = False
        self.outbox: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.kicked = asyncio.Event()
        """Set when the server ends the socket at once, unflushed: a stuck client, or ``disconnect``."""
        self.dropped: tuple[int, str] = (CLOSE_POLICY, SLOW_CLIENT)
        """The close code and reason sent when ``kicked`` is set."""
        self.closing: tuple[int, str] | None = None


class TradeUpdateHub:
    """Fans the venue's trade updates out to every authenticated, listening socket, without ever blocking it.

    ``publish`` must run on the server's event loop thread (the venue's does); from another thread use
    ``loop.call_soon_threadsafe(hub.publish, update)``. A call from a foreign thread while sockets are connected
    raises instead of corrupting their queues.
    """

    def __init__(self, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if max_pending < 1:
            raise ConfigError(f"must be at least 1, got {max_pending}", field="max_pending")
        self._max_pending = max_pending
        self._by_key: dict[str, _Connection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0
        """Updates published since the hub was made."""
        self.slow_disconnects = 0
        """Sockets dropped because their outbox was full (a stuck or too slow client)."""
        self.auth_failures = 0
        """Authentications refused for a wrong, empty or malformed key or secret."""
        self.limit_refusals = 0
        """Authentications refused because the key already had a socket."""
        self.filter: Callable[[str, str], int] | None = None
        """Set by ``tapeflow.paper.faults`` while a fault is active (``faults.StreamFilter``)."""

    @property
    def keys(self) -> tuple[str, ...]:
        """Keys with an authenticated socket, in the order they connected."""
        return tuple(self._by_key)

    @property
    def listening(self) -> tuple[str, ...]:
        """Keys whose socket listens to ``trade_updates`` now, in the order they connected."""
        return tuple(key for key, conn in self._by_key.items() if conn.listening)

    def publish(self, update: Mapping[str, Any]) -> None:
        """Queue one trade update (the ``data`` of a ``trade_updates`` message) for every listening socket."""
        frame = encode({"stream": STREAM, "data": update})
        self.published += 1
        if not self._by_key:
            return
        self._check_thread()
        copies = 1 if self.filter is None else self.filter(STREAM, _symbol(update))  # a fault: 0 drops, 2 doubles
        if copies <= 0:
            if copies:  # -D: D ms late
                asyncio.get_running_loop().call_later(-copies / 1000, self._late, frame)
            return
        for conn in list(self._by_key.values()):
            if conn.listening:
                self.offer(conn, frame)
                if copies > 1:
                    self.offer(conn, frame)

    def _late(self, frame: bytes) -> None:
        """A delayed update, to whoever listens when its delay is over."""
        for conn in list(self._by_key.values()):
            if conn.listening:
                self.offer(conn, frame)

    def offer(self, conn: _Connection, frame: bytes) -> None:
        """Queue ``frame`` on ``conn``, or drop the socket if ``max_pending`` frames already wait (answers too: a
        client that sends without reading is as stuck as one that does not read updates)."""
        if conn.kicked.is_set():
            return
        if len(conn.outbox) >= self._max_pending:
            self.slow_disconnects += 1
            conn.outbox.clear()
            conn.kicked.set()
            self.release(conn)
            return
        conn.outbox.append(frame)
        conn.wake.set()

    def _check_thread(self) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop:
            raise RuntimeError(
                "TradeUpdateHub.publish was called off the server's event loop thread; "
                "use loop.call_soon_threadsafe(hub.publish, update)"
            )

    def disconnect(self, key: str, code: int = 1001, reason: str = "") -> bool:
        """Close ``key``'s socket now, dropping what it has not sent yet (a restart's 1001 "going away" unless told
        otherwise): the server side of a broken stream, for tests of a client's reconnect. False if none is open."""
        conn = self._by_key.get(key)
        if conn is None:
            return False
        conn.dropped = (code, reason)
        conn.outbox.clear()
        conn.kicked.set()
        self.release(conn)
        return True

    def claim(self, key: str, conn: _Connection) -> bool:
        """Give ``key`` to ``conn`` unless another socket holds it (Alpaca allows one per key)."""
        if key in self._by_key:
            return False
        self._loop = asyncio.get_running_loop()
        self._by_key[key] = conn
        conn.key = key
        return True

    def release(self, conn: _Connection) -> None:
        if conn.key is not None and self._by_key.get(conn.key) is conn:
            del self._by_key[conn.key]


def _symbol(update: Mapping[str, Any]) -> str:
    order = update.get("order")
    return str(order.get("symbol", "")) if isinstance(order, Mapping) else ""


def _authorization(action: str, status: str, message: str | None = None) -> bytes:
    data = {"action": action, "status": status}
    if message is not None:
        data["message"] = message
    return encode({"stream": "authorization", "data": data})


def _error(code: int, message: str) -> bytes:
    return encode({"stream": "error", "data": {"code": code, "message": message}})


def _credentials(request: Mapping[str, Any]) -> tuple[Any, Any]:
    if request.get("action") == "auth":
        return request.get("key"), request.get("secret")
    data = request.get("data")
    if not isinstance(data, dict):
        return None, None
    return data.get("key_id"), data.get("secret_key")


class _Session:
    """The protocol on one socket; replies are queued on the connection's outbox, never sent directly."""

    def __init__(self, websocket: WebSocket, hub: TradeUpdateHub, check: Check) -> None:
        self._ws = websocket
        self._hub = hub
        self._check = check
        self._conn = _Connection()

    async def run(self) -> None:
        # anyio, not bare asyncio tasks: starlette's test client and uvicorn cancel the endpoint through anyio
        # cancel scopes, and a task group keeps that cancellation (and a kick) reaching every part of the socket.
        conn = self._conn
        try:
            async with anyio.create_task_group() as group:
                scope = group.cancel_scope
                group.start_soon(self._send_then_cancel, scope)
                group.start_soon(self._cancel_when_kicked, scope)
                await self._receive_loop()
                if conn.closing is not None:
                    # The last answer (unauthorized, limit) goes out before the close frame, unless the client is
                    # stuck; the sender ends the group when it has closed the socket.
                    await anyio.sleep(CLOSE_TIMEOUT_S)
                scope.cancel()
        finally:
            self._hub.release(conn)
        if conn.kicked.is_set():
            with anyio.move_on_after(CLOSE_TIMEOUT_S), suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self._ws.close(*conn.dropped)

    async def _send_then_cancel(self, scope: anyio.CancelScope) -> None:
        await self._send_loop()
        scope.cancel()

    async def _cancel_when_kicked(self, scope: anyio.CancelScope) -> None:
        await self._conn.kicked.wait()
        scope.cancel()

    async def _send_loop(self) -> None:
        conn = self._conn
        try:
            while True:
                await conn.wake.wait()
                conn.wake.clear()
                while conn.outbox:
                    await self._ws.send_bytes(conn.outbox.popleft())
                if conn.closing is not None:
                    await self._ws.close(*conn.closing)
                    return
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client is gone: nothing left to deliver

    async def _receive_loop(self) -> None:
        while self._conn.closing is None:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            self._handle(raw if raw is not None else message.get("bytes") or b"")

    def _handle(self, raw: str | bytes) -> None:
        try:
            request = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            request = None
        if not isinstance(request, dict):
            self._hub.offer(self._conn, _error(400, INVALID_SYNTAX))
            return
        action = request.get("action")
        if action in ("authenticate", "auth"):
            self._authenticate(request)
        elif action == "listen":
            self._listen(request)
        else:
            self._hub.offer(self._conn, _error(400, INVALID_SYNTAX))

    def _authenticate(self, request: Mapping[str, Any]) -> None:
        conn = self._conn
        if conn.key is not None:
            self._hub.offer(conn, _error(403, ALREADY_AUTHENTICATED))
            return
        key, secret = _credentials(request)
        if not (isinstance(key, str) and isinstance(secret, str) and key and secret and self._check(key, secret)):
            self._hub.auth_failures += 1
            self._refuse(AUTH_FAILED)
        elif not self._hub.claim(key, conn):
            self._hub.limit_refusals += 1
            self._refuse(CONNECTION_LIMIT)
        else:
            self._hub.offer(conn, _authorization("authenticate", "authorized"))

    def _refuse(self, message: str) -> None:
        self._hub.offer(self._conn, _authorization("authenticate", "unauthorized", message))
        self._conn.closing = (CLOSE_POLICY, message)

    def _listen(self, request: Mapping[str, Any]) -> None:
        conn = self._conn
        if conn.key is None:
            self._hub.offer(conn, _authorization("listen", "unauthorized"))
            return
        data = request.get("data")
        streams = data.get("streams") if isinstance(data, dict) else None
        if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
            self._hub.offer(conn, _error(400, INVALID_SYNTAX))
            return
        conn.listening = STREAM in streams
        self._hub.offer(conn, encode({"stream": "listening", "data": {"streams": [STREAM] if conn.listening else []}}))


def trade_stream_route(hub: TradeUpdateHub, check: Check, path: str = "/stream") -> WebSocketRoute:
    """The ``trade_updates`` websocket at ``path`` (Alpaca's is ``/stream``), for ``create_app(extra_routes=...)``."""

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await _Session(websocket, hub, check).run()

    return WebSocketRoute(path, endpoint, name="trade_updates")


def sample_order(
    *,
    order_id: str,
    ts: int,
    symbol: str = "AAPL",
    side: str = "buy",
    qty: int = 100,
    filled_qty: int = 0,
    limit_price: int | None = None,
    status: str = "new",
) -> dict[str, Any]:
    """A minimal Alpaca order object that alpaca-py's ``Order`` accepts, for tests of the stream (not the venue's)."""
    when = rfc3339(ts)
    return {
        "id": order_id,
        "client_order_id": f"c-{order_id}",
        "created_at": when,
        "updated_at": when,
        "submitted_at": when,
        "symbol": symbol,
        "asset_class": "us_equity",
        "qty": str(qty),
        "filled_qty": str(filled_qty),
        "order_class": "simple",
        "order_type": "market" if limit_price is None else "limit",
        "type": "market" if limit_price is None else "limit",
        "side": side,
        "time_in_force": "day",
        "limit_price": None if limit_price is None else price_to_str(limit_price),
        "status": status,
        "extended_hours": False,
    }


def sample_update(
    event: str,
    order: Mapping[str, Any],
    *,
    ts: int,
    execution_id: str,
    price: int | None = None,
    qty: int | None = None,
    position_qty: int | None = None,
) -> dict[str, Any]:
    """A trade update as Alpaca sends it; price, qty and position_qty (strings, as Alpaca's) only on fills."""
    update: dict[str, Any] = {"event": event, "execution_id": execution_id, "order": dict(order)}
    update["timestamp"] = rfc3339(ts)
    if price is not None:
        update["price"] = price_to_str(price)
    if qty is not None:
        update["qty"] = str(qty)
    if position_qty is not None:
        update["position_qty"] = str(position_qty)
    return update
