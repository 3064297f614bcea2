"""The trade_updates websocket: each message and error through starlette's TestClient (no socket), and the real
alpaca-py TradingStream against uvicorn on 127.0.0.1.

Why this module is long: the protocol's answers and the real client's view of the same server are one subject,
and the server harness they share would otherwise be copied into a second file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream
from starlette.applications import Starlette
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from websockets.legacy import client as websockets_client  # the client alpaca-py itself uses

from tapeflow.model.errors import ConfigError
from tapeflow.paper.alpaca_orders import rfc3339
from tapeflow.paper.trade_stream import (
    TradeUpdateHub,
    _Connection,
    sample_order,
    sample_update,
    trade_stream_route,
)

KEY, SECRET = "PKTEST", "SKTEST"
T0 = 1_718_976_600_123_456_789  # 2024-06-21 13:30:00.123456789 UTC
AUTH = {"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}
LISTEN = {"action": "listen", "data": {"streams": ["trade_updates"]}}
AUTHORIZED = {"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}}
INVALID = {"stream": "error", "data": {"code": 400, "message": "invalid syntax"}}


def _check(key: str, secret: str) -> bool:
    return (key, secret) in {(KEY, SECRET), ("PKOTHER", "SKOTHER")}


def _app(hub: TradeUpdateHub) -> Starlette:
    return Starlette(routes=[trade_stream_route(hub, _check)])


@contextlib.contextmanager
def _client(hub: TradeUpdateHub) -> Iterator[TestClient]:
    with TestClient(_app(hub)) as client:  # one event loop for every socket of the test, as under uvicorn
        yield client


def _send(ws: WebSocketTestSession, message: object) -> None:
    ws.send_text(json.dumps(message))


def _recv(ws: WebSocketTestSession) -> Any:
    """The next frame, which must be binary JSON, as Alpaca's paper stream sends."""
    return json.loads(ws.receive_bytes())


def _updates(n: int = 1) -> list[dict[str, Any]]:
    order = sample_order(order_id=str(uuid.UUID(int=1)), ts=T0, limit_price=1_205_500)
    return [sample_update("new", order, ts=T0 + i, execution_id=str(uuid.UUID(int=100 + i))) for i in range(n)]


def _ready(ws: WebSocketTestSession) -> None:
    _send(ws, AUTH)
    assert _recv(ws) == AUTHORIZED
    _send(ws, LISTEN)
    assert _recv(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}


def test_auth_as_alpaca_py_sends_it_is_authorized() -> None:
    hub = TradeUpdateHub()
    with _client(hub) as client, client.websocket_connect("/stream") as ws:
        _send(ws, AUTH)
        assert _recv(ws) == AUTHORIZED
        assert hub.keys == (KEY,)
    assert hub.keys == ()


def test_auth_in_key_secret_form_is_authorized() -> None:
    with _client(TradeUpdateHub()) as client, client.websocket_connect("/stream") as ws:
        _send(ws, {"action": "auth", "key": KEY, "secret": SECRET})
        assert _recv(ws) == AUTHORIZED


@pytest.mark.parametrize(
    "request_",
    [
        {"action": "authenticate", "data": {"key_id": KEY, "secret_key": "wrong"}},
        {"action": "authenticate", "data": {"key_id": "", "secret_key": ""}},
        {"action": "authenticate", "data": {"key_id": KEY}},
        {"action": "authenticate", "data": [KEY, SECRET]},
        {"action": "auth", "key": KEY, "secret": 7},
    ],
)
def test_auth_with_bad_credentials_is_unauthorized_and_closed(request_: dict[str, Any]) -> None:
    hub = TradeUpdateHub()
    with _client(hub) as client, client.websocket_connect("/stream") as ws:
        _send(ws, request_)
        assert _recv(ws) == {
            "stream": "authorization",
            "data": {"action": "authenticate", "status": "unauthorized", "message": "access key verification failed"},
        }
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
        assert closed.value.code == 1008
        assert hub.keys == ()


def test_listen_before_auth_is_unauthorized_and_socket_stays_usable() -> None:
    with _client(TradeUpdateHub()) as client, client.websocket_connect("/stream") as ws:
        _send(ws, LISTEN)
        assert _recv(ws) == {"stream": "authorization", "data": {"action": "listen", "status": "unauthorized"}}
        _ready(ws)


