"""The REST poller: a quote only when it changed, polls on a fixed schedule of the injected clock, backoff on 429
and 5xx, refusals that cannot heal end it, malformed answers counted and never raised.

Driven by a scripted ``get`` on a ``FakeClock`` (time jumps only while the poller waits), so the schedule is exact;
one test polls a real paper venue over loopback with the kept-alive connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.lobster_events import iter_events
from tapeflow.live.backfill import Get
from tapeflow.live.backoff import BackoffConfig
from tapeflow.live.clock import FakeClock
from tapeflow.live.poll_feed import KeepAliveGet, QuotePollFeed, quote_key
from tapeflow.model.errors import ConfigError, RequestError
from tapeflow.model.market import Quote
from tapeflow.node import NodeConfig
from tapeflow.paper.app import ServerThread, create_app
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.market_rest import quote_json
from tapeflow.paper.venue import PaperVenue

MS = 1_000_000
T0 = 1_796_000_000 * 1_000_000_000
TAPE = 1_340_285_400 * 1_000_000_000
KEY, SECRET = "PKTEST", "SKTEST"
FAST = BackoffConfig(initial=0.05, cap=0.2, floor=0.01, max_attempts=3)

Answer = tuple[int, dict[str, str], bytes]


def _quote(n: int, bid: int = 5_800_000, size: int = 100) -> Quote:
    return Quote(
        ts_event=TAPE + n, ts_init=0, symbol="AAPL", bid_price=bid, bid_size=size, ask_price=bid + 100, ask_size=200
    )


def _body(*quotes: Quote) -> bytes:
    return msgspec.json.encode({"quotes": {q.symbol: quote_json(q) for q in quotes}})


def _ok(*quotes: Quote) -> Answer:
    return 200, {}, _body(*quotes)


class Script:
    """A ``get`` that answers from a list, noting the fake clock's time of each call; then ``then``."""

    def __init__(self, clock: FakeClock, answers: list[Answer], then: Answer | None = None) -> None:
        self.clock = clock
        self.answers = answers
        self.then = then
        self.calls: list[int] = []
        self.urls: list[str] = []
        self.stop: Callable[[], object] = lambda: None
        self.stop_after = 0

    def __call__(self, url: str, headers: dict[str, str], timeout: float) -> Answer:
        assert headers == {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
        self.calls.append(self.clock.now())
        self.urls.append(url)
        if len(self.calls) == self.stop_after:
            self.stop()  # this answer is never read: the poller was closed while it was on its way
        if self.answers:
            return self.answers.pop(0)
        assert self.then is not None, "polled more often than scripted"
        return self.then


def _feed(clock: FakeClock, get: Get, interval_ms: int = 100, **kwargs: object) -> QuotePollFeed:
    return QuotePollFeed(
        "http://127.0.0.1:9", ["AAPL"], key=KEY, secret=SECRET, interval_ms=interval_ms, wall=clock, get=get,
        backoff=FAST, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def _collect(feed: QuotePollFeed, get: Script, polls: int) -> list[Quote]:
    """Every quote yielded from the answers to the first ``polls - 1`` polls: the feed is closed from the
    ``polls``-th request (a test that stopped on a fake time could see the clock jump while a request runs in its
    thread: ``FakeClock`` cannot see threads)."""
    out: list[Quote] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        get.stop, get.stop_after = lambda: loop.call_soon_threadsafe(feed.close), polls
        out.extend([quote async for quote in feed])

    asyncio.run(asyncio.wait_for(main(), 10))
    return out


def test_poller_yields_a_quote_only_when_it_changed_stamped_with_its_arrival() -> None:
    clock = FakeClock(T0)
    a, b = _quote(1), _quote(2, size=300)  # b: the same prices, another size: still a new quote
    get = Script(clock, [_ok(a), _ok(a), _ok(b), _ok(b)], then=_ok(b))
    out = _collect(_feed(clock, get), get, 5)
    assert [quote_key(q) for q in out] == [quote_key(a), quote_key(b)]
    assert [q.ts_init for q in out] == [T0, T0 + 200 * MS]
    assert "/v2/stocks/quotes/latest?symbols=AAPL&feed=iex" in get.urls[0]


def test_poller_polls_on_a_fixed_schedule_of_the_injected_clock() -> None:
    clock = FakeClock(T0)
    get = Script(clock, [], then=_ok(_quote(1)))
    feed = _feed(clock, get, interval_ms=25)
    _collect(feed, get, 5)
    assert get.calls == [T0 + i * 25 * MS for i in range(5)]
    assert feed.polls == 4 and feed.skipped == 0


def test_a_slow_answer_skips_the_slots_it_overran_and_the_schedule_does_not_drift() -> None:
    clock = FakeClock(T0)
    get = Script(clock, [], then=_ok(_quote(1)))

    def late(url: str, headers: dict[str, str], timeout: float) -> Answer:
        answer = get(url, headers, timeout)
        if len(get.calls) == 1:
            clock._now += 35 * MS  # the first request took 35 ms of the clock (the loop waits on it meanwhile)
        return answer

    feed = _feed(clock, late, interval_ms=10)
    _collect(feed, get, 3)
    assert get.calls[:3] == [T0, T0 + 40 * MS, T0 + 50 * MS]  # slots 10, 20 and 30 ms were overrun
    assert feed.skipped == 3


async def _drain(feed: QuotePollFeed) -> None:
    async for _ in feed:
        pass


def test_a_429_waits_at_least_its_retry_after_then_polling_resumes() -> None:
    clock = FakeClock(T0)
    get = Script(clock, [(429, {"Retry-After": "1"}, b"slow down"), (503, {}, b"")], then=_ok(_quote(1)))
    feed = _feed(clock, get)
    out = _collect(feed, get, 4)
    assert get.calls[1] >= T0 + 1_000 * MS  # Retry-After obeyed
    assert get.calls[2] - get.calls[1] <= 200 * MS  # the 503: a backoff draw (cap 0.2 s), not the Retry-After
    assert dict(feed.errors) == {429: 1, 503: 1}
    assert len(out) == 1 and feed.backoff.attempts == 0  # reset by the success


def test_a_refusal_that_cannot_heal_ends_the_poller_with_request_error() -> None:
    clock = FakeClock(T0)
    get = Script(clock, [(403, {}, b'{"message":"forbidden"}')])
    with pytest.raises(RequestError, match="403"):
        _collect(_feed(clock, get), get, 2)


def test_an_unreachable_venue_is_retried_with_backoff_then_given_up() -> None:
    clock = FakeClock(T0)

    def refused(url: str, headers: dict[str, str], timeout: float) -> Answer:
        raise OSError("connection refused")

    get = Script(clock, [])
    feed = _feed(clock, refused)
    with pytest.raises(RequestError, match="failed 4 times in a row"):  # 3 retries (max_attempts) after the first
        _collect(feed, get, 10)
    assert feed.errors[0] == 4


def test_a_malformed_answer_is_counted_and_polling_goes_on() -> None:
    clock = FakeClock(T0)
    get = Script(clock, [(200, {}, b"not json"), (200, {}, b'{"quotes": {"AAPL": {"bp": "x"}}}')], then=_ok(_quote(1)))
    feed = _feed(clock, get)
    out = _collect(feed, get, 4)
    assert len(out) == 1
    assert feed.wire.malformed_total == 2


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_no_answer_body_crashes_the_poller_or_yields_a_made_up_quote(body: bytes) -> None:
    feed = QuotePollFeed("http://127.0.0.1:9", ["AAPL"], key=KEY, secret=SECRET, interval_ms=10)
    for quote in feed._changes(body, T0):  # anything decoded must be a whole, valid quote of a polled symbol
        assert quote.symbol == "AAPL" and quote.ts_init == T0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rest_url": "ftp://127.0.0.1:1"}, "url"),
        ({"symbols": []}, "symbols"),
        ({"interval_ms": 0}, "poll_ms"),
        ({"key": ""}, "keys"),
    ],
)
def test_a_bad_poller_configuration_is_refused(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "rest_url": "http://127.0.0.1:1", "symbols": ["AAPL"], "key": KEY, "secret": SECRET, "interval_ms": 10,
        **kwargs,
    }  # fmt: skip
    with pytest.raises(ConfigError, match=field):
        QuotePollFeed(**args)  # type: ignore[arg-type]


def test_poller_sees_the_paper_venues_latest_quote_over_one_kept_alive_connection(data_dir: Path) -> None:
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    venue = PaperVenue(iter_events(path), config=NodeConfig(level="L3"))
    venue.step_events(2_000)
    server = ServerThread(create_app(venue, check=fixed_keys(KEY, SECRET))).start()
    try:
        get = KeepAliveGet()
        feed = QuotePollFeed(server.url, ["AAPL"], key=KEY, secret=SECRET, interval_ms=5, get=get)

        async def first() -> Quote:
            async for quote in feed:
                feed.close()
                return quote
            raise AssertionError("no quote")

        quote = asyncio.run(asyncio.wait_for(first(), 10))
        latest = venue.history.quotes["AAPL"][-1]
        assert quote_key(quote) == quote_key(latest)
        connection = get._conn
        for _ in range(3):
            status, _, _ = get(feed.url, {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}, 5)
            assert status == 200
        assert get._conn is connection is not None  # the same connection, kept alive
        get.close()
    finally:
        server.stop()
