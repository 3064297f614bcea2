"""Push vs pull, live: the data stream and a REST poller side by side on the same tape, and what the poller missed.

The backtest's version (``tapeflow.backtest.compare.compare_push_pull``) replays a strategy both ways in simulated
time. This one measures it on the wire: ``compare_live`` holds the push feed (``AlpacaMarketFeed``, quotes only)
and a ``QuotePollFeed`` at the same time against one venue (the paper venue, paced, or Alpaca), and ``blind_spot``
lines up what each delivered:

- every quote the push feed delivered while the poller was looking (from its first answer to the sending of its
  last poll) is a change the poller could have seen; one no poll answered with was overwritten between two polls:
  *never seen*. A *price change* is a run of consecutive quotes at the same bid and ask prices; one none of whose
  quotes a poll answered with is a price the poller never knew;
- for a quote both saw, the *reaction delay* is the poll's arrival minus the push's arrival, both on the same wall
  clock at the same point (the answer or frame reaching the event loop). It is negative when the poll's answer
  happened to reach the loop first (``poll_first``); those values are kept, not clipped, so the distribution is
  what was measured;
- a quote a poll answered with that the push feed never delivered (``poll_only``) is the push feed's own gap (it
  was reconnecting, or the quote predates its subscription): reported, never counted against the poller.

Both sides read their own sockets on the loop and nothing else runs there, so one side's work delays the other's
stamps by at most one frame's decoding.

The push side is a stream connection of its own: Alpaca (and the paper venue) allow one data stream per key, so
beside a running ``tapeflow live`` it needs other keys (the paper venue started without ``--key`` takes any).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Final

from tapeflow.live.backoff import BackoffConfig
from tapeflow.live.clock import RealTimeClock, WallClock
from tapeflow.live.market_feed import AlpacaMarketFeed, MarketFeedConfig
from tapeflow.live.poll_feed import QuotePollFeed, quote_key
from tapeflow.model.errors import ConfigError, RequestError
from tapeflow.model.market import Quote
from tapeflow.model.venue_events import VenueStatus

NS_PER_S: Final = 1_000_000_000
NS_PER_MS: Final = 1_000_000
PERCENTILES: Final = (50, 90, 99)
GRACE_NS: Final = 250 * NS_PER_MS
"""How long the stream is still read after the poller stopped."""


def _percentile(ordered: Sequence[int], q: int) -> int:
    """Nearest rank: the smallest value with at least ``q`` % of the values at or below it."""
    rank = max(1, -(-q * len(ordered) // 100))
    return ordered[rank - 1]


def _delays(delays: list[int]) -> dict[str, Any]:
    """The reaction delays in microseconds (floats for reading; the ns values are exact ints before)."""
    if not delays:
        return {f"reaction_delay_{name}_us": None for name in ("mean", "min", "p50", "p90", "p99", "max")}
    ordered = sorted(delays)
    out: dict[str, Any] = {
        "reaction_delay_mean_us": sum(ordered) / len(ordered) / 1_000,
        "reaction_delay_min_us": ordered[0] / 1_000,
    }
    for q in PERCENTILES:
        out[f"reaction_delay_p{q}_us"] = _percentile(ordered, q) / 1_000
    out["reaction_delay_max_us"] = ordered[-1] / 1_000
    return out


def blind_spot(pushed: Sequence[Quote], polled: Sequence[Quote], *, start: int, end: int) -> dict[str, Any]:
    """What the poller saw of the push feed's quotes (each list in arrival order, ``ts_init`` = wall arrival),
    counting the push feed's quotes that arrived in [``start``, ``end``]; see the module docstring."""
    by_symbol: dict[str, list[Quote]] = {}
    for quote in pushed:
        by_symbol.setdefault(quote.symbol, []).append(quote)
    matched: set[int] = set()  # id() of pushed quotes a poll answered with
    delays: list[int] = []
    poll_only = 0
    cursor: dict[str, int] = {}
    for poll in polled:
        stream = by_symbol.get(poll.symbol, [])
        key = quote_key(poll)
        i = cursor.get(poll.symbol, 0)
        while i < len(stream) and quote_key(stream[i]) != key:
            i += 1
        if i == len(stream):  # never pushed after what was matched last: the push feed's gap, not the poller's
            poll_only += 1
            continue
        matched.add(id(stream[i]))
        delays.append(poll.ts_init - stream[i].ts_init)
        cursor[poll.symbol] = i + 1
    in_window = [q for q in pushed if start <= q.ts_init <= end]
    never_seen = sum(1 for q in in_window if id(q) not in matched)
    prices = prices_seen = 0
    for stream in by_symbol.values():
        runs: list[list[Quote]] = []
        for quote in stream:
            if runs and (quote.bid_price, quote.ask_price) == (runs[-1][0].bid_price, runs[-1][0].ask_price):
                runs[-1].append(quote)
            else:
                runs.append([quote])
        for run in runs:
            if any(start <= q.ts_init <= end for q in run):
                prices += 1
                prices_seen += any(id(q) in matched for q in run)
    return {
        "quotes": len(in_window),
        "quotes_seen": len(delays),
        "quotes_never_seen": never_seen,
        "never_seen_share": never_seen / len(in_window) if in_window else 0.0,
        "price_changes": prices,
        "price_changes_never_seen": prices - prices_seen,
        "poll_only": poll_only,
        "poll_first": sum(1 for d in delays if d < 0),
        **_delays(delays),
    }


