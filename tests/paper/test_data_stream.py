"""The market data websocket: every protocol message and error over starlette's TestClient (no socket), and the
real alpaca-py ``StockDataStream`` against uvicorn on 127.0.0.1 receiving a LOBSTER tape's quotes and trades."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgpack
import msgspec
import pytest
import uvicorn
from alpaca.data.live.stock import StockDataStream
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from tapeflow.book.l3 import L3Book
from tapeflow.data.bars import SESSION_NS
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.lobster_file import open_lobster
from tapeflow.model.enums import MarketStatus, Side
from tapeflow.model.events import TradingStatus
from tapeflow.model.market import Bar, OrderAdded, Quote, Trade
from tapeflow.model.prices import price_to_decimal
from tapeflow.paper.data_stream import MarketDataHub, data_stream_route

KEY, SECRET = "PKTEST", "SKTEST"
AUTH = {"action": "auth", "key": KEY, "secret": SECRET}
TS = 1_340_285_400_123_456_789
MSGPACK = {"content-type": "application/msgpack"}
SAMPLE = "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"


def check(key: str, secret: str) -> bool:
    return (key, secret) == (KEY, SECRET)


def client_for(hub: MarketDataHub, **options: Any) -> TestClient:
    return TestClient(Starlette(routes=[data_stream_route(hub, check, **options)]))


def quote(symbol: str = "GOOG", bid: int = 5_801_100, ts: int = TS) -> Quote:
    return Quote(
        ts_event=ts,
        ts_init=ts,
        symbol=symbol,
        bid_price=bid,
        bid_size=200,
        ask_price=5_801_300,
        ask_size=100,
        venue="XNAS",
    )


def trade(symbol: str = "GOOG", price: int = 5_801_200, ts: int = TS) -> Trade:
    return Trade(ts_event=ts, ts_init=ts, symbol=symbol, price=price, size=100, venue="XNAS", trade_id="42")


def error(code: int, msg: str) -> list[dict[str, Any]]:
    return [{"T": "error", "code": code, "msg": msg}]


def authenticated(ws: Any) -> None:
    """Reads the welcome, authenticates and checks both answers."""
    assert ws.receive_json() == [{"T": "success", "msg": "connected"}]
    ws.send_json(AUTH)
    assert ws.receive_json() == [{"T": "success", "msg": "authenticated"}]


def subscription(**channels: list[str]) -> list[dict[str, Any]]:
    answer: dict[str, Any] = {"T": "subscription"}
    for name in ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds"):
        answer[name] = channels.get(name, [])
    answer["corrections"] = answer["cancelErrors"] = channels.get("trades", [])
    return [answer]


def publish(ws: Any, hub: MarketDataHub, *events: Trade | Quote | Bar) -> None:
    """Publishes on the app's own loop, all in one call, as the venue does."""

    def run() -> None:
        for event in events:
            hub.publish(event)

    ws.portal.call(run)


