"""Faults on command: REST errors and refusals, silent/dropping/duplicating streams and closed sockets, set over the
token-protected admin routes; starlette's TestClient for the exact counts, alpaca-py on loopback for the recoveries
a real client makes (429 retries, a trade stream that reconnects after its socket was closed)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect

from tapeflow.model.errors import ConfigError
from tapeflow.model.market import Trade
from tapeflow.paper.app import ServerThread, create_app
from tapeflow.paper.auth import fixed_keys, require_base_url
from tapeflow.paper.data_stream import MarketDataHub, data_stream_route
from tapeflow.paper.faults import ADMIN_PATH, Faults
from tapeflow.paper.trade_stream import TradeUpdateHub, sample_order, sample_update, trade_stream_route
from tapeflow.paper.venue import PaperVenue

from .conftest import HEADERS, KEY, SECRET

TOKEN = "admin-token"
ADMIN = {"X-Tapeflow-Admin": TOKEN}
LOCAL = ("127.0.0.1", 50_000)
TS = 1_340_285_400_000_000_000


class Clock:
    """The faults' clock, moved by hand: durations expire without sleeping."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Server:
    """One app with both streams and the admin routes, its hubs and its clock."""

    def __init__(self, venue: PaperVenue, *, admin_token: str | None = TOKEN) -> None:
        self.clock = Clock()
        self.trades = TradeUpdateHub()
        self.data = MarketDataHub()
        self.faults = Faults(clock=self.clock, hubs={"trade_updates": self.trades, "data": self.data})
        check = fixed_keys(KEY, SECRET)
        self.app: Starlette = create_app(
            venue,
            check=check,
            extra_routes=[trade_stream_route(self.trades, check), data_stream_route(self.data, check)],
            admin_token=admin_token,
            faults=self.faults,
        )

    def client(self, address: tuple[str, int] = LOCAL) -> TestClient:
        return TestClient(self.app, client=address)


@pytest.fixture
def server(make_venue: Callable[..., PaperVenue]) -> Server:
    return Server(make_venue())


