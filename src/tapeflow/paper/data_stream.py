"""The paper venue's market data websocket: Alpaca's stock data stream v2, fed from the replayed tape.

``MarketDataHub.publish`` is called by the venue on its asyncio loop with every tape ``Trade``, ``Quote``,
``Bar`` (minute or daily) and ``TradingStatus`` in tape order, and fans each out to the connections subscribed to
its symbol and channel. It never waits for a client: each connection has a bounded queue, and one that fills it
gets Alpaca's 407 "slow client" and is disconnected, because a replay that waited for its slowest reader would no
longer be the tape's timing.

A connection speaks the protocol Alpaca documents and alpaca-py uses: ``[{"T":"success","msg":"connected"}]`` on
connect; auth by message (within ``auth_timeout`` seconds) or by the APCA-API-KEY-ID / APCA-API-SECRET-KEY
handshake headers; subscribe and unsubscribe with the ``{"T":"subscription",...}`` answer; errors with Alpaca's
codes and texts. One writer task per connection sends everything, control answers included, so a subscription
answer always precedes the data it enables. Control messages go alone in their frame (as Alpaca's do); queued data
messages are batched into one frame.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from tapeflow.model.errors import DataError, ValueRangeError
from tapeflow.paper.data_wire import (
    StreamEvent,
    WireFormat,
    channel_of,
    decode_client,
    encode_item,
    event_message,
    frame,
    wire_format,
)

Check = Callable[[str, str], bool]
"""Whether a key and secret may connect; the venue provides it."""

KNOWN_FEEDS: Final = frozenset({"iex", "sip", "delayed_sip", "boats", "overnight", "test"})
"""Alpaca's stock feeds: a path naming one the venue does not serve is refused with 409 at auth, as Alpaca
refuses a feed the account has no subscription for; any other path is refused at the handshake."""

SERVED_FEEDS: Final = frozenset({"iex", "sip", "delayed_sip", "test"})

CHANNELS: Final = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
"""The stock channels a client may subscribe to. A replayed tape has no bar updates (late trades revising a
minute bar) or LULD bands, so those two never carry data; they are accepted and reported so clients work
unchanged."""

_TRADE_MIRRORS: Final = ("corrections", "cancelErrors")
"""Alpaca subscribes these with trades and reports them so; clients do not send them."""

ERROR_MESSAGES: Final[Mapping[int, str]] = {
    400: "invalid syntax",
    401: "not authenticated",
    402: "auth failed",
    403: "already authenticated",
    404: "auth timeout",
    405: "symbol limit exceeded",
    406: "connection limit exceeded",
    407: "slow client",
    409: "insufficient subscription",
    500: "internal error",
}

MAX_BATCH: Final = 1_000
"""Data messages per frame at most: a client that fell behind gets its backlog in a few frames, not one huge one."""

FLUSH_GRACE_S: Final = 1.0
"""How long a closing connection may take to send its last error before it is closed anyway (a slow client
cannot be relied on to read it)."""


def error_message(code: int) -> dict[str, Any]:
    """Alpaca's error message for ``code``."""
    return {"T": "error", "code": code, "msg": ERROR_MESSAGES[code]}


