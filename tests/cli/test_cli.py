"""The command line: version, demo as table and JSON, and user errors as one line with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tapeflow import __version__
from tapeflow.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tapeflow {__version__}"


def test_demo_json_prints_exactly_one_object() -> None:
    result = runner.invoke(app, ["demo", "--json", "--events", "3000", "--seed", "2"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["engine"]["feed_events"] == 4 * 3000
    assert report["seed"] == 2
    assert report["data"] == "synthetic" and report["level"] == "L2"
    summary = report["summary"]
    assert summary["orders"] > 0
    assert summary["fills"] == report["engine"]["exchange_fills"] > 0
    assert summary["final_equity_units"] == summary["starting_equity_units"] + summary["pnl_units"]
    # the built-in configuration has pre-trade risk on: the quoter's naked short sales are refused
    assert report["engine"]["risk_rejections_by_rule"].get("short_locate", 0) > 0


def test_demo_table_names_the_measures() -> None:
    result = runner.invoke(app, ["demo", "--events", "2000"])
    assert result.exit_code == 0, result.output
    for word in ("final equity", "fills", "events/s", "feed events", "strategy: imbalance-quoter on AAPL"):
        assert word in result.stdout


def test_missing_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "tapeflow", "demo", "--config", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "missing.toml: file not found" in lines[0]
    assert "Traceback" not in proc.stderr


def test_bad_field_names_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text("[data.synthetic]\nevents_per_symbol = 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tapeflow", "demo", "--config", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "field `data.synthetic.events_per_symbol`: Expected `int` >= 1" in proc.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tapeflow", "--debug", "demo", "--config", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "ConfigError" in proc.stderr


def test_config_file_is_used(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('[data.synthetic]\nsymbols = ["IBM", "KO"]\nevents_per_symbol = 1500\nseed = 4\n')
    result = runner.invoke(app, ["demo", "--json", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["symbols"] == ["IBM", "KO"]
    assert report["engine"]["feed_events"] == 3000


def test_json_user_error_is_one_object_on_stdout_and_one_line_on_stderr(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "tapeflow", "demo", "--json", "--config", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    error = json.loads(lines[0])
    assert error["code"] == 2 and set(error) == {"error", "code"}
    assert "missing.toml: file not found" in error["error"]
    assert len(proc.stderr.strip().splitlines()) == 1 and "missing.toml: file not found" in proc.stderr


def test_error_text_with_brackets_is_printed_literally_not_as_markup(tmp_path: Path) -> None:
    cfg = tmp_path / "firm.toml"
    cfg.write_text("[surveillance]\nno_such_threshold = 1\n")
    result = runner.invoke(app, ["surveil", str(tmp_path / "audit.db"), "-c", str(cfg)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: field `surveillance`: [surveillance] in {cfg}: "), result.stderr


def test_json_times_are_utc_beside_the_exact_ns() -> None:
    result = runner.invoke(app, ["demo", "--json", "--events", "1000", "--seed", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    start, end = report["period_utc"]
    assert start.endswith("Z") and end.endswith("Z") and start < end
    assert start.startswith("2024-06-21T13:30:00.")  # the synthetic session opens 09:30 New York, 13:30 UTC


def test_json_usage_error_is_one_object_on_stdout_too() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tapeflow", "demo", "--events", "0", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {
        "error": "Invalid value for '--events': Input should be greater than or equal to 1",
        "code": 2,
    }
    assert "Invalid value for '--events'" in proc.stderr


def test_json_exit_status_of_a_command_is_kept(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tapeflow", "audit", "verify", str(tmp_path / "none.db"), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and json.loads(proc.stdout)["code"] == 2
    ok = subprocess.run(
        [sys.executable, "-m", "tapeflow", "latency", "--json", "-l", "colo", "-v", "XNAS"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and len(json.loads(ok.stdout)["routes"]) == 1


def test_json_halted_backtest_keeps_exit_3_through_the_entry_point(tmp_path: Path) -> None:
    cfg = tmp_path / "halt.toml"
    cfg.write_text(
        '[data.synthetic]\nevents_per_symbol = 3000\n[strategy]\nname = "imbalance_quoter"\n'
        "params = { quantity = 100, threshold = 0.3, max_position = 500 }\n"
        "[risk.kill_switch]\nrunaway_orders = 3\nrunaway_window_ms = 1000\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tapeflow", "backtest", str(cfg), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["halted"] is True
