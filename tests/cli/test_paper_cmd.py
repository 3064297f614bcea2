"""``tapeflow paper``: options are checked before anything is served, and the real command serves alpaca-py.

The server runs as a subprocess of ``python -m tapeflow`` on 127.0.0.1 and a free port (``--port 0``); the test reads
the URL it prints, so nothing but loopback is ever dialled (the paper tests' guard is used here too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.cli.paper_cmd import build_server

from ..paper.conftest import HEADERS, KEY, SECRET, loopback_only  # noqa: F401  (autouse: loopback only)

runner = CliRunner()
LOBSTER = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


def _config(tmp_path: Path, data_dir: Path, extra: str = "") -> Path:
    path = tmp_path / "paper.toml"
    path.write_text(f'[data]\nkind = "lobster"\npaths = ["{data_dir / LOBSTER}"]\n{extra}', encoding="utf-8")
    return path


def _refusal(args: list[str]) -> str:
    result = runner.invoke(app, ["paper", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_bad_field_is_one_line_naming_it_and_exit_2(tmp_path: Path, data_dir: Path) -> None:
    path = _config(tmp_path, data_dir, '[portfolio]\ncapital = "lots"\n')
    assert "field `portfolio.capital`" in _refusal([str(path)])


def test_another_host_without_keys_is_refused(tmp_path: Path, data_dir: Path) -> None:
    line = _refusal([str(_config(tmp_path, data_dir)), "--host", "0.0.0.0"])
    assert "field `--host`" in line and "--key" in line


@pytest.mark.parametrize("host", ["", " "])
def test_an_empty_host_is_refused(tmp_path: Path, data_dir: Path, host: str) -> None:
    assert "field `--host`: the host is empty" in _refusal([str(_config(tmp_path, data_dir)), "--host", host])


def test_a_key_without_its_secret_is_refused(tmp_path: Path, data_dir: Path) -> None:
    assert "field `--secret`" in _refusal([str(_config(tmp_path, data_dir)), "--key", KEY])


def test_a_bad_speed_is_refused_naming_the_option(tmp_path: Path, data_dir: Path) -> None:
    assert "field `--speed`" in _refusal([str(_config(tmp_path, data_dir)), "--speed", "fast"])


def _start(args: list[str]) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The command running, and the addresses it printed (label -> URL)."""
    env = {**os.environ, "COLUMNS": "200", "NO_PROXY": "127.0.0.1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tapeflow", "paper", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    printed: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while "StockDataStream" not in printed:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        line = proc.stdout.readline()
        if "(url_override=)" in line:
            label, url = line.split()
            printed[label.split("(")[0]] = url
    return proc, printed


@pytest.fixture
def stepped(tmp_path: Path, data_dir: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc, printed = _start([str(_config(tmp_path, data_dir)), "--key", KEY, "--secret", SECRET])
    yield proc, printed
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_the_command_serves_alpaca_py_in_step_mode_and_stops_on_sigterm(
    stepped: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    proc, printed = stepped
    base = printed["TradingClient"]
    assert base.startswith("http://127.0.0.1:")
    assert printed["TradingStream"] == base.replace("http", "ws", 1) + "/stream"
    assert printed["StockDataStream"] == base.replace("http", "ws", 1) + "/v2/iex"
    client = TradingClient(KEY, SECRET, paper=True, url_override=base)
    clock = client.get_clock()
    assert (clock.timestamp.year, clock.timestamp.month, clock.timestamp.day) == (2012, 6, 21)
    stepped_ = requests.post(f"{base}/tapeflow/step", json={"events": 2_000}, headers=HEADERS, timeout=30)
    assert stepped_.status_code == 200 and stepped_.json()["events"] == 2_000
    order = client.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=500)
    )
    assert order.status in (OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.ACCEPTED)
    assert (
        requests.get(f"{base}/v2/clock", headers={**HEADERS, "APCA-API-SECRET-KEY": "wrong"}, timeout=5).status_code
        == 401
    )

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out
    assert "stopped (SIGTERM)" in out


def test_a_paced_run_stops_by_itself_when_the_tape_ends(tmp_path: Path, data_dir: Path) -> None:
    path = _config(tmp_path, data_dir, "limit = 300\n")  # [data] limit: a tape of a fraction of a second
    proc, _ = _start([str(path), "--speed", "1000x"])
    try:
        # not communicate(): it reads the pipes' descriptors and would miss lines _start's readline already
        # buffered (the announcement comes in one write); the output is small, so waiting first cannot block
        proc.wait(timeout=60)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "speed: 1000x tape time" in out and "any non-empty key" in out
    assert "the tape ended at 2012-06-21" in out and "Traceback" not in err


def test_an_empty_admin_token_is_refused(tmp_path: Path, data_dir: Path) -> None:
    line = _refusal([str(_config(tmp_path, data_dir)), "--admin-token", " "])
    assert "field `--admin-token`: the admin token is empty" in line


def test_the_admin_token_serves_the_faults_route_and_without_it_there_is_none(tmp_path: Path, data_dir: Path) -> None:
    """With a token the command's server takes faults (here: the next REST answer is Alpaca's 500); without one the
    route does not exist, so no one can fault a venue that was not started for it."""
    config = _config(tmp_path, data_dir)
    options: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "speed": None, "key": KEY, "secret": SECRET}
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    with_token = build_server(config, **options, admin_token="tok")
    without = build_server(config, **options)
    try:
        assert with_token.faults is not None and without.faults is None
        admin = TestClient(with_token.app, client=("127.0.0.1", 50000))
        fault = {"fault": "rest_error", "status": 500, "count": 1}
        assert admin.post("/tapeflow/faults", json=fault, headers={"X-Tapeflow-Admin": "tok"}).status_code == 201
        assert admin.get("/v2/clock", headers=headers).status_code == 500
        assert admin.get("/v2/clock", headers=headers).status_code == 200
        plain = TestClient(without.app, client=("127.0.0.1", 50000))
        assert plain.post("/tapeflow/faults", json=fault, headers={"X-Tapeflow-Admin": "tok"}).status_code == 404
    finally:
        with_token.sock.close()
        without.sock.close()