def test_listen_answers_only_known_streams_and_empty_list_stops_updates() -> None:
    hub = TradeUpdateHub()
    first, second = _updates(2)
    with _client(hub) as client, client.websocket_connect("/stream") as ws:
        _send(ws, AUTH)
        _recv(ws)
        _send(ws, {"action": "listen", "data": {"streams": ["account_updates", "trade_updates"]}})
        assert _recv(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
        ws.portal.call(hub.publish, first)
        assert _recv(ws) == {"stream": "trade_updates", "data": first}
        _send(ws, {"action": "listen", "data": {"streams": []}})
        assert _recv(ws) == {"stream": "listening", "data": {"streams": []}}
        assert hub.listening == ()
        ws.portal.call(hub.publish, second)
        _send(ws, {"action": "listen", "data": {"streams": ["nope"]}})
        assert _recv(ws) == {"stream": "listening", "data": {"streams": []}}  # not the second update


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[1, 2]",
        '"listen"',
        json.dumps({"action": "subscribe", "trades": ["AAPL"]}),
        json.dumps({"data": {}}),
        json.dumps({"action": "listen", "data": {"streams": "trade_updates"}}),
        json.dumps({"action": "listen", "data": {"streams": [1]}}),
    ],
)
def test_malformed_or_unknown_message_gets_invalid_syntax_and_socket_stays_open(raw: str) -> None:
    with _client(TradeUpdateHub()) as client, client.websocket_connect("/stream") as ws:
        _send(ws, AUTH)
        _recv(ws)
        ws.send_text(raw)
        assert _recv(ws) == INVALID
        _send(ws, LISTEN)
        assert _recv(ws)["stream"] == "listening"


def test_binary_client_frames_are_read_as_json() -> None:
    with _client(TradeUpdateHub()) as client, client.websocket_connect("/stream") as ws:
        ws.send_bytes(json.dumps(AUTH).encode())
        assert _recv(ws) == AUTHORIZED
        ws.send_bytes(b"\xff\xfe")
        assert _recv(ws) == INVALID


def test_second_auth_on_same_socket_is_refused_without_closing() -> None:
    with _client(TradeUpdateHub()) as client, client.websocket_connect("/stream") as ws:
        _send(ws, AUTH)
        _recv(ws)
        _send(ws, AUTH)
        assert _recv(ws) == {"stream": "error", "data": {"code": 403, "message": "already authenticated"}}
        _send(ws, LISTEN)
        assert _recv(ws)["stream"] == "listening"


def test_second_socket_for_same_key_gets_connection_limit_and_first_keeps_its_updates() -> None:
    hub = TradeUpdateHub()
    (update,) = _updates(1)
    with _client(hub) as client, client.websocket_connect("/stream") as first:
        _ready(first)
        with client.websocket_connect("/stream") as second:
            _send(second, AUTH)
            assert _recv(second) == {
                "stream": "authorization",
                "data": {"action": "authenticate", "status": "unauthorized", "message": "connection limit exceeded"},
            }
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_bytes()
            assert closed.value.code == 1008
        first.portal.call(hub.publish, update)
        assert _recv(first) == {"stream": "trade_updates", "data": update}
        assert hub.keys == (KEY,)


def test_key_is_free_again_once_its_socket_disconnects() -> None:
    hub = TradeUpdateHub()
    with _client(hub) as client:
        with client.websocket_connect("/stream") as ws:
            _ready(ws)
        with client.websocket_connect("/stream") as ws:
            _ready(ws)
            assert hub.listening == (KEY,)


def test_updates_reach_every_listening_key_in_publish_order_as_binary_frames() -> None:
    hub = TradeUpdateHub()
    updates = _updates(5)
    with _client(hub) as client, client.websocket_connect("/stream") as a, client.websocket_connect("/stream") as b:
        _ready(a)
        _send(b, {"action": "auth", "key": "PKOTHER", "secret": "SKOTHER"})
        _recv(b)
        _send(b, LISTEN)
        _recv(b)
        assert hub.listening == (KEY, "PKOTHER")

        def publish_all() -> None:
            for update in updates:
                hub.publish(update)

        a.portal.call(publish_all)
        frames = [a.receive()["bytes"] for _ in updates]
        assert [json.loads(f) for f in frames] == [{"stream": "trade_updates", "data": u} for u in updates]
        assert [_recv(b)["data"] for _ in updates] == updates
        assert frames[0] == json.dumps({"stream": "trade_updates", "data": updates[0]}, separators=(",", ":")).encode()
        assert hub.published == 5


def test_stuck_client_is_disconnected_and_counted_without_blocking_publish() -> None:
    hub = TradeUpdateHub(max_pending=3)
    updates = _updates(4)
    with _client(hub) as client, client.websocket_connect("/stream") as ws:
        _ready(ws)

        def burst() -> None:  # one loop callback: the socket gets no chance to drain in between
            for update in updates:
                hub.publish(update)

        ws.portal.call(burst)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
        assert (closed.value.code, closed.value.reason) == (1008, "slow client")
        assert hub.slow_disconnects == 1
        assert hub.keys == ()


