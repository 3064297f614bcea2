"""Shared fixtures. Real market data comes from TAPEFLOW_DATA (default ../shared/data) and is never copied here;
no test may open a connection to anything but loopback (``loopback_only``, autouse).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent

# CI replays the same generated examples on every run (derandomize), so a submission lands or fails on its own
# code, not on the draw of the day; a developer's runs keep exploring new examples, and what they find becomes a
# fixed test (tests/data/test_dbn.py has one). `HYPOTHESIS_PROFILE=ci` gives the CI behaviour locally.
# No example has a deadline: speed is measured by benchmarks, never by tests, and on a loaded 2-core machine a
# 200 ms deadline failed correct code (tests/data/test_lobster_parse.py). For the same reason the "too slow" health
# check is off: it times the drawing of examples in wall time, which a loaded machine stretches (a risk property
# drawing 120-order streams failed once, unreproducibly, while other suites ran beside it).
_TOO_SLOW = [HealthCheck.too_slow]
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None, suppress_health_check=_TOO_SLOW)
settings.register_profile("dev", deadline=None, suppress_health_check=_TOO_SLOW)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# Tests that wait on the wall clock: a server or paper venue on loopback, a subprocess or worker pool, a browser, a
# poller racing a stream. `make test` runs them apart from the CPU-bound tests: run beside a CPU-bound worker, a test
# like tests/live/test_push_pull.py measures the machine's load, not the code (it failed that way at load 16).
# Three passes (the Makefile's `pytest`): every other test on two workers (pytest-xdist); then the `waits` tests on
# two workers, since they spend most of their time waiting (a suite of them took 6.5 min of CPU over 17 min of wall
# at load 5-8), so two of them side by side still leave each a core for its own threads and subprocesses; then the
# `serial` ones alone in one process: those that measure the wall clock (a poller's reaction delay, a benchmark's
# rates) or race the venue's stream, and failed or went flaky under load before (the kill-while-down and
# `tapeflow kill` tests). A folder or a file, relative to tests/.
WAITS = (
    "browser/",
    "live/",
    "paper/",
    "sweep/",
    "cli/test_compare_live.py",
    "cli/test_live_cmd.py",
    "cli/test_paper_cmd.py",
    "ml/test_pool.py",
)
SERIAL = (
    "live/test_push_pull.py",
    "live/test_live_kill_down.py",
    "cli/test_live_kill.py",
    "benchmarks/test_bench_live.py",
)


PASSES = ("not serial and not waits", "waits", "serial")
"""The Makefile's three ``-m`` expressions, in its order."""


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under one of the Makefile's ``PASSES``, a test file its marks cannot reach (they come from its path alone,
    below) is not imported: every test in it would be deselected after the import, and importing all of them took
    each process of the waits and serial passes ~6 s of CPU (20-30 s of wall at load 8) for nothing. The same
    tests are selected either way; any other expression (none: ``pytest -q``) collects every file as before."""
    markexpr = config.option.markexpr
    if markexpr not in PASSES or collection_path.suffix != ".py":
        return None
    tests = Path(__file__).resolve().parent
    try:
        where = collection_path.resolve().relative_to(tests).as_posix()
    except ValueError:
        return None
    if not Path(where).name.startswith("test_"):
        return None
    return None if _pass_of(where) == markexpr else True


def _pass_of(where: str) -> str:
    """The Makefile's pass (one of ``PASSES``) that runs the tests of the file at ``where`` (relative to tests/):
    one rule for both hooks, so the files skipped at collection are exactly those whose marks deselect them."""
    return "serial" if where.startswith(SERIAL) else "waits" if where.startswith(WAITS) else PASSES[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the ``SERIAL`` tests ``serial`` and the other ``WAITS`` tests ``waits`` (the Makefile's three passes)."""
    tests = Path(__file__).resolve().parent
    marks = {"serial": pytest.mark.serial, "waits": pytest.mark.waits}
    for item in items:
        mark = marks.get(_pass_of(item.path.resolve().relative_to(tests).as_posix()))
        if mark is not None:
            item.add_marker(mark)


def _data_root() -> Path:
    raw = os.environ.get("TAPEFLOW_DATA", "../shared/data")
    root = Path(raw)
    if not root.is_absolute():
        root = (REPO / root).resolve()
    return root


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder; skips (or fails under TAPEFLOW_REQUIRE_DATA=1) when it is missing."""
    root = _data_root()
    if not root.is_dir():
        reason = f"real market data not found at {root}; set TAPEFLOW_DATA to the shared data folder"
        if os.environ.get("TAPEFLOW_REQUIRE_DATA") == "1":
            pytest.fail(reason + " (TAPEFLOW_REQUIRE_DATA=1 makes this a failure)")
        pytest.skip(reason)
    return root


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
