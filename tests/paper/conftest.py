"""Fixtures of the paper venue's tests: no socket may leave the machine, a real server on loopback, a real tape.

alpaca-py goes to Alpaca's real servers when its ``url_override`` is empty; the autouse guard makes any connection
to an address other than loopback fail the test (and refuses it), so a mistake here can never reach Alpaca.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tapeflow.data.lobster_events import iter_events
from tapeflow.node import NodeConfig
from tapeflow.paper.app import ServerThread, create_app
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.venue import PaperVenue

KEY = "PKTEST"
SECRET = "SKTEST"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


def is_loopback(address: Any) -> bool:
    """Whether a socket address stays on this machine (a Unix socket path does; a name other than localhost
    does not, whatever it resolves to)."""
    if not (isinstance(address, tuple) and address and isinstance(address[0], str)):
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuses, and fails the test for, any connection to a non-loopback address."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create = socket.create_connection

    def check(address: Any) -> None:
        if not is_loopback(address):
            attempts.append(str(address[0]))
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {address[0]}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        check(address)
        return real_create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield attempts
    assert not attempts, f"a test tried to reach outside the machine: {attempts}"


@pytest.fixture(scope="session")
def aapl(data_dir: Path) -> Path:
    """One real LOBSTER day (AAPL, 2012-06-21, level 1)."""
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture
def make_venue(aapl: Path) -> Callable[..., PaperVenue]:
    """A stepped venue over the AAPL tape (L3, no latency unless a config says otherwise)."""

    def make(config: NodeConfig | None = None, **kwargs: Any) -> PaperVenue:
        return PaperVenue(iter_events(aapl), config=config or NodeConfig(level="L3"), **kwargs)

    return make


class Served(ServerThread):
    """A venue served on 127.0.0.1 and a free port, with the test keys."""

    def __init__(self, venue: PaperVenue) -> None:
        super().__init__(create_app(venue, check=fixed_keys(KEY, SECRET)))
        self.venue = venue


@pytest.fixture
def serve() -> Iterator[Callable[[PaperVenue], Served]]:
    """Serves a venue for the test; every server started is stopped cleanly afterwards."""
    started: list[Served] = []

    def start(venue: PaperVenue) -> Served:
        served = Served(venue)
        served.start()
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
    assert all(not s.thread.is_alive() for s in started), "a server thread did not stop"
