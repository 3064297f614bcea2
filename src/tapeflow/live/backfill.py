"""Filling a feed's gap over Alpaca's market data REST (``/v2/stocks/{trades,quotes,bars}``), page by page.

A small REST call of our own rather than alpaca-py's ``StockHistoricalDataClient``: its models hold prices as
floats and times as microsecond datetimes (the gap's boundary would blur, and a price could only be recovered by
guessing), its retries do not follow ``tapeflow.live.backoff``, and it is a dev dependency only. The pages are
decoded by ``tapeflow.live.market_wire`` exactly as stream items are.

Each GET is blocking (stdlib ``urllib``) and runs in a worker thread (``asyncio.to_thread``), off the loop. A 429
or a 5xx, or a network error, is retried with the feed's seeded backoff (``Retry-After`` obeyed), waiting on the
feed's wall clock. Another 4xx ends the backfill.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

import msgspec

from tapeflow.live.backoff import Backoff, retry_after_seconds
from tapeflow.live.clock import WallClock
from tapeflow.live.market_wire import WireStats, decode_rest_items
from tapeflow.model.errors import RequestError
from tapeflow.model.events import Event
from tapeflow.model.market import Trade

NS_PER_SECOND: Final = 1_000_000_000
PATHS: Final = {"trades": "/v2/stocks/trades", "quotes": "/v2/stocks/quotes", "bars": "/v2/stocks/bars"}
RETRY_STATUS: Final = frozenset({429, 500, 502, 503, 504})


class _Page(msgspec.Struct):
    next_page_token: str | None = None
    trades: dict[str, list[msgspec.Raw]] | None = None
    quotes: dict[str, list[msgspec.Raw]] | None = None
    bars: dict[str, list[msgspec.Raw]] | None = None


_PAGE: Final = msgspec.json.Decoder(_Page)


def rfc3339(ts: int) -> str:
    """Int ns to RFC 3339 UTC with nine decimals (what the query's ``start`` must be: exact to the ns)."""
    seconds, nanos = divmod(ts, NS_PER_SECOND)
    return f"{datetime.fromtimestamp(seconds, UTC).strftime('%Y-%m-%dT%H:%M:%S')}.{nanos:09d}Z"


Get = Callable[[str, dict[str, str], float], tuple[int, dict[str, str], bytes]]
"""``get(url, headers, timeout) -> (status, headers, body)``: one blocking HTTP GET."""


def urllib_get(url: str, headers: dict[str, str], timeout: float) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


async def fetch_gap(
    base_url: str,
    channel: str,
    symbols: Sequence[str],
    starts: dict[str, int],
    *,
    headers: dict[str, str],
    feed: str,
    ts_init: int,
    stats: WireStats,
    backoff: Backoff,
    wall: WallClock,
    get: Get = urllib_get,
    timeout: float = 10.0,
    page_limit: int = 10_000,
    max_items: int = 1_000_000,
) -> tuple[dict[str, list[Event]], list[str]]:
    """Every ``channel`` item of each symbol from ``starts[symbol]`` (inclusive) to the server's now, in time order,
    and the symbols whose answer stopped at ``max_items`` with more to come (their gap is not whole: said, never
    silently cut).

    Raises ``RequestError`` when the server refuses (a 4xx other than 429) or retries are exhausted."""
    out: dict[str, list[Event]] = {}
    truncated: list[str] = []
    for symbol in symbols:
        items: list[Event] = []
        token: str | None = None
        while True:
            params = {"symbols": symbol, "start": rfc3339(starts[symbol]), "limit": str(page_limit), "feed": feed}
            if channel == "bars":
                params["timeframe"] = "1Min"
            if token:
                params["page_token"] = token
            url = f"{base_url}{PATHS[channel]}?{urllib.parse.urlencode(params)}"
            body = await _get_with_retries(url, headers, timeout, backoff, wall, get)
            try:
                page = _PAGE.decode(body)
            except msgspec.DecodeError as exc:
                raise RequestError(502, 0, f"unreadable {channel} page: {exc}") from exc
            raws = (getattr(page, channel) or {}).get(symbol, [])
            items.extend(decode_rest_items(channel, symbol, raws, ts_init, stats))
            token = page.next_page_token
            if not token:
                break
            if len(items) >= max_items:
                truncated.append(symbol)
                break
        out[symbol] = items
    return out, truncated


async def _get_with_retries(
    url: str, headers: dict[str, str], timeout: float, backoff: Backoff, wall: WallClock, get: Get
) -> bytes:
    while True:
        try:
            status, response_headers, body = await asyncio.to_thread(get, url, headers, timeout)
        except OSError as exc:  # refused, reset, timed out: the server may come back
            status, response_headers, body = 0, {}, str(exc).encode()
        if status == 200:
            backoff.reset()
            return body
        if status != 0 and status not in RETRY_STATUS:
            raise RequestError(status, 0, f"market data REST answered {status}: {body[:200]!r}")
        if backoff.exhausted:
            raise RequestError(status or 503, 0, f"market data REST failed {backoff.attempts} times; last {status}")
        retry_after = retry_after_seconds(_header(response_headers, "Retry-After"))
        wait = backoff.next_wait(retry_after)
        await wall.sleep_until(wall.now() + int(wait * NS_PER_SECOND))


def _header(headers: dict[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def merge(batches: Sequence[dict[str, list[Event]]]) -> list[Event]:
    """All backfilled events in time order; at one time, trades before quotes and bars (a print's quote is its
    consequence: the quote rule signs it against the quote before it, as ``tapeflow.data.lee_ready`` explains)."""
    events = [event for batch in batches for items in batch.values() for event in items]
    events.sort(key=lambda e: (e.ts_event, 0 if isinstance(e, Trade) else 1))
    return events
