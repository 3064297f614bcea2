"""The market data REST routes: latest and historical trades, quotes and bars of a stepped LOBSTER venue, through
starlette's TestClient and through alpaca-py's StockHistoricalDataClient against a real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest, StockTradesRequest
from alpaca.data.timeframe import TimeFrame
from starlette.testclient import TestClient

from tapeflow.model.market import Trade
from tapeflow.model.prices import price_to_str
from tapeflow.paper.alpaca_orders import parse_time
from tapeflow.paper.app import create_app
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.data_wire import rfc3339_ns
from tapeflow.paper.venue import PaperVenue

from .conftest import HEADERS, KEY, SECRET, Served

MINUTE = 60_000_000_000


@pytest.fixture
def stepped(make_venue: Callable[..., PaperVenue]) -> tuple[PaperVenue, TestClient, list[Trade]]:
    """A venue with its app built, then stepped 20,000 tape events; the trades the node dispatched meanwhile."""
    venue = make_venue()
    client = TestClient(create_app(venue, check=fixed_keys(KEY, SECRET)), headers=HEADERS)
    seen: list[Trade] = []
    venue.kernel.subscribe(Trade, seen.append)
    venue.step_events(20_000)
    assert len(seen) > 1_000
    return venue, client, seen


def _get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _all_pages(client: TestClient, path: str, kind: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        body = _get(client, path, **params, **({"page_token": token} if token else {}))
        items.extend(body[kind].get("AAPL", []))
        token = body["next_page_token"]
        if token is None:
            return items


def test_latest_quote_is_the_books_best_bid_and_ask_at_the_venues_time(
    stepped: tuple[PaperVenue, TestClient, list[Trade]],
) -> None:
    venue, client, _ = stepped
    book = venue.node.books.book("AAPL")
    assert book is not None
    quote = _get(client, "/v2/stocks/quotes/latest", symbols="AAPL")["quotes"]["AAPL"]
    assert Decimal(str(quote["bp"])) == Decimal(price_to_str(book.best_bid))
    assert Decimal(str(quote["ap"])) == Decimal(price_to_str(book.best_ask))
    assert parse_time(quote["t"], "t") <= venue.now
    single = _get(client, "/v2/stocks/AAPL/quotes/latest")
    assert single == {"symbol": "AAPL", "quote": quote}


def test_latest_trade_is_the_last_print_dispatched(stepped: tuple[PaperVenue, TestClient, list[Trade]]) -> None:
    _, client, seen = stepped
    trade = _get(client, "/v2/stocks/AAPL/trades/latest")["trade"]
    assert (trade["t"], trade["s"], Decimal(str(trade["p"]))) == (
        rfc3339_ns(seen[-1].ts_event),
        seen[-1].size,
        Decimal(price_to_str(seen[-1].price)),
    )


def test_trades_in_a_window_are_the_tapes_prints_and_pages_give_each_once_in_both_orders(
    stepped: tuple[PaperVenue, TestClient, list[Trade]],
) -> None:
    _, client, seen = stepped
    start, end = seen[100].ts_event, seen[700].ts_event
    want = [(rfc3339_ns(t.ts_event), t.size, price_to_str(t.price)) for t in seen if start <= t.ts_event <= end]
    window = {"symbols": "AAPL", "start": rfc3339_ns(start), "end": rfc3339_ns(end)}
    for limit in (7, 10_000):
        asc = _all_pages(client, "/v2/stocks/trades", "trades", limit=limit, **window)
        assert [(t["t"], t["s"], str(Decimal(str(t["p"])).quantize(Decimal("0.01")))) for t in asc] == [
            (w[0], w[1], str(Decimal(w[2]).quantize(Decimal("0.01")))) for w in want
        ]
        desc = _all_pages(client, "/v2/stocks/trades", "trades", limit=limit, sort="desc", **window)
        assert desc == asc[::-1]


def test_a_query_past_the_venues_time_stops_there_and_later_steps_extend_it(
    stepped: tuple[PaperVenue, TestClient, list[Trade]],
) -> None:
    venue, client, seen = stepped
    later = rfc3339_ns(venue.now + 3_600 * 1_000_000_000)
    first = _all_pages(client, "/v2/stocks/trades", "trades", symbols="AAPL", end=later, limit=10_000)
    assert len(first) == len(seen)
    assert max(parse_time(t["t"], "t") for t in first) <= venue.now
    venue.step_events(5_000)
    second = _all_pages(client, "/v2/stocks/trades", "trades", symbols="AAPL", end=later, limit=10_000)
    assert len(second) == len(seen) > len(first)
    assert second[: len(first)] == first


def test_minute_bars_are_the_ohlcv_count_and_vwap_of_the_prints_in_each_new_york_minute(
    stepped: tuple[PaperVenue, TestClient, list[Trade]],
) -> None:
    _, client, seen = stepped
    bars = _get(client, "/v2/stocks/AAPL/bars", timeframe="1Min", limit=10_000)["bars"]
    first_minute = seen[0].ts_event // MINUTE * MINUTE  # New York is a whole number of hours from UTC
    prints = [t for t in seen if first_minute <= t.ts_event < first_minute + MINUTE]
    bar = bars[0]
    assert bar["t"] == rfc3339_ns(first_minute)
    assert Decimal(str(bar["o"])) == Decimal(price_to_str(prints[0].price))
    assert Decimal(str(bar["h"])) == Decimal(price_to_str(max(t.price for t in prints)))
    assert Decimal(str(bar["l"])) == Decimal(price_to_str(min(t.price for t in prints)))
    assert Decimal(str(bar["c"])) == Decimal(price_to_str(prints[-1].price))
    assert (bar["v"], bar["n"]) == (sum(t.size for t in prints), len(prints))
    vwap = Decimal(sum(t.price * t.size for t in prints)) / Decimal(bar["v"]) / 10_000
    assert abs(Decimal(str(bar["vw"])) - vwap) <= Decimal("0.0000005")
    assert sum(b["v"] for b in bars) == sum(t.size for t in seen)
    assert [b["t"] for b in bars] == sorted({rfc3339_ns(t.ts_event // MINUTE * MINUTE) for t in seen})
    assert _get(client, "/v2/stocks/bars/latest", symbols="AAPL")["bars"]["AAPL"] == bars[-1]
    day = _get(client, "/v2/stocks/AAPL/bars", timeframe="1Day")["bars"]
    assert len(day) == 1 and day[0]["t"] == "2012-06-21T04:00:00.000000000Z" and day[0]["n"] == len(seen)
    hour = _get(client, "/v2/stocks/bars", symbols="AAPL", timeframe="1Hour")["bars"]["AAPL"]
    assert sum(b["n"] for b in hour) == len(seen)


def test_a_page_of_several_symbols_holds_limit_items_in_all_and_unknown_symbols_are_absent(
    stepped: tuple[PaperVenue, TestClient, list[Trade]],
) -> None:
    _, client, _ = stepped
    body = _get(client, "/v2/stocks/quotes", symbols="ZZZZ,AAPL", limit=5)
    assert list(body["quotes"]) == ["AAPL"] and len(body["quotes"]["AAPL"]) == 5
    assert body["next_page_token"] is not None
    assert _get(client, "/v2/stocks/quotes/latest", symbols="AAPL,ZZZZ")["quotes"].keys() == {"AAPL"}


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v2/stocks/bars", {"symbols": "AAPL", "timeframe": "7Week"}, 422),
        ("/v2/stocks/bars", {"symbols": "AAPL"}, 422),
        ("/v2/stocks/trades", {"symbols": "AAPL", "limit": "0"}, 422),
        ("/v2/stocks/trades", {"symbols": "AAPL", "limit": "10001"}, 422),
        ("/v2/stocks/trades", {"symbols": "AAPL", "sort": "up"}, 422),
        ("/v2/stocks/trades", {"symbols": "AAPL", "feed": "nyse"}, 422),
        ("/v2/stocks/trades", {"symbols": "AAPL", "page_token": "%%%"}, 422),
        ("/v2/stocks/trades", {"symbols": "AAPL", "start": "yesterday"}, 422),
        ("/v2/stocks/trades", {"symbols": "AAPL", "start": "2012-06-22", "end": "2012-06-21"}, 422),
        ("/v2/stocks/trades", {}, 422),
        ("/v2/stocks/quotes/latest", {"symbols": "a b"}, 422),
        ("/v2/stocks/ZZZZ/quotes/latest", {}, 404),
    ],
)
def test_bad_parameters_are_answered_as_alpacas_data_api_does(
    stepped: tuple[PaperVenue, TestClient, list[Trade]], path: str, params: dict[str, str], status: int
) -> None:
    _, client, _ = stepped
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"code", "message"}


def test_market_data_without_the_key_pair_is_401(stepped: tuple[PaperVenue, TestClient, list[Trade]]) -> None:
    _, client, _ = stepped
    response = client.get("/v2/stocks/quotes/latest", params={"symbols": "AAPL"}, headers={"APCA-API-KEY-ID": ""})
    assert response.status_code == 401


def test_alpaca_pys_historical_client_reads_the_tape_through_a_real_server(
    make_venue: Callable[..., PaperVenue], serve: Callable[[PaperVenue], Served]
) -> None:
    venue = make_venue()
    served = serve(venue)
    seen: list[Trade] = []
    venue.kernel.subscribe(Trade, seen.append)
    venue.step_events(80_000)
    assert len(seen) > 10_000  # more than alpaca-py's page size: it must follow next_page_token
    client = StockHistoricalDataClient(KEY, SECRET, url_override=served.url)
    book = venue.node.books.book("AAPL")
    assert book is not None
    quote = client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))["AAPL"]
    assert (quote.bid_price, quote.ask_price) == (book.best_bid / 10_000, book.best_ask / 10_000)
    start = datetime.fromtimestamp(seen[0].ts_event // 1_000_000_000, UTC)
    beyond = datetime.fromtimestamp(venue.now // 1_000_000_000 + 3_600, UTC)
    trades = client.get_stock_trades(StockTradesRequest(symbol_or_symbols="AAPL", start=start, end=beyond))
    got = trades.data["AAPL"]  # type: ignore[union-attr]
    assert [(t.size, t.price) for t in got] == [(t.size, t.price / 10_000) for t in seen]
    bars = client.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Minute, start=start))
    minute_bars = bars.data["AAPL"]  # type: ignore[union-attr]
    assert sum(b.volume for b in minute_bars) == sum(t.size for t in seen)
    assert minute_bars[-1].timestamp.timestamp() * 1e9 <= venue.now


def test_what_the_venue_dispatched_before_the_app_was_built_is_served_too(
    make_venue: Callable[..., PaperVenue],
) -> None:
    """The venue records its tape from its first event, not from when routes happen to be built: an app made
    after stepping (a restart, a notebook) must not answer with a silently shorter history."""
    venue = make_venue()
    seen: list[Trade] = []
    venue.kernel.subscribe(Trade, seen.append)
    venue.step_events(20_000)
    client = TestClient(create_app(venue, check=fixed_keys(KEY, SECRET)), headers=HEADERS)
    trades = _all_pages(client, "/v2/stocks/trades", "trades", symbols="AAPL", limit=10_000)
    assert len(trades) == len(seen) > 1_000
