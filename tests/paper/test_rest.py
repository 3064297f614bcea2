"""The unmodified alpaca-py client against the paper venue on a real LOBSTER tape, over a real loopback socket.

What the client sees must be what the simulated exchange did: every price, size and status below is checked
against the node's own ``OrderFilled`` reports (or its books), never against the gateway's records.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)

from tapeflow.model.orders import OrderFilled
from tapeflow.model.prices import price_to_decimal
from tapeflow.node import NodeConfig
from tapeflow.paper.auth import require_base_url
from tapeflow.paper.venue import PaperVenue
from tapeflow.venues.sim.latency import FixedLatency

from .conftest import HEADERS, KEY, SECRET, Served

MS = 1_000_000
LATENCY = FixedLatency(
    insert_entry_ns=MS,
    insert_response_ns=MS,
    modify_entry_ns=MS,
    modify_response_ns=MS,
    cancel_entry_ns=MS,
    cancel_response_ns=MS,
)
STARTING_CASH = 1_000_000 * 10_000


def client(served: Served) -> TradingClient:
    return TradingClient(KEY, SECRET, paper=True, url_override=require_base_url(served.url))


def dollars(units: int) -> float:
    """A price as alpaca-py takes it (a float; the venue reads it back exactly as the Decimal of its repr)."""
    return float(price_to_decimal(units))


def step(served: Served, **body: int) -> dict[str, object]:
    response = requests.post(f"{served.url}/tapeflow/step", json=body, headers=HEADERS, timeout=30)
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result


@pytest.fixture
def served(make_venue: Callable[..., PaperVenue], serve: Callable[[PaperVenue], Served]) -> Served:
    venue = make_venue(NodeConfig(level="L3", latency=LATENCY))
    venue.step_events(2_000)  # a book on both sides before the first order
    return serve(venue)


def fills_of(venue: PaperVenue) -> list[OrderFilled]:
    fills: list[OrderFilled] = []
    venue.kernel.subscribe(OrderFilled, fills.append)
    return fills


def test_a_marketable_limit_order_fills_at_the_exchange_price_after_time_is_stepped(served: Served) -> None:
    venue = served.venue
    fills = fills_of(venue)
    book = venue.node.books.book("AAPL")
    assert book is not None and book.best_ask
    trading = client(served)
    submitted = trading.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=100,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            limit_price=float(price_to_decimal(book.best_ask)),
            client_order_id="first-buy",
        )
    )
    assert submitted.status == OrderStatus.PENDING_NEW  # the exchange has not seen it: time has not moved
    assert not fills
    step(served, until=venue.now + 5 * MS)
    order = trading.get_order_by_id(submitted.id)
    assert fills and sum(f.quantity for f in fills) == 100
    assert order.status == OrderStatus.FILLED
    assert order.filled_qty == "100"
    notional = sum(f.price * f.quantity for f in fills)
    assert Decimal(str(order.filled_avg_price)) == Decimal(notional) / Decimal(100 * 10_000)
    assert order.filled_at is not None and order.filled_at.year == 2012
    by_cid = trading.get_order_by_client_id("first-buy")
    assert by_cid.id == submitted.id


def test_positions_and_account_equal_the_fills(served: Served) -> None:
    venue = served.venue
    fills = fills_of(venue)
    book = venue.node.books.book("AAPL")
    assert book is not None
    trading = client(served)
    trading.submit_order(MarketOrderRequest(symbol="AAPL", qty=300, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    step(served, until=venue.now + 5 * MS)
    assert sum(f.quantity for f in fills) == 300
    cost = sum(f.price * f.quantity for f in fills)
    fees = sum(f.fee for f in fills)
    position = trading.get_open_position("AAPL")
    assert position.qty == "300"
    assert Decimal(position.cost_basis) == Decimal(cost) / 10_000
    assert [p.symbol for p in trading.get_all_positions()] == ["AAPL"]
    account = trading.get_account()
    assert Decimal(str(account.cash)) == Decimal(STARTING_CASH - cost - fees) / 10_000
    assert Decimal(str(account.equity)) == Decimal(str(account.cash)) + Decimal(str(position.market_value))
    bought = len(fills)
    closing = trading.close_position("AAPL")
    assert closing.side == OrderSide.SELL and closing.qty == "300"
    step(served, until=venue.now + 5 * MS)
    sold = sum(f.quantity for f in fills[bought:])
    assert sold > 0
    closed = trading.get_order_by_id(closing.id)
    assert closed.filled_qty == str(sold)
    # a market order takes what the book shows and the rest is cancelled (Alpaca's venue would route on)
    assert closed.status == (OrderStatus.FILLED if sold == 300 else OrderStatus.CANCELED)
    remaining = [p.qty for p in trading.get_all_positions()]
    assert remaining == ([] if sold == 300 else [str(300 - sold)])


def test_a_resting_order_is_replaced_then_cancelled(served: Served) -> None:
    venue = served.venue
    book = venue.node.books.book("AAPL")
    assert book is not None
    below = float(price_to_decimal(book.best_bid - 1_000_000))  # $100 under the bid: it rests all day
    trading = client(served)
    first = trading.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=below)
    )
    step(served, until=venue.now + 5 * MS)
    assert trading.get_order_by_id(first.id).status == OrderStatus.NEW
    lower = float(price_to_decimal(book.best_bid - 1_010_000))
    second = trading.replace_order_by_id(first.id, ReplaceOrderRequest(qty=200, limit_price=lower))
    assert second.id != first.id and second.replaces == first.id
    step(served, until=venue.now + 5 * MS)
    old, new = trading.get_order_by_id(first.id), trading.get_order_by_id(second.id)
    assert old.status == OrderStatus.REPLACED and old.replaced_by == second.id
    assert new.status == OrderStatus.NEW and new.qty == "200" and Decimal(str(new.limit_price)) == Decimal(str(lower))
    working = venue.node.execution.order(venue.gateway.orders[str(second.id)].cid)
    assert working is not None and working.quantity == 200  # the exchange's order, not only our record
    trading.cancel_order_by_id(second.id)
    step(served, until=venue.now + 5 * MS)
    assert trading.get_order_by_id(second.id).status == OrderStatus.CANCELED
    open_now = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    closed = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert open_now == [] and {o.id for o in closed} == {first.id, second.id}


def test_stops_trigger_on_the_tape_and_ioc_fok_end_unfilled(served: Served) -> None:
    venue = served.venue
    fills = fills_of(venue)
    book = venue.node.books.book("AAPL")
    assert book is not None
    ask = book.best_ask
    trading = client(served)
    day = TimeInForce.DAY
    stop = trading.submit_order(
        StopOrderRequest(symbol="AAPL", qty=100, side=OrderSide.BUY, time_in_force=day, stop_price=dollars(ask - 100))
    )
    stop_limit = trading.submit_order(
        StopLimitOrderRequest(
            symbol="AAPL",
            qty=100,
            side=OrderSide.BUY,
            time_in_force=day,
            stop_price=dollars(ask - 100),
            limit_price=dollars(ask),
        )
    )
    far = trading.submit_order(
        StopOrderRequest(
            symbol="AAPL",
            qty=100,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            stop_price=dollars(ask + 5_000_000),
        )
    )
    ioc = trading.submit_order(
        LimitOrderRequest(
            symbol="AAPL", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.IOC, limit_price=dollars(ask - 10_000)
        )
    )
    fok = trading.submit_order(
        LimitOrderRequest(
            symbol="AAPL", qty=100_000, side=OrderSide.BUY, time_in_force=TimeInForce.FOK, limit_price=dollars(ask)
        )
    )
    step(served, until=venue.now + 5 * MS)
    assert trading.get_order_by_id(ioc.id).status == OrderStatus.CANCELED
    assert trading.get_order_by_id(fok.id).status == OrderStatus.CANCELED
    assert trading.get_order_by_id(stop.id).status == OrderStatus.NEW  # armed: no print has reached it yet
    step(served, events=20_000)
    by_order: dict[str, list[OrderFilled]] = {}
    for fill in fills:
        by_order.setdefault(fill.client_order_id, []).append(fill)
    for placed in (stop, stop_limit):
        seen = trading.get_order_by_id(placed.id)
        node_fills = by_order[venue.gateway.orders[str(placed.id)].cid]
        assert seen.status == OrderStatus.FILLED and sum(f.quantity for f in node_fills) == 100
        notional = sum(f.price * f.quantity for f in node_fills)
        assert Decimal(str(seen.filled_avg_price)) == Decimal(notional) / Decimal(100 * 10_000)
    assert Decimal(str(trading.get_order_by_id(stop_limit.id).limit_price)) == Decimal(str(dollars(ask)))
    assert trading.get_order_by_id(far.id).status == OrderStatus.NEW
    still_open = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert [o.id for o in still_open] == [far.id]


def test_cancel_all_cancels_every_open_order(served: Served) -> None:
    venue = served.venue
    book = venue.node.books.book("AAPL")
    assert book is not None
    trading = client(served)
    for k in range(3):
        price = float(price_to_decimal(book.best_bid - (k + 1) * 1_000_000))
        request = LimitOrderRequest(
            symbol="AAPL", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=price
        )
        trading.submit_order(request)
    step(served, until=venue.now + 5 * MS)
    answers = trading.cancel_orders()
    assert len(answers) == 3 and {a.status for a in answers} == {200}
    step(served, until=venue.now + 5 * MS)
    every = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
    assert len(every) == 3 and {o.status for o in every} == {OrderStatus.CANCELED}


def test_an_unknown_order_is_alpacas_404(served: Served) -> None:
    with pytest.raises(APIError) as caught:
        client(served).get_order_by_id(uuid.UUID(int=1))
    assert caught.value.status_code == 404 and caught.value.code == 40410000


def test_a_fractional_quantity_is_alpacas_422(served: Served) -> None:
    with pytest.raises(APIError) as caught:
        client(served).submit_order(
            MarketOrderRequest(symbol="AAPL", qty=1.5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
        )
    assert caught.value.status_code == 422 and caught.value.code == 40010001
    assert "whole number" in caught.value.message


def test_cancelling_a_filled_order_is_alpacas_422(served: Served) -> None:
    venue = served.venue
    trading = client(served)
    order = trading.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    step(served, until=venue.now + 5 * MS)
    with pytest.raises(APIError) as caught:
        trading.cancel_order_by_id(order.id)
    assert caught.value.status_code == 422 and caught.value.code == 42210000


def test_a_wrong_secret_is_alpacas_401(served: Served) -> None:
    trading = TradingClient(KEY, "wrong", paper=True, url_override=require_base_url(served.url))
    with pytest.raises(APIError) as caught:
        trading.get_account()
    assert caught.value.status_code == 401 and caught.value.code == 40110000


def test_clock_and_asset_answer_on_the_tapes_time(served: Served) -> None:
    trading = client(served)
    clock = trading.get_clock()
    assert clock.is_open and clock.timestamp.date().isoformat() == "2012-06-21"
    assert clock.next_close.hour == 20  # 16:00 in New York, in June
    asset = trading.get_asset("AAPL")
    assert asset.symbol == "AAPL" and asset.tradable
    with pytest.raises(APIError) as caught:
        trading.get_asset("NOPE")
    assert caught.value.status_code == 404
