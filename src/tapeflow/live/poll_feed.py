"""The pull side of push vs pull, live: the latest quote asked for over market data REST every N ms.

Many retail bots do exactly this (``GET /v2/stocks/quotes/latest?symbols=...`` on a timer) instead of holding a
stream, and never see what changed between two polls. ``QuotePollFeed`` is such a client, written to be measured
against the push feed (``tapeflow.live.market_feed``) on the same tape: an async iterator of ``Quote`` that yields
a symbol's quote only when it differs from the last one the poller saw, stamped (``ts_init``) with the wall time
its answer reached the event loop, the same point at which the push feed stamps its frames.

Polls follow a fixed schedule (``start + k * interval`` on the injected wall clock), so a slow answer never makes
the schedule drift: the slots it overran are skipped and counted (``skipped``), as a timer-driven bot would. A 429,
a 5xx or a network error waits the seeded backoff (``tapeflow.live.backoff``, ``Retry-After`` obeyed) instead of
the interval, and a success resets it; another 4xx (bad keys, unknown symbol) will not heal and ends the
iteration with ``RequestError``, as does a backoff that is exhausted. A malformed answer is counted in ``wire``
and skipped, never raised.

Each GET is blocking and runs in a worker thread (``asyncio.to_thread``), over one kept-alive connection
(``KeepAliveGet``): a poller that opened a connection per poll would add the handshake to every delay measured.
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Final

import msgspec

from tapeflow.live.backfill import RETRY_STATUS, Get
from tapeflow.live.backoff import Backoff, BackoffConfig, retry_after_seconds
from tapeflow.live.clock import RealTimeClock, WallClock
from tapeflow.live.market_wire import WireStats, decode_rest_items
from tapeflow.model.errors import ConfigError, RequestError
from tapeflow.model.market import Quote

NS_PER_MS: Final = 1_000_000
NS_PER_S: Final = 1_000_000_000
LATEST_PATH: Final = "/v2/stocks/quotes/latest"


class _Latest(msgspec.Struct):
    quotes: dict[str, msgspec.Raw] = {}


_LATEST: Final = msgspec.json.Decoder(_Latest)


def quote_key(quote: Quote) -> tuple[str, int, int, int, int, int]:
    """What makes two quotes the same quote of the tape, whatever their arrival stamp."""
    return (quote.symbol, quote.ts_event, quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size)


class KeepAliveGet:
    """A blocking ``Get`` over one HTTP/1.1 connection, reopened after any failure; one caller at a time."""

    def __init__(self) -> None:
        self._conn: http.client.HTTPConnection | None = None
        self._origin = ""

    def __call__(self, url: str, headers: dict[str, str], timeout: float) -> tuple[int, dict[str, str], bytes]:
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if self._conn is None or origin != self._origin:
            self.close()
            make = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            self._conn, self._origin = make(parts.netloc, timeout=timeout), origin
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            self._conn.request("GET", target, headers=headers)
            response = self._conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise OSError(f"GET {parts.path} failed: {type(exc).__name__}: {exc}") from exc
        if response.will_close:
            self.close()
        return response.status, dict(response.getheaders()), body

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class QuotePollFeed:
    """The latest quote of each of ``symbols`` every ``interval_ms``, as ``Quote`` events when it changed; iterate
    it once, ``close()`` on the loop to end it."""

    def __init__(
        self,
        rest_url: str,
        symbols: Sequence[str],
        *,
        key: str,
        secret: str,
        interval_ms: int,
        wall: WallClock | None = None,
        feed: str = "iex",
        backoff: BackoffConfig | None = None,
        seed: int = 0,
        timeout: float = 5.0,
        get: Get | None = None,
    ) -> None:
        if not rest_url.startswith(("http://", "https://")):
            raise ConfigError(f"the market data REST URL must be http(s)://..., got {rest_url!r}", field="url")
        if not symbols or not all(symbols):
            raise ConfigError("name at least one symbol to poll, none empty", field="symbols")
        if interval_ms <= 0:
            raise ConfigError(f"the poll interval must be a positive number of ms, got {interval_ms}", field="poll_ms")
        if not key or not secret:
            raise ConfigError("polling market data needs an API key and secret", field="keys")
        query = urllib.parse.urlencode({"symbols": ",".join(symbols), "feed": feed})
        self.url = f"{rest_url.rstrip('/')}{LATEST_PATH}?{query}"
        self.symbols = tuple(symbols)
        self.interval_ns = interval_ms * NS_PER_MS
        self.wall: WallClock = wall if wall is not None else RealTimeClock()
        self.timeout = timeout
        self.backoff = Backoff(backoff if backoff is not None else BackoffConfig(), seed=seed)
        self._headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
        self._keep_alive: KeepAliveGet | None = None
        if get is None:
            get = self._keep_alive = KeepAliveGet()
        self._get: Get = get
        self.wire = WireStats()
        self.polls = 0
        """Requests answered 200."""
        self.errors: Counter[int] = Counter()
        """Failed polls by HTTP status (0: no answer: refused, reset, timed out)."""
        self.skipped = 0
        """Schedule slots passed over because a poll (or a backoff) overran them."""
        self.first_answer_ns: int | None = None
        """Wall time the first 200 reached the loop: from then on the poller was looking."""
        self.last_sent_ns: int | None = None
        """Wall time the last answered poll was sent: anything that arrived after it could not be in its answer."""
        self._last: dict[str, tuple[str, int, int, int, int, int]] = {}
        self._closed = False
        self._closing: asyncio.Future[None] | None = None
        self._started = False

    def __aiter__(self) -> AsyncIterator[Quote]:
        if self._started:
            raise ConfigError("a poll feed is iterated once; make a new one", field="feed")
        self._started = True
        return self._run()

    def close(self) -> None:
        self._closed = True
        if self._closing is not None and not self._closing.done():
            self._closing.set_result(None)

    async def _run(self) -> AsyncIterator[Quote]:
        self._closing = closing = asyncio.get_running_loop().create_future()
        wall = self.wall
        next_at = wall.now()
        try:
            while not self._closed:
                sent = wall.now()
                try:
                    status, headers, body = await asyncio.to_thread(self._get, self.url, self._headers, self.timeout)
                except OSError as exc:
                    status, headers, body = 0, {}, str(exc).encode()
                arrived = wall.now()
                if self._closed:
                    return
                if status == 200:
                    self.backoff.reset()
                    self.polls += 1
                    self.last_sent_ns = sent
                    if self.first_answer_ns is None:
                        self.first_answer_ns = arrived
                    for quote in self._changes(body, arrived):
                        yield quote
                    next_at = self._next_slot(next_at, wall.now())
                else:
                    self.errors[status] += 1
                    if status != 0 and status not in RETRY_STATUS:
                        raise RequestError(status, 0, f"market data REST answered {status}: {body[:200]!r}")
                    if self.backoff.exhausted:
                        raise RequestError(
                            status or 503,
                            0,
                            f"polling {self.url} failed {self.backoff.attempts + 1} times in a row; last: "
                            f"{status or body[:200].decode(errors='replace')}",
                        )
                    wait = self.backoff.next_wait(retry_after_seconds(_header(headers, "Retry-After")))
                    next_at = self._next_slot(next_at, arrived + int(wait * NS_PER_S))
                await wall.wait({closing}, next_at)
        finally:
            if self._keep_alive is not None:
                self._keep_alive.close()

    def _next_slot(self, last: int, now: int) -> int:
        """The first slot of the schedule after ``now`` (never ``now`` itself: a poll per slot)."""
        slots = (now - last) // self.interval_ns + 1 if now >= last else 1
        self.skipped += max(0, slots - 1)
        return last + slots * self.interval_ns

    def _changes(self, body: bytes, arrived: int) -> list[Quote]:
        try:
            latest = _LATEST.decode(body)
        except msgspec.DecodeError as exc:
            self.wire.items += 1
            self.wire.bad(f"latest quotes answer: {exc}")
            return []
        out: list[Quote] = []
        for symbol in self.symbols:
            raw = latest.quotes.get(symbol)
            if raw is None:
                continue
            for event in decode_rest_items("quotes", symbol, [raw], arrived, self.wire):
                if not isinstance(event, Quote):
                    continue
                key = quote_key(event)
                if self._last.get(symbol) != key:
                    self._last[symbol] = key
                    out.append(event)
        return out


def _header(headers: dict[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)
