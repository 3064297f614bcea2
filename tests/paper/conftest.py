"""Fixtures of the paper venue's tests: a real server on loopback, a real tape.

alpaca-py goes to Alpaca's real servers when its ``url_override`` is empty; the autouse guard of tests/conftest.py
(``loopback_only``, re-exported here) makes any connection to an address other than loopback fail the test (and
refuses it), so a mistake here can never reach Alpaca.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tapeflow.data.lobster_events import iter_events
from tapeflow.node import NodeConfig
from tapeflow.paper.app import ServerThread, create_app
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.venue import PaperVenue

from ..conftest import is_loopback, loopback_only  # noqa: F401  (re-exported: autouse guard, test_guard)

KEY = "PKTEST"
SECRET = "SKTEST"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


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
