"""Alpaca's request and order shapes: exact prices, Alpaca's 422 for each bad field, RFC 3339 with nanoseconds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tapeflow.model.errors import RequestError
from tapeflow.paper.alpaca_orders import AlpacaOrder, money, order_json, parse_order, parse_time, rfc3339

BASE: dict[str, Any] = {"symbol": "aapl", "qty": 100, "side": "buy", "type": "limit", "time_in_force": "day"}


def refused(body: dict[str, Any]) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parse_order(body)
    assert caught.value.status == 422 and caught.value.code == 40010001
    return caught.value


def test_a_limit_order_body_becomes_exact_price_units() -> None:
    order = parse_order({**BASE, "limit_price": Decimal("585.17"), "client_order_id": "x"})
    assert (order.symbol, order.qty, order.limit_price, order.client_order_id) == ("AAPL", 100, 5_851_700, "x")


def test_opg_and_cls_market_and_limit_orders_parse_with_their_time_in_force() -> None:
    assert parse_order({**BASE, "time_in_force": "OPG", "type": "market"}).time_in_force == "opg"
    assert parse_order({**BASE, "time_in_force": "cls", "limit_price": "585.17"}).time_in_force == "cls"


def test_a_price_given_as_a_string_is_read_exactly() -> None:
    assert parse_order({**BASE, "limit_price": "0.0001"}).limit_price == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"time_in_force": "opg", "type": "stop", "stop_price": "1"}, "only for market and limit orders"),
        ({"time_in_force": "cls", "type": "stop_limit", "stop_price": "1"}, "only for market and limit orders"),
        ({"type": "trailing_stop"}, "trailing_stop"),
        ({"limit_price": None}, "limit_price is required"),
        ({"limit_price": "585.123456"}, "invalid limit_price"),
        ({"limit_price": -1}, "must be > 0"),
        ({"qty": 0}, "qty must be > 0"),
        ({"qty": "1.5"}, "whole number"),
        ({"qty": None, "notional": "100"}, "notional"),
        ({"side": "short"}, "invalid side"),
        ({"symbol": ""}, "symbol is required"),
        ({"order_class": "bracket"}, "order_class"),
        ({"type": "stop", "stop_price": None}, "stop_price is required"),
    ],
)
def test_a_bad_field_is_alpacas_422_naming_it(change: dict[str, Any], words: str) -> None:
    body = {**BASE, "limit_price": "585.17", **change}
    assert words in refused(body).message


def test_rfc3339_keeps_nanoseconds_in_utc() -> None:
    assert rfc3339(1_340_285_506_881_904_199) == "2012-06-21T13:31:46.881904199Z"
    assert rfc3339(0) == "1970-01-01T00:00:00.000000000Z"


def test_query_times_parse_with_an_offset_or_a_z() -> None:
    assert parse_time("2012-06-21T13:31:46.881904+00:00", "after") == 1_340_285_506_881_904_000
    assert parse_time("2012-06-21T09:31:46.881904-04:00", "after") == 1_340_285_506_881_904_000
    assert parse_time("2012-06-21T13:31:46Z", "after") == 1_340_285_506_000_000_000
    with pytest.raises(RequestError):
        parse_time("yesterday", "after")


def test_money_is_written_as_alpaca_writes_it() -> None:
    assert [money(5_851_700), money(5_850_000), money(-120_000), money(0), money(1)] == [
        "585.17",
        "585",
        "-12",
        "0",
        "0.0001",
    ]


def test_the_average_fill_price_is_exact() -> None:
    order = AlpacaOrder("i", "c", "paper-1", "AAPL", "buy", "limit", "day", 300, 5_851_700, 0, 0)
    order.filled_qty, order.filled_notional = 300, 100 * 5_851_700 + 200 * 5_851_800
    shown = order_json(order)
    assert Decimal(shown["filled_avg_price"]) * 300 == Decimal(order.filled_notional) / 10_000
    assert shown["limit_price"] == "585.17" and shown["stop_price"] is None and shown["qty"] == "300"


def test_query_times_keep_nanoseconds_so_the_venues_own_times_round_trip() -> None:
    ns = 1_340_285_506_881_904_199
    assert parse_time(rfc3339(ns), "after") == ns
    assert parse_time("2012-06-21", "after") == 1_340_236_800_000_000_000
