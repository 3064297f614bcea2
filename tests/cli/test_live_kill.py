"""``tapeflow kill --socket PATH --reason R --flatten`` against a running ``tapeflow live`` (a subprocess trading on
a paced ``tapeflow paper``): the node cancels its open orders at the venue, flattens the venue's position, refuses
what its strategy still tries, persists the switch; SIGTERM then stops it gracefully (exit 0, the summary) and the
audit trail verifies.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapeflow.risk.killswitch import read_state
from tests.live.live_rig import LiveProcess, PaperProcess, live_toml, serve_paper, settle


@pytest.fixture
def paper(tmp_path: Path, data_dir: Path) -> Iterator[PaperProcess]:
    yield from serve_paper(tmp_path, data_dir)


def _tapeflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tapeflow", *args], capture_output=True, text=True, timeout=60)


def test_kill_with_flatten_on_a_running_live_node_cancels_flattens_refuses_and_sigterm_stops_it_cleanly(
    paper: PaperProcess, tmp_path: Path
) -> None:
    config = live_toml(paper, tmp_path, extra='\n[risk.kill_switch]\nstate_file = "kill.json"\n')
    node = LiveProcess(config)
    try:
        node.wait_up()
        settle(lambda: paper.position() > 0 and len(paper.open_orders()) >= 2, "a position and resting orders")
        killed = _tapeflow("kill", "--socket", str(node.sock), "--reason", "desk says stop", "--flatten", "--json")
        assert killed.returncode == 0, killed.stdout + killed.stderr
        reply = json.loads(killed.stdout)
        assert reply["ok"] is True and reply["cancelled_orders"] >= 2, reply
        settle(lambda: paper.open_orders() == [] and paper.position() == 0, "the venue flat with nothing working")
        orders = len(paper.orders())
        before = node.status()
        # the strategy goes on trying: every try is refused, none reaches the venue (waited for, not slept: a fixed
        # second may hold no try on a loaded machine)
        refused = before["risk"]["rejected"]
        settle(lambda: node.status()["risk"]["rejected"] > refused, "a try of the strategy refused", timeout=30.0)
        after = node.status()
        assert after["kill_switch"]["engaged"] is True and after["kill_switch"]["reason"] == "desk says stop"
        assert after["risk"]["rejected"] > before["risk"]["rejected"], "the strategy tried and was refused"
        assert len(paper.orders()) == orders and paper.open_orders() == [] and paper.position() == 0
        assert after["open_orders"] == [] and after["positions"] == []
        assert read_state(tmp_path / "kill.json").engaged
        node.proc.send_signal(signal.SIGTERM)
        code, result, err = node.finish()
    finally:
        node.kill_hard()
    assert code == 0, err
    assert result is not None and result["stop"]["how"] == "graceful", result
    assert result["summary"]["orders"] >= 2, result["summary"]
    verified = _tapeflow("audit", "verify", str(tmp_path / "audit.db"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