class MarketDataHub:
    """Fans tape events out to the data stream connections; the venue's one handle on them.

    ``queue_limit`` is the number of data messages a connection may have waiting; ``tapes`` maps a symbol to its
    SIP tape (A, B or C) for the ``z`` field, empty where unknown. Not thread-safe: every method runs on the
    venue's asyncio loop.
    """

    def __init__(self, *, queue_limit: int = 10_000, tapes: Mapping[str, str] | None = None) -> None:
        if queue_limit < 1:
            raise ValueRangeError(f"queue_limit {queue_limit} must be at least 1 message")
        self.queue_limit = queue_limit
        self._tapes = dict(tapes or {})
        self._clients: list[_Client] = []
        self._keys: dict[str, _Client] = {}
        self.refused: collections.Counter[str] = collections.Counter()
        """Events ``publish`` was given that Alpaca's stream has no message for, by reason."""
        self.filter: Callable[[str, str], int] | None = None  # faults.StreamFilter, set while a fault is active

    @property
    def connections(self) -> int:
        """Connected clients, authenticated or not."""
        return len(self._clients)

    def subscribed(self, channel: str, symbol: str) -> bool:
        """Whether an authenticated connection would receive ``symbol`` on ``channel`` (to skip building events)."""
        return any(c.key is not None and c.wants(channel, symbol) for c in self._clients)

    def publish(self, event: StreamEvent) -> None:
        """Queues ``event`` for every connection subscribed to it; encodes it once per wire format; never waits.

        An event the stream has no channel for (``data_wire.channel_of``: a five-minute bar, an order-book event)
        is counted in ``refused`` by reason and not sent, subscribers or not: ``publish`` runs inside the node's
        dispatch, where an exception would end the venue's run for a market data message nobody could receive.
        """
        try:
            channel = channel_of(event)
        except (TypeError, ValueRangeError) as exc:
            self.refused[str(exc)] += 1
            return
        if self.filter is not None:
            copies = self.filter(channel, event.symbol)  # a fault: 0 drops the message, 2 sends it twice
            if copies <= 0:
                if copies:  # -D: D ms late
                    asyncio.get_running_loop().call_later(-copies / 1000, self._fanout, event, channel)
                return
            if copies > 1:
                self._fanout(event, channel)
        self._fanout(event, channel)

    def _fanout(self, event: StreamEvent, channel: str) -> None:
        encoded: dict[WireFormat, bytes] = {}
        for client in self._clients:
            if client.key is None or not client.wants(channel, event.symbol):
                continue
            item = encoded.get(client.fmt)
            if item is None:
                message = event_message(event, client.fmt, self._tapes.get(event.symbol, ""))
                item = encoded[client.fmt] = encode_item(message, client.fmt)
            client.offer(item)

    def disconnect(self, key: str, code: int = 1001, reason: str = "") -> bool:
        """Close ``key``'s connection now, unsent data dropped (a fault, a reconnect test); False if it has none."""
        client = self._keys.get(key)
        if client is None:
            return False
        client._out.clear()  # a closing client takes no more, so its queued count no longer matters
        client.close_code = (code, reason)
        client.closing.set()
        return True

    def _attach(self, client: _Client) -> None:
        self._clients.append(client)

    def _detach(self, client: _Client) -> None:
        with contextlib.suppress(ValueError):
            self._clients.remove(client)
        if client.key is not None and self._keys.get(client.key) is client:
            del self._keys[client.key]

    def _claim(self, key: str, client: _Client) -> bool:
        """One data stream connection per key, as Alpaca allows on most plans."""
        if key in self._keys:
            return False
        self._keys[key] = client
        return True


class _Client:
    """One connection: its subscriptions, its outgoing queue, and the protocol state machine."""

    def __init__(
        self,
        hub: MarketDataHub,
        check: Check,
        fmt: WireFormat,
        *,
        feed_served: bool,
        symbol_limit: int | None,
    ) -> None:
        self.hub = hub
        self.fmt = fmt
        self.key: str | None = None
        self._check = check
        self._feed_served = feed_served
        self._symbol_limit = symbol_limit
        self._subs: dict[str, dict[str, None]] = {channel: {} for channel in CHANNELS}
        self._out: collections.deque[tuple[bool, bytes]] = collections.deque()
        self._queued_data = 0
        self._wake = asyncio.Event()
        self.closing = asyncio.Event()
        self.close_code: tuple[int, str] = (1000, "")

    def wants(self, channel: str, symbol: str) -> bool:
        subs = self._subs[channel]
        return symbol in subs or "*" in subs

    def offer(self, item: bytes) -> None:
        """Queues one encoded data message; a full queue drops the backlog, sends 407 and closes."""
        if self.closing.is_set():
            return
        if self._queued_data >= self.hub.queue_limit:
            self._out.clear()
            self._queued_data = 0
            self.fail(407)
            return
        self._out.append((False, item))
        self._queued_data += 1
        self._wake.set()

    def control(self, message: Mapping[str, Any]) -> None:
        if self.closing.is_set():
            return
        self._out.append((True, encode_item(message, self.fmt)))
        self._wake.set()

    def fail(self, code: int, *, close: bool = True) -> None:
        self.control(error_message(code))
        if close:
            self.closing.set()

    async def pump(self, ws: WebSocket) -> None:
        """The connection's only writer; returns once closing and everything queued is sent."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._out:
                is_control, item = self._out.popleft()
                items = [item]
                if not is_control:
                    while self._out and not self._out[0][0] and len(items) < MAX_BATCH:
                        items.append(self._out.popleft()[1])
                    self._queued_data -= len(items)
                await self._send(ws, frame(items, self.fmt))
            if self.closing.is_set():
                return

    async def _send(self, ws: WebSocket, data: bytes) -> None:
        if self.fmt is WireFormat.JSON:
            await ws.send_text(data.decode())
        else:
            await ws.send_bytes(data)

    def handle(self, data: bytes | str) -> None:
        """One client frame: auth, subscribe or unsubscribe; anything else is 400 and the connection stays."""
        try:
            message = decode_client(data, self.fmt)
        except DataError:
            self.fail(400, close=False)
            return
        action = message["action"]
        if action == "auth":
            self.authenticate(message.get("key"), message.get("secret"))
        elif action in ("subscribe", "unsubscribe"):
            self._subscribe(message, add=action == "subscribe")
        else:
            self.fail(400, close=False)

    def authenticate(self, key: object, secret: object) -> None:
        if self.key is not None:
            self.fail(403, close=False)
        elif not isinstance(key, str) or not isinstance(secret, str):
            self.fail(400, close=False)
        elif not self._check(key, secret):
            self.fail(402, close=False)
        elif not self._feed_served:
            self.fail(409)
        elif not self.hub._claim(key, self):
            self.fail(406)
        else:
            self.key = key
            self.control({"T": "success", "msg": "authenticated"})

    def _subscribe(self, message: Mapping[str, Any], *, add: bool) -> None:
        if self.key is None:
            self.fail(401, close=False)
            return
        changes: dict[str, list[str]] = {}
        for name, symbols in message.items():
            if name == "action":
                continue
            if name not in self._subs or not isinstance(symbols, list):
                self.fail(400, close=False)
                return
            if not all(isinstance(s, str) and s for s in symbols):
                self.fail(400, close=False)
                return
            changes[name] = symbols
        updated = {channel: dict(subs) for channel, subs in self._subs.items()}
        for channel, symbols in changes.items():
            for symbol in symbols:
                if add:
                    updated[channel][symbol] = None
                else:
                    updated[channel].pop(symbol, None)
        if self._symbol_limit is not None and add:
            distinct = {symbol for subs in updated.values() for symbol in subs}
            if len(distinct) > self._symbol_limit:
                self.fail(405, close=False)
                return
        self._subs = updated
        self.control(self.subscription())

    def subscription(self) -> dict[str, Any]:
        """Alpaca's answer to (un)subscribe: the whole current subscription, trade mirrors included."""
        answer: dict[str, Any] = {"T": "subscription"}
        for channel in CHANNELS:
            answer[channel] = list(self._subs[channel])
        for mirror in _TRADE_MIRRORS:
            answer[mirror] = list(self._subs["trades"])
        return answer


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Consumes a finished helper task's exception (a send to a vanished client) so asyncio does not log it."""
    if not task.cancelled():
        task.exception()