def start(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(ADMIN_PATH, json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def trade(i: int, symbol: str = "AAPL") -> Trade:
    return Trade(ts_event=TS + i, ts_init=TS + i, symbol=symbol, price=5_801_200 + i, size=100)


def subscribed(ws: Any, **channels: list[str]) -> None:
    assert ws.receive_json() == [{"T": "success", "msg": "connected"}]
    ws.send_json({"action": "auth", "key": KEY, "secret": SECRET})
    assert ws.receive_json() == [{"T": "success", "msg": "authenticated"}]
    ws.send_json({"action": "subscribe", **channels})
    assert ws.receive_json()[0]["T"] == "subscription"


def publish(ws: Any, hub: MarketDataHub, *events: Trade) -> None:
    def run() -> None:
        for event in events:
            hub.publish(event)

    ws.portal.call(run)


def received(ws: Any, count: int) -> list[tuple[str, str, int]]:
    """The next ``count`` data messages as (type, symbol, ts nanoseconds of the tape's second), however batched."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        got.extend(ws.receive_json())
    assert len(got) == count
    return [(m["T"], m["S"], int(m["t"][-10:-1])) for m in got]


def test_rest_error_500_answers_the_next_two_requests_with_alpacas_body_then_the_route_again(server: Server) -> None:
    with server.client() as client:
        start(client, {"fault": "rest_error", "status": 500, "count": 2})
        for _ in range(2):
            response = client.get("/v2/account", headers=HEADERS)
            assert response.status_code == 500
            assert response.json() == {"code": 50010000, "message": "internal server error"}
        assert client.get("/v2/account", headers=HEADERS).status_code == 200
        listing = client.get(ADMIN_PATH, headers=ADMIN).json()
        assert listing == {"faults": [], "applied": {"rest_error": 2}}


def test_rest_error_429_for_a_duration_carries_retry_after_and_ends_on_the_clock(server: Server) -> None:
    with server.client() as client:
        start(client, {"fault": "rest_error", "status": 429, "retry_after": 2, "seconds": 5})
        server.clock.now += 4.9
        limited = client.get("/v2/orders", headers=HEADERS)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
        assert limited.json() == {"code": 42910000, "message": "rate limit exceeded"}
        server.clock.now += 0.1
        assert client.get("/v2/orders", headers=HEADERS).status_code == 200
        assert client.get(ADMIN_PATH, headers=ADMIN).json()["faults"] == []


def test_refuse_answers_503_and_refuses_websocket_handshakes_until_cleared(server: Server) -> None:
    with server.client() as client:
        start(client, {"fault": "refuse"})
        assert client.get("/v2/account", headers=HEADERS).status_code == 503
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/stream"):
            pass
        assert client.get(ADMIN_PATH, headers=ADMIN).json()["faults"] == [{"fault": "refuse"}]
        assert client.delete(ADMIN_PATH, headers=ADMIN).status_code == 200
        assert client.get("/v2/account", headers=HEADERS).status_code == 200
        with client.websocket_connect("/stream") as ws:
            ws.send_json({"action": "auth", "key": KEY, "secret": SECRET})
            assert b"authorized" in ws.receive_bytes()


@pytest.mark.parametrize(
    ("address", "headers", "status"),
    [
        (LOCAL, {}, 401),
        (LOCAL, {"X-Tapeflow-Admin": "wrong"}, 401),
        (("192.0.2.7", 40_000), ADMIN, 403),
    ],
)
def test_admin_refuses_without_the_token_or_off_loopback_and_starts_nothing(
    server: Server, address: tuple[str, int], headers: dict[str, str], status: int
) -> None:
    with server.client(address) as client:
        response = client.post(ADMIN_PATH, json={"fault": "refuse"}, headers=headers)
        assert response.status_code == status
        assert client.get(ADMIN_PATH, headers=headers).status_code == status
    assert server.faults.active() == []


def test_admin_routes_do_not_exist_without_a_token(make_venue: Callable[..., PaperVenue]) -> None:
    with Server(make_venue(), admin_token=None).client() as client:
        assert client.post(ADMIN_PATH, json={"fault": "refuse"}, headers=ADMIN).status_code == 404
        assert client.get("/v2/account", headers=HEADERS).status_code == 200


def test_an_empty_admin_token_is_a_config_error(make_venue: Callable[..., PaperVenue]) -> None:
    with pytest.raises(ConfigError, match="admin_token"):
        Server(make_venue(), admin_token="")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fault": "explode"}, "fault"),
        ({"fault": "rest_error", "status": 404}, "status"),
        ({"fault": "rest_error", "status": 429, "retry_after": -1}, "retry_after"),
        ({"fault": "rest_error", "count": 0}, "count"),
        ({"fault": "rest_error", "count": True}, "count"),
        ({"fault": "refuse", "count": 1, "seconds": 1}, "count"),
        ({"fault": "refuse", "seconds": 0}, "seconds"),
        ({"fault": "refuse", "stream": "data"}, "stream"),
        ({"fault": "drop", "stream": "quotes"}, "stream"),
        ({"fault": "drop", "stream": "data", "symbol": ""}, "symbol"),
        ({"fault": "delay", "stream": "data"}, "ms"),
        ({"fault": "delay", "stream": "data", "ms": 1.5}, "ms"),
        ({"fault": "drop", "stream": "data", "ms": 5}, "ms"),
        ({"fault": "close", "stream": "trade_updates"}, "key"),
        ({"fault": "close", "stream": "trade_updates", "key": KEY, "code": 1006}, "code"),
        ([{"fault": "refuse"}], "body"),
    ],
)
def test_a_bad_fault_is_a_422_naming_the_field_and_starts_nothing(server: Server, body: Any, field: str) -> None:
    with server.client() as client:
        response = client.post(ADMIN_PATH, json=body, headers=ADMIN)
        assert response.status_code == 422
        assert response.json()["message"].startswith(f"{field}: ")
    assert server.faults.active() == [] and server.data.filter is None and server.trades.filter is None


def test_drop_then_duplicate_act_on_exactly_the_counted_data_messages(server: Server) -> None:
    with server.client() as client, client.websocket_connect("/v2/iex") as ws:
        subscribed(ws, trades=["AAPL"])
        start(client, {"fault": "drop", "stream": "data", "count": 2})
        publish(ws, server.data, *(trade(i) for i in range(4)))
        assert received(ws, 2) == [("t", "AAPL", TS % 10**9 + 2), ("t", "AAPL", TS % 10**9 + 3)]
        assert server.data.filter is None  # the fault ran out: the hot path is back to one attribute check
        start(client, {"fault": "duplicate", "stream": "data", "count": 1})
        publish(ws, server.data, trade(4), trade(5))
        ns = TS % 10**9
        assert received(ws, 3) == [("t", "AAPL", ns + 4), ("t", "AAPL", ns + 4), ("t", "AAPL", ns + 5)]
        assert server.faults.applied == {"drop": 2, "duplicate": 1}


def test_delay_holds_the_counted_data_messages_and_lets_later_ones_overtake(server: Server) -> None:
    with server.client() as client, client.websocket_connect("/v2/iex") as ws:
        subscribed(ws, trades=["AAPL"])
        start(client, {"fault": "delay", "stream": "data", "ms": 50, "count": 1})
        publish(ws, server.data, trade(0), trade(1))
        ns = TS % 10**9
        assert received(ws, 2) == [("t", "AAPL", ns + 1), ("t", "AAPL", ns)]  # the first arrives 50 ms late
        assert server.faults.applied == {"delay": 1} and server.data.filter is None


def test_delay_holds_a_trade_update_and_sends_it_once_to_the_listener(server: Server) -> None:
    order = sample_order(order_id=str(uuid.UUID(int=3)), ts=TS, limit_price=1_205_500)
    updates = [sample_update("new", order, ts=TS + i, execution_id=str(uuid.UUID(int=30 + i))) for i in range(2)]
    with server.client() as client, client.websocket_connect("/stream") as ws:
        ws.send_json({"action": "auth", "key": KEY, "secret": SECRET})
        ws.receive_bytes()
        ws.send_json({"action": "listen", "data": {"streams": ["trade_updates"]}})
        ws.receive_bytes()
        start(client, {"fault": "delay", "stream": "trade_updates", "ms": 30, "symbol": "AAPL", "count": 1})
        for update in updates:
            ws.portal.call(server.trades.publish, update)
        got = [json.loads(ws.receive_bytes())["data"]["execution_id"] for _ in updates]
        assert got == [updates[1]["execution_id"], updates[0]["execution_id"]]
        assert server.faults.applied == {"delay": 1}


def test_a_symbol_filtered_drop_leaves_other_symbols_and_counts_only_its_own(server: Server) -> None:
    with server.client() as client, client.websocket_connect("/v2/iex") as ws:
        subscribed(ws, trades=["AAPL", "MSFT"])
        start(client, {"fault": "drop", "stream": "data", "symbol": "MSFT", "count": 1})
        publish(ws, server.data, trade(0), trade(1, "MSFT"), trade(2, "MSFT"))
        ns = TS % 10**9
        assert received(ws, 2) == [("t", "AAPL", ns), ("t", "MSFT", ns + 2)]
        assert server.faults.applied == {"drop": 1}


def test_a_silent_data_stream_stays_connected_and_sends_nothing_until_cleared(server: Server) -> None:
    with server.client() as client, client.websocket_connect("/v2/iex") as ws:
        subscribed(ws, trades=["AAPL"])
        start(client, {"fault": "silent", "stream": "data"})
        publish(ws, server.data, trade(0), trade(1))
        ws.send_json({"action": "subscribe", "trades": ["MSFT"]})  # control answers still flow
        assert ws.receive_json()[0]["trades"] == ["AAPL", "MSFT"]
        assert server.data.connections == 1
        client.delete(ADMIN_PATH, headers=ADMIN)
        publish(ws, server.data, trade(2))
        assert received(ws, 1) == [("t", "AAPL", TS % 10**9 + 2)]  # nothing of the silence was kept
        assert server.faults.applied == {"silent": 2}


def test_close_ends_the_keys_data_socket_with_the_code_given(server: Server) -> None:
    with server.client() as client, client.websocket_connect("/v2/iex") as ws:
        subscribed(ws, trades=["AAPL"])
        answer = start(client, {"fault": "close", "stream": "data", "key": KEY, "code": 4000})
        assert answer == {"fault": "close", "stream": "data", "key": KEY, "code": 4000, "closed": True}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4000
        assert start(client, {"fault": "close", "stream": "data", "key": KEY})["closed"] is False


def _wait(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_alpaca_pys_trading_client_retries_through_a_429_and_gets_the_account(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = ServerThread(server.app).start()
    try:
        admin = requests.post(
            served.url + ADMIN_PATH, json={"fault": "rest_error", "status": 429, "count": 2}, headers=ADMIN, timeout=5
        )
        assert admin.status_code == 201
        waits: list[float] = []
        monkeypatch.setattr("alpaca.common.rest.time.sleep", waits.append)  # alpaca-py's pause between retries
        client = TradingClient(KEY, SECRET, paper=True, url_override=require_base_url(served.url))  # 3 retries
        account = client.get_account()
        monkeypatch.undo()
    finally:
        served.stop()
    assert account.account_number  # type: ignore[union-attr]
    assert waits == [3, 3] and server.faults.applied == {"rest_error": 2}


def test_alpaca_pys_trade_stream_reconnects_after_its_socket_is_closed_and_keeps_receiving(server: Server) -> None:
    served = ServerThread(server.app).start()
    heard: list[TradeUpdate] = []

    async def on_update(update: TradeUpdate) -> None:
        heard.append(update)

    stream = TradingStream(KEY, SECRET, paper=True, url_override=served.url.replace("http://", "ws://") + "/stream")
    stream.subscribe_trade_updates(on_update)
    listener = threading.Thread(target=stream.run, name="alpaca-py stream", daemon=True)
    listener.start()
    order = sample_order(order_id=str(uuid.UUID(int=1)), ts=TS, limit_price=1_205_500)
    updates = [sample_update("new", order, ts=TS + i, execution_id=str(uuid.UUID(int=10 + i))) for i in range(2)]
    hub = server.trades
    try:
        _wait(lambda: hub.listening == (KEY,), "alpaca-py to authenticate and listen")
        assert hub._loop is not None
        hub._loop.call_soon_threadsafe(hub.publish, updates[0])
        _wait(lambda: len(heard) == 1, "the first update")
        body = {"fault": "close", "stream": "trade_updates", "key": KEY, "code": 1011}
        closed = requests.post(served.url + ADMIN_PATH, json=body, headers=ADMIN, timeout=5)
        assert closed.json()["closed"] is True and hub.listening == ()
        _wait(lambda: hub.listening == (KEY,), "alpaca-py to reconnect and listen again")
        hub._loop.call_soon_threadsafe(hub.publish, updates[1])
        _wait(lambda: len(heard) == 2, "the update sent after the reconnect")
    finally:
        stream.stop()
        served.stop()
        listener.join(timeout=15)
    assert not listener.is_alive()
    assert [str(u.execution_id) for u in heard] == [u["execution_id"] for u in updates]


def test_a_silent_trade_stream_on_a_real_socket_answers_pings_and_sends_nothing_until_cleared(server: Server) -> None:
    served = ServerThread(server.app).start()
    order = sample_order(order_id=str(uuid.UUID(int=2)), ts=TS, limit_price=1_205_500)
    updates = [sample_update("new", order, ts=TS + i, execution_id=str(uuid.UUID(int=20 + i))) for i in range(2)]
    hub = server.trades
    try:
        with connect(served.url.replace("http://", "ws://") + "/stream") as ws:
            ws.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
            assert json.loads(ws.recv(timeout=5))["data"]["status"] == "authorized"
            ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            assert json.loads(ws.recv(timeout=5))["stream"] == "listening"
            silent = {"fault": "silent", "stream": "trade_updates"}
            assert requests.post(served.url + ADMIN_PATH, json=silent, headers=ADMIN, timeout=5).status_code == 201
            assert hub._loop is not None
            hub._loop.call_soon_threadsafe(hub.publish, updates[0])
            assert ws.ping().wait(timeout=5)  # the server still answers pings
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)
            assert requests.delete(served.url + ADMIN_PATH, headers=ADMIN, timeout=5).status_code == 200
            hub._loop.call_soon_threadsafe(hub.publish, updates[1])
            assert json.loads(ws.recv(timeout=5))["data"]["execution_id"] == updates[1]["execution_id"]
    finally:
        served.stop()
    assert server.faults.applied == {"silent": 1}
