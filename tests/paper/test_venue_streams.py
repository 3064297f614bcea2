"""The venue, its REST API and its two websockets in one server, as a client uses them: alpaca-py submits through
REST, time is stepped over HTTP, its TradingStream hears the order's life from the same fills the simulated exchange
made, and its StockDataStream gets the quotes and trades the venue's own books saw, in tape order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import requests
from alpaca.data.live import StockDataStream
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import LimitOrderRequest
from alpaca.trading.stream import TradingStream

from tapeflow.model.market import Quote, Trade
from tapeflow.model.orders import OrderFilled
from tapeflow.model.prices import price_to_decimal
from tapeflow.paper.app import ServerThread, create_app
from tapeflow.paper.auth import fixed_keys, require_base_url
from tapeflow.paper.data_stream import MarketDataHub, data_stream_route
from tapeflow.paper.trade_stream import TradeUpdateHub, trade_stream_route
from tapeflow.paper.venue import PaperVenue

from .conftest import HEADERS, KEY, SECRET

MS = 1_000_000


def _wait(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def server(make_venue: Callable[..., PaperVenue]) -> Iterator[tuple[ServerThread, PaperVenue, TradeUpdateHub]]:
    hub = TradeUpdateHub()
    venue = make_venue(trade_hub=hub)
    venue.step_events(2_000)  # a book on both sides before the first order
    check = fixed_keys(KEY, SECRET)
    served = ServerThread(create_app(venue, check=check, extra_routes=[trade_stream_route(hub, check)])).start()
    yield served, venue, hub
    served.stop()
    assert not served.thread.is_alive()


def test_alpaca_pys_stock_stream_gets_what_the_venues_books_saw_in_tape_order(
    make_venue: Callable[..., PaperVenue],
) -> None:
    data = MarketDataHub()
    venue = make_venue(data_hub=data)
    seen: list[Quote | Trade] = []
    venue.kernel.subscribe(Quote, seen.append)  # what the node dispatched, in its order
    venue.kernel.subscribe(Trade, seen.append)
    check = fixed_keys(KEY, SECRET)
    served = ServerThread(create_app(venue, check=check, extra_routes=[data_stream_route(data, check)])).start()
    got: list[object] = []
    stream = StockDataStream(KEY, SECRET, url_override=served.url.replace("http://", "ws://") + "/v2/iex")

    async def on_message(message: object) -> None:
        got.append(message)

    stream.subscribe_quotes(on_message, "AAPL")
    stream.subscribe_trades(on_message, "AAPL")
    listener = threading.Thread(target=stream.run, name="alpaca-py data", daemon=True)
    listener.start()
    try:
        _wait(lambda: data.connections == 1 and data_subscribed(served, data), "alpaca-py to subscribe")
        stepped = requests.post(f"{served.url}/tapeflow/step", json={"events": 3_000}, headers=HEADERS, timeout=30)
        assert stepped.status_code == 200
        _wait(lambda: len(got) == len(seen) > 100, "every quote and trade on the data stream")
    finally:
        stream.stop()
        served.stop()
        listener.join(timeout=15)
    assert not listener.is_alive()
    assert {type(e) for e in seen} == {Quote, Trade}  # L3: quotes and prints the books derived
    for sent, received in zip(seen, got, strict=True):
        price = sent.bid_price if isinstance(sent, Quote) else sent.price
        received_price = received.bid_price if isinstance(sent, Quote) else received.price  # type: ignore[attr-defined]
        assert Decimal(str(received_price)) == price_to_decimal(price)
        assert received.symbol == "AAPL"  # type: ignore[attr-defined]


def data_subscribed(served: ServerThread, data: MarketDataHub) -> bool:
    """Whether alpaca-py's subscriptions have landed (read on the server's loop thread would be exact; the hub's
    list only grows here, so a read from the test thread can only be late, never wrong)."""
    return data.subscribed("quotes", "AAPL") and data.subscribed("trades", "AAPL")


def test_a_fill_made_by_the_exchange_reaches_alpaca_pys_trade_stream_through_the_same_server(
    server: tuple[ServerThread, PaperVenue, TradeUpdateHub],
) -> None:
    served, venue, hub = server
    heard: list[TradeUpdate] = []
    made: list[OrderFilled] = []
    venue.kernel.subscribe(OrderFilled, made.append)  # what the simulated exchange did

    async def on_update(update: TradeUpdate) -> None:
        heard.append(update)

    stream = TradingStream(KEY, SECRET, paper=True, url_override=served.url.replace("http://", "ws://") + "/stream")
    stream.subscribe_trade_updates(on_update)
    listener = threading.Thread(target=stream.run, name="alpaca-py stream", daemon=True)
    listener.start()
    try:
        _wait(lambda: hub.listening == (KEY,), "alpaca-py to authenticate and listen")
        client = TradingClient(KEY, SECRET, paper=True, url_override=require_base_url(served.url))
        book = venue.node.books.book("AAPL")
        assert book is not None and book.best_ask
        ask = price_to_decimal(book.best_ask)
        order = client.submit_order(
            LimitOrderRequest(
                symbol="AAPL", qty=100, side=OrderSide.BUY, limit_price=float(ask), time_in_force=TimeInForce.DAY
            )
        )
        stepped = requests.post(
            f"{served.url}/tapeflow/step", json={"until": venue.now + 5 * MS}, headers=HEADERS, timeout=30
        )
        assert stepped.status_code == 200
        _wait(lambda: any(u.event == "fill" for u in heard), "the fill on the trade stream")
    finally:
        stream.stop()
        served.stop()  # ends the socket: the stream sees it and its stop flag
        listener.join(timeout=15)
    assert not listener.is_alive()

    events = [u.event for u in heard]
    assert events[0] == "new" and events[-1] == "fill", events
    assert all(str(u.order.id) == str(order.id) for u in heard)
    filled = [u for u in heard if u.event in ("partial_fill", "fill")]
    assert made and len(filled) == len(made)
    for update, fill in zip(filled, made, strict=True):
        assert (Decimal(str(update.price)), int(update.qty or 0)) == (price_to_decimal(fill.price), fill.quantity)
        assert Decimal(str(update.price)) <= ask
    assert sum(f.quantity for f in made) == 100 and filled[-1].position_qty == 100
