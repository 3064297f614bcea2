"""``[audit]``, ``[stp]`` and ``tapeflow backtest --audit DB``: a run writes a trail that verifies and surveils."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.backtest import BacktestConfig, load_backtest_config, run_backtest_config
from tapeflow.cli import app
from tapeflow.compliance.audit_store import SqliteAuditStore
from tapeflow.model.errors import ConfigError

runner = CliRunner()

SYNTHETIC = (
    '[data]\nkind = "synthetic"\n[data.synthetic]\nsymbols = ["AAPL", "MSFT"]\nevents_per_symbol = 3000\nseed = 3\n'
)


def _config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "run.toml"
    cfg.write_text(SYNTHETIC + extra)
    return cfg


def test_backtest_audit_option_writes_a_trail_that_verifies_with_exit_0(tmp_path: Path) -> None:
    db = tmp_path / "trail.db"
    result = runner.invoke(app, ["backtest", str(_config(tmp_path)), "--json", "--audit", str(db)])
    assert result.exit_code == 0, result.output
    assert db.is_file()
    assert len(list(SqliteAuditStore(db, readonly=True).rows())) > 0
    verified = runner.invoke(app, ["audit", "verify", str(db), "--json"])
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.stdout)
    assert report["ok"] is True and report["records"] > 0


def test_audit_section_with_key_file_signs_checkpoints_and_surveil_reads_the_trail(tmp_path: Path) -> None:
    (tmp_path / "audit.key").write_text("not-a-real-secret\n")
    cfg = _config(tmp_path, '[audit]\npath = "runs.db"\nkey_file = "audit.key"\n')
    result = runner.invoke(app, ["backtest", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    db = tmp_path / "runs.db"  # relative to the configuration, not the working directory
    verified = runner.invoke(app, ["audit", "verify", str(db), "--key-file", str(tmp_path / "audit.key"), "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["checkpoints_signed"] is True
    surveil = runner.invoke(app, ["surveil", str(db), "--key-file", str(tmp_path / "audit.key"), "--json"])
    assert surveil.exit_code == 0, surveil.output
    found = json.loads(surveil.stdout)
    assert found["verified"] is True
    assert found["count"] == len(found["alerts"]) > 0  # the quoter's quick cancels look like spoofing
    table = runner.invoke(app, ["surveil", str(db), "--key-file", str(tmp_path / "audit.key")])
    assert table.exit_code == 0, table.output
    assert "[spoofing]" in table.stdout


def test_audit_key_file_that_is_missing_is_refused_before_the_run(tmp_path: Path) -> None:
    cfg = _config(tmp_path, '[audit]\npath = "a.db"\nkey_file = "nope.key"\n')
    with pytest.raises(ConfigError, match=r"field `audit.key_file`: cannot read the key file .*nope.key"):
        load_backtest_config(cfg)
    assert not (tmp_path / "a.db").exists()


def test_audit_path_that_is_a_folder_is_refused_naming_the_option(tmp_path: Path) -> None:
    result = runner.invoke(app, ["backtest", str(_config(tmp_path)), "--audit", str(tmp_path)])
    assert result.exit_code == 2
    assert "field `--audit`" in result.output and "is a folder" in result.output


def test_stp_mode_unknown_is_refused_naming_the_field(tmp_path: Path) -> None:
    cfg = _config(tmp_path, '[stp]\nmode = "sometimes"\n')
    with pytest.raises(ConfigError, match=r"stp.mode"):
        load_backtest_config(cfg)


def test_stp_section_builds_the_gate_in_front_of_the_venue(tmp_path: Path) -> None:
    cfg = load_backtest_config(_config(tmp_path, '[stp]\nmode = "cancel_oldest"\n'))
    bt, report = run_backtest_config(cfg)
    assert bt.stp is not None and bt.stp.mode.value == "cancel_oldest"
    assert report["summary"]["orders"] > 0
    assert BacktestConfig().stp.mode == "off"  # off unless a configuration asks for it
