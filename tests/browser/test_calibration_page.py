"""The calibration pages in a real chromium, made by the CLI the way a person makes them (``tapeflow calibrate ...
--json --html OUT``, one run giving both): every chart is drawn and not blank, what plotly drew equals the JSON of
the same run, and the page asks the network for nothing.

Kept fast: a three-minute window of two LOBSTER days with 40 probes each, and the latency study on two presets
and two short windows of the AAPL day (the full-day figures come from the documented commands, docs/REALISM.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from typer.testing import CliRunner

from tapeflow.cli import app
from tests.calibration.calibration_pages import figures

from .harness import assert_not_blank, console_errors, open_drawn

AMZN_5 = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
GOOG_5 = "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_5.zip"
BASE = Path(__file__).resolve().parents[2] / "examples" / "lobster_aapl.toml"
Made = tuple[Path, dict[str, Any]]


def _made(args: list[str], out: Path) -> Made:
    result = CliRunner().invoke(app, [*args, "--json", "--html", str(out)])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[dict[str, Made]]:
    folder = tmp_path_factory.mktemp("calibration")
    cal = folder / "cal.toml"
    cal.write_text(
        f'[calibrate]\ndays = ["{AMZN_5}", "{GOOG_5}"]\nroot = "{data_dir}"\nprobes = 40\nhorizon_s = 60\n'
        'start = "09:40"\nend = "09:43"\nseed = 5\n'
    )
    lat = folder / "lat.toml"
    lat.write_text(
        f'[latency_study]\nbase = "{BASE}"\nlocations = ["colo", "san_jose"]\nwindows = [3000, 5000]\n'
        '[[latency_study.strategies]]\nrole = "passive"\nname = "imbalance_quoter"\n'
        "params = { quantity = 100, threshold = 0.5, max_position = 300 }\n"
        '[[latency_study.strategies]]\nrole = "aggressive"\nname = "ema_quote_cross"\n'
        "params = { fast = 50, slow = 200, quantity = 100 }\n"
    )
    yield {
        "queue": _made(["calibrate", str(cal)], folder / "cal.html"),
        "latency": _made(["calibrate", "--latency", str(lat)], folder / "lat.html"),
    }


def _open(page: webdriver.Chrome, path: Path) -> dict[str, list[dict[str, Any]]]:
    """Open the page, wait for plotly to draw every chart, and return what it drew: each plot's traces."""
    open_drawn(page, path)
    drawn: dict[str, list[dict[str, Any]]] = page.execute_script(
        "const out = {};"
        "document.querySelectorAll('div[id^=plot-]').forEach(d => { out[d.id.slice(5)] = d.data.map(t => ({"
        "name: t.name, meta: t.meta === undefined ? null : t.meta, x: t.x, y: t.y, z: t.z === undefined ? null : t.z,"
        "error_y: t.error_y === undefined ? null : t.error_y})); });"
        "return out;"
    )
    return drawn


def _label(level: int) -> str:
    return "all" if level == 0 else f"L{level}"


@pytest.mark.parametrize("which", ["queue", "latency"])
def test_the_page_draws_every_chart_offline_with_no_request_and_no_console_error(
    page: webdriver.Chrome, pages: dict[str, Made], which: str
) -> None:
    path, _ = pages[which]
    drawn = _open(page, path)
    assert set(drawn) == set(figures(path.read_text())) and drawn
    for name in drawn:
        plot = page.find_element(By.ID, f"plot-{name}")
        assert (
            page.execute_script(
                "return arguments[0].querySelectorAll('.trace, .hm image, .heatmaplayer image').length", plot
            )
            > 0
        ), name
        assert_not_blank(plot)
    requests = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert requests == []  # plotly.js and every figure are in the file: nothing was fetched
    assert console_errors(page) == []


def test_what_plotly_drew_for_the_queue_models_is_the_json_of_the_same_run(
    page: webdriver.Chrome, pages: dict[str, Made]
) -> None:
    path, data = pages["queue"]
    drawn = _open(page, path)
    assert {d["symbol"] for d in data["days"]} == {"AMZN", "GOOG"}
    checked = 0
    for row in data["scores"]:
        sym, model, level = row["symbol"], row["model"], _label(row["level"])
        if model == "L3":  # the truth's bars are its fill probability; the check row stands in the confusion
            (truth,) = [t for t in drawn[f"fill-prob-{sym}"] if t["name"].startswith("truth")]
            assert truth["y"][truth["x"].index(level)] == row["truth_fill_prob"] == row["fill_prob"]
        else:
            (fill,) = [t for t in drawn[f"fill-prob-{sym}"] if t["name"] == model]
            assert fill["y"][fill["x"].index(level)] == row["fill_prob"], (sym, model, level)
            for key in ("mae_ttf_s", "median_ae_ttf_s"):
                (err,) = [t for t in drawn[f"ttf-error-{sym}"] if (t["name"], t["meta"]) == (model, key)]
                assert err["y"][err["x"].index(level)] == row[key], (sym, model, level, key)
            (heat,) = drawn[f"agreement-{sym}"]
            assert heat["z"][heat["y"].index(model)][heat["x"].index(level)] == row["agreement"]
        if row["level"] == 0:
            for cell in ("both", "model_only", "truth_only", "neither"):
                (stack,) = [t for t in drawn[f"confusion-{sym}"] if t["meta"] == cell]
                assert stack["y"][stack["x"].index(model)] == row[cell], (sym, model, cell)
        checked += 1
    assert checked == len(data["scores"]) > 20
    shown = {
        r.get_attribute("data-symbol"): r.get_attribute("data-model")
        for r in page.find_elements(By.CSS_SELECTOR, "#best tr[data-symbol]")
    }
    assert shown == data["best"]


def test_what_plotly_drew_for_the_latency_study_is_the_json_of_the_same_run(
    page: webdriver.Chrome, pages: dict[str, Made]
) -> None:
    path, data = pages["latency"]
    drawn = _open(page, path)
    charts = {"pnl_dollars": "latency-pnl", "fill_rate": "latency-fill-rate", "slippage_bps": "latency-slippage"}
    checked = 0
    for row in data["rows"]:
        entry = f"{row['location']} ("
        plots = [(charts[k], f"{row['role']} ({row['strategy']})", k) for k in charts]
        plots += [
            (f"latency-markouts-{row['role']}-{row['strategy']}", f"{h} s", f"markout_{h}s_bps")
            for h in data["horizons_s"]
        ]
        for chart, trace_name, key in plots:
            (trace,) = [t for t in drawn[chart] if t["name"] == trace_name]
            (i,) = [j for j, x in enumerate(trace["x"]) if x.startswith(entry)]
            mean, span = row["mean"][key], row["range"][key]
            assert trace["y"][i] == mean, (chart, trace_name)
            if mean is not None:
                low, high = mean - trace["error_y"]["arrayminus"][i], mean + trace["error_y"]["array"][i]
                assert (low, high) == pytest.approx(tuple(span)), (chart, trace_name)
            checked += 1
    assert checked == len(data["rows"]) * (3 + len(data["horizons_s"])) == 24
    verdicts = [c.text for c in page.find_elements(By.CSS_SELECTOR, "#checks tr[data-role] td:last-child")]
    assert verdicts == ["holds" if c["holds"] else "FAILS" for c in data["checks"]]
