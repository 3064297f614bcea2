"""The assembled app without a socket (starlette's TestClient): auth, error bodies, the step endpoint's guard,
and the routes other parts hand in."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tapeflow.model.errors import ConfigError
from tapeflow.paper.app import ServerThread, create_app, serve_config
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.venue import PaperVenue

from .conftest import HEADERS, KEY, SECRET

LOCAL = ("127.0.0.1", 50_000)


def app_client(venue: PaperVenue, client: tuple[str, int] = LOCAL) -> TestClient:
    return TestClient(create_app(venue, check=fixed_keys(KEY, SECRET)), client=client)


@pytest.mark.parametrize(
    "headers",
    [{}, {"APCA-API-KEY-ID": KEY}, {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": "nope"}],
)
def test_missing_or_wrong_keys_are_alpacas_401(make_venue: Callable[..., PaperVenue], headers: dict[str, str]) -> None:
    response = app_client(make_venue()).get("/v2/account", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": 40110000, "message": "request is not authorized"}


def test_step_advances_the_venue_and_says_where_it_is(make_venue: Callable[..., PaperVenue]) -> None:
    venue = make_venue()
    response = app_client(venue).post("/tapeflow/step", json={"events": 25}, headers=HEADERS)
    assert response.status_code == 200
    body = response.json()
    assert body["events"] == 25 and body["now_ns"] == venue.now and body["done"] is False


def test_step_is_refused_off_the_loopback_interface(make_venue: Callable[..., PaperVenue]) -> None:
    venue = make_venue()
    start = venue.now
    response = app_client(venue, ("192.0.2.7", 40_000)).post("/tapeflow/step", json={"events": 5}, headers=HEADERS)
    assert response.status_code == 403 and venue.now == start


@pytest.mark.parametrize("body", [{}, {"events": 1, "until": 2}, {"events": "3"}, {"events": 1.5}])
def test_step_needs_exactly_one_integer(make_venue: Callable[..., PaperVenue], body: dict[str, object]) -> None:
    response = app_client(make_venue()).post("/tapeflow/step", json=body, headers=HEADERS)
    assert response.status_code == 422 and response.json()["code"] == 40010001


def test_a_body_that_is_not_json_is_alpacas_400(make_venue: Callable[..., PaperVenue]) -> None:
    response = app_client(make_venue()).post("/v2/orders", content=b"{not json", headers=HEADERS)
    assert response.status_code == 400 and response.json()["code"] == 40010000


def test_an_opg_order_after_the_open_is_taken_then_rejected_by_the_exchange(
    make_venue: Callable[..., PaperVenue],
) -> None:
    venue = make_venue()  # the LOBSTER day starts at 09:30: too late for the opening auction
    venue.step_events(100)
    body = {"symbol": "AAPL", "qty": 100, "side": "buy", "type": "market", "time_in_force": "opg"}
    response = app_client(venue).post("/v2/orders", json=body, headers=HEADERS)
    assert response.status_code == 200 and response.json()["time_in_force"] == "opg"
    venue.step_events(100)
    assert [o.status for o in venue.orders()] == ["rejected"]


def test_orders_are_listed_newest_first_with_limit_and_symbol(make_venue: Callable[..., PaperVenue]) -> None:
    venue = make_venue()
    venue.step_events(2_000)
    client = app_client(venue)
    body = {"symbol": "AAPL", "qty": 100, "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": 1}
    ids = [client.post("/v2/orders", json=body, headers=HEADERS).json()["id"] for _ in range(3)]
    listed = client.get("/v2/orders", params={"status": "all", "limit": 2, "symbols": "AAPL"}, headers=HEADERS)
    assert [o["id"] for o in listed.json()] == ids[::-1][:2]
    other = client.get("/v2/orders", params={"status": "all", "symbols": "MSFT"}, headers=HEADERS)
    assert other.json() == []
    bad = client.get("/v2/orders", params={"limit": 501}, headers=HEADERS)
    assert bad.status_code == 422


def test_extra_routes_are_served_beside_the_rest(make_venue: Callable[..., PaperVenue]) -> None:
    async def hello(request: Request) -> Response:
        return PlainTextResponse("hello")

    app = create_app(make_venue(), check=fixed_keys(KEY, SECRET), extra_routes=[Route("/hello", hello)])
    assert TestClient(app).get("/hello").text == "hello"


def test_the_server_refuses_an_empty_host(make_venue: Callable[..., PaperVenue]) -> None:
    app = create_app(make_venue(), check=fixed_keys(KEY, SECRET))
    assert serve_config(app).host == "127.0.0.1"
    with pytest.raises(ConfigError):
        serve_config(app, host="")


def test_orders_are_filtered_by_submission_time(make_venue: Callable[..., PaperVenue]) -> None:
    venue = make_venue()
    client = app_client(venue)
    body = {"symbol": "AAPL", "qty": 100, "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": 1}
    made = []
    for _ in range(3):
        venue.step_events(1_000)
        made.append(client.post("/v2/orders", json=body, headers=HEADERS).json())
    params = {"status": "all", "direction": "asc", "after": made[0]["submitted_at"], "until": made[2]["submitted_at"]}
    listed = client.get("/v2/orders", params=params, headers=HEADERS).json()
    assert [o["id"] for o in listed] == [made[1]["id"]]


def test_the_server_socket_says_tcp_so_asyncio_turns_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; with Nagle on, every response (headers,
    then body) waited for the client's delayed ACK: 44 ms a request instead of 0.25 ms (benchmarks/bench_paper.py)."""
    server = ServerThread(Starlette())
    try:
        assert server.sock.proto == socket.IPPROTO_TCP
    finally:
        server.sock.close()
