"""Alpaca's ``trade_updates`` websocket, spoken with ``websockets``: auth, listen, read; notice silence; reconnect.

alpaca-py's ``TradingStream`` neither notices a socket that stays open but goes quiet nor backs off between
reconnects, so the documented protocol is spoken here directly:

- ``{"action": "auth", "key", "secret"}`` -> ``{"stream": "authorization", "data": {"status": "authorized"}}``;
  ``{"action": "listen", "data": {"streams": ["trade_updates"]}}`` -> ``{"stream": "listening", ...}``; then
  ``{"stream": "trade_updates", "data": {...}}`` frames (binary JSON on Alpaca's paper endpoint, text accepted).
- A dead socket is found by websocket pings (``ping_s``: no pong within it closes the socket). A socket that still
  answers pings but carries nothing is indistinguishable from a quiet account, except when we have orders working:
  then ``idle_s`` without a frame counts as a silent stream, and it is dropped and reconnected (the reconciliation
  after it finds whatever was not delivered). With nothing open, a quiet stream is just quiet.
- Reconnects wait ``tapeflow.live.backoff`` (exponential, full jitter, seeded), reset after a session came up.

What the stream says goes to ``on_update`` (the adapter's ledger applies it exactly once); a frame that cannot be
read is counted in ``malformed`` and reported through ``on_malformed``, never applied, and the loop reads on.
``on_up`` runs after each successful listen (the adapter reconciles there before it announces the session) and
``on_down`` after each lost session; an exception from ``on_up`` counts as a failed connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from tapeflow.live.backoff import Backoff, BackoffConfig
from tapeflow.live.order_wire import WireUpdate, parse_json, parse_update
from tapeflow.model.errors import DataError, TapeflowError, VenueError

STREAM = "trade_updates"


class TradeUpdates:
    """One ``trade_updates`` session at a time, kept up until ``stop``."""

    def __init__(
        self,
        url: str,
        key: str,
        secret: str,
        *,
        on_update: Callable[[WireUpdate], None],
        on_up: Callable[[], Awaitable[None]],
        on_down: Callable[[str], Awaitable[None]],
        on_malformed: Callable[[str], None] = lambda reason: None,
        busy: Callable[[], bool] = lambda: True,
        backoff: BackoffConfig | None = None,
        seed: int = 0,
        idle_s: float = 5.0,
        ping_s: float = 10.0,
        open_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self._key = key
        self._secret = secret
        self._on_update = on_update
        self._on_up = on_up
        self._on_down = on_down
        self._on_malformed = on_malformed
        self._busy = busy
        self._backoff = Backoff(backoff, seed=seed)
        self._idle_s = idle_s
        self._ping_s = ping_s
        self._open_timeout = open_timeout
        self._stop: asyncio.Event | None = None
        self._ws: ClientConnection | None = None
        self.sessions = 0
        """Sessions that came up (authenticated and listening)."""
        self.drops = 0
        self.silent_drops = 0
        """Sessions dropped because they carried nothing for ``idle_s`` while orders were working."""
        self.malformed = 0
        self.updates = 0

    async def run(self) -> None:
        """Connect, listen, reconnect with backoff, until ``stop`` (to be run as a task on the adapter's loop)."""
        self._stop = asyncio.Event()
        while not self._stop.is_set():
            up = False
            reason = "closed"
            try:
                async with connect(
                    self.url,
                    open_timeout=self._open_timeout,
                    ping_interval=self._ping_s,
                    ping_timeout=self._ping_s,
                    close_timeout=1.0,
                ) as ws:
                    self._ws = ws
                    await self._handshake(ws)
                    await self._on_up()
                    up = True
                    self.sessions += 1
                    self._backoff.reset()
                    reason = await self._listen(ws)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException, TapeflowError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
            if self._stop.is_set():
                reason = "stopped"
            if up:
                self.drops += 1
                await self._on_down(reason)
            if self._stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._backoff.next_wait())

    async def stop(self) -> None:
        """End the session and the loop (from the loop that runs ``run``)."""
        if self._stop is not None:
            self._stop.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def _answer(self, ws: ClientConnection) -> dict[str, Any]:
        raw = await asyncio.wait_for(ws.recv(), self._open_timeout)
        message = parse_json(raw)
        if not isinstance(message, dict):
            raise DataError(f"the stream answered {message!r}")
        return message

    async def _handshake(self, ws: ClientConnection) -> None:
        await ws.send(json.dumps({"action": "auth", "key": self._key, "secret": self._secret}))
        answer = await self._answer(ws)
        data = answer.get("data") if answer.get("stream") == "authorization" else None
        if not isinstance(data, dict) or data.get("status") != "authorized":
            raise VenueError(f"authentication refused: {answer!r}"[:300])
        await ws.send(json.dumps({"action": "listen", "data": {"streams": [STREAM]}}))
        answer = await self._answer(ws)
        data = answer.get("data") if answer.get("stream") == "listening" else None
        if not isinstance(data, dict) or STREAM not in (data.get("streams") or []):
            raise VenueError(f"listen refused: {answer!r}"[:300])

    async def _listen(self, ws: ClientConnection) -> str:
        """Read until the socket ends or goes silent with orders open; returns why."""
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), self._idle_s)
            except TimeoutError:
                if self._busy():
                    self.silent_drops += 1
                    return f"no trade update for {self._idle_s} s with orders working: silent stream"
                continue
            except websockets.exceptions.ConnectionClosed as exc:
                return f"closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
            self._handle(raw)

    def _handle(self, raw: str | bytes) -> None:
        try:
            message = parse_json(raw)
            if not isinstance(message, dict):
                raise DataError(f"a stream message is a JSON object, got {type(message).__name__}")
            if message.get("stream") != STREAM:
                return  # answers and error notices: nothing to apply
            update = parse_update(message.get("data"))
        except DataError as exc:
            self.malformed += 1
            self._on_malformed(str(exc))
            return
        self.updates += 1
        self._on_update(update)
