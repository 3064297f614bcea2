"""`tapeflow backtest` on every kind of shared data, through the example configurations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _config(name: str, data_dir: Path, tmp_path: Path, limit: int | None) -> Path:
    text = (EXAMPLES / name).read_text()
    text = re.sub(r'"\.\./shared/data/', f'"{data_dir}/', text)
    if limit is not None:
        text = text.replace("[data]\n", f"[data]\nlimit = {limit}\n", 1)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "limit", "level", "risk"),
    [
        ("lobster_aapl.toml", 30_000, "L3", "default"),
        ("taq_bac.toml", 150_000, "L1", "default"),
        ("bars_nvda.toml", None, "L2", "off"),
        ("synthetic_quoter.toml", None, "L2", "configured"),
    ],
)
def test_backtest_runs_on_each_data_kind(
    data_dir: Path, tmp_path: Path, name: str, limit: int | None, level: str, risk: str
) -> None:
    cfg = _config(name, data_dir, tmp_path, limit)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["backtest", str(cfg), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["level"] == level
    assert report["risk"] == risk
    engine, summary = report["engine"], report["summary"]
    # Default rules refuse these strategies' unlocated short sales and repeats; only "off" lets everything through.
    assert (engine["risk_rejected"] > 0) == (risk != "off")
    assert engine["feed_events"] > 1_000
    assert summary["orders"] > 0 and summary["fills"] == engine["exchange_fills"] > 0
    assert engine["refused_reports"] == 0
    assert summary["final_equity_units"] == summary["starting_equity_units"] + summary["pnl_units"]
    assert sorted(p.name for p in out.iterdir()) == ["equity.parquet", "fills.parquet", "orders.parquet"]


def test_backtest_with_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[data]\nkind = "lobster"\npaths = ["/nonexistent.zip"]\n')
    result = CliRunner().invoke(app, ["backtest", str(cfg)])
    assert result.exit_code == 2
    assert "no such file" in result.output
