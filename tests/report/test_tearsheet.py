"""The tear sheet (report/tearsheet.py): charts present with data, numbers equal to the summary, no network."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import plotly.offline
import pytest

from tapeflow.model.errors import ConfigError, DataError
from tapeflow.report.run_data import load_run
from tapeflow.report.tearsheet import build_tearsheet, write_tearsheet
from tests.report.tearsheet_pages import figures, metrics, synthetic_run, trace_points, values


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    folder = tmp_path_factory.mktemp("tearsheet") / "results"
    report = synthetic_run(folder)
    page = write_tearsheet(folder, folder.parent / "report.html").read_text()
    return folder, report, page


def test_a_quoter_run_shows_equity_and_returns_charts_each_with_points(run: tuple[Path, dict[str, Any], str]) -> None:
    figs = figures(run[2])
    for name in ("equity", "returns"):
        assert name in figs, f"chart {name} missing"
        traces = figs[name]["data"]
        assert traces and all(trace_points(t) > 0 for t in traces), name


def test_the_equity_chart_draws_every_equity_sample_in_dollars(run: tuple[Path, dict[str, Any], str]) -> None:
    folder, _, page = run
    equity = load_run(folder).tables["equity"].ints("equity")
    shown = values(figures(page)["equity"]["data"][0]["y"])
    assert shown == pytest.approx(list(equity / 10_000))


def test_the_drawdown_minimum_is_the_summary_max_drawdown(run: tuple[Path, dict[str, Any], str]) -> None:
    _, report, page = run
    drawdown = values(figures(page)["equity"]["data"][1]["y"])
    assert -min(drawdown) / 100 == pytest.approx(report["summary"]["max_drawdown"], rel=1e-9, abs=1e-12)


def _formatted(summary: dict[str, Any]) -> dict[str, str]:
    """The summary's numbers formatted here, independently of figures_metrics (the page must show these)."""

    def dollars(units: int | None) -> str:
        if units is None:
            return "n/a"
        cents = (Decimal(units) / 10_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        return ("-" if cents < 0 else "") + f"${abs(cents):,.2f}"

    def num(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    s = summary
    expected = {
        "pnl_units": dollars(s["pnl_units"]),
        "total_return": num(s["total_return"] * 100 if s["total_return"] is not None else None, ".4f") + "%"
        if s["total_return"] is not None
        else "n/a",
        "sharpe": num(s["sharpe"], ".3f"),
        "sortino": num(s["sortino"], ".3f"),
        "max_drawdown": num(s["max_drawdown"] * 100, ".4f") + "%" if s["max_drawdown"] is not None else "n/a",
        "max_drawdown_units": dollars(s["max_drawdown_units"]),
        "turnover": num(s["turnover"], ".2f") + "x" if s["turnover"] is not None else "n/a",
        "fees_units": dollars(s["fees_units"]),
        "fills": f"{s['fills']:,}",
        "orders": f"{s['orders']:,}",
    }
    for kind, units in s["fees_by_component_units"].items():
        expected[f"fees.{kind}"] = dollars(units)
    return expected


def test_every_number_in_the_metrics_table_is_the_summary_value_formatted(
    run: tuple[Path, dict[str, Any], str],
) -> None:
    _, report, page = run
    shown = metrics(page)
    expected = _formatted(report["summary"])
    assert report["summary"]["fees_by_component_units"], "the run should have fees by kind to show"
    for key, text in expected.items():
        assert shown[key] == text, key


def test_the_page_fetches_nothing_from_the_network(run: tuple[Path, dict[str, Any], str]) -> None:
    page = run[2]
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle) == 1  # plotly.js is embedded, once
    own = page.replace(bundle, "")
    assert not re.search(r"https?://", own), re.search(r".{80}https?://.{80}", own)
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"@import", own)
    assert "cdn" not in own.lower()


def test_the_same_results_folder_gives_the_same_page(run: tuple[Path, dict[str, Any], str]) -> None:
    folder, _, page = run
    assert build_tearsheet(load_run(folder)) == page


def test_a_folder_without_results_is_a_data_error_naming_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a results folder"):
        load_run(tmp_path / "nothing")
    (tmp_path / "equity.parquet").write_bytes(b"")
    with pytest.raises(DataError, match=re.escape("orders.parquet, fills.parquet, run.json")):
        load_run(tmp_path)


def test_a_damaged_parquet_file_is_a_data_error_naming_it(
    run: tuple[Path, dict[str, Any], str], tmp_path: Path
) -> None:
    folder = run[0]
    for name in ("orders.parquet", "fills.parquet", "run.json"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "equity.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=re.escape("equity.parquet: cannot read it as Parquet")):
        load_run(tmp_path)


def test_the_report_path_must_be_a_file_in_an_existing_folder(
    run: tuple[Path, dict[str, Any], str], tmp_path: Path
) -> None:
    folder = run[0]
    with pytest.raises(ConfigError, match="is a folder"):
        write_tearsheet(folder, tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        write_tearsheet(folder, tmp_path / "missing" / "r.html")
    (tmp_path / "link.html").symlink_to(tmp_path / "elsewhere.html")
    with pytest.raises(ConfigError, match="symbolic link"):
        write_tearsheet(folder, tmp_path / "link.html")
    assert not (tmp_path / "elsewhere.html").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["link.html"]  # no temporary file left behind


def test_equity_samples_become_new_york_times_and_the_session_is_shaded(
    run: tuple[Path, dict[str, Any], str],
) -> None:
    folder, _, page = run
    ts = load_run(folder).tables["equity"].ints("ts")
    fig = figures(page)["equity"]
    first = values(fig["data"][0]["x"])[0]
    # 2024-06-21 is EDT (UTC-4): the first sample, 13:30:00.000005300 UTC, is 09:30 in New York
    assert str(np.datetime64(int(ts[0]), "ns")) == "2024-06-21T13:30:00.000005300"
    assert first == "2024-06-21T09:30:00.000005300"
    sessions = [s for s in fig["layout"]["shapes"] if s["name"].startswith("session")]
    assert [(s["x0"], s["x1"]) for s in sessions] == [("2024-06-21 09:30:00.000", "2024-06-21 16:00:00.000")]
