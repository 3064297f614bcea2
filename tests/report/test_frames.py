"""``ResultsCollector.to_pandas``: DataFrames in dollars with tz-aware times, for notebooks."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest

from tapeflow.backtest.config import BacktestConfig
from tapeflow.backtest.run import run_backtest_config
from tapeflow.config import load_config
from tapeflow.model.errors import TapeflowError
from tapeflow.report import frames

from .test_results import T0, run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_fills_and_orders_are_in_dollars_with_nanosecond_utc_times() -> None:
    _, collector = run()
    result = collector.to_pandas()
    fills, orders = result.fills, result.orders
    assert list(fills["price"]) == [100.01, 101.01]
    assert list(fills["fee"]) == [0.03, -0.02]
    assert list(fills["arrival_mid"]) == [100.005, 101.00005]  # (bid + ask) / 2
    assert "arrival_mid_x2" not in fills.columns
    assert str(fills["ts_event"].dtype) == "datetime64[ns, UTC]"
    assert fills["ts_event"].iloc[0] == pd.Timestamp(T0 + 3, unit="ns", tz="UTC")  # the 3 ns survive
    assert orders["price"].isna().tolist() == [True, False, False]  # the market order has no limit
    assert list(orders["status"].astype(str)) == ["FILLED", "CANCELLED", "RISK_REJECTED"]
    assert orders["ts_done"].isna().tolist() == [False, False, False]
    assert list(orders["filled_notional"]) == [10_001.0, 10_101.0, 0.0]  # o3 never filled


def test_equity_and_round_trips_in_dollars_and_new_york_time_on_request() -> None:
    portfolio, collector = run()
    result = collector.to_pandas(tz="America/New_York")
    equity, trips = result.equity, result.round_trips
    assert len(equity) == len(portfolio.curve) > 2, "precondition: several samples"
    assert equity["equity"].iloc[-1] == portfolio.curve.equity[-1] / 10_000
    assert str(equity["ts"].dtype) == "datetime64[ns, America/New_York]"
    assert equity["ts"].iloc[0].isoformat() == "2023-11-14T17:13:20-05:00"
    (trip,) = trips.itertuples(index=False)
    assert (trip.symbol, trip.direction, trip.quantity) == ("AAPL", "long", 100)
    assert (trip.entry_price, trip.exit_price) == (100.01, 101.01)
    assert trip.pnl == pytest.approx(100 - 0.01)  # $1 a share on 100 shares, fees 0.03 - 0.02
    assert trip.holding == pd.Timedelta(2, unit="s")
    assert "USD" in trips.attrs["units"]


def test_a_run_without_fills_gives_empty_frames_with_the_same_columns() -> None:
    from tapeflow.report.results import ResultsCollector

    result = ResultsCollector().to_pandas()
    assert all(len(frame) == 0 for frame in result)
    assert "pnl" in result.round_trips.columns and "equity" in result.equity.columns


def test_without_pandas_to_pandas_says_what_to_install_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else real(name, *a))
    _, collector = run()
    with pytest.raises(TapeflowError) as info:
        collector.to_pandas()
    assert str(info.value) == "pandas is not installed; DataFrames need it: pip install 'tapeflow[notebook]'"


def test_nvda_daily_bars_frames_agree_with_the_summary(data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "nvda.toml"
    cfg.write_text((EXAMPLES / "compare_nvda.toml").read_text().replace('"../shared/data/', f'"{data_dir}/'))
    bt, report = run_backtest_config(load_config(cfg, BacktestConfig))
    summary: dict[str, Any] = report["summary"]
    result = bt.results.to_pandas()
    assert summary["round_trips"] > 50, "precondition: the strategy traded"
    assert len(result.round_trips) == summary["round_trips"]
    assert len(result.fills) == summary["fills"] and len(result.equity) == summary["equity_samples"]
    assert result.equity["equity"].iloc[-1] == summary["final_equity_units"] / 10_000
    assert math.isclose(result.round_trips["pnl"].sum() * 10_000, sum(bt.results.round_trips().pnls))
    mean = result.round_trips["holding"].mean()
    assert abs(mean - pd.Timedelta(summary["avg_holding_ns"], unit="ns")) <= pd.Timedelta(1, unit="ns")
    assert frames.UNITS_PER_DOLLAR == 10_000
