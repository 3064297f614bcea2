"""``tapeflow kill``: reset removes the signal file it knows of, ``--reset --status`` does both in order, and
combinations that would do nothing are refused with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.cli.kill_cmd import NO_SIGNAL_NOTE
from tapeflow.risk.killswitch import read_state

runner = CliRunner()


@pytest.fixture(autouse=True)
def _a_pipe_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines stay whole in a pipe; a COLUMNS in the environment would wrap them (tests/cli/test_width.py)."""
    monkeypatch.delenv("COLUMNS", raising=False)


def test_reset_with_signal_removes_the_signal_file_and_says_so(tmp_path: Path) -> None:
    state, signal = tmp_path / "kill.json", tmp_path / "STOP"
    assert runner.invoke(app, ["kill", "--state", str(state), "--signal", str(signal), "-r", "loop"]).exit_code == 0
    assert signal.exists() and read_state(state).engaged
    result = runner.invoke(app, ["kill", "--state", str(state), "--signal", str(signal), "--reset", "-r", "fixed"])
    assert result.exit_code == 0, result.output
    assert not signal.exists() and not read_state(state).engaged
    assert f"signal file {signal} removed" in result.stdout


def test_reset_takes_the_signal_file_from_the_node_config(tmp_path: Path) -> None:
    (tmp_path / "live.toml").write_text('[risk.kill_switch]\nstate_file = "kill.json"\nsignal_file = "STOP"\n')
    (tmp_path / "STOP").touch()  # a running node's operator engaged it by hand
    result = runner.invoke(app, ["kill", "-c", str(tmp_path / "live.toml"), "--reset", "-r", "post-mortem", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["engaged"], shown["signal_removed"], shown["signal_present"]) == (False, True, False)
    assert not (tmp_path / "STOP").exists()
    assert not read_state(tmp_path / "kill.json").engaged


def test_reset_without_a_known_signal_file_warns_on_stderr(tmp_path: Path) -> None:
    state = tmp_path / "kill.json"
    result = runner.invoke(app, ["kill", "--state", str(state), "--reset", "-r", "ok"])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == NO_SIGNAL_NOTE


def test_reset_and_status_resets_first_then_shows_the_state_read_back(tmp_path: Path) -> None:
    state = tmp_path / "kill.json"
    assert runner.invoke(app, ["kill", "--state", str(state), "-r", "loop"]).exit_code == 0
    result = runner.invoke(app, ["kill", "--state", str(state), "--reset", "--status", "-r", "done", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["engaged"], shown["reason"], shown["source"]) == (False, "done", "reset:cli")
    assert not read_state(state).engaged


def test_status_with_a_reason_is_refused_as_one_line_and_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "kill.json"
    result = runner.invoke(app, ["kill", "--state", str(state), "--status", "-r", "why"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: field `--reason`: --status only shows the state, so --reason would be ignored; drop --status to "
        "engage, or add --reset\n"
    )
    assert not state.exists()


def test_no_state_file_anywhere_is_refused_naming_the_option(tmp_path: Path) -> None:
    (tmp_path / "live.toml").write_text('[risk.kill_switch]\nsignal_file = "STOP"\n')
    result = runner.invoke(app, ["kill", "-c", str(tmp_path / "live.toml"), "-r", "x", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {
        "error": f"field `--state`: {tmp_path / 'live.toml'} has no risk.kill_switch.state_file; pass --state FILE "
        "(or --config with one)",
        "code": 2,
    }


def test_status_shows_new_york_time_and_the_signal_file(tmp_path: Path) -> None:
    state, signal = tmp_path / "kill.json", tmp_path / "STOP"
    assert runner.invoke(app, ["kill", "--state", str(state), "--signal", str(signal), "-r", "loop"]).exit_code == 0
    result = runner.invoke(app, ["kill", "--state", str(state), "--signal", str(signal), "--status"])
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert first.startswith("kill switch ENGAGED since ") and (" EST " in first or " EDT " in first)
    assert second == f"signal file {signal} present: a running node engages"
