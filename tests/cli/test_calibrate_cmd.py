"""``tapeflow calibrate``: one JSON object with the scores, a table within 80 columns, one line and exit 2 on bad
input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app

runner = CliRunner()
AMZN_5 = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"


def _config(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "cal.toml"
    path.write_text(
        f'[calibrate]\ndays = ["{AMZN_5}"]\nroot = "{data_dir}"\nprobes = 12\nhorizon_s = 30\n'
        'start = "09:40"\nend = "09:41"\nmodels = ["FRONT", "BACK"]\n'
    )
    return path


def test_json_is_one_object_with_a_row_per_model_level_and_the_best_model(tmp_path: Path, data_dir: Path) -> None:
    result = runner.invoke(app, ["calibrate", str(_config(tmp_path, data_dir)), "--json"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    out = json.loads(line)
    assert [d["symbol"] for d in out["days"]] == ["AMZN"]
    assert {r["model"] for r in out["scores"]} == {"L3", "FRONT", "BACK"}
    assert {"fill_prob", "truth_fill_prob", "both", "model_only", "truth_only", "neither", "mae_ttf_s"} <= set(
        out["scores"][0]
    )
    assert out["best"]["AMZN"] in ("FRONT", "BACK")


def test_the_table_fits_80_columns(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["calibrate", str(_config(tmp_path, data_dir))])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("FRONT" in line for line in lines) and any("best for AMZN" in line for line in lines)
    assert [line for line in lines if len(line) > 80] == []


def test_a_bad_config_is_one_line_and_exit_2_and_a_json_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[calibrate]\nmodels = ["FIFO"]\n')
    result = runner.invoke(app, ["calibrate", str(path), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error["code"] == 2 and "calibrate.models" in error["error"]
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["calibrate", str(tmp_path / "none.toml")])
    assert result.exit_code == 2
    assert "not found" in result.stderr


def test_latency_without_a_config_is_one_line_and_exit_2() -> None:
    result = runner.invoke(app, ["calibrate", "--latency"])
    assert result.exit_code == 2
    assert "[latency_study]" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_latency_json_has_a_row_per_strategy_and_location_and_a_check_each(tmp_path: Path, data_dir: Path) -> None:
    base = Path(__file__).resolve().parents[2] / "examples" / "lobster_aapl.toml"
    path = tmp_path / "lat.toml"
    path.write_text(
        f'[latency_study]\nbase = "{base}"\nlocations = ["colo", "san_jose"]\nwindows = [20000]\n'
        '[[latency_study.strategies]]\nrole = "aggressive"\nname = "ema_quote_cross"\n'
        "params = { fast = 50, slow = 200 }\n"
    )
    result = runner.invoke(app, ["calibrate", "--latency", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [(r["role"], r["location"]) for r in out["rows"]] == [("aggressive", "colo"), ("aggressive", "san_jose")]
    assert {"pnl_dollars", "fill_rate", "slippage_bps", "markout_1s_bps", "markout_60s_bps"} <= set(
        out["rows"][0]["mean"]
    )
    (check,) = out["checks"]
    assert check["measure"] == "slippage_bps" and isinstance(check["holds"], bool)
