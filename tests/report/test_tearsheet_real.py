"""The tear sheet on real data (skips without the shared data): NVDA daily bars against empyrical-reloaded and
with the vectorized comparison; a full LOBSTER AAPL day (L3) rendered, downsampled, and small enough."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import empyrical as ep  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import plotly.offline
import pytest

from tapeflow.backtest.compare import compare_sma
from tapeflow.backtest.config import load_backtest_config
from tapeflow.backtest.run import run_backtest_config
from tapeflow.report.run_data import RunData, load_run
from tapeflow.report.tearsheet import build_tearsheet, write_tearsheet
from tests.report.tearsheet_pages import figures, metrics, trace_points, values

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(example: str, folder: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("TAPEFLOW_DATA", str(data_dir))
    _, report = run_backtest_config(load_backtest_config(EXAMPLES / example), output_dir=folder)
    return report


@pytest.fixture(scope="module")
def nvda(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, dict[str, Any], str]:
    folder = tmp_path_factory.mktemp("nvda") / "results"
    with pytest.MonkeyPatch.context() as mp:
        report = _run("bars_nvda.toml", folder, data_dir, mp)
    return folder, report, build_tearsheet(load_run(folder))


def test_nvda_bars_table_sharpe_sortino_drawdown_agree_with_empyrical_on_the_equity_curve(
    nvda: tuple[Path, dict[str, Any], str],
) -> None:
    folder, report, page = nvda
    equity = load_run(folder).tables["equity"]
    index = pd.to_datetime(equity.ints("ts"), utc=True).tz_convert("America/New_York")
    curve = pd.Series(equity.ints("equity").astype(float), index=index)
    daily = curve.groupby(curve.index.date).last()  # one sample a day here: each is its day's close
    returns = daily.pct_change().dropna()
    assert len(returns) > 1_000
    shown = metrics(page)
    sharpe = ep.sharpe_ratio(returns, annualization=252)
    sortino = ep.sortino_ratio(returns, annualization=252)
    drawdown = -ep.max_drawdown(curve.pct_change().dropna())
    assert shown["sharpe"] == f"{sharpe:.3f}"
    assert shown["sortino"] == f"{sortino:.3f}"
    assert shown["max_drawdown"] == f"{drawdown:.4%}"
    summary = report["summary"]
    assert summary["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    assert summary["sortino"] == pytest.approx(sortino, rel=1e-9)


def test_nvda_bars_returns_histogram_is_the_daily_returns_sharpe_uses(nvda: tuple[Path, dict[str, Any], str]) -> None:
    _, report, page = nvda
    fig = figures(page)["returns"]
    assert trace_points(fig["data"][0]) == report["summary"]["return_periods"]


def test_nvda_fifteen_years_are_too_many_sessions_to_shade_and_the_note_says_so(
    nvda: tuple[Path, dict[str, Any], str],
) -> None:
    page = nvda[2]
    assert not figures(page)["equity"]["layout"].get("shapes")
    assert "too many to shade" in page


def test_nvda_comparison_in_the_run_is_drawn_with_both_returns(
    nvda: tuple[Path, dict[str, Any], str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPEFLOW_DATA", str(data_dir))
    comparison = compare_sma(load_backtest_config(EXAMPLES / "compare_nvda.toml"))
    data = load_run(nvda[0])
    with_comparison = RunData(folder=data.folder, run=data.run | {"comparison": comparison}, tables=data.tables)
    fig = figures(build_tearsheet(with_comparison))["comparison"]
    bars, pairs = fig["data"]
    assert values(bars["y"]) == pytest.approx(
        [comparison["vectorized"]["total_return"] * 100, comparison["event_driven"]["total_return"] * 100]
    )
    assert trace_points(pairs) == len(comparison["paired_trades"]) > 0
    assert "comparison" not in figures(nvda[2])  # a run without one shows none


@pytest.fixture(scope="module")
def lobster(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, dict[str, Any], str]:
    """The full LOBSTER AAPL day (examples/lobster_aapl.toml, L3): about 10 s on a loaded 2-core machine."""
    folder = tmp_path_factory.mktemp("lobster") / "results"
    with pytest.MonkeyPatch.context() as mp:
        report = _run("lobster_aapl.toml", folder, data_dir, mp)
    page = folder.parent / "report.html"
    write_tearsheet(folder, page)
    return folder, report, page.read_text()


def test_lobster_day_renders_every_chart_with_points(lobster: tuple[Path, dict[str, Any], str]) -> None:
    figs = figures(lobster[2])
    for name in ("equity", "returns", "price", "depth", "slippage", "queue", "latency", "rejections"):
        assert name in figs, f"chart {name} missing"
        assert all(trace_points(t) > 0 for t in figs[name]["data"]), name


def test_lobster_day_is_downsampled_and_the_charts_say_so(lobster: tuple[Path, dict[str, Any], str]) -> None:
    folder, report, page = lobster
    data = load_run(folder)
    assert data.tables["top"].rows <= 4_000 < report["engine"]["feed_events"]
    traces = {t["name"]: t for t in figures(page)["price"]["data"]}
    assert trace_points(traces["bid"]) <= 4_000
    assert trace_points(traces["buy fills"]) + trace_points(traces["sell fills"]) == report["summary"]["fills"]
    assert "Downsampled bid/ask band" in page and "book changes" in page
    assert figures(page)["depth"]["layout"]["title"]["text"].endswith("(downsampled)")
    assert "evenly thinned, the deepest point kept" in page  # a day of one-second equity samples


def test_lobster_day_page_stays_small_and_offline(lobster: tuple[Path, dict[str, Any], str]) -> None:
    page = lobster[2]
    bundle = plotly.offline.get_plotlyjs()
    own = page.replace(bundle, "")
    # measured 2026-12-06: 6.6 MB in all, of which plotly.js is 4.6 MB and the run's charts 2.0 MB
    assert len(own.encode()) < 3_000_000
    assert len(page.encode()) < 8_000_000
    assert "https://" not in own and "http://" not in own


def test_lobster_depth_heatmap_has_bids_below_asks(lobster: tuple[Path, dict[str, Any], str]) -> None:
    heat = figures(lobster[2])["depth"]["data"][0]
    z = np.asarray(values(heat["z"]), dtype=np.float64).reshape(len(values(heat["y"])), len(values(heat["x"])))
    prices = np.asarray(values(heat["y"]), dtype=np.float64)
    column = z[:, z.shape[1] // 2]
    bids, asks = prices[column > 0], prices[column < 0]
    assert len(bids) and len(asks) and bids.max() < asks.min()