async def compare_live(
    rest_url: str,
    symbols: Sequence[str],
    *,
    key: str,
    secret: str,
    poll_ms: int,
    seconds: float,
    stream_url: str = "",
    feed: str = "iex",
    wall: WallClock | None = None,
    connect_timeout: float = 10.0,
    backoff: BackoffConfig | None = None,
    on_tick: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Push and pull side by side on ``rest_url``'s venue for ``seconds`` of wall time; the report.

    ``stream_url``: the data stream (default: the same host's ``/v2/{feed}``, as the paper venue serves it).
    ``on_tick(pushed, polled)`` is told the counts as they grow (a progress line)."""
    if not rest_url.startswith(("http://", "https://")):
        raise ConfigError(f"--live takes the venue's http(s):// URL, got {rest_url!r}", field="--live")
    if not seconds > 0:
        raise ConfigError(f"--seconds must be positive, got {seconds}", field="--seconds")
    if poll_ms <= 0:
        raise ConfigError(f"--poll-ms must be a positive number of ms, got {poll_ms}", field="--poll-ms")
    stream_url = stream_url or "ws" + rest_url.rstrip("/").removeprefix("http") + f"/v2/{feed}"
    clock: WallClock = wall if wall is not None else RealTimeClock()
    backoff = backoff if backoff is not None else BackoffConfig(initial=0.1, cap=1.0, floor=0.05, max_attempts=8)
    push = AlpacaMarketFeed(
        MarketFeedConfig(
            url=stream_url,
            symbols=tuple(symbols),
            channels=("quotes",),
            feed=feed,
            open_timeout=connect_timeout,
            backoff=backoff,
        ),
        key=key,
        secret=secret,
        wall=clock,
        is_open=lambda _ts: False,  # silence is not measured here; a closed socket still reconnects
    )
    pull = QuotePollFeed(
        rest_url, symbols, key=key, secret=secret, interval_ms=poll_ms, wall=clock, feed=feed, backoff=backoff
    )
    pushed: list[Quote] = []
    polled: list[Quote] = []
    statuses: list[str] = []

    def tick() -> None:
        if on_tick is not None:
            on_tick(len(pushed), len(polled))

    async def read_push() -> None:
        async for event in push:
            if isinstance(event, Quote):
                pushed.append(event)
                tick()
            elif isinstance(event, VenueStatus):
                statuses.append(type(event).__name__)

    async def read_pull() -> None:
        async for quote in pull:
            polled.append(quote)
            tick()

    pushing = asyncio.create_task(read_push(), name="push")
    pulling: asyncio.Task[None] | None = None
    try:
        deadline = clock.now() + int(connect_timeout * NS_PER_S)
        while push.sessions == 0 and not pushing.done():  # the poller starts once the stream listens
            if clock.now() >= deadline:
                why = push.failures[-1] if push.failures else "no answer"
                if "406" in why:  # Alpaca (and the paper venue) allow one data stream per key
                    why += " (another client, a running `tapeflow live`?, holds this key's one data stream)"
                raise RequestError(503, 0, f"the data stream at {stream_url} did not connect: {why}")
            await clock.wait({pushing}, min(deadline, clock.now() + 10 * NS_PER_MS))
        pulling = asyncio.create_task(read_pull(), name="pull")
        await clock.wait({pushing, pulling}, clock.now() + int(seconds * NS_PER_S))
        for task in (pushing, pulling):
            if task.done():
                task.result()  # a side that ended early raises its error here (bad keys, REST refused, ...)
        pull.close()
        await asyncio.wait_for(pulling, connect_timeout)
        # a quote the last poll saw may still be on its way on the stream (loopback: well under a millisecond)
        await clock.wait({pushing}, clock.now() + GRACE_NS)
    finally:
        pull.close()
        push.close()
        for running in (pulling, pushing):
            if running is not None and not running.done():
                running.cancel()
            if running is not None:
                with contextlib.suppress(BaseException):
                    await running
    start = pull.first_answer_ns if pull.first_answer_ns is not None else clock.now()
    end = pull.last_sent_ns if pull.last_sent_ns is not None else start - 1
    spot = blind_spot(pushed, polled, start=start, end=end)
    return {
        "mode": "live",
        "url": rest_url,
        "stream_url": stream_url,
        "symbols": list(symbols),
        "poll_ms": poll_ms,
        "seconds": seconds,
        "push": {
            "quotes": len(pushed),
            "connections": push.sessions,
            "status_events": statuses,
            "failures": list(push.failures),
            "malformed": push.wire.malformed_total,
        },
        "pull": {
            "polls": pull.polls,
            "errors": {str(status): n for status, n in sorted(pull.errors.items())},
            "skipped_polls": pull.skipped,
            "malformed": pull.wire.malformed_total,
            **spot,
        },
        "blind_spot": _sentence(poll_ms, spot),
    }


def _sentence(poll_ms: int, spot: dict[str, Any]) -> str:
    mean = spot["reaction_delay_mean_us"]
    p99 = spot["reaction_delay_p99_us"]
    delay = (
        f"; it saw the others on average {mean / 1_000:.1f} ms after the stream (p99 {p99 / 1_000:.1f} ms)"
        if mean is not None and p99 is not None
        else ""
    )
    return (
        f"polling every {poll_ms} ms never saw {spot['quotes_never_seen']:,} of the {spot['quotes']:,} quotes the "
        f"stream delivered meanwhile ({spot['never_seen_share']:.1%}) and never knew "
        f"{spot['price_changes_never_seen']:,} of {spot['price_changes']:,} prices{delay}"
    )
