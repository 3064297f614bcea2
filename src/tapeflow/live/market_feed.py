"""Alpaca's stock data stream v2 as the live driver's source: one websocket for all symbols, never silently stale.

``AlpacaMarketFeed`` speaks the documented protocol with ``websockets`` (connect, ``[{"T":"success","msg":
"connected"}]``, auth, subscribe) because alpaca-py's stream classes neither notice a socket that stays open but
goes silent nor back off when they reconnect. It is an async iterator of events (``LiveNode.run(feed,
realtime=True)``) and yields its status events in the stream, in order with the data, so risk and strategies see
them exactly where they happened:

- ``FeedStale`` when no message came for ``stale_after`` seconds while the market is open (``is_open``), or the
  connection failed; ``FeedResumed`` before the first data after it. A socket silent for ``reconnect_after`` more
  seconds is closed and reconnected.
- reconnects wait ``tapeflow.live.backoff`` (exponential, full jitter, seeded); a refused handshake (HTTP 429,
  403, ...) or an auth error (``{"T":"error"}``) counts as a failure. After a reconnect the gap is filled over
  REST (``tapeflow.live.backfill``) between ``FeedBackfill`` and ``FeedBackfillDone`` and only then does the feed
  resume: risk refuses orders (``tapeflow.risk.venue_rules``) until the data is whole again. The backfill starts
  where delivery was last known complete (``backfill_lookback`` before the drop), not at the newest item seen, so
  a print the stream was still holding back when the socket dropped is recovered, not silently lost.
- ``tapeflow.live.market_guard`` drops duplicates, counts out-of-order items and signs trades; ``quality()``
  answers like the readers.

Time: the feed reads and waits only through its ``WallClock`` and stamps each event's ``ts_init`` with the wall
time at which its frame was read. The websocket handshake itself is bounded by ``open_timeout`` in real time (a
bound on a socket operation, not a decision of the feed). ``close()`` ends the iteration; call it on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tapeflow.data.quality import SourceQuality
from tapeflow.live.backfill import fetch_gap, merge
from tapeflow.live.backoff import Backoff, retry_after_seconds
from tapeflow.live.clock import RealTimeClock, WallClock
from tapeflow.live.market_config import MarketFeedConfig, regular_hours
from tapeflow.live.market_guard import MAX_RECENT, FeedGuard
from tapeflow.live.market_wire import Decoded, StreamError, Subscription, Success, WireStats, decode_frame
from tapeflow.model.errors import ConfigError, RequestError
from tapeflow.model.events import Event
from tapeflow.model.venue_events import FeedBackfill, FeedBackfillDone, FeedResumed, FeedStale

NS: Final = 1_000_000_000
BACKFILLED: Final = ("trades", "quotes", "bars")

__all__ = ["AlpacaMarketFeed", "MarketFeedConfig", "regular_hours"]


class _HandshakeError(Exception):
    """The server did not complete the protocol's handshake (an error message, or nothing in time)."""


