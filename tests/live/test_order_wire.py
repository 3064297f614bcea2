"""The wire format of Alpaca's trading API: exact decimal strings out, checked facts in."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.live.order_wire import (
    base_client_id,
    cancel_request,
    format_time,
    parse_order,
    parse_price,
    parse_time,
    parse_update,
    replace_request,
    replacement_id,
    submit_request,
)
from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.errors import DataError
from tapeflow.model.orders import CancelOrder, ModifyOrder, SubmitOrder
from tapeflow.model.prices import MAX_PRICE, NO_PRICE, price_to_str


def order(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "o1",
        "client_order_id": "s-run-1",
        "symbol": "AAPL",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "qty": "100",
        "filled_qty": "0",
        "filled_avg_price": None,
        "limit_price": "583.5",
        "stop_price": None,
        "status": "new",
        "created_at": "2012-06-21T13:30:00.000000001Z",
    }
    base.update(changes)
    return base


def test_a_submit_body_carries_exact_decimal_strings_and_our_client_order_id() -> None:
    command = SubmitOrder(
        ts_event=1,
        ts_init=1,
        strategy_id="s",
        client_order_id="s-run-1",
        symbol="AAPL",
        side=Side.SELL,
        order_type=OrderType.STOP_LIMIT,
        quantity=250,
        price=5_835_001,
        stop_price=5_830_000,
        time_in_force=TimeInForce.IOC,
    )
    request = submit_request(command)
    assert (request.method, request.path) == ("POST", "/v2/orders")
    assert request.body is not None
    assert json.loads(request.body) == {
        "symbol": "AAPL",
        "qty": "250",
        "side": "sell",
        "type": "stop_limit",
        "time_in_force": "ioc",
        "client_order_id": "s-run-1",
        "limit_price": "583.5001",
        "stop_price": "583.00",
    }


def test_a_market_order_sends_no_prices_and_cancel_and_replace_name_the_venues_id() -> None:
    market = SubmitOrder(
        ts_event=1,
        ts_init=1,
        strategy_id="s",
        client_order_id="c",
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        quantity=1,
    )
    body = submit_request(market).body
    assert body is not None and "limit_price" not in json.loads(body)
    cancel = cancel_request(CancelOrder(ts_event=1, ts_init=1, strategy_id="s", client_order_id="c", symbol="A"), "v9")
    assert (cancel.method, cancel.path, cancel.body) == ("DELETE", "/v2/orders/v9", None)
    modify = ModifyOrder(ts_event=1, ts_init=1, strategy_id="s", client_order_id="c", symbol="A", quantity=5, price=1)
    patch = replace_request(modify, "v9", replacement_id("c", 2))
    assert patch.method == "PATCH" and patch.body is not None
    assert json.loads(patch.body) == {"qty": "5", "client_order_id": "c.r2", "limit_price": "0.0001"}


@given(st.integers(min_value=1, max_value=MAX_PRICE))
def test_every_price_we_write_reads_back_to_the_same_units(units: int) -> None:
    assert parse_price(price_to_str(units), "p") == units


@given(st.text(max_size=20))
def test_a_price_text_is_exact_units_or_a_data_error_never_anything_else(text: str) -> None:
    try:
        units = parse_price(text, "p")
    except DataError:
        return
    assert Decimal(text.strip()) * 10_000 == units


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8), lambda c: st.lists(c, max_size=3)))
def test_a_malformed_update_raises_only_data_error(junk: Any) -> None:
    for data in (junk, {"event": "fill", "order": junk}, {"event": "new", "order": order(qty=junk)}):
        with contextlib.suppress(DataError):
            parse_update(data)


@given(st.integers(min_value=0, max_value=4_000_000_000_000_000_000))
def test_times_round_trip_to_the_nanosecond(ns: int) -> None:
    assert parse_time(format_time(ns), "t") == ns


def test_a_fill_update_without_its_price_is_refused_not_guessed() -> None:
    with pytest.raises(DataError, match="needs a price"):
        parse_update({"event": "fill", "order": order(filled_qty="100"), "qty": "100"})


def test_an_order_that_says_it_filled_more_than_its_size_is_refused() -> None:
    with pytest.raises(DataError, match="filled_qty"):
        parse_order(order(filled_qty="101"))


def test_a_price_finer_than_a_hundredth_of_a_cent_is_refused() -> None:
    with pytest.raises(DataError, match="exact price"):
        parse_order(order(limit_price="583.50001"))


def test_an_order_parses_to_exact_units_and_its_average_stays_a_decimal() -> None:
    wire = parse_order(order(filled_qty="3", filled_avg_price="583.33333333", status="partially_filled"))
    assert wire.limit_price == 5_835_000 and wire.stop_price == NO_PRICE
    assert wire.filled_avg_price == Decimal("583.33333333") and wire.is_open


@pytest.mark.parametrize(("cid", "base"), [("s-r-1", "s-r-1"), ("s-r-1.r1", "s-r-1"), ("s-r-1.r12", "s-r-1")])
def test_a_replacement_id_leads_back_to_our_order(cid: str, base: str) -> None:
    assert base_client_id(cid) == base
    assert base_client_id(replacement_id(base, 3)) == base
