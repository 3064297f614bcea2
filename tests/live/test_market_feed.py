"""The market data feed over loopback against the paper venue's data stream: what the venue published arrives,
exactly once, through a closed socket, a silent one, duplicates and delays; refused handshakes back off.

Each test serves a real venue (the AAPL LOBSTER day) in a thread, steps it over HTTP (the hub publishes on the
server's loop), and bounds every wait: a hung socket fails the test instead of hanging it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import msgspec
import pytest
import requests
from websockets.asyncio.server import serve

from tapeflow.live import LiveNode, market_guard
from tapeflow.live.backoff import Backoff, BackoffConfig
from tapeflow.live.clock import FakeClock, RealTimeClock
from tapeflow.live.market_feed import AlpacaMarketFeed, MarketFeedConfig
from tapeflow.model.enums import Aggressor
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.model.market import Trade
from tapeflow.model.venue_events import FeedBackfill, FeedBackfillDone, FeedResumed, FeedStale, VenueStatus
from tapeflow.paper.faults import ADMIN_HEADER, ADMIN_PATH
from tapeflow.strategy.base import Strategy
from tests.live.market_venue import (
    ADMIN,
    FAST,
    KEY,
    SECRET,
    Consumer,
    Venue,
    serve_venue,
    until,
)
from tests.live.market_venue import caught_up as _caught_up
from tests.live.market_venue import feed_on as _feed
from tests.live.market_venue import run as _run


@pytest.fixture
def paper(data_dir: Path) -> Iterator[Venue]:
    yield from serve_venue(data_dir)


def test_the_feed_receives_exactly_what_the_venue_published_signed_and_stamped_on_arrival(paper: Venue) -> None:
    async def test() -> None:
        consumer = Consumer(_feed(paper))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await paper.step(5_000)
        await until(_caught_up(paper, consumer), "every trade and quote")
        await consumer.close()
        trades = consumer.of(Trade)
        assert len(trades) > 100
        assert all(isinstance(t, Trade) and t.aggressor is not Aggressor.UNKNOWN for t in trades[10:])
        assert all(e.ts_init > 1_700_000_000 * 10**9 for e in consumer.events)  # wall time, not the tape's 2012
        assert consumer.feed.quality().anomalies == 0 and consumer.feed.sessions == 1

    _run(test)


def test_a_socket_closed_mid_stream_reconnects_resubscribes_and_backfills_nothing_lost_or_twice(paper: Venue) -> None:
    async def test() -> None:
        consumer = Consumer(_feed(paper))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await paper.step(3_000)
        await until(_caught_up(paper, consumer), "the first trades")
        await paper.fault({"fault": "close", "stream": "data", "key": KEY})
        await paper.step(3_000)  # published while the feed is away (or reconnecting): only REST can give it
        await until(lambda: consumer.of(FeedBackfillDone), "the backfill")
        await until(_caught_up(paper, consumer), "the gap filled")
        await paper.step(2_000)
        await until(_caught_up(paper, consumer), "live data after the backfill")
        await consumer.close()
        kinds = [
            type(e) for e in consumer.events if isinstance(e, FeedStale | FeedResumed | FeedBackfill | FeedBackfillDone)
        ]
        assert kinds == [FeedStale, FeedBackfill, FeedBackfillDone, FeedResumed]
        opened = consumer.events.index(consumer.of(FeedBackfill)[0])
        closed = consumer.events.index(consumer.of(FeedBackfillDone)[0])
        done = consumer.of(FeedBackfillDone)[0]
        assert isinstance(done, FeedBackfillDone) and done.complete and done.count == closed - opened - 1 > 0
        assert consumer.feed.sessions == 2
        assert consumer.feed.quality().duplicates == 0 and consumer.feed.quality().out_of_order == 0

    _run(test)


def test_a_silent_socket_is_stale_then_reconnected_and_resumes(paper: Venue) -> None:
    async def test() -> None:
        consumer = Consumer(_feed(paper, stale_after=0.3, reconnect_after=0.3))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await paper.step(500)
        await until(_caught_up(paper, consumer), "the first trades")
        await paper.fault({"fault": "silent", "stream": "data", "seconds": 1.0})
        await paper.step(1_000)
        await until(lambda: consumer.feed.sessions == 2, "the silent socket replaced", timeout=10)
        await until(lambda: consumer.of(FeedResumed), "the feed to resume")
        await asyncio.sleep(1.0)  # the fault is over
        await paper.step(1_000)
        await until(_caught_up(paper, consumer), "every trade and quote, the silent ones by backfill")
        await consumer.close()
        stale = consumer.of(FeedStale)
        assert stale and isinstance(stale[0], FeedStale) and "no market data for 0.3 s" in stale[0].reason
        assert any("silent for" in f for f in consumer.feed.failures)

    _run(test)


def test_duplicated_messages_are_counted_and_delivered_once(paper: Venue) -> None:
    async def test() -> None:
        consumer = Consumer(_feed(paper))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await paper.fault({"fault": "duplicate", "stream": "data", "count": 50})
        await paper.step(3_000)
        await until(_caught_up(paper, consumer), "every trade and quote")
        await until(lambda: consumer.feed.quality().duplicates == 50, "the duplicates counted")
        await consumer.close()

    _run(test)


def test_delayed_trades_arrive_late_counted_out_of_order_and_none_is_lost(paper: Venue) -> None:
    async def test() -> None:
        consumer = Consumer(_feed(paper))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await paper.fault({"fault": "delay", "stream": "data", "channel": "trades", "ms": 200, "count": 5})
        await paper.step(3_000)
        await until(lambda: sorted(consumer.trades()) == sorted(paper.trades()), "every trade, the late ones too")
        await consumer.close()
        assert consumer.trades() != paper.trades()  # five came late
        assert consumer.feed.quality().out_of_order == 5 and consumer.feed.quality().duplicates == 0

    _run(test)


HOLD_MS = 600_000
"""A delay fault this long holds its message past the end of the test: sent to no socket, as Alpaca's buffered
messages are lost with the connection they were queued on."""


async def _hold_one_then_drop(paper: Venue, consumer: Consumer, channel: str) -> tuple[int, ...]:
    """One ``channel`` message held back while later ones arrive, then the socket closed: the held one (its key in
    the venue's history), checked older than the newest delivered and not delivered, so the backfill is tested."""
    seen = consumer.trades if channel == "trades" else consumer.quotes
    truth = paper.trades if channel == "trades" else paper.quotes
    await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
    await paper.step(1_000)
    await until(_caught_up(paper, consumer), "the first trades and quotes")
    await paper.fault({"fault": "delay", "stream": "data", "channel": channel, "ms": HOLD_MS, "count": 1})
    await paper.step(2_000)
    await until(lambda: len(seen()) == len(truth()) - 1, f"every {channel} item but the held one")
    (held,) = set(truth()) - set(seen())
    assert held[0] < max(item[0] for item in seen())  # older than what came after it: the case at stake
    await paper.fault({"fault": "close", "stream": "data", "key": KEY})
    assert held not in seen()
    await until(lambda: consumer.of(FeedResumed), "the feed to resume")
    await paper.step(500)
    await until(lambda: len(seen()) >= len(truth()) - 1, "live data again")
    return held


def test_a_trade_held_back_when_the_socket_dropped_is_backfilled_once_not_silently_lost(paper: Venue) -> None:
    """The backfill starts where delivery was last known complete (the lookback), not at the newest trade seen:
    that one came after the held trade, and a backfill from it never asked for the held one."""

    async def test() -> None:
        consumer = Consumer(_feed(paper))
        held = await _hold_one_then_drop(paper, consumer, "trades")
        await until(lambda: sorted(consumer.trades()) == sorted(paper.trades()), "every trade, the held one too")
        await consumer.close()
        assert consumer.trades().count(held) == 1
        (done,) = consumer.of(FeedBackfillDone)
        assert isinstance(done, FeedBackfillDone) and done.complete
        assert consumer.feed.guard.recovered == 1  # it came from REST, older than the newest trade delivered
        assert consumer.feed.quality().duplicates == 0 and consumer.feed.quality().out_of_order == 1

    _run(test)


def test_a_quote_held_back_when_the_socket_dropped_stays_out_and_the_last_quote_is_the_venues(paper: Venue) -> None:
    """Quotes are state: a held-back quote older than the last one delivered would be dropped as out of order had it
    arrived, so the backfill from the last quote leaves the feed exactly where a whole stream would."""

    async def test() -> None:
        consumer = Consumer(_feed(paper))
        held = await _hold_one_then_drop(paper, consumer, "quotes")
        await until(lambda: consumer.quotes() == [q for q in paper.quotes() if q != held], "every quote but it")
        await consumer.close()
        assert consumer.quotes()[-1] == paper.quotes()[-1]
        (done,) = consumer.of(FeedBackfillDone)
        assert isinstance(done, FeedBackfillDone) and done.complete
        assert consumer.feed.quality().duplicates == 0

    _run(test)


def test_a_backfill_whose_lookback_overflowed_says_it_may_be_incomplete_and_still_delivers_once(
    paper: Venue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More trades arrived within the lookback than the guard remembers: the watermark rose early, so a held-back
    print older than it could be missing; the backfill says so (``complete=False``) and what it gives is exact."""
    monkeypatch.setattr(market_guard, "MAX_RECENT", 20)

    async def test() -> None:
        consumer = Consumer(_feed(paper))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await paper.step(2_000)
        await until(_caught_up(paper, consumer), "the first trades")
        await paper.fault({"fault": "close", "stream": "data", "key": KEY})
        await paper.step(1_000)
        await until(lambda: consumer.of(FeedBackfillDone), "the backfill")
        await until(_caught_up(paper, consumer), "the gap filled")
        await consumer.close()
        (done,) = consumer.of(FeedBackfillDone)
        assert isinstance(done, FeedBackfillDone) and not done.complete
        assert consumer.feed.quality().duplicates == 0 and consumer.feed.quality().out_of_order == 0

    _run(test)


def test_refused_handshakes_wait_longer_each_time_as_the_seeded_backoff_draws(paper: Venue) -> None:
    async def test() -> None:
        await paper.fault({"fault": "refuse"})
        feed = _feed(paper, wall=FakeClock(start=1_000), backoff=BackoffConfig(initial=1.0, cap=60.0, floor=0.1))
        consumer = Consumer(feed)
        await until(lambda: len(feed.waits) >= 6, "six refused handshakes")
        await consumer.close()
        expected = Backoff(BackoffConfig(initial=1.0, cap=60.0, floor=0.1), seed=0)
        assert feed.waits[:6] == [expected.next_wait() for _ in range(6)]
        bounds = [min(60.0, 2.0**k) for k in range(6)]
        assert all(w <= b for w, b in zip(feed.waits, bounds, strict=False))
        assert all("HTTP 403" in f for f in feed.failures)
        (stale,) = consumer.of(FeedStale)  # once, not once a try
        assert isinstance(stale, FeedStale) and "cannot connect" in stale.reason
        assert feed.sessions == 0

    _run(test)


def test_close_ends_the_iteration_while_connected_and_quiet(paper: Venue) -> None:
    async def test() -> None:
        consumer = Consumer(_feed(paper, stale_after=30.0))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await consumer.close()
        assert consumer.task.done() and consumer.events == []
        await until(lambda: paper.hub.connections == 0, "the server to see the socket closed")

    _run(test)


def test_an_auth_error_is_a_failed_attempt_that_backs_off_and_never_a_session(paper: Venue) -> None:
    async def test() -> None:
        feed = AlpacaMarketFeed(
            MarketFeedConfig(url=paper.url.replace("http://", "ws://") + "/v2/iex", symbols=("AAPL",), backoff=FAST),
            key=KEY,
            secret="WRONG",
            wall=RealTimeClock(),
            is_open=lambda ts: True,
        )
        consumer = Consumer(feed)
        await until(lambda: len(feed.waits) >= 3, "three failed logins")
        await consumer.close()
        assert feed.sessions == 0 and feed.failures[0] == "handshake failed: error 402 auth failed"
        assert [e.code for e in feed.stream_errors[:3]] == [402, 402, 402]
        expected = Backoff(FAST, seed=0)
        assert feed.waits[:3] == [expected.next_wait() for _ in range(3)]

    _run(test)


def test_rest_errors_during_the_backfill_are_retried_and_the_gap_is_still_filled(paper: Venue) -> None:
    async def test() -> None:
        consumer = Consumer(_feed(paper))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await paper.step(2_000)
        await until(_caught_up(paper, consumer), "the first trades")
        await paper.fault({"fault": "rest_error", "status": 500, "count": 2})  # the next two HTTP requests
        await paper.fault({"fault": "close", "stream": "data", "key": KEY})
        await until(lambda: consumer.of(FeedBackfillDone), "the backfill")
        (done,) = consumer.of(FeedBackfillDone)
        assert isinstance(done, FeedBackfillDone) and done.complete
        listing = await asyncio.to_thread(
            requests.get, f"{paper.url}{ADMIN_PATH}", headers={ADMIN_HEADER: ADMIN}, timeout=10
        )
        assert listing.json()["applied"]["rest_error"] == 2  # both answered to the feed's REST calls
        await paper.step(2_000)
        await until(_caught_up(paper, consumer), "live data again")
        await consumer.close()

    _run(test)


class Counting(Strategy):
    def __init__(self) -> None:
        super().__init__("counting")
        self.trades: list[Trade] = []
        self.statuses: list[VenueStatus] = []

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)

    def on_venue_status(self, event: VenueStatus) -> None:
        self.statuses.append(event)


def test_a_live_node_runs_on_the_feed_in_real_time_and_stops_when_the_feed_is_closed(paper: Venue) -> None:
    async def test() -> None:
        feed = _feed(paper)
        strategy = Counting()
        node = LiveNode([strategy], run_id="")
        running = asyncio.ensure_future(node.run(feed, realtime=True))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await paper.step(3_000)
        await until(lambda: len(strategy.trades) == len(paper.trades()) > 0, "the node to see every trade")
        await paper.fault({"fault": "close", "stream": "data", "key": KEY})
        await until(lambda: any(isinstance(s, FeedResumed) for s in strategy.statuses), "the node to hear the resume")
        feed.close()
        await asyncio.wait_for(running, 5)
        kinds = [type(s) for s in strategy.statuses]
        assert kinds == [FeedStale, FeedBackfill, FeedBackfillDone, FeedResumed]
        assert [(t.ts_event, t.trade_id) for t in strategy.trades] == [(t[0], t[3]) for t in paper.trades()]

    _run(test)


def test_a_429_handshake_waits_at_least_what_retry_after_asks() -> None:
    refused: list[int] = []

    def process_request(connection: Any, request: Any) -> Any:
        refused.append(1)
        response = connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "slow down\n")
        response.headers["Retry-After"] = "7"
        return response

    async def handler(connection: Any) -> None:
        return None  # pragma: no cover  (every handshake is refused)

    async def test() -> None:
        async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
            port = server.sockets[0].getsockname()[1]
            feed = AlpacaMarketFeed(
                MarketFeedConfig(url=f"ws://127.0.0.1:{port}/v2/iex", symbols=("AAPL",), backoff=FAST),
                key=KEY,
                secret=SECRET,
                wall=FakeClock(start=1_000),
                is_open=lambda ts: True,
            )
            consumer = Consumer(feed)
            await until(lambda: len(feed.waits) >= 3, "three refusals")
            await consumer.close()
        assert feed.waits[:3] == [7.0, 7.0, 7.0]  # each draw of FAST is below 0.2 s: the server's 7 s wins
        assert feed.failures[0] == "handshake refused: HTTP 429" and len(refused) >= 3

    _run(test)


def test_silence_while_the_market_is_closed_is_not_stale(paper: Venue) -> None:
    async def test() -> None:
        feed = AlpacaMarketFeed(
            MarketFeedConfig(
                url=paper.url.replace("http://", "ws://") + "/v2/iex",
                symbols=("AAPL",),
                stale_after=0.1,
                reconnect_after=0.1,
            ),
            key=KEY,
            secret=SECRET,
            wall=RealTimeClock(),
            is_open=lambda ts: False,
        )
        consumer = Consumer(feed)
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await asyncio.sleep(0.5)
        await consumer.close()
        assert consumer.events == [] and feed.sessions == 1 and not feed.failures

    _run(test)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "http://127.0.0.1/v2/iex"),
        ("rest_url", "ftp://x"),
        ("symbols", ()),
        ("channels", ("books",)),
        ("stale_after", 0.0),
        ("max_frame_bytes", 0),
    ],
)
def test_a_config_that_cannot_work_is_refused_naming_the_field(field: str, value: object) -> None:
    fields: dict[str, Any] = {"url": "ws://127.0.0.1:1/v2/iex", "symbols": ("AAPL",), field: value}
    with pytest.raises(ConfigError):
        MarketFeedConfig(**fields)
    with pytest.raises(ConfigError):
        AlpacaMarketFeed(MarketFeedConfig(url="ws://127.0.0.1:1/v2/iex", symbols=("AAPL",)), key="", secret="")


def test_without_a_rest_url_a_reconnect_reports_the_gap_as_not_filled(paper: Venue) -> None:
    async def test() -> None:
        consumer = Consumer(_feed(paper, rest_url=""))
        await until(lambda: paper.hub.subscribed("trades", "AAPL"), "the feed to subscribe")
        await paper.step(1_000)
        await until(_caught_up(paper, consumer), "the first trades")
        await paper.fault({"fault": "close", "stream": "data", "key": KEY})
        await until(lambda: consumer.of(FeedResumed), "the feed to resume")
        await consumer.close()
        (done,) = consumer.of(FeedBackfillDone)
        assert isinstance(done, FeedBackfillDone) and not done.complete and done.count == 0

    _run(test)


def test_the_rest_of_a_frame_is_handed_over_without_waiting_by_next_ready_in_order_and_once() -> None:
    """The live driver's batch path (``ReadySource``): after the first event of a frame, ``next_ready`` returns the
    others, in frame order, then None, and the iteration goes on with the next frame, not with them again."""

    def drain(feed: AlpacaMarketFeed) -> list[Event]:
        out = []
        while (event := feed.next_ready()) is not None:
            out.append(event)
        return out

    def quote(n: int) -> dict[str, Any]:
        return {"T": "q", "S": "AAPL", "bp": 100 + n, "bs": 1, "ap": 101 + n, "as": 1, "t": f"2012-06-21T14:00:0{n}Z"}

    async def handler(ws: Any) -> None:
        pack = msgspec.msgpack.encode
        await ws.send(pack([{"T": "success", "msg": "connected"}]))
        await ws.recv()
        await ws.send(pack([{"T": "success", "msg": "authenticated"}]))
        await ws.recv()
        await ws.send(pack([{"T": "subscription", "quotes": ["AAPL"]}]))
        await ws.send(pack([quote(n) for n in range(4)]))
        await ws.send(pack([quote(n) for n in range(4, 6)]))
        await ws.wait_closed()

    async def main() -> tuple[list[int], list[int], list[int]]:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            config = MarketFeedConfig(url=f"ws://127.0.0.1:{port}/v2/iex", symbols=("AAPL",), channels=("quotes",))
            feed = AlpacaMarketFeed(config, key=KEY, secret=SECRET, is_open=lambda ts: True)
            events = aiter(feed)
            first = await asyncio.wait_for(anext(events), 10)
            rest = drain(feed)
            again = drain(feed)
            second = await asyncio.wait_for(anext(events), 10)
            tail = drain(feed)
            feed.close()
            await events.aclose()  # type: ignore[attr-defined]
        bid = lambda e: e.bid_price // 10_000  # noqa: E731
        return [bid(first), *map(bid, rest)], [bid(e) for e in again], [bid(second), *map(bid, tail)]

    frame1, empty, frame2 = asyncio.run(main())
    assert frame1 == [100, 101, 102, 103]
    assert empty == []
    assert frame2 == [104, 105]