class AlpacaMarketFeed:
    """One websocket to Alpaca's (or the paper venue's) stock data stream; iterate it once."""

    def __init__(
        self,
        config: MarketFeedConfig,
        *,
        key: str,
        secret: str,
        wall: WallClock | None = None,
        is_open: Callable[[int], bool] | None = None,
        seed: int = 0,
    ) -> None:
        """``key``/``secret`` come from the environment or a file, never from the config."""
        if not key or not secret:
            raise ConfigError("the data stream needs an API key and secret", field="keys")
        self.config = config
        self._auth = {"action": "auth", "key": key, "secret": secret}
        self._headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
        self.wall: WallClock = wall if wall is not None else RealTimeClock()
        self.is_open = is_open if is_open is not None else regular_hours()
        self.backoff = Backoff(config.backoff, seed=seed)
        self.rest_backoff = Backoff(config.backoff, seed=seed + 1)
        self.wire = WireStats()
        self.guard = FeedGuard(config.url, lookback_ns=int(config.backfill_lookback * NS))
        self.waits: list[float] = []
        """Every reconnect wait drawn, in seconds (tests, the console's feed health)."""
        self.failures: list[str] = []
        """Why each connection attempt or session ended."""
        self.sessions = 0
        """Connections that got through auth and subscribe."""
        self.stream_errors: list[StreamError] = []
        self.stale = False
        self._pending: list[Event] = []
        self._ready: deque[Event] = deque()
        """The frame being delivered: what is neither yielded nor taken by ``next_ready`` yet."""
        self._closed = False
        self._closing: asyncio.Future[None] | None = None
        self._ws: ClientConnection | None = None
        self._started = False
        self._retry_after: float | None = None
        self._first_subscribed = 0
        """Wall time of the first subscription: where a gap starts when no data came before it (exact on Alpaca,
        whose data is stamped in real time; a replayed tape's REST refuses it and the backfill says incomplete)."""
        self._dropped_at = 0
        """Wall time the last session ended: the backfill's watermark is what arrived a lookback before it."""

    # -- public -------------------------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        if self._started:
            raise ConfigError("a feed is iterated once; make a new one", field="feed")
        self._started = True
        return self._run()

    def next_ready(self) -> Event | None:
        """The next event of the frame being delivered, if any, without waiting (``tapeflow.live.driver.
        ReadySource``): the driver dispatches a frame's events without a wait per message."""
        ready = self._ready
        return ready.popleft() if ready else None

    def close(self) -> None:
        """End the iteration (the node's graceful stop); the socket is closed on the way out."""
        self._closed = True
        if self._closing is not None and not self._closing.done():
            self._closing.set_result(None)

    def quality(self) -> SourceQuality:
        wire = self.wire
        self.guard.note(wire.items, wire.malformed_total, wire.first_problem)
        return self.guard.quality()

    # -- the loop -----------------------------------------------------------------------------------------------

    async def _run(self) -> AsyncIterator[Event]:
        self._closing = asyncio.get_running_loop().create_future()
        if self._closed:
            return
        venue = self.config.venue
        try:
            while not self._closed:
                ws = await self._open_once()
                if ws is None:
                    if not self._closed and not self.stale:
                        self.stale = True
                        yield FeedStale(
                            ts_event=self.wall.now(),
                            ts_init=self.wall.now(),
                            venue=venue,
                            reason=f"cannot connect: {self.failures[-1]}",
                        )
                    if not self._closed:
                        await self._wait_backoff(self._retry_after)
                    continue
                self._ws = ws
                if self.sessions > 1:
                    async for event in self._backfill():
                        yield event
                if self.stale:
                    self.stale = False
                    now = self.wall.now()
                    yield FeedResumed(ts_event=now, ts_init=now, venue=venue)
                async for event in self._read(ws):
                    yield event
                self._dropped_at = self.wall.now()
                await self._drop(ws)
                if not self._closed and not self.stale:
                    self.stale = True
                    now = self.wall.now()
                    yield FeedStale(ts_event=now, ts_init=now, venue=venue, reason=self.failures[-1])
        finally:
            if self._ws is not None:
                await self._drop(self._ws)

    async def _wait_backoff(self, retry_after: float | None = None) -> None:
        wait = self.backoff.next_wait(retry_after)
        self.waits.append(wait)
        closing = self._closing
        assert closing is not None
        await self.wall.wait({closing}, self.wall.now() + int(wait * NS))

    async def _drop(self, ws: ClientConnection) -> None:
        if self._ws is ws:
            self._ws = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), self.config.open_timeout)

    async def _open_once(self) -> ClientConnection | None:
        """One attempt: connect, auth, subscribe. None (the reason in ``failures``) when it failed."""
        c = self.config
        headers = {"Content-Type": "application/msgpack"} if c.msgpack else {}
        try:
            ws = await connect(
                c.url, additional_headers=headers, open_timeout=c.open_timeout, max_size=c.max_frame_bytes
            )
        except InvalidStatus as exc:
            response = exc.response
            self._failed(f"handshake refused: HTTP {response.status_code}")
            self._retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            return None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            self._failed(f"connect failed: {type(exc).__name__}: {exc}")
            return None
        try:
            await self._expect(ws, "connected")
            await self._send(ws, self._auth)
            await self._expect(ws, "authenticated")
            await self._send(ws, {"action": "subscribe", **{ch: list(c.symbols) for ch in c.channels}})
            await self._expect(ws, "subscription")
        except (_HandshakeError, ConnectionClosed, TimeoutError, OSError) as exc:
            self._failed(f"handshake failed: {exc}")
            await self._drop(ws)
            return None
        self.sessions += 1
        if self.sessions == 1:
            self._first_subscribed = self.wall.now()
        self.backoff.reset()
        return ws

    def _failed(self, reason: str) -> None:
        self.failures.append(reason)
        self._retry_after = None

    async def _send(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        if self.config.msgpack:
            await ws.send(msgspec.msgpack.encode(message))
        else:
            await ws.send(msgspec.json.encode(message).decode())

    async def _expect(self, ws: ClientConnection, what: str) -> None:
        """Read until the control message ``what``; data read meanwhile is kept for delivery."""
        deadline = self.wall.now() + int(self.config.open_timeout * NS)
        while True:
            receiving = asyncio.ensure_future(ws.recv())
            await self.wall.wait({receiving}, deadline)
            if not receiving.done():
                receiving.cancel()
                raise _HandshakeError(f"no {what!r} within {self.config.open_timeout} s")
            for item in self._decode(receiving.result()):
                if isinstance(item, StreamError):
                    self.stream_errors.append(item)
                    raise _HandshakeError(f"error {item.code} {item.msg}")
                if isinstance(item, Success) and item.msg == what:
                    return
                if isinstance(item, Subscription) and what == "subscription":
                    return
                if isinstance(item, Event):
                    self._pending.append(item)

    def _decode(self, data: str | bytes) -> list[Decoded]:
        return decode_frame(data, self.wall.now(), self.wire)

    async def _read(self, ws: ClientConnection) -> AsyncIterator[Event]:
        """Frames of one session until it closes, goes silent too long, or the feed is closed."""
        c = self.config
        venue = c.venue
        closing = self._closing
        assert closing is not None
        if self._pending:
            pending, self._pending = self._pending, []
            for event in self.guard.admit(pending):
                yield event
        last_message = self.wall.now()
        stale_since = 0
        receiving: asyncio.Future[Any] | None = None
        try:
            while not self._closed:
                if receiving is None:
                    receiving = asyncio.ensure_future(ws.recv())
                if self.stale:
                    deadline = stale_since + int(c.reconnect_after * NS)
                else:
                    deadline = last_message + int(c.stale_after * NS)
                await self.wall.wait({receiving, closing}, deadline)
                if self._closed:
                    return
                now = self.wall.now()
                if not receiving.done():
                    if self.stale:
                        self.failures.append(f"silent for {c.stale_after + c.reconnect_after} s")
                        return
                    if self.is_open(now):
                        self.stale, stale_since = True, now
                        yield FeedStale(
                            ts_event=now, ts_init=now, venue=venue, reason=f"no market data for {c.stale_after} s"
                        )
                    else:
                        last_message = now  # a quiet closed market is not stale
                    continue
                try:
                    data = receiving.result()
                except ConnectionClosed as exc:
                    self.failures.append(f"connection closed: {exc}")
                    return
                finally:
                    receiving = None
                last_message = now
                items = decode_frame(data, now, self.wire)
                events: list[Event] = []
                for item in items:
                    if isinstance(item, StreamError):
                        self.stream_errors.append(item)
                    elif isinstance(item, Event):
                        events.append(item)
                admitted = self.guard.admit(events)
                if admitted and self.stale:
                    self.stale = False
                    yield FeedResumed(ts_event=now, ts_init=now, venue=venue)
                ready = self._ready
                ready.extend(admitted)
                while ready:  # ``next_ready`` may empty it meanwhile
                    yield ready.popleft()
        finally:
            if receiving is not None and not receiving.done():
                receiving.cancel()
                with contextlib.suppress(BaseException):
                    await receiving

    async def _backfill(self) -> AsyncIterator[Event]:
        """The gap since delivery was last known complete, over REST, between ``FeedBackfill`` and
        ``FeedBackfillDone``: from each (channel, symbol)'s watermark (``tapeflow.live.market_guard``), not from
        the newest time seen, so a print the stream held back when the socket dropped is recovered too."""
        c = self.config
        guard = self.guard
        channels = [ch for ch in BACKFILLED if ch in c.channels]
        now = self.wall.now()
        slots = [(ch, s) for ch in channels for s in c.symbols]
        starts = guard.begin_backfill(slots, self._dropped_at, self._base())
        start_ns = min(starts.values(), default=self._base())
        yield FeedBackfill(ts_event=now, ts_init=now, venue=c.venue, start_ns=start_ns, symbols=c.symbols)
        complete = bool(c.rest_url)  # no REST configured: the gap stays, and the closing event says so
        for ch, symbol in guard.cut:
            complete = False  # the window overflowed: a held-back item older than the watermark may be missing
            guard.quality().note(f"backfill of {ch} {symbol} starts late: over {MAX_RECENT} items in the lookback")
        batches: list[dict[str, list[Event]]] = []
        try:
            for ch in channels if c.rest_url else ():
                batch, truncated = await self._fetch(ch, {s: starts[(ch, s)] for s in c.symbols})
                batches.append(batch)
                for symbol in truncated:
                    complete = False
                    guard.quality().note(f"backfill of {ch} {symbol} stopped at its item limit: a gap remains")
        except RequestError as exc:
            complete = False
            self.failures.append(f"backfill failed: {exc}")
            guard.quality().note(f"backfill failed: {exc}")
        delivered = guard.admit_backfill(merge(batches))
        for event in delivered:
            yield event
        now = self.wall.now()
        end_ns = delivered[-1].ts_event if delivered else start_ns
        yield FeedBackfillDone(
            ts_event=now, ts_init=now, venue=c.venue, count=len(delivered), end_ns=end_ns, complete=complete
        )

    def _base(self) -> int:
        """Where a gap may begin when nothing is known delivered: the first subscription (exact on Alpaca, whose
        data is stamped in real time), or the earliest time delivered if that is earlier (a replayed tape)."""
        return min(self._first_subscribed, self.guard.earliest)

    async def _fetch(self, channel: str, starts: dict[str, int]) -> tuple[dict[str, list[Event]], list[str]]:
        c = self.config
        return await fetch_gap(
            c.rest_url,
            channel,
            list(c.symbols),
            starts,
            headers=self._headers,
            feed=c.feed,
            ts_init=self.wall.now(),
            stats=self.wire,
            backoff=self.rest_backoff,
            wall=self.wall,
            timeout=c.rest_timeout,
        )
