"""``tapeflow kill``: reset removes the signal file it knows of, ``--reset --status`` does both in order, and
combinations that would do nothing are refused with one line; ``--socket``/``--url`` reach a running node (here on a
loop of its own thread) and print what it did, and nothing listening is one line and exit 2."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.cli.kill_cmd import NO_SIGNAL_NOTE
from tapeflow.live.control import Control
from tapeflow.model import Event
from tapeflow.risk.killswitch import read_state
from tests.live.helpers import Rig, load_tape, running_node

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


# -- a running node, over its control socket -------------------------------------------------------------------------

TOKEN = "cli-test-token-0123456789"


@pytest.fixture(scope="module")
def tape(data_dir: Path) -> list[Event]:
    return load_tape(data_dir)


@contextlib.contextmanager
def node_in_thread(tape: list[Event], control: Control, **kw: Any) -> Iterator[Rig]:
    """A running node (``tests.live.helpers.running_node``) on a loop of its own thread, for a blocking CLI."""
    box: list[Rig] = []
    ready = threading.Event()
    errors: list[BaseException] = []
    loop_box: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def main() -> None:
        done = asyncio.Event()
        loop_box.append((asyncio.get_running_loop(), done))
        async with running_node(tape, control, **kw) as rig:
            box.append(rig)
            ready.set()
            await asyncio.wait_for(done.wait(), 60)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "the node did not start within 30 s"
    assert not errors, errors
    try:
        yield box[0]
    finally:
        loop, done = loop_box[0]
        loop.call_soon_threadsafe(done.set)
        thread.join(30)
        assert not thread.is_alive(), "the node did not stop within 30 s"
        assert not errors, errors


def test_kill_over_the_socket_of_a_running_node_prints_what_it_did(tape: list[Event], tmp_path: Path) -> None:
    sock, state = tmp_path / "node.sock", tmp_path / "kill.json"
    with node_in_thread(tape, Control(unix=str(sock)), state_file=state) as rig:
        result = runner.invoke(app, ["kill", "--socket", str(sock), "-r", "risk desk"])
        status = runner.invoke(app, ["kill", "--socket", str(sock), "--status", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "kill switch ENGAGED on the running node: risk desk [control#1]",
        "open orders cancelled: 3",
        f"state file {state} written",
    ]
    assert read_state(state).engaged
    assert status.exit_code == 0, status.output
    shown = json.loads(status.stdout)
    assert shown["ok"] and shown["kill_switch"]["engaged"] and shown["kill_switch"]["reason"] == "risk desk"
    assert list(rig.node.node.execution.open_orders()) == []


def test_kill_over_tcp_needs_the_token_and_json_is_one_object(tape: list[Event], tmp_path: Path) -> None:
    with node_in_thread(tape, Control(tcp=0, token=TOKEN)) as rig:
        url = f"tcp://127.0.0.1:{rig.server.port}"
        refused = runner.invoke(app, ["kill", "--url", url, "--token", "wrong-token-xxxxxxxxx", "--json"])
        done = runner.invoke(app, ["kill", "--url", url, "-r", "x"], env={"TAPEFLOW_CONTROL_TOKEN": TOKEN})
        again = runner.invoke(app, ["kill", "--url", url, "--token", TOKEN, "--json"])
    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["error"].startswith("the node refused: wrong token")
    assert done.exit_code == 0, done.output
    assert "open orders cancelled: 3" in done.stdout
    shown = json.loads(again.stdout)
    assert (shown["already_engaged"], shown["cancelled_orders"], shown["request"]) == (True, 0, "control#2")


def test_kill_with_no_node_listening_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["kill", "--socket", str(tmp_path / "nobody.sock")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: no node listens on {tmp_path / 'nobody.sock'}")
    assert len(result.stderr.strip().splitlines()) == 1
    with _port_nobody_listens_on() as port:
        result = runner.invoke(app, ["kill", "--url", f"tcp://127.0.0.1:{port}", "--token", TOKEN, "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"].startswith(f"no node listens on tcp://127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flatten", "--state", "k.json"], "--flatten needs a running node"),
        (["--socket", "s", "--state", "k.json"], "use one or the other"),
        (["--socket", "s", "--url", "tcp://127.0.0.1:1"], "not both"),
        (["--url", "tcp://127.0.0.1:1"], "needs --token"),
        (["--url", "tcp://10.0.0.1:1", "--token", TOKEN], "not a loopback address"),
        (["--url", "http://127.0.0.1:1", "--token", TOKEN], "is not tcp://HOST:PORT"),
        (["--socket", "s", "--status", "--flatten"], "--status only asks"),
    ],
)
def test_socket_options_that_cannot_work_are_refused_with_one_line(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAPEFLOW_CONTROL_TOKEN", raising=False)
    result = runner.invoke(app, ["kill", *args])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@contextlib.contextmanager
def _port_nobody_listens_on() -> Iterator[int]:
    """A loopback port held bound, never listening, while the test runs: connecting to it is refused. A port bound
    and released at once could be taken by another process's listener before the test connects."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        yield port


def test_status_says_when_a_flatten_stopped_by_a_reset_still_waits_for_its_orders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tapeflow.cli.kill_cmd import _print_status

    reply: dict[str, Any] = {"kill_switch": {"engaged": False}, "open_orders": [], "positions": []}
    _print_status({**reply, "flattening": True, "flatten_stopped": "the kill switch was reset (false alarm)"})
    _print_status({**reply, "flattening": False, "flatten_stopped": None})
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if "flatten" in line] == [
        "flatten stopping: the kill switch was reset (false alarm); waiting for its orders in flight"
    ]