def data(ws: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` data messages, however the server batched them into frames."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        got.extend(ws.receive_json())
    assert len(got) == count
    return got


def test_connect_greets_then_message_auth_with_good_keys_is_authenticated() -> None:
    hub = MarketDataHub()
    with client_for(hub).websocket_connect("/v2/iex") as ws:
        authenticated(ws)
        assert hub.connections == 1
    assert hub.connections == 0


def test_auth_with_wrong_secret_is_402_and_a_later_good_auth_still_succeeds() -> None:
    with client_for(MarketDataHub()).websocket_connect("/v2/iex") as ws:
        ws.receive_json()
        ws.send_json({"action": "auth", "key": KEY, "secret": "nope"})
        assert ws.receive_json() == error(402, "auth failed")
        ws.send_json(AUTH)
        assert ws.receive_json() == [{"T": "success", "msg": "authenticated"}]


def test_second_auth_on_an_authenticated_connection_is_403() -> None:
    with client_for(MarketDataHub()).websocket_connect("/v2/iex") as ws:
        authenticated(ws)
        ws.send_json(AUTH)
        assert ws.receive_json() == error(403, "already authenticated")


def test_handshake_headers_authenticate_without_a_message() -> None:
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    with client_for(MarketDataHub()).websocket_connect("/v2/sip", headers=headers) as ws:
        assert ws.receive_json() == [{"T": "success", "msg": "connected"}]
        assert ws.receive_json() == [{"T": "success", "msg": "authenticated"}]


def test_handshake_headers_with_a_wrong_secret_are_402() -> None:
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": "nope"}
    with client_for(MarketDataHub()).websocket_connect("/v2/iex", headers=headers) as ws:
        ws.receive_json()
        assert ws.receive_json() == error(402, "auth failed")


def test_subscribe_before_auth_is_401() -> None:
    with client_for(MarketDataHub()).websocket_connect("/v2/iex") as ws:
        ws.receive_json()
        ws.send_json({"action": "subscribe", "trades": ["GOOG"]})
        assert ws.receive_json() == error(401, "not authenticated")


@pytest.mark.parametrize(
    "frame",
    [
        "{not json",
        '["auth"]',
        '{"action": "listen"}',
        '{"action": "subscribe", "orderbooks": ["GOOG"]}',
        '{"action": "subscribe", "trades": "GOOG"}',
        '{"action": "subscribe", "trades": [""]}',
        '{"action": "auth", "key": 1, "secret": 2}',
    ],
)
def test_malformed_or_unknown_messages_are_400_and_the_connection_stays(frame: str) -> None:
    with client_for(MarketDataHub()).websocket_connect("/v2/iex") as ws:
        ws.receive_json()
        if "subscribe" in frame:
            ws.send_json(AUTH)
            ws.receive_json()
        ws.send_text(frame)
        assert ws.receive_json() == error(400, "invalid syntax")
        if "subscribe" in frame:
            ws.send_json({"action": "subscribe", "trades": []})
            assert ws.receive_json() == subscription()
        else:
            ws.send_json(AUTH)
            assert ws.receive_json() == [{"T": "success", "msg": "authenticated"}]


def test_auth_timeout_is_404_and_the_server_closes() -> None:
    with client_for(MarketDataHub(), auth_timeout=0.05).websocket_connect("/v2/iex") as ws:
        ws.receive_json()
        assert ws.receive_json() == error(404, "auth timeout")
        assert ws.receive()["type"] == "websocket.close"


def test_symbol_limit_is_405_and_leaves_the_subscription_as_it_was() -> None:
    with client_for(MarketDataHub(), symbol_limit=2).websocket_connect("/v2/iex") as ws:
        authenticated(ws)
        ws.send_json({"action": "subscribe", "trades": ["GOOG"], "quotes": ["GOOG", "AAPL"]})
        assert ws.receive_json() == subscription(trades=["GOOG"], quotes=["GOOG", "AAPL"])
        ws.send_json({"action": "subscribe", "bars": ["MSFT"]})
        assert ws.receive_json() == error(405, "symbol limit exceeded")
        ws.send_json({"action": "subscribe", "bars": ["AAPL"]})
        assert ws.receive_json() == subscription(trades=["GOOG"], quotes=["GOOG", "AAPL"], bars=["AAPL"])


def test_second_connection_with_the_same_key_is_406_and_closed_and_the_key_frees_on_disconnect() -> None:
    client = client_for(MarketDataHub())
    with client.websocket_connect("/v2/iex") as first:
        authenticated(first)
        with client.websocket_connect("/v2/iex") as second:
            second.receive_json()
            second.send_json(AUTH)
            assert second.receive_json() == error(406, "connection limit exceeded")
            assert second.receive()["type"] == "websocket.close"
    with client.websocket_connect("/v2/iex") as third:
        authenticated(third)


def test_feed_not_served_is_409_at_auth_and_an_unknown_feed_is_refused_at_the_handshake() -> None:
    client = client_for(MarketDataHub(), feeds={"iex"})
    with client.websocket_connect("/v2/sip") as ws:
        ws.receive_json()
        ws.send_json(AUTH)
        assert ws.receive_json() == error(409, "insufficient subscription")
        assert ws.receive()["type"] == "websocket.close"
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/v2/nosuchfeed"):
        pass


def test_subscribe_answers_the_whole_subscription_and_unsubscribe_removes_symbols() -> None:
    with client_for(MarketDataHub()).websocket_connect("/v2/iex") as ws:
        authenticated(ws)
        ws.send_json({"action": "subscribe", "trades": ["GOOG", "AAPL"], "quotes": ["*"], "statuses": ["*"]})
        assert ws.receive_json() == subscription(trades=["GOOG", "AAPL"], quotes=["*"], statuses=["*"])
        ws.send_json({"action": "unsubscribe", "trades": ["GOOG"], "quotes": ["*"]})
        assert ws.receive_json() == subscription(trades=["AAPL"], statuses=["*"])


def test_data_goes_only_to_subscribed_symbols_and_channels_in_tape_order() -> None:
    hub = MarketDataHub(tapes={"GOOG": "C"})
    with client_for(hub).websocket_connect("/v2/iex") as ws:
        authenticated(ws)
        ws.send_json({"action": "subscribe", "trades": ["GOOG"], "quotes": ["*"]})
        ws.receive_json()
        assert hub.subscribed("trades", "GOOG") and not hub.subscribed("trades", "AAPL")
        publish(ws, hub, trade("AAPL"), quote("AAPL", ts=TS + 1), trade("GOOG", ts=TS + 2), quote(ts=TS + 3))
        got = data(ws, 3)
    assert [(m["T"], m["S"]) for m in got] == [("q", "AAPL"), ("t", "GOOG"), ("q", "GOOG")]
    assert got[1] == {
        "T": "t",
        "S": "GOOG",
        "i": 42,
        "x": "Q",
        "p": 580.12,
        "s": 100,
        "c": [],
        "t": "2012-06-21T13:30:00.123456791Z",
        "z": "C",
    }
    assert got[2]["t"] == "2012-06-21T13:30:00.123456792Z" and got[2]["bp"] == 580.11


def test_bars_channel_carries_bars() -> None:
    hub = MarketDataHub()
    bar = Bar(
        ts_event=TS, ts_init=TS, symbol="GOOG", open=5_800_000, high=5_810_000, low=5_790_000, close=5_805_000,
        volume=1_000,
    )  # fmt: skip
    with client_for(hub).websocket_connect("/v2/iex") as ws:
        authenticated(ws)
        ws.send_json({"action": "subscribe", "bars": ["GOOG"]})
        ws.receive_json()
        publish(ws, hub, trade(), bar)
        assert data(ws, 1)[0]["c"] == 580.5


def test_msgpack_client_gets_binary_frames_with_timestamp_extension_and_exact_prices() -> None:
    hub = MarketDataHub()
    with client_for(hub).websocket_connect("/v2/iex", headers=MSGPACK) as ws:
        assert msgpack.unpackb(ws.receive_bytes()) == [{"T": "success", "msg": "connected"}]
        ws.send_bytes(msgpack.packb(AUTH))
        assert msgpack.unpackb(ws.receive_bytes()) == [{"T": "success", "msg": "authenticated"}]
        ws.send_bytes(msgpack.packb({"action": "subscribe", "quotes": ["GOOG"]}))
        assert msgpack.unpackb(ws.receive_bytes())[0]["quotes"] == ["GOOG"]
        publish(ws, hub, quote(bid=5_801_175))
        [message] = msgpack.unpackb(ws.receive_bytes())
    stamp = message["t"]
    assert (stamp.seconds, stamp.nanoseconds) == (TS // 10**9, TS % 10**9)
    assert Decimal(repr(message["bp"])) == price_to_decimal(5_801_175)


def test_slow_client_gets_407_and_is_disconnected_while_publish_never_waits() -> None:
    hub = MarketDataHub(queue_limit=3)
    with client_for(hub).websocket_connect("/v2/iex") as ws:
        authenticated(ws)
        ws.send_json({"action": "subscribe", "trades": ["*"]})
        ws.receive_json()
        publish(ws, hub, *(trade(ts=TS + i) for i in range(10)))
        assert ws.receive_json() == error(407, "slow client")
        assert ws.receive()["type"] == "websocket.close"
    assert hub.connections == 0


def test_statuses_and_daily_bars_go_to_their_own_channels() -> None:
    hub = MarketDataHub()
    halt = TradingStatus(ts_event=TS, ts_init=TS, symbol="GOOG", status=MarketStatus.HALTED, reason="T1")
    daily = Bar(
        ts_event=TS, ts_init=TS, symbol="GOOG", open=1, high=1, low=1, close=1, volume=1, interval_ns=SESSION_NS
    )
    with client_for(hub).websocket_connect("/v2/iex") as ws:
        authenticated(ws)
        ws.send_json({"action": "subscribe", "statuses": ["GOOG"], "dailyBars": ["*"]})
        ws.receive_json()
        publish(ws, hub, trade(), halt, daily)
        got = data(ws, 2)
    assert [(m["T"], m["S"]) for m in got] == [("s", "GOOG"), ("d", "GOOG")]


def test_publish_counts_and_drops_events_the_stream_has_no_channel_for_and_keeps_serving() -> None:
    """A five-minute bar or a book event is no Alpaca message: counted, never sent, and never an exception inside
    the venue's dispatch (that would end its run)."""
    hub = MarketDataHub()
    five_minutes = Bar(
        ts_event=TS, ts_init=TS, symbol="GOOG", open=1, high=1, low=1, close=1, volume=1, interval_ns=300 * 10**9
    )
    book_event = OrderAdded(ts_event=TS, ts_init=TS, symbol="GOOG", order_id=1, side=Side.BUY, price=1, size=1)
    with client_for(hub).websocket_connect("/v2/iex") as ws:
        authenticated(ws)
        ws.send_json({"action": "subscribe", "trades": ["*"], "bars": ["*"]})
        ws.receive_json()
        publish(ws, hub, book_event, five_minutes, trade())  # type: ignore[arg-type]
        got = data(ws, 1)
    assert [m["T"] for m in got] == ["t"]
    assert sum(hub.refused.values()) == 2
    assert any("OrderAdded" in reason for reason in hub.refused)
    assert any("minute and daily" in reason for reason in hub.refused)


# --- the real alpaca-py client over a real socket -------------------------------------------------------------


def lobster_tape(data_dir: Path, trades: int, quotes: int) -> list[Trade | Quote]:
    """The first quotes and trades of a real LOBSTER day: trades as printed, quotes at each top-of-book change."""
    lf = open_lobster(data_dir / SAMPLE)
    book = L3Book(lf.symbol)
    tape: list[Trade | Quote] = []
    last = None
    for event in iter_events(lf):
        if isinstance(event, Trade):
            tape.append(event)
        elif not isinstance(event, TradingStatus):
            book.apply(event)
            top = book.top()
            if top != last and top.bid_size and top.ask_size:
                last = top
                ts = event.ts_event
                tape.append(
                    Quote(
                        ts_event=ts,
                        ts_init=ts,
                        symbol=lf.symbol,
                        bid_price=top.bid_price,
                        bid_size=top.bid_size,
                        ask_price=top.ask_price,
                        ask_size=top.ask_size,
                        venue="XNAS",
                    )
                )
        if sum(isinstance(e, Trade) for e in tape) >= trades and sum(isinstance(e, Quote) for e in tape) >= quotes:
            return tape
    raise AssertionError("the sample has fewer quotes and trades than the test asks for")


@pytest.fixture
def server() -> Iterator[tuple[MarketDataHub, asyncio.AbstractEventLoop, int]]:
    """uvicorn on 127.0.0.1 and a free port, in a thread, serving only the data stream route; stopped after."""
    hub = MarketDataHub(tapes={"GOOG": "C"})
    app = Starlette(routes=[data_stream_route(hub, check)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="websockets-sansio")
    uv = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(uv.serve(sockets=[sock]),), daemon=True)
    thread.start()
    wait_for(lambda: uv.started, "uvicorn did not start")
    try:
        yield hub, loop, port
    finally:
        uv.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop"
        loop.close()
        sock.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.01)


def on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> Any:
    """Runs ``fn`` on the server's loop (the hub is not thread-safe) and returns its result."""

    async def call() -> Any:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), loop).result(5)


def run_until_received(
    stream: StockDataStream,
    loop: asyncio.AbstractEventLoop,
    hub: MarketDataHub,
    channels: tuple[str, ...],
    events: list[Any],
) -> None:
    """Runs alpaca-py in a thread; once it has subscribed, publishes ``events`` on the server's loop in one go and
    waits for the client to stop itself (its handler calls ``stop_ws`` on the last message)."""
    client = threading.Thread(target=stream.run, daemon=True)
    client.start()
    try:
        wait_for(
            lambda: on_loop(loop, lambda: all(hub.subscribed(channel, "GOOG") for channel in channels)),
            "alpaca-py did not subscribe",
        )
        loop.call_soon_threadsafe(lambda: [hub.publish(event) for event in events])
        client.join(10)
        assert not client.is_alive(), "alpaca-py did not receive everything"
    finally:
        if client.is_alive():
            stream.stop()
            client.join(10)


def test_alpaca_py_stock_stream_receives_a_lobster_tape_in_order_with_exact_prices_and_times(
    data_dir: Path, server: tuple[MarketDataHub, asyncio.AbstractEventLoop, int]
) -> None:
    hub, loop, port = server
    tape = lobster_tape(data_dir, trades=5, quotes=20)
    stream = StockDataStream(KEY, SECRET, url_override=f"ws://127.0.0.1:{port}/v2/iex")
    got: list[Any] = []

    async def handler(message: Any) -> None:
        got.append(message)
        if len(got) == len(tape):
            await stream.stop_ws()

    stream.subscribe_quotes(handler, "GOOG")
    stream.subscribe_trades(handler, "GOOG")
    run_until_received(stream, loop, hub, ("quotes", "trades"), tape)
    assert len(got) == len(tape)
    for sent, received in zip(tape, got, strict=True):
        assert received.symbol == "GOOG"
        micros = datetime.fromtimestamp(sent.ts_event // 1_000_000_000, UTC).replace(
            microsecond=sent.ts_event % 1_000_000_000 // 1_000
        )
        assert received.timestamp == micros  # alpaca-py keeps microseconds of the nanosecond timestamp
        if isinstance(sent, Trade):
            assert type(received).__name__ == "Trade"
            assert Decimal(repr(received.price)) == price_to_decimal(sent.price)
            assert (received.size, received.exchange, received.tape) == (sent.size, "Q", "C")
        else:
            assert type(received).__name__ == "Quote"
            assert Decimal(repr(received.bid_price)) == price_to_decimal(sent.bid_price)
            assert Decimal(repr(received.ask_price)) == price_to_decimal(sent.ask_price)
            assert (received.bid_size, received.ask_size) == (sent.bid_size, sent.ask_size)


def test_alpaca_py_models_parse_minute_bars_daily_bars_and_statuses(
    server: tuple[MarketDataHub, asyncio.AbstractEventLoop, int],
) -> None:
    hub, loop, port = server
    minute = Bar(
        ts_event=TS, ts_init=TS, symbol="GOOG", open=5_800_000, high=5_810_000, low=5_790_000, close=5_805_000,
        volume=1_000,
    )  # fmt: skip
    daily = msgspec.structs.replace(minute, interval_ns=SESSION_NS, volume=2_000)
    halt = TradingStatus(ts_event=TS, ts_init=TS, symbol="GOOG", status=MarketStatus.HALTED, reason="T1")
    stream = StockDataStream(KEY, SECRET, url_override=f"ws://127.0.0.1:{port}/v2/iex")
    got: list[Any] = []

    async def handler(message: Any) -> None:
        got.append(message)
        if len(got) == 3:
            await stream.stop_ws()

    stream.subscribe_bars(handler, "GOOG")
    stream.subscribe_daily_bars(handler, "GOOG")
    stream.subscribe_trading_statuses(handler, "GOOG")
    run_until_received(stream, loop, hub, ("bars", "dailyBars", "statuses"), [halt, minute, daily])
    assert len(got) == 3
    status, bar, day = got
    assert (status.status_code, status.status_message, status.reason_code) == ("H", "Trading Halt", "T1")
    assert status.tape == "C"
    assert (bar.close, bar.volume, bar.trade_count, bar.vwap) == (580.5, 1_000, None, None)
    assert bar.timestamp == datetime(2012, 6, 21, 13, 29, 0, 123456, tzinfo=UTC)
    assert (day.volume, day.timestamp) == (2_000, datetime(2012, 6, 21, 4, 0, tzinfo=UTC))


class StalledClient:
    """A websocket client on a raw socket with a tiny receive window that reads only when told to."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/v2/iex"))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self._texts: list[str] = []

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)

    def send_json(self, message: Any) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def receive_json(self) -> Any:
        while not self._texts:
            self.protocol.receive_data(self.sock.recv(65536))
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    self._texts.append(event.data.decode())
        return json.loads(self._texts.pop(0))


def test_a_client_that_stops_reading_on_a_real_socket_is_dropped_while_the_tape_keeps_flowing(
    server: tuple[MarketDataHub, asyncio.AbstractEventLoop, int],
) -> None:
    hub, loop, port = server
    hub.queue_limit = 100
    client = StalledClient(port)
    try:
        assert client.receive_json() == [{"T": "success", "msg": "connected"}]
        client.send_json(AUTH)
        assert client.receive_json() == [{"T": "success", "msg": "authenticated"}]
        client.send_json({"action": "subscribe", "quotes": ["GOOG"]})
        client.receive_json()
        batch = [quote(ts=TS + i) for i in range(90)]  # fewer than the queue holds: the writer drains between
        # batches until the socket stops taking bytes; from here on the client reads nothing

        def publish_batch() -> int:
            for event in batch:
                hub.publish(event)
            return hub.connections

        deadline = time.monotonic() + 15
        published = 0
        while time.monotonic() < deadline and on_loop(loop, publish_batch):
            published += len(batch)
        assert on_loop(loop, lambda: hub.connections) == 0, f"still connected after {published} quotes"
        assert published > 10 * hub.queue_limit  # dropped for a full socket, not for one burst
    finally:
        client.sock.close()
