"""``tapeflow live`` killed with SIGKILL mid-day and started again: the new run (a new run id) restores its open
orders and position from the venue, trades on, and ends equal to it; no client order id is used twice.

The venue is stepped by the test (``Pump``), so it stands still whenever the node and the venue are compared.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapeflow.model.venue_events import Reconciled
from tests.live.live_rig import (
    LiveProcess,
    PaperProcess,
    Pump,
    audit_events,
    kinds,
    live_toml,
    quiesce,
    serve_paper,
    settle,
)


@pytest.fixture
def paper(tmp_path: Path, data_dir: Path) -> Iterator[PaperProcess]:
    yield from serve_paper(tmp_path, data_dir, speed="step")


def _open(paper: PaperProcess) -> dict[str, int]:
    return {o["client_order_id"]: int(o["filled_qty"]) for o in paper.open_orders()}


def _node_open(status: dict[str, object]) -> dict[str, int]:
    return {o["client_order_id"]: o["filled"] for o in status["open_orders"]}  # type: ignore[attr-defined]


def _same_open(node: LiveProcess, paper: PaperProcess) -> bool:
    mine, theirs = _node_open(node.status()), _open(paper)
    _same_open.last = (mine, theirs)  # type: ignore[attr-defined]
    return mine == theirs


def _node_position(status: dict[str, object]) -> int:
    return sum(p["quantity"] for p in status["positions"] if p["symbol"] == "AAPL")  # type: ignore[attr-defined]


def test_a_node_killed_mid_day_restarts_with_the_venues_orders_and_position_and_ends_equal_to_it(
    paper: PaperProcess, tmp_path: Path
) -> None:
    config = live_toml(paper, tmp_path, params="{ every = 40 }")
    pump = Pump(paper, events=40, every_s=0.05)
    first = LiveProcess(config)
    second: LiveProcess | None = None
    try:
        first.wait_up()
        pump.on()
        settle(
            lambda: paper.position() > 0 and len(paper.open_orders()) >= 1 and len(paper.orders()) >= 6,
            "a position and resting orders",
        )
        pump.off()  # orders still on their way to the venue's exchange (pending_new, pending_cancel) are killed too
        settle(lambda: _node_open(first.status()) == _open(paper), "the node to hear of every order")
        before = first.status()
        assert _node_position(before) == paper.position()
        first.proc.send_signal(signal.SIGKILL)
        first.proc.communicate(timeout=20)
        assert first.proc.returncode == -signal.SIGKILL
        held, resting = paper.position(), _open(paper)
        old_ids = {o["client_order_id"] for o in paper.orders()}
        old_run = next(iter(old_ids)).split("-")[1]

        second = LiveProcess(config)
        second.wait_up()
        restored = second.status()
        assert _node_open(restored) == resting, "the open orders are restored from the venue"
        assert _node_position(restored) == held, "so is the position"
        pump.on()
        settle(lambda: len({o["client_order_id"] for o in paper.orders()} - old_ids) >= 6, "the new run to trade")
        pump.off()
        quiesce(paper)
        settle(lambda: _same_open(second, paper), "the node to hear of every order", show=lambda: _same_open.last)  # type: ignore[attr-defined]
        last = second.status()
        assert _node_position(last) == paper.position()
        pump.on()  # the venue's time must move for the stop's cancels to reach its exchange
        second.proc.send_signal(signal.SIGTERM)
        code, result, err = second.finish()
        pump.off()
        quiesce(paper)
    finally:
        pump.close()
        first.kill_hard()
        if second is not None:
            second.kill_hard()
    assert code == 0, err
    assert result is not None and result["stop"]["how"] == "graceful"
    new_run = result["run_id"]
    assert new_run != old_run
    assert paper.open_orders() == [], "the graceful stop cancelled the restored orders too"
    ids = [o["client_order_id"] for o in paper.orders()]
    assert len(ids) == len(set(ids))
    assert {cid.split("-")[1] for cid in ids} == {old_run, new_run}, "no id outside the two runs"
    positions = result["last"]["positions"]
    assert sum(int(p["quantity"]) for p in positions if p["symbol"] == "AAPL") == paper.position()
    trail = audit_events(tmp_path / "audit.db")
    assert kinds(trail).get("VenueConnected") == 2, kinds(trail)
    assert all(e.ts_event > 0 for e in trail), "every record on the venue's day, none at 1970"
    starts = [e for e in trail if isinstance(e, Reconciled)]
    assert len(starts) >= 2 and all(e.mismatches == 0 for e in starts), starts
    verify = subprocess.run(
        [sys.executable, "-m", "tapeflow", "audit", "verify", str(tmp_path / "audit.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
