"""The tear sheet on real data (skips without /work/shared/data): numbers against empyrical-reloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import empyrical as ep  # type: ignore[import-untyped]
import pandas as pd
import pytest

from tapeflow.backtest.config import load_backtest_config
from tapeflow.backtest.run import run_backtest_config
from tapeflow.report.run_data import load_run
from tapeflow.report.tearsheet import build_tearsheet
from tests.report.tearsheet_pages import figures, metrics, trace_points

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
