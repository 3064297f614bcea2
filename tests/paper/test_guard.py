"""The loopback guard of tests/paper/conftest.py: the one thing between a mistaken test and Alpaca's servers."""

from __future__ import annotations

import socket

import pytest

from .conftest import is_loopback


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (("127.0.0.1", 80), True),
        (("127.8.9.1", 80), True),
        (("::1", 80, 0, 0), True),
        (("localhost", 80), True),
        ("/tmp/some.sock", True),
        (("10.0.0.1", 80), False),
        (("192.168.1.1", 80), False),
        (("8.8.8.8", 443), False),
        (("0.0.0.0", 9), False),
        (("paper-api.alpaca.markets", 443), False),
    ],
)
def test_only_addresses_on_this_machine_count_as_loopback(address: object, allowed: bool) -> None:
    assert is_loopback(address) is allowed


def test_a_connect_elsewhere_is_refused_before_a_packet_leaves_and_is_recorded(loopback_only: list[str]) -> None:
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="only connect to loopback"):
        sock.connect(("192.0.2.1", 9))  # TEST-NET-1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("paper-api.alpaca.markets", 443), timeout=0.1)
    assert loopback_only == ["192.0.2.1", "paper-api.alpaca.markets"]
    loopback_only.clear()  # recorded attempts fail the test at teardown; these two were this test's point
