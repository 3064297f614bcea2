"""The paper venue's data stream and market data REST for the feed's tests: the venue in a thread, stepped over
HTTP, faults on command, and a consumer of the feed; every wait bounded (a hung socket fails the test)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import requests

from tapeflow.data.lobster_events import iter_events
from tapeflow.live.backoff import BackoffConfig
from tapeflow.live.clock import RealTimeClock
from tapeflow.live.market_feed import AlpacaMarketFeed, MarketFeedConfig
from tapeflow.model.events import Event
from tapeflow.model.market import Quote, Trade
from tapeflow.node import NodeConfig
from tapeflow.paper.app import ServerThread, create_app
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.data_stream import MarketDataHub, data_stream_route
from tapeflow.paper.faults import ADMIN_HEADER, ADMIN_PATH, Faults
from tapeflow.paper.venue import PaperVenue

KEY, SECRET, ADMIN = "PKTEST", "SKTEST", "admin-token"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
FAST = BackoffConfig(initial=0.05, cap=0.2, floor=0.01)


def with_trade_ids(events: Iterator[Event]) -> Iterator[Event]:
    """The tape with numbered prints, as Alpaca's trades carry ids (LOBSTER's have none)."""
    n = 0
    for event in events:
        if hasattr(event, "trade_id"):
            n += 1
            event = msgspec.structs.replace(event, trade_id=str(n))
        yield event


class Venue:
    """The paper venue with its data stream and the faults admin, on loopback."""

    def __init__(self, path: Path) -> None:
        self.hub = MarketDataHub()
        self.venue = PaperVenue(with_trade_ids(iter_events(path)), config=NodeConfig(level="L3"), data_hub=self.hub)
        check = fixed_keys(KEY, SECRET)
        app = create_app(
            self.venue,
            check=check,
            extra_routes=[data_stream_route(self.hub, check)],
            admin_token=ADMIN,
            faults=Faults(hubs={"data": self.hub}),
        )
        self.server = ServerThread(app).start()
        self.url = self.server.url

    async def step(self, events: int) -> None:
        answer = await asyncio.to_thread(
            requests.post, f"{self.url}/tapeflow/step", json={"events": events}, headers=HEADERS, timeout=30
        )
        assert answer.status_code == 200, answer.text

    async def fault(self, body: dict[str, Any]) -> None:
        answer = await asyncio.to_thread(
            requests.post, f"{self.url}{ADMIN_PATH}", json=body, headers={ADMIN_HEADER: ADMIN}, timeout=10
        )
        assert answer.status_code == 201, answer.text

    def trades(self) -> list[tuple[int, int, int, str]]:
        return [(t.ts_event, t.price, t.size, t.trade_id) for t in self.venue.history.trades.get("AAPL", [])]

    def quotes(self) -> list[tuple[int, int, int, int, int]]:
        """The venue's quotes, a repeat of the same quote in the same nanosecond counted once (the feed drops it:
        it carries nothing)."""
        out: list[tuple[int, int, int, int, int]] = []
        for q in self.venue.history.quotes.get("AAPL", []):
            key = (q.ts_event, q.bid_price, q.bid_size, q.ask_price, q.ask_size)
            if not out or out[-1] != key:
                out.append(key)
        return out


def serve_venue(data_dir: Path) -> Iterator[Venue]:
    """The venue on the AAPL day for one test (a fixture's body); skipped when the day is missing."""
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    venue = Venue(path)
    yield venue
    venue.server.stop()
    assert not venue.server.thread.is_alive()


def feed_on(paper: Venue, **overrides: Any) -> AlpacaMarketFeed:
    """The feed on the venue. A silent feed turns stale, then reconnects, only in the tests about silence (their
    own short bounds): elsewhere the test's own pauses between steps are silence too, which a loaded machine
    stretched past 0.5 s (an extra stale and resume in the closed-socket test, seen on a CPU shared with four busy
    loops), so the default bounds are far above any pause."""
    fields: dict[str, Any] = {
        "url": paper.url.replace("http://", "ws://") + "/v2/iex",
        "rest_url": paper.url,
        "symbols": ("AAPL",),
        "stale_after": 30.0,
        "reconnect_after": 30.0,
        "open_timeout": 30.0,
        "backoff": FAST,
        "backfill_lookback": 30.0,  # a held-back message is recovered however slowly a loaded machine ran the test
    }
    wall = overrides.pop("wall", RealTimeClock())
    return AlpacaMarketFeed(
        MarketFeedConfig(**{**fields, **overrides}), key=KEY, secret=SECRET, wall=wall, is_open=lambda ts: True
    )


class Consumer:
    """Iterates a feed in a task, keeping what it yields."""

    def __init__(self, feed: AlpacaMarketFeed) -> None:
        self.feed = feed
        self.events: list[Event] = []
        self.task = asyncio.ensure_future(self._consume())

    async def _consume(self) -> None:
        async for event in self.feed:
            self.events.append(event)

    def trades(self) -> list[tuple[int, int, int, str]]:
        return [(t.ts_event, t.price, t.size, t.trade_id) for t in self.events if isinstance(t, Trade)]

    def quotes(self) -> list[tuple[int, int, int, int, int]]:
        return [
            (q.ts_event, q.bid_price, q.bid_size, q.ask_price, q.ask_size) for q in self.events if isinstance(q, Quote)
        ]

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]

    async def close(self) -> None:
        self.feed.close()
        await asyncio.wait_for(self.task, 5)


async def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


def caught_up(paper: Venue, consumer: Consumer) -> Callable[[], bool]:
    return lambda: consumer.trades() == paper.trades() and consumer.quotes() == paper.quotes()