async def _serve(
    ws: WebSocket,
    hub: MarketDataHub,
    check: Check,
    *,
    feeds: Collection[str],
    auth_timeout: float,
    symbol_limit: int | None,
) -> None:
    feed = ws.path_params.get("feed", "iex")
    if feed not in KNOWN_FEEDS:
        await ws.close(code=1008)  # before accept: the handshake is refused (HTTP 403)
        return
    await ws.accept()
    client = _Client(
        hub, check, wire_format(ws.headers.get("content-type")), feed_served=feed in feeds, symbol_limit=symbol_limit
    )
    hub._attach(client)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + auth_timeout
    pump = asyncio.create_task(client.pump(ws))
    closing = asyncio.create_task(client.closing.wait())
    receiving: asyncio.Task[Any] | None = None
    try:
        client.control({"T": "success", "msg": "connected"})
        header_key, header_secret = ws.headers.get("apca-api-key-id"), ws.headers.get("apca-api-secret-key")
        if header_key is not None or header_secret is not None:
            client.authenticate(header_key, header_secret)
        while not client.closing.is_set():
            if receiving is None:
                receiving = asyncio.create_task(ws.receive())
            timeout = None if client.key is not None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait(
                {receiving, pump, closing}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if pump in done:
                return  # the writer ended: a send failed (the client is gone) or a closing error went out
            if receiving in done:
                message = receiving.result()
                receiving = None
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("text")
                client.handle(data if data is not None else message.get("bytes") or b"")
            elif not done:
                client.fail(404)
        await asyncio.wait({pump}, timeout=FLUSH_GRACE_S)
    finally:
        hub._detach(client)
        for task in (receiving, pump, closing):
            if task is not None:
                task.add_done_callback(_retrieve)
                task.cancel()  # not awaited: a cancelled endpoint must not wait on anything in its cleanup
        if ws.client_state is WebSocketState.CONNECTED and ws.application_state is WebSocketState.CONNECTED:
            # The peer may vanish before the close frame, or (a slow client) never drain it: bounded either way.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
                await asyncio.wait_for(ws.close(*client.close_code), FLUSH_GRACE_S)


def data_stream_route(
    hub: MarketDataHub,
    check: Check,
    path: str = "/v2/{feed}",
    *,
    feeds: Collection[str] = SERVED_FEEDS,
    auth_timeout: float = 10.0,
    symbol_limit: int | None = None,
) -> WebSocketRoute:
    """The data stream as a starlette route at Alpaca's path (alpaca-py's ``url_override`` is the whole ws URL).

    ``feeds`` are the feeds served (all carry the same tape); ``auth_timeout`` is Alpaca's 10 s to authenticate;
    ``symbol_limit`` caps the distinct symbols one connection may subscribe to (None: no cap, as on a paid plan).
    """

    async def endpoint(ws: WebSocket) -> None:
        await _serve(ws, hub, check, feeds=feeds, auth_timeout=auth_timeout, symbol_limit=symbol_limit)

    return WebSocketRoute(path, endpoint)
