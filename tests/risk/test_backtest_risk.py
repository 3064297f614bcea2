"""``tapeflow backtest`` reads a ``[risk]`` section and its rejections show up by rule in ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tapeflow.cli import app

CONFIG = """
[data]
kind = "synthetic"

[data.synthetic]
symbols = ["AAPL"]
events_per_symbol = 3000
seed = 7

[strategy]
name = "imbalance_quoter"
params = { quantity = 100, threshold = 0.3, max_position = 500 }

[portfolio]
capital = "1000000.00"
"""

RISK = """
[risk.order]
max_quantity = 50

[risk.kill_switch]
max_rejects = 1000000
"""


def run(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "bt.toml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["backtest", str(path), "--json"])
    assert result.exit_code == 0, result.output
    engine: dict[str, object] = json.loads(result.stdout)["engine"]
    return engine


def test_risk_section_rejects_by_rule(tmp_path: Path) -> None:
    engine = run(tmp_path, CONFIG + RISK)
    by_rule = engine["risk_rejections_by_rule"]
    assert isinstance(by_rule, dict) and by_rule.get("max_order_quantity", 0) > 0
    assert engine["risk_rejected"] == sum(by_rule.values())


def test_no_risk_section_runs_the_default_rules(tmp_path: Path) -> None:
    engine = run(tmp_path, CONFIG)
    by_rule = engine["risk_rejections_by_rule"]
    assert isinstance(by_rule, dict) and by_rule.get("short_locate", 0) > 0  # RiskConfig(): no locates, no shorts


def test_risk_off_builds_no_configured_rules(tmp_path: Path) -> None:
    engine = run(tmp_path, 'risk = "off"\n' + CONFIG)
    assert engine["risk_rejections_by_rule"] == {} and engine["risk_rejected"] == 0


def test_unwritable_kill_switch_state_path_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("a file where a directory should be")
    state = tmp_path / "plain" / "kill.json"
    path = tmp_path / "bt.toml"
    path.write_text(CONFIG + f'\n[risk.kill_switch]\nstate_file = "{state}"\n')
    result = CliRunner().invoke(app, ["backtest", str(path), "--json"])
    assert result.exit_code == 2
    message = (
        f"{state}: field `risk.kill_switch.state_file`: the kill switch state cannot be written there "
        "(a parent of it is a file, not a directory); point it at a file in a writable directory"
    )
    assert result.stderr == f"error: {message}\n"
    assert json.loads(result.stdout) == {"error": message, "code": 2}  # --json: the error as one object too