def test_answers_count_against_the_outbox_so_a_client_that_never_reads_is_dropped() -> None:
    hub = TradeUpdateHub(max_pending=2)
    conn = _Connection()
    for _ in range(3):
        hub.offer(conn, b"{}")
    assert conn.kicked.is_set() and not conn.outbox
    hub.offer(conn, b"{}")
    assert (hub.slow_disconnects, len(conn.outbox)) == (1, 0)


def test_disconnect_closes_a_key_socket_with_the_code_given_and_frees_the_key() -> None:
    hub = TradeUpdateHub()
    with _client(hub) as client, client.websocket_connect("/stream") as ws:
        _ready(ws)
        assert ws.portal.call(hub.disconnect, KEY, 1011, "fault") is True
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
        assert (closed.value.code, closed.value.reason) == (1011, "fault")
        assert hub.keys == ()
        assert ws.portal.call(hub.disconnect, KEY) is False
        assert hub.slow_disconnects == 0


def test_publish_with_nobody_connected_is_counted_and_dropped() -> None:
    hub = TradeUpdateHub()
    hub.publish(_updates(1)[0])
    assert (hub.published, hub.keys) == (1, ())


def test_publish_off_the_loop_thread_while_sockets_listen_raises() -> None:
    hub = TradeUpdateHub()
    with _client(hub) as client, client.websocket_connect("/stream") as ws:
        _ready(ws)
        with pytest.raises(RuntimeError, match="call_soon_threadsafe"):
            hub.publish(_updates(1)[0])


def test_publish_of_a_non_json_value_raises() -> None:
    with pytest.raises(TypeError):
        TradeUpdateHub().publish({"event": "fill", "price": object()})


def test_hub_needs_room_for_at_least_one_frame() -> None:
    with pytest.raises(ConfigError, match="max_pending"):
        TradeUpdateHub(max_pending=0)


def test_rfc3339_keeps_all_nine_nanosecond_digits_in_utc() -> None:
    assert rfc3339(T0) == "2024-06-21T13:30:00.123456789Z"
    assert rfc3339(0) == "1970-01-01T00:00:00.000000000Z"


# --- the real client ----------------------------------------------------------------------------------------


class _Server:
    """uvicorn on 127.0.0.1 and a free port, in a thread, with the loop it runs on (where publish must run)."""

    def __init__(self, hub: TradeUpdateHub) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self.loop = asyncio.get_running_loop()
            yield

        app = Starlette(routes=[trade_stream_route(hub, _check)], lifespan=lifespan)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        _wait(lambda: self.server.started, "uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "uvicorn did not stop"

    @property
    def port(self) -> int:
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    def publish(self, hub: TradeUpdateHub, update: dict[str, Any]) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(hub.publish, update)


def _wait(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _order_story() -> list[dict[str, Any]]:
    """Every event kind, each with the fields Alpaca sends for it."""
    oid, new_id = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))

    def order(status: str, filled: int, order_id: str = oid) -> dict[str, Any]:
        return sample_order(order_id=order_id, ts=T0, qty=100, filled_qty=filled, limit_price=1_205_500, status=status)

    def exec_id(n: int) -> str:
        return str(uuid.UUID(int=1000 + n))

    return [
        sample_update("new", order("new", 0), ts=T0 + 1, execution_id=exec_id(1)),
        sample_update(
            "partial_fill",
            order("partially_filled", 40),
            ts=T0 + 2,
            execution_id=exec_id(2),
            price=1_205_500,
            qty=40,
            position_qty=40,
        ),
        sample_update(
            "fill", order("filled", 100), ts=T0 + 3, execution_id=exec_id(3), price=1_205_400, qty=60, position_qty=100
        ),
        sample_update("canceled", order("canceled", 0), ts=T0 + 4, execution_id=exec_id(4)),
        sample_update("replaced", order("replaced", 0), ts=T0 + 5, execution_id=exec_id(5)),
        sample_update("expired", order("expired", 0, new_id), ts=T0 + 6, execution_id=exec_id(6)),
        sample_update("rejected", order("rejected", 0), ts=T0 + 7, execution_id=exec_id(7)),
    ]


