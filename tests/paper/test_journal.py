"""The journal: replaying it into a fresh venue over the same tape gives the same state byte for byte; a corrupt
line is refused with its number; a half-written last line (a crash mid-write) is reported, cut off and ignored."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest, ReplaceOrderRequest

from tapeflow.model.errors import DataError, RequestError
from tapeflow.node import NodeConfig
from tapeflow.paper.alpaca_orders import OrderRequest, order_json
from tapeflow.paper.journal import Journal, read_journal
from tapeflow.paper.venue import PaperVenue
from tapeflow.venues.sim.latency import FixedLatency

from ..cli.test_paper_cmd import _config, _start  # the command as a subprocess on 127.0.0.1, reading its URLs
from .conftest import HEADERS, KEY, SECRET

MS = 1_000_000
LATENCY = FixedLatency(insert_entry_ns=MS, insert_response_ns=MS, cancel_entry_ns=MS, cancel_response_ns=MS)
CONFIG = NodeConfig(level="L3", latency=LATENCY)


def state(venue: PaperVenue) -> str:
    """Everything a client can read of the venue, as one canonical JSON text."""
    return json.dumps(
        {
            "now": venue.now,
            "orders": [order_json(o) for o in venue.orders()],
            "positions": venue.positions(),
            "account": venue.account(),
        },
        sort_keys=True,
    )


def session(venue: PaperVenue) -> None:
    """Orders that fill, rest, are replaced and cancelled, a refused request, and a position closed."""
    venue.step_events(2_000)
    book = venue.node.books.book("AAPL")
    assert book is not None
    venue.submit(OrderRequest("AAPL", 100, "buy", "limit", "day", book.best_ask))
    resting = venue.submit(OrderRequest("AAPL", 100, "buy", "limit", "gtc", book.best_bid - 1_000_000))
    venue.step(venue.now + 5 * MS)
    new = venue.replace(resting.id, qty=50, limit_price=book.best_bid - 2_000_000, stop_price=None, client_id="r1")
    venue.step(venue.now + 5 * MS)
    with pytest.raises(RequestError):
        venue.submit(OrderRequest("ZZZZ", 1, "buy", "market", "day"))
    venue.cancel(new.id)
    venue.step_events(300)
    venue.submit(OrderRequest("AAPL", 10, "buy", "limit", "gtc", book.best_bid - 3_000_000))
    venue.cancel_all()
    venue.step_events(300)
    venue.close_position("AAPL")
    venue.step_events(300)


def test_replaying_a_journal_gives_byte_identical_orders_positions_and_account(
    make_venue: Callable[..., PaperVenue], tmp_path: Path
) -> None:
    path = tmp_path / "venue.jsonl"
    original = make_venue(CONFIG, seed=3)
    journal, replayed = Journal.open(path, original)
    assert replayed.entries == 0
    session(original)
    journal.close()
    before = state(original)
    assert '"filled"' in before and '"canceled"' in before and '"replaced"' in before

    restarted = make_venue(CONFIG, seed=3)
    again, replayed = Journal.open(path, restarted)
    assert replayed.entries == len(read_journal(path)[1]) > 10 and replayed.dropped == 0
    assert state(restarted) == before
    restarted.step_events(100)  # the restarted venue records on, after the replayed lines
    again.close()
    assert read_journal(path)[1][-1].op == "step_events"


def test_a_journal_of_another_seed_is_refused(make_venue: Callable[..., PaperVenue], tmp_path: Path) -> None:
    path = tmp_path / "venue.jsonl"
    journal, _ = Journal.open(path, make_venue(CONFIG, seed=3))
    journal.close()
    with pytest.raises(DataError, match="seed 3"):
        Journal.open(path, make_venue(CONFIG, seed=4))


def test_a_line_recorded_at_another_time_is_refused_with_its_number(
    make_venue: Callable[..., PaperVenue], tmp_path: Path
) -> None:
    path = tmp_path / "venue.jsonl"
    journal, _ = Journal.open(path, make_venue(CONFIG))
    journal.record(1, "step_events", {"n": 5})
    journal.close()
    with pytest.raises(DataError, match="line 2: recorded at 1"):
        Journal.open(path, make_venue(CONFIG))


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json\n",
        b"[1, 2]\n",
        b'{"ts": 1, "op": "launch", "args": {}}\n',
        b'{"ts": "1", "op": "step", "args": {}}\n',
        b'{"ts": NOW, "op": "step", "args": {"n": 5}}\n',
    ],
)
def test_a_corrupt_complete_line_is_refused_with_its_number(
    make_venue: Callable[..., PaperVenue], tmp_path: Path, bad: bytes
) -> None:
    path = tmp_path / "venue.jsonl"
    venue = make_venue(CONFIG)
    journal, _ = Journal.open(path, venue)
    venue.step_events(10)
    journal.close()
    with path.open("ab") as file:
        file.write(bad.replace(b"NOW", str(venue.now).encode()))
    with pytest.raises(DataError, match="line 3: corrupt journal line"):
        Journal.open(path, make_venue(CONFIG))


def test_a_file_that_is_no_journal_is_refused_at_line_1(make_venue: Callable[..., PaperVenue], tmp_path: Path) -> None:
    path = tmp_path / "venue.jsonl"
    path.write_text('{"ts": 0, "op": "step", "args": {}}\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 1: not a tapeflow paper journal"):
        Journal.open(path, make_venue(CONFIG))


def test_a_half_written_last_line_is_reported_cut_off_and_ignored(
    make_venue: Callable[..., PaperVenue], tmp_path: Path
) -> None:
    path = tmp_path / "venue.jsonl"
    venue = make_venue(CONFIG)
    journal, _ = Journal.open(path, venue)
    venue.step_events(10)
    journal.close()
    whole = path.read_bytes()
    with path.open("ab") as file:
        file.write(b'{"ts": 12, "op": "sub')
    restarted = make_venue(CONFIG)
    again, replayed = Journal.open(path, restarted)
    assert replayed == type(replayed)(entries=1, dropped=len(b'{"ts": 12, "op": "sub'))
    assert restarted.now == venue.now
    assert path.read_bytes() == whole  # cut off before anything is appended
    restarted.step_events(5)
    again.close()
    assert [e.op for e in read_journal(path)[1]] == ["step_events", "step_events"]


def test_a_missing_directory_is_a_data_error_naming_the_journal(
    make_venue: Callable[..., PaperVenue], tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="cannot use the journal"):
        Journal.open(tmp_path / "absent" / "venue.jsonl", make_venue(CONFIG))


def test_the_command_killed_with_sigkill_restarts_from_its_journal_and_alpaca_py_sees_the_same_state(
    tmp_path: Path, data_dir: Path
) -> None:
    config, path = _config(tmp_path, data_dir), tmp_path / "venue.jsonl"
    args = [str(config), "--key", KEY, "--secret", SECRET, "--journal", str(path)]

    def seen(base: str) -> tuple[list[Any], list[Any], Any, str]:
        client = TradingClient(KEY, SECRET, paper=True, url_override=base)
        orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
        assert isinstance(orders, list)
        positions = client.get_all_positions()
        account = client.get_account()
        clock = requests.get(f"{base}/v2/clock", headers=HEADERS, timeout=10).json()["timestamp"]
        return [o.model_dump() for o in orders], [p.model_dump() for p in positions], account.model_dump(), clock

    proc, printed = _start(args)
    try:
        base = printed["TradingClient"]
        client = TradingClient(KEY, SECRET, paper=True, url_override=base)
        assert requests.post(f"{base}/tapeflow/step", json={"events": 2_000}, headers=HEADERS, timeout=30).ok
        buy = MarketOrderRequest(symbol="AAPL", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
        client.submit_order(buy)
        rest = LimitOrderRequest(
            symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=400
        )
        resting = client.submit_order(rest)
        assert requests.post(f"{base}/tapeflow/step", json={"events": 500}, headers=HEADERS, timeout=30).ok
        client.replace_order_by_id(str(resting.id), ReplaceOrderRequest(qty=5))
        before = seen(base)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert before[1] and before[1][0]["qty"] == "100" and len(before[0]) == 3

    proc, printed = _start(args)
    try:
        after = seen(printed["TradingClient"])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert after == before


def _lines_until(proc: subprocess.Popen[str], done: Callable[[list[str]], bool], timeout: float) -> list[str]:
    """The lines ``proc`` prints until ``done`` holds for them; a reader thread keeps the wait bounded (a bare
    ``readline`` would block the test for good on a process that went silent)."""
    assert proc.stdout is not None
    stdout, lines = proc.stdout, queue.Queue[str]()

    def read() -> None:
        for line in stdout:
            lines.put(line)
        lines.put("")  # the end of the output

    threading.Thread(target=read, daemon=True).start()
    told: list[str] = []
    deadline = time.monotonic() + timeout
    while not done(told):
        try:
            told.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"no such output within {timeout:g} s: {told}") from None
        assert told[-1], f"the process closed its output: {told}"
    return told


def test_the_restart_fault_starts_the_process_again_on_its_port_with_its_state(tmp_path: Path, data_dir: Path) -> None:
    """``{"fault": "restart"}`` over the admin route: the command answers, stops serving, and replaces its process
    image (same pid, same port) with a new server that replays the journal; alpaca-py then sees the same orders and
    clock. Without --journal the fault is refused: nothing would bring the state back."""
    config, path = _config(tmp_path, data_dir), tmp_path / "venue.jsonl"
    admin = {"X-Tapeflow-Admin": "tok"}
    proc, printed = _start(
        [str(config), "--key", KEY, "--secret", SECRET, "--journal", str(path), "--admin-token", "tok"]
    )
    try:
        base = printed["TradingClient"]
        client = TradingClient(KEY, SECRET, paper=True, url_override=base)
        assert requests.post(f"{base}/tapeflow/step", json={"events": 2_000}, headers=HEADERS, timeout=30).ok
        client.submit_order(
            LimitOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=400)
        )
        before = (
            [o.model_dump() for o in client.get_orders()],
            requests.get(f"{base}/v2/clock", headers=HEADERS, timeout=10).json(),
        )
        answer = requests.post(f"{base}/tapeflow/faults", json={"fault": "restart"}, headers=admin, timeout=10)
        assert answer.status_code == 201, answer.text
        # the rest of the first start-up, the old image's last line, the new one's start-up: the new image prints
        # "calls replayed" once it serves, and only then is it asked (asked sooner, the old image could still answer
        # the clock, and the orders call then meet the port between two processes, refused)
        told = _lines_until(proc, lambda told: sum("calls replayed" in t for t in told) == 2, timeout=60)
        clock = requests.get(f"{base}/v2/clock", headers=HEADERS, timeout=10).json()
        after = ([o.model_dump() for o in client.get_orders()], clock)
        assert after == before and len(before[0]) == 1
        assert any("restarting the paper venue" in line for line in told), told
        assert "journal: 2 calls replayed" in told[-1], told  # the step and the submit, replayed by the new image
        assert path.read_text().count("\n") >= 3  # header, step, submit: what the new process replayed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_the_restart_fault_is_refused_without_a_journal(tmp_path: Path, data_dir: Path) -> None:
    proc, printed = _start([str(_config(tmp_path, data_dir)), "--key", KEY, "--secret", SECRET, "--admin-token", "t"])
    try:
        base = printed["TradingClient"]
        answer = requests.post(f"{base}/tapeflow/faults", json={"fault": "restart"}, headers={"X-Tapeflow-Admin": "t"})
        assert answer.status_code == 422 and "--journal" in answer.json()["message"]
        assert requests.get(f"{base}/v2/clock", headers=HEADERS, timeout=10).ok  # still serving
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
