"""Push vs pull, live: what a poller misses of the stream's quotes and how late it sees the rest.

``blind_spot`` is checked on hand-made arrivals (exact), then ``compare_live`` on the paper venue paced at 10x (the
AAPL day, ~150 quote changes a second): a poll every 100 ms misses most changes, one every 10 ms fewer, and the
delays it measures stay within the interval plus a tolerance for loopback and the loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from tapeflow.live.push_pull import blind_spot, compare_live
from tapeflow.model.errors import ConfigError, RequestError
from tapeflow.model.market import Quote

from .paced import KEY, SECRET, paced_paper

MS = 1_000_000
US = 1_000
TAPE = 1_340_285_400 * 1_000_000_000


def _q(n: int, arrived: int, bid: int = 5_800_000, size: int = 100, symbol: str = "AAPL") -> Quote:
    return Quote(
        ts_event=TAPE + n, ts_init=arrived, symbol=symbol, bid_price=bid, bid_size=size, ask_price=bid + 100,
        ask_size=100,
    )  # fmt: skip


def test_quotes_overwritten_between_two_polls_are_never_seen_and_the_rest_are_delayed() -> None:
    pushed = [_q(1, 10 * MS), _q(2, 20 * MS, size=200), _q(3, 30 * MS, bid=5_800_100), _q(4, 40 * MS)]
    polled = [_q(1, 15 * MS), _q(3, 52 * MS, bid=5_800_100)]  # 2 was overwritten by 3, 4 came after the last poll
    spot = blind_spot(pushed, polled, start=15 * MS, end=50 * MS)
    assert spot["quotes"] == 3  # 2, 3 and 4 arrived while the poller looked (1 arrived before its first answer)
    assert spot["quotes_seen"] == 2
    assert spot["quotes_never_seen"] == 2  # 2 and 4
    assert spot["never_seen_share"] == pytest.approx(2 / 3)
    assert spot["reaction_delay_min_us"] == 5 * MS / US
    assert spot["reaction_delay_max_us"] == 22 * MS / US
    assert spot["reaction_delay_p50_us"] == 5 * MS / US  # nearest rank of two values
    assert (spot["poll_only"], spot["poll_first"]) == (0, 0)


def test_price_changes_are_runs_of_one_bid_and_ask_and_one_quote_seen_knows_the_price() -> None:
    pushed = [
        _q(1, 1 * MS),
        _q(2, 2 * MS, size=300),  # the same prices: the same run
        _q(3, 3 * MS, bid=5_800_100),
        _q(4, 4 * MS, bid=5_800_200),
        _q(5, 5 * MS),  # back to the first prices: a new run
    ]
    polled = [_q(2, 2 * MS + 500, size=300), _q(5, 6 * MS)]
    spot = blind_spot(pushed, polled, start=0, end=10 * MS)
    assert spot["price_changes"] == 4
    assert spot["price_changes_never_seen"] == 2  # 5,800,100 and 5,800,200 were never known
    assert spot["quotes_never_seen"] == 3


def test_a_poll_answer_first_is_a_negative_delay_kept_and_a_quote_the_stream_never_sent_is_poll_only() -> None:
    pushed = [_q(1, 10 * MS), _q(2, 20 * MS, size=200)]
    polled = [_q(0, 5 * MS, size=50), _q(1, 9 * MS), _q(2, 25 * MS, size=200)]
    spot = blind_spot(pushed, polled, start=5 * MS, end=25 * MS)
    assert spot["poll_only"] == 1  # quote 0 predates the stream's subscription
    assert spot["poll_first"] == 1
    assert spot["reaction_delay_min_us"] == -1 * MS / US  # measured, not clipped
    assert spot["quotes_never_seen"] == 0


def test_symbols_are_matched_separately() -> None:
    pushed = [_q(1, 1 * MS), _q(1, 2 * MS, symbol="MSFT"), _q(2, 3 * MS, size=9)]
    polled = [_q(1, 4 * MS, symbol="MSFT"), _q(2, 4 * MS, size=9)]
    spot = blind_spot(pushed, polled, start=0, end=5 * MS)
    assert (spot["quotes_seen"], spot["quotes_never_seen"], spot["poll_only"]) == (2, 1, 0)


def test_nothing_polled_means_every_quote_in_the_window_was_missed_and_no_delay() -> None:
    spot = blind_spot([_q(1, 1 * MS), _q(2, 2 * MS, size=5)], [], start=0, end=5 * MS)
    assert (spot["quotes"], spot["quotes_never_seen"], spot["never_seen_share"]) == (2, 2, 1.0)
    assert spot["reaction_delay_p99_us"] is None


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(0, 50 * MS), st.booleans()), max_size=40))
def test_every_quote_in_the_window_is_either_seen_or_never_seen_and_seen_ones_are_never_early(
    steps: list[tuple[int, int, bool]],
) -> None:
    """Quotes pushed at increasing times; the poller sees some of them later. Every count adds up."""
    pushed: list[Quote] = []
    polled: list[Quote] = []
    now = 0
    for n, (gap, lag, seen) in enumerate(steps):
        now += gap * MS
        pushed.append(_q(n, now, size=n + 1))
        if seen:
            polled.append(_q(n, now + lag, size=n + 1))
    polled = sorted(polled, key=lambda q: q.ts_event)  # one poller sees the tape in order
    spot = blind_spot(pushed, polled, start=0, end=now)
    assert spot["quotes"] == len(pushed)
    assert spot["quotes_seen"] + spot["quotes_never_seen"] == len(pushed)
    assert spot["quotes_seen"] == len(polled) and spot["poll_only"] == 0 and spot["poll_first"] == 0
    if polled:
        assert spot["reaction_delay_min_us"] >= 0


def test_live_polling_every_100_ms_misses_most_changes_and_every_10_ms_misses_fewer(data_dir: Path) -> None:
    tolerance = 200 * MS  # loopback, the GIL shared with the venue's thread, two busy cores
    with paced_paper(data_dir, "10x") as server:

        async def measure(poll_ms: int) -> dict[str, object]:
            return await asyncio.wait_for(
                compare_live(server.urls.rest, ["AAPL"], key=KEY, secret=SECRET, poll_ms=poll_ms, seconds=2.5), 30
            )

        slow = asyncio.run(measure(100))
        fast = asyncio.run(measure(10))
    reports = {100: slow, 10: fast}
    for poll_ms, report in reports.items():
        pull = report["pull"]
        assert isinstance(pull, dict)
        assert pull["quotes"] >= 100, report  # the tape moved while the poller looked
        assert pull["quotes_seen"] > 0
        assert pull["quotes_seen"] + pull["quotes_never_seen"] >= pull["quotes"] - 5  # edges of the window
        # both clients stamp on the same loop; a poll answer may reach it a little before the stream's frame
        assert pull["reaction_delay_min_us"] * US >= -20 * MS, report
        assert pull["reaction_delay_max_us"] * US <= poll_ms * MS + tolerance, report
        assert pull["errors"] == {}
    slow_pull, fast_pull = slow["pull"], fast["pull"]
    assert isinstance(slow_pull, dict) and isinstance(fast_pull, dict)
    assert slow_pull["never_seen_share"] > 0.5  # ~150 changes a second, at most 10 polls
    assert fast_pull["never_seen_share"] < slow_pull["never_seen_share"]
    assert fast_pull["price_changes_never_seen"] / fast_pull["price_changes"] < (
        slow_pull["price_changes_never_seen"] / slow_pull["price_changes"]
    )
    assert fast_pull["reaction_delay_p50_us"] < slow_pull["reaction_delay_p50_us"]


def test_a_stream_that_cannot_be_reached_fails_with_one_request_error() -> None:
    async def main() -> None:
        await compare_live(
            "http://127.0.0.1:9", ["AAPL"], key=KEY, secret=SECRET, poll_ms=10, seconds=1, connect_timeout=0.5
        )

    with pytest.raises(RequestError, match="did not connect"):
        asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.parametrize(
    ("url", "poll_ms", "seconds", "field"),
    [("127.0.0.1:1", 10, 1.0, "--live"), ("http://127.0.0.1:1", 0, 1.0, "--poll-ms"), ("http://h", 10, 0, "--seconds")],
)
def test_a_bad_url_interval_or_duration_is_refused_before_connecting(
    url: str, poll_ms: int, seconds: float, field: str
) -> None:
    with pytest.raises(ConfigError, match=field):
        asyncio.run(compare_live(url, ["AAPL"], key=KEY, secret=SECRET, poll_ms=poll_ms, seconds=seconds))


def test_a_key_whose_one_data_stream_is_taken_is_refused_with_a_hint(data_dir: Path) -> None:
    async def main(url: str, stream: str) -> None:
        async with connect(stream) as taken:  # another client (a running `tapeflow live`) holds the key's stream
            await taken.recv()
            await taken.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
            assert "authenticated" in str(await asyncio.wait_for(taken.recv(), 5))
            await compare_live(url, ["AAPL"], key=KEY, secret=SECRET, poll_ms=10, seconds=1, connect_timeout=1)

    with paced_paper(data_dir, "1x") as server, pytest.raises(RequestError, match=r"406.*holds this key's one"):
        asyncio.run(asyncio.wait_for(main(server.urls.rest, server.urls.data_stream), 15))