class _Client:
    """The unmodified alpaca-py TradingStream in its own thread, collecting what its handler is given."""

    def __init__(self, server: _Server, hub: TradeUpdateHub, *, secret: str = SECRET, refused: bool = False) -> None:
        self.received: list[TradeUpdate] = []
        self._server, self._hub, self._key, self._refused = server, hub, KEY, refused
        self.stream = TradingStream(KEY, secret, paper=True, url_override=f"ws://127.0.0.1:{server.port}/stream")
        self.stream.subscribe_trade_updates(self._on_update)
        self.thread = threading.Thread(target=self.stream.run, name="alpaca-py", daemon=True)

    async def _on_update(self, update: TradeUpdate) -> None:
        self.received.append(update)

    def __enter__(self) -> _Client:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _wait(lambda: self.stream._loop is not None, "alpaca-py's loop")
        self.stream.stop()  # a refused one wakes from its back-off at once
        if not self._refused:
            # A connected one looks at its stop flag only between receives (up to 5 s apart): end its socket.
            assert self._server.loop is not None
            self._server.loop.call_soon_threadsafe(self._hub.disconnect, self._key)
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "alpaca-py did not stop"


def test_alpaca_py_trading_stream_receives_every_event_kind_in_order() -> None:
    hub = TradeUpdateHub()
    story = _order_story()
    with _Server(hub) as server, _Client(server, hub) as client:
        _wait(lambda: hub.listening == (KEY,), "alpaca-py to authenticate and listen")
        for update in story:
            server.publish(hub, update)
        _wait(lambda: len(client.received) == len(story), "alpaca-py to receive every update")
    received = client.received
    assert [u.event for u in received] == [
        "new",
        "partial_fill",
        "fill",
        "canceled",
        "replaced",
        "expired",
        "rejected",
    ]
    for got, sent in zip(received, story, strict=True):
        assert isinstance(got, TradeUpdate)
        assert str(got.execution_id) == sent["execution_id"]
        assert str(got.order.id) == sent["order"]["id"]
        assert got.order.status == sent["order"]["status"]
        assert got.order.symbol == "AAPL"
        assert got.order.limit_price == "120.55"
        assert got.timestamp == datetime(2024, 6, 21, 13, 30, 0, 123456, UTC)  # pydantic keeps microseconds
    partial, fill = received[1], received[2]
    assert (partial.price, partial.qty, partial.position_qty) == (120.55, 40, 40)
    assert (fill.price, fill.qty, fill.position_qty) == (120.54, 60, 100)
    assert fill.order.filled_qty == "100"
    assert received[0].price is None and received[0].qty is None


def test_frames_over_a_real_socket_are_binary_json_as_alpaca_paper_sends_them() -> None:
    async def talk(port: int) -> list[str | bytes]:
        async with websockets_client.connect(f"ws://127.0.0.1:{port}/stream") as ws:
            await ws.send(json.dumps(AUTH))
            await ws.send(json.dumps({"action": "listen"}))
            return [await ws.recv(), await ws.recv()]

    with _Server(TradeUpdateHub()) as server:
        frames = asyncio.run(talk(server.port))
    assert all(isinstance(f, bytes) for f in frames)
    assert [json.loads(f) for f in frames] == [AUTHORIZED, INVALID]


def test_alpaca_py_with_a_wrong_secret_is_refused_and_never_listens() -> None:
    hub = TradeUpdateHub()
    with _Server(hub) as server, _Client(server, hub, secret="wrong", refused=True):
        _wait(lambda: hub.auth_failures >= 1, "the refusal")
        assert hub.keys == ()


def test_alpaca_py_second_stream_for_a_key_is_refused_while_the_first_keeps_receiving() -> None:
    hub = TradeUpdateHub()
    first_update, second_update = _updates(2)
    with _Server(hub) as server, _Client(server, hub) as first:
        _wait(lambda: hub.listening == (KEY,), "the first stream to listen")
        with _Client(server, hub, refused=True) as second:
            _wait(lambda: hub.limit_refusals >= 1, "the second stream's refusal")
            server.publish(hub, first_update)
            _wait(lambda: len(first.received) == 1, "the first stream's update")
        server.publish(hub, second_update)
        _wait(lambda: len(first.received) == 2, "the first stream's second update")
    assert second.received == []
    expected = [first_update["execution_id"], second_update["execution_id"]]
    assert [str(u.execution_id) for u in first.received] == expected


def test_alpaca_py_reconnects_after_the_server_drops_its_socket() -> None:
    hub = TradeUpdateHub()
    (update,) = _updates(1)
    with _Server(hub) as server, _Client(server, hub) as client:
        _wait(lambda: hub.listening == (KEY,), "alpaca-py to listen")
        assert server.loop is not None
        server.loop.call_soon_threadsafe(hub.disconnect, KEY)
        _wait(lambda: hub.listening == (), "the drop")
        _wait(lambda: hub.listening == (KEY,), "alpaca-py to come back (its back-off is 0.5-1 s)")
        server.publish(hub, update)
        _wait(lambda: len(client.received) == 1, "the update after the reconnect")
