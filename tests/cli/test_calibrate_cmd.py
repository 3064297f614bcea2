"""``tapeflow calibrate``: one JSON object with the scores, tables within 80 columns, one line and exit 2 on bad
input, and ``--html``: the page of the very figures the JSON holds."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.cli.calibrate_cmd import print_latency_study
from tests.calibration.calibration_pages import figures

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


def test_html_writes_the_page_from_the_same_figures_json_prints(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "cal.html"
    result = runner.invoke(app, ["calibrate", str(_config(tmp_path, data_dir)), "--json", "--html", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout is still the one JSON object; the page's line went to stderr
    assert "page written" in result.stderr
    shown = figures(out.read_text())
    front = next(t for t in shown["fill-prob-AMZN"]["data"] if t["name"] == "FRONT")
    expected = {r["level"]: r["fill_prob"] for r in data["scores"] if r["model"] == "FRONT"}
    assert front["x"][-1] == "all" and front["y"][-1] == expected[0]
    assert front["y"][:-1] == [expected[int(x[1:])] for x in front["x"][:-1]]


def test_html_to_a_folder_is_one_line_and_exit_2_before_any_day_is_run(tmp_path: Path) -> None:
    cfg = tmp_path / "cal.toml"
    cfg.write_text('[calibrate]\ndays = ["nope.zip"]\n')  # would fail later, on the day: the path is checked first
    result = runner.invoke(app, ["calibrate", str(cfg), "--html", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a folder" in result.stderr and "--html" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(app, ["calibrate", "--latency", str(cfg), "--html", str(tmp_path / "no" / "x.html")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def _study_row(role: str, location: str, entry_us: float) -> dict[str, Any]:
    """Figures as wide as a full day gives and more: five-digit PnL, double-digit bps, negative everywhere."""
    mean = {"pnl_dollars": -12_345.0, "fill_rate": 1.0, "slippage_bps": -10.25}
    mean |= {f"markout_{h}s_bps": -10.25 for h in (1, 10, 60)}
    return {"role": role, "strategy": f"{role}_strategy", "location": location, "order_entry_us": entry_us} | {
        "mean": mean
    }


def test_the_latency_table_fits_80_columns_with_nothing_wrapped_or_cut() -> None:
    rows = [
        _study_row(role, loc, us)
        for role in ("passive", "aggressive")
        for loc, us in (("colo", 6.3), ("secaucus", 193.8), ("aurora", 7516.1), ("san_jose", 26015.7))
    ]
    checks = [
        {"role": "aggressive", "strategy": "ema_quote_cross", "measure": "slippage_bps", "tolerance": 0.05}
        | {"holds": False}
    ]
    data = {"base": "/a/long/path/" * 8 + "lobster_aapl.toml", "windows": [60_000, 80_000, 100_000]}
    data |= {"horizons_s": [1, 10, 60], "rows": rows, "checks": checks}
    console = Console(width=80, record=True, file=io.StringIO())
    print_latency_study(data, console)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in "".join(lines)  # nothing cut short
    # each row is one line holding every figure whole (nothing wrapped onto a second line)
    for role in ("passive", "aggressive"):
        for loc, entry in (("colo", "6.3 us"), ("secaucus", "194 us"), ("aurora", "7.5 ms"), ("san_jose", "26.0 ms")):
            (line,) = [ln for ln in lines if ln.split()[:2] == [role, loc]]
            assert line.split()[2:] == [*entry.split(), "-12345", "100.0", "-10.25", "-10.25", "-10.25", "-10.25"]
    header = next(ln for ln in lines if "role" in ln and "where" in ln)
    assert " ".join(header.split()) == "role where entry PnL $ fill % slip mk 1s mk 10s mk 60s"
    assert any(" ".join(ln.split()) == "aggressive ema_quote_cross slippage_bps 0.05 FAILS" for ln in lines)
    assert any(ln.startswith("entry: one-way order entry") for ln in lines)  # the legend of the abbreviations


def test_the_latency_standard_errors_and_the_se_allowance_print_within_80_columns() -> None:
    rows = [
        _study_row(role, loc, 6.3) | {"se": {"slippage_bps": 10.25} | {f"markout_{h}s_bps": 10.25 for h in (1, 10, 60)}}
        for role in ("passive", "aggressive")
        for loc in ("colo", "secaucus", "aurora", "san_jose")
    ]
    checks = [
        {"role": "aggressive", "strategy": "ema_quote_cross", "measure": "slippage_bps", "tolerance": 0.05}
        | {"holds": True, "ses": [10.25] * 4, "se_multiple": 2.0}
    ]
    data = {"base": "lobster_aapl.toml", "windows": [60_000], "horizons_s": [1, 10, 60], "rows": rows}
    console = Console(width=80, record=True, file=io.StringIO())
    print_latency_study(data | {"checks": checks}, console)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in "".join(lines)
    assert any(" ".join(ln.split()) == "Standard error of each mean (bps)" for ln in lines)
    (line,) = [ln for ln in lines if ln.split()[:2] == ["passive", "aurora"] and "6.3" not in ln]
    assert line.split()[2:] == ["10.25"] * 4
    assert any(" ".join(ln.split()) == "aggressive ema_quote_cross slippage_bps 0.05 | 2 SE holds" for ln in lines)


def test_latency_html_writes_the_study_page_whose_points_are_the_json_means(tmp_path: Path, data_dir: Path) -> None:
    base = Path(__file__).resolve().parents[2] / "examples" / "lobster_aapl.toml"
    path = tmp_path / "lat.toml"
    path.write_text(
        f'[latency_study]\nbase = "{base}"\nlocations = ["colo", "san_jose"]\nwindows = [3000, 5000]\n'
        '[[latency_study.strategies]]\nrole = "aggressive"\nname = "ema_quote_cross"\n'
        "params = { fast = 50, slow = 200 }\n"
    )
    out = tmp_path / "lat.html"
    result = runner.invoke(app, ["calibrate", "--latency", str(path), "--json", "--html", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (trace,) = figures(out.read_text())["latency-slippage"]["data"]
    assert trace["y"] == [r["mean"]["slippage_bps"] for r in data["rows"]]
    assert [y + e for y, e in zip(trace["y"], trace["error_y"]["array"], strict=True)] == pytest.approx(
        [r["range"]["slippage_bps"][1] for r in data["rows"]]
    )
