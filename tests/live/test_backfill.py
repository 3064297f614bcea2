"""The backfill's REST pages without a server: an answer cut at the item limit is said, never passed off as whole."""

from __future__ import annotations

import asyncio

import msgspec

from tapeflow.live.backfill import fetch_gap
from tapeflow.live.backoff import Backoff, BackoffConfig
from tapeflow.live.clock import FakeClock
from tapeflow.live.market_wire import WireStats


def _pages(next_token: str | None) -> tuple[list[str], object]:
    asked: list[str] = []

    def get(url: str, headers: dict[str, str], timeout: float) -> tuple[int, dict[str, str], bytes]:
        asked.append(url)
        n = len(asked)
        item = {"t": f"2012-06-21T14:00:0{n}Z", "x": "V", "p": 58.5, "s": 100, "i": n, "c": ["@"]}
        body = {"trades": {"AAPL": [item, {**item, "i": n + 100}]}, "next_page_token": next_token}
        return 200, {}, msgspec.json.encode(body)

    return asked, get


def _fetch(get: object, max_items: int) -> tuple[dict[str, list[object]], list[str]]:
    async def main() -> tuple[dict[str, list[object]], list[str]]:
        got, truncated = await fetch_gap(
            "http://127.0.0.1:1",
            "trades",
            ["AAPL"],
            {"AAPL": 0},
            headers={},
            feed="iex",
            ts_init=1,
            stats=WireStats(),
            backoff=Backoff(BackoffConfig(), seed=0),
            wall=FakeClock(),
            get=get,  # type: ignore[arg-type]
            max_items=max_items,
        )
        return dict(got), truncated

    return asyncio.run(asyncio.wait_for(main(), 10))


def test_a_gap_longer_than_the_item_limit_is_returned_cut_and_named_as_cut() -> None:
    asked, get = _pages("more")
    got, truncated = _fetch(get, max_items=4)
    assert len(got["AAPL"]) == 4 and len(asked) == 2 and truncated == ["AAPL"]


def test_a_gap_whose_last_page_fits_the_limit_is_whole() -> None:
    asked, get = _pages(None)
    got, truncated = _fetch(get, max_items=2)
    assert len(got["AAPL"]) == 2 and len(asked) == 1 and truncated == []
