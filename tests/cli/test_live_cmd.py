"""``tapeflow live`` refuses what must not run: real money without --i-mean-live, Alpaca without keys, a venue
that is not there; each is one line and exit 2, before any order could be sent."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from typer.testing import CliRunner

from tapeflow.cli import app

runner = CliRunner()


def _config(tmp_path: Path, live: str) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(f'[live]\n{live}\nsymbols = ["AAPL"]\n\n[strategy]\nname = "ema_quote_cross"\n', encoding="utf-8")
    return path


def _refusal(args: list[str], env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, ["live", *args], env=env)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_alpaca_live_without_the_flag_is_refused_before_anything_runs(tmp_path: Path) -> None:
    line = _refusal([str(_config(tmp_path, 'venue = "alpaca-live"'))])
    assert "--i-mean-live" in line and "field `live.venue`" in line


def test_the_flag_on_a_paper_configuration_is_refused(tmp_path: Path) -> None:
    line = _refusal([str(_config(tmp_path, 'venue = "paper"')), "--i-mean-live"])
    assert "--i-mean-live is for" in line


def test_alpaca_paper_without_keys_is_refused_naming_the_environment_variables(tmp_path: Path) -> None:
    env = {"APCA_API_KEY_ID": "", "APCA_API_SECRET_KEY": ""}
    line = _refusal([str(_config(tmp_path, 'venue = "alpaca-paper"'))], env=env)
    assert "APCA_API_KEY_ID" in line and "keys_file" in line


def test_a_paper_venue_that_is_not_running_is_one_line_saying_so(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on: held bound, never listening, so no one else takes it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        line = _refusal([str(_config(tmp_path, f'url = "http://127.0.0.1:{port}"')), "--quiet"])
    assert f"cannot start on http://127.0.0.1:{port}" in line and "tapeflow paper" in line


def test_a_key_in_the_configuration_is_refused_as_one_line_and_under_json_as_one_object(tmp_path: Path) -> None:
    path = tmp_path / "live.toml"
    path.write_text('[live]\nsymbols = ["AAPL"]\nkey = "PK123"\n', encoding="utf-8")
    assert "never go in a configuration" in _refusal([str(path)])
    result = runner.invoke(app, ["live", str(path), "--json"])
    assert result.exit_code == 2
    objects = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(objects) == 1 and "never go in a configuration" in objects[0]["error"]
    assert "PK123" not in result.output, "the key itself is never echoed"


def test_help_texts_keep_their_toml_section_names() -> None:
    """rich reads ``[live]`` as markup and drops it unless escaped; the help must name the sections it means."""
    wide = {"COLUMNS": "200"}
    for command, section in [("live", "[live]"), ("paper", "[paper]"), ("kill", "[risk.kill_switch]"),
                             ("backtest", "[audit]"), ("demo", "[data]")]:  # fmt: skip
        result = runner.invoke(app, [command, "--help"], env=wide)
        assert result.exit_code == 0 and section in result.output, (command, result.output)


def test_a_dashboard_on_an_outside_address_is_refused_unless_dashboard_host_names_it(tmp_path: Path) -> None:
    config = str(_config(tmp_path, 'venue = "paper"'))
    line = _refusal([config, "--dashboard", "0.0.0.0:8765"])
    assert "--dashboard-host 0.0.0.0" in line and "field `--dashboard`" in line
    line = _refusal([config, "--dashboard-host", "0.0.0.0"])
    assert "--dashboard-host needs --dashboard" in line


def test_a_dashboard_token_under_16_characters_is_refused(tmp_path: Path) -> None:
    line = _refusal(
        [str(_config(tmp_path, 'venue = "paper"')), "--dashboard", "0"], env={"TAPEFLOW_DASHBOARD_TOKEN": "short"}
    )
    assert "TAPEFLOW_DASHBOARD_TOKEN" in line and "16" in line


def test_a_node_that_cannot_start_prints_the_dashboard_then_releases_its_port(tmp_path: Path) -> None:
    with socket.socket() as s:  # ports nothing listens on; the venue's held bound, never listening, meanwhile
        s.bind(("127.0.0.1", 0))
        board_port = s.getsockname()[1]
    with socket.socket() as venue:
        venue.bind(("127.0.0.1", 0))
        venue_port = venue.getsockname()[1]
        config = str(_config(tmp_path, f'url = "http://127.0.0.1:{venue_port}"'))
        result = runner.invoke(
            app, ["live", config, "--quiet", "--dashboard", str(board_port)], env={"TAPEFLOW_DASHBOARD_TOKEN": ""}
        )
    assert result.exit_code == 2, result.output
    announced, refusal = result.output.strip().splitlines()
    assert announced.startswith(f"dashboard: http://127.0.0.1:{board_port}/#token=")
    assert len(announced.split("#token=")[1]) >= 16
    assert f"cannot start on http://127.0.0.1:{venue_port}" in refusal
    with socket.socket() as s:  # the dashboard's port is free again
        s.bind(("127.0.0.1", board_port))
