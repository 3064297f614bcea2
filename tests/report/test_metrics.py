from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import empyrical as ep  # type: ignore[import-untyped]
import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from tapeflow.backtest.config import BacktestConfig, check_backtest_config
from tapeflow.backtest.engine import Backtest
from tapeflow.backtest.run import run_backtest_config
from tapeflow.cli import app
from tapeflow.config import load_config
from tapeflow.model import LiquiditySide, OrderFilled, Side
from tapeflow.model.errors import ConfigError
from tapeflow.model.sessions import ExchangeCalendar
from tapeflow.portfolio import Portfolio, PortfolioConfig
from tapeflow.report import metrics
from tapeflow.report.metrics import NEW_YORK
from tapeflow.report.results import ResultsCollector, print_summary

SEC = 1_000_000_000
DAY = 86_400 * SEC
OPEN = 13 * 3_600 * SEC + 30 * 60 * SEC  # 13:30 UTC, the open in New York summer time
MONDAY = 1_339_977_600 * SEC  # 2012-06-18 00:00 UTC, a regular trading week
THANKSGIVING_MONDAY = 1_353_283_200 * SEC  # 2012-11-19 00:00 UTC: Thursday the 22nd is a holiday


def test_sharpe_and_sortino_match_a_hand_computation() -> None:
    returns = [0.01, -0.01, 0.02, 0.0]
    # mean 0.005; squared deviations 25e-6, 225e-6, 225e-6, 25e-6 -> sample variance 500e-6 / 3
    std = math.sqrt(500e-6 / 3)
    assert metrics.sharpe(returns, 252) == pytest.approx(0.005 / std * math.sqrt(252))
    assert metrics.sharpe(returns, 252) == pytest.approx(6.148170, rel=1e-6)
    # downside deviation sqrt(mean([0, 1e-4, 0, 0])) = 0.005
    assert metrics.sortino(returns, 252) == pytest.approx(math.sqrt(252))


def test_ratios_are_none_when_undefined() -> None:
    assert metrics.sharpe([0.01], 252) is None
    assert metrics.sharpe([0.01, 0.01], 252) is None  # zero volatility
    assert metrics.sortino([0.01, 0.02], 252) is None  # nothing went down
    assert metrics.total_return([5]) is None
    assert metrics.turnover(10, []) is None
    assert metrics.fill_ratio([], []) is None


def test_a_run_over_several_days_is_resampled_to_daily_closes() -> None:
    e = [1_000_000, 1_010_000, 999_900, 1_019_898, 1_019_898]
    start = MONDAY + OPEN
    ts = [start, start + 60 * SEC, start + 6 * 3_600 * SEC, DAY + start, 2 * DAY + start, 3 * DAY + start]
    equity = [e[0], 1_003_000, e[1], e[2], e[3], e[4]]  # the intraday sample at +60 s is not a close
    returns = metrics.period_returns(ts, equity)
    assert returns.periodicity == "daily"
    assert returns.periods_per_year == 252
    assert returns.values == pytest.approx([0.01, -0.01, 0.02, 0.0])


def test_a_run_within_one_day_has_one_daily_return_and_no_sharpe_instead_of_a_huge_number() -> None:
    ts = [OPEN + i * SEC for i in range(4)]
    returns = metrics.period_returns(ts, [100, 110, 99, 98])
    assert returns.periodicity == "daily" and returns.closes == [100, 98]
    assert returns.values == pytest.approx([-0.02])
    assert metrics.sharpe(returns.values, returns.periods_per_year) is None
    assert metrics.sortino(returns.values, returns.periods_per_year) is None
    assert metrics.cagr(returns.closes, returns.periods_per_year) is None


def test_intraday_periods_bucket_new_york_minutes_and_annualize_by_390_minutes_a_session() -> None:
    ts = [OPEN + i * SEC for i in (0, 60, 299, 300, 301, 900)]  # :30:00, :31, :34:59 | :35, :35:01 | :45
    returns = metrics.period_returns(ts, [100, 101, 102, 103, 104, 99], "5min")
    assert returns.closes == [100, 102, 104, 99]
    assert returns.periods_per_year == 252 * 78


def test_daily_buckets_follow_the_calendar_over_thanksgiving_week() -> None:
    est_open = 14 * 3_600 * SEC + 30 * 60 * SEC  # 09:30 EST
    # Wed close, a holiday sample on Thursday (joins Friday's session), Friday's half-day close, Monday.
    ts = [
        THANKSGIVING_MONDAY + 2 * DAY + est_open,
        THANKSGIVING_MONDAY + 3 * DAY + est_open,
        THANKSGIVING_MONDAY + 4 * DAY + est_open + 3 * 3_600 * SEC,
        THANKSGIVING_MONDAY + 7 * DAY + est_open,
    ]
    xnys = ExchangeCalendar("XNYS")
    returns = metrics.period_returns(ts, [1_000_000, 1_100_000, 1_050_000, 1_050_000], sessions=xnys)
    assert returns.periodicity == "daily"
    assert returns.closes == [1_000_000, 1_050_000, 1_050_000]  # Wed, Fri (Thursday is no close), Mon
    assert returns.values == pytest.approx([0.05, 0.0])
    by_date = metrics.period_returns(ts, [1_000_000, 1_100_000, 1_050_000, 1_050_000])
    assert by_date.closes == [1_000_000, 1_100_000, 1_050_000, 1_050_000]  # without a calendar: a holiday "day"


def test_a_sample_after_new_york_midnight_belongs_to_the_new_day_not_ts_minus_5_h() -> None:
    # 00:30 EDT on Tuesday 2012-06-19 is 04:30 UTC: "ts - 5 h" put it on Monday; the calendar puts it on Tuesday.
    monday_close = MONDAY + 20 * 3_600 * SEC
    tuesday_0030 = MONDAY + DAY + 4 * 3_600 * SEC + 30 * 60 * SEC
    days = metrics.session_days([monday_close, tuesday_0030], ExchangeCalendar("XNYS"))
    assert days.tolist() == [15_509, 15_510]  # 2012-06-18 and 2012-06-19 as days since 1970-01-01


def test_max_drawdown_reports_the_deepest_fraction_and_the_deepest_money_fall_separately() -> None:
    dd = metrics.max_drawdown([100, 120, 90, 130, 65, 70])
    assert dd.money == 65 and dd.fraction == pytest.approx(0.5)
    dd = metrics.max_drawdown([100, 50, 1_000, 900])
    assert dd.money == 100 and dd.fraction == pytest.approx(0.5)
    assert metrics.max_drawdown([]).money == 0


def test_total_return_and_turnover() -> None:
    assert metrics.total_return([1_000_000, 1_050_000, 1_100_000]) == pytest.approx(0.1)
    assert metrics.turnover(3_000_000, [1_000_000, 2_000_000]) == pytest.approx(2.0)


def test_round_trips_count_flat_to_flat_and_split_a_flip_through_zero() -> None:
    # buy 100 @ 10, sell 100 @ 11 (fee 1 each): +100 - 2
    # sell 50 @ 12, buy 100 @ 11 (flip, fee 4 split 2/2): 50 - 1 - 2 = +47; then the long 50 @ 11
    # sell 50 @ 10 (fee 0): -50 - 2 (the flip's other half of the fee) = -52
    # buy 10 @ 10: left open
    trips = metrics.round_trips(
        symbols=["A", "A", "A", "A", "A", "B"],
        signs=[1, -1, -1, 1, -1, 1],
        quantities=[100, 100, 50, 100, 50, 10],
        prices=[10, 11, 12, 11, 10, 10],
        fees=[1, 1, 1, 4, 0, 0],
    )
    assert trips.pnls == [98, 47, -52]
    assert trips.count == 3 and trips.wins == 2
    assert trips.open_symbols == ["B"]
    assert metrics.hit_ratio(trips) == pytest.approx(2 / 3)


def test_slippage_is_positive_for_a_cost_and_weighted_by_quantity() -> None:
    slip = metrics.slippage(
        signs=[1, -1, -1, 1],
        quantities=[100, 300, 10, 5],
        prices=[100_100, 99_950, 100_000, 1],
        arrival_mids_x2=[200_000, 200_000, 200_001, None],  # the last has no arrival mid and is left out
    )
    # buy 10 bps above the mid: cost +100 units; sell 5 bps below: +50; sell half a unit below: +0.5
    assert slip.quantity == 410
    assert slip.units == pytest.approx((100 * 100 + 300 * 50 + 10 * 0.5) / 410)
    assert slip.bps == pytest.approx((100 * 10 + 300 * 5 + 10 * 0.5 / 100_000.5 * 1e4) / 410)
    improvement = metrics.slippage([1], [10], [99_990], [200_000])
    assert improvement.units == -10 and improvement.bps == pytest.approx(-1.0)


def test_fill_ratio_is_filled_over_ordered_shares() -> None:
    assert metrics.fill_ratio([100, 200], [50, 200]) == pytest.approx(250 / 300)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([1, -1]), st.integers(1, 300), st.integers(1, 1_000_000), st.integers(-50, 500)),
        max_size=30,
    )
)
def test_closed_round_trips_add_up_to_the_portfolio_pnl_net_of_fees(steps: list[tuple[int, int, int, int]]) -> None:
    position = sum(sign * qty for sign, qty, _, _ in steps)
    if position:
        steps = [*steps, (-1 if position > 0 else 1, abs(position), 500_000, 3)]  # end flat
    portfolio = Portfolio(PortfolioConfig(sample_interval_ns=None))
    for ts, (sign, qty, price, fee) in enumerate(steps):
        side = Side.BUY if sign > 0 else Side.SELL
        portfolio.on_fill(
            OrderFilled(
                ts_event=ts,
                ts_init=ts,
                strategy_id="s",
                client_order_id=str(ts),
                symbol="A",
                side=side,
                price=price,
                quantity=qty,
                leaves_quantity=0,
                liquidity_side=LiquiditySide.MAKER,
                fee=fee,
            )
        )
    trips = metrics.round_trips(
        ["A"] * len(steps), [s[0] for s in steps], [s[1] for s in steps], [s[2] for s in steps], [s[3] for s in steps]
    )
    assert trips.open_symbols == []
    assert sum(trips.pnls) == portfolio.realized_pnl() - portfolio.fees


def _utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * SEC


def test_the_session_date_is_the_new_york_date_not_the_utc_date_in_winter_and_summer() -> None:
    # 2012-06-21 22:00 and 2012-06-22 03:30 UTC are 18:00 and 23:30 on June 21 in New York (EDT, UTC-4);
    # 2012-12-21 04:30 UTC is 23:30 on December 20 (EST, UTC-5), 05:30 UTC is 00:30 on December 21
    ts = [_utc(t) for t in ("2012-06-21T22:00", "2012-06-22T03:30", "2012-12-21T04:30", "2012-12-21T05:30")]
    days = metrics.period_keys(ts, "daily").tolist()
    epoch = date(1970, 1, 1)
    expected = [date(2012, 6, 21), date(2012, 6, 21), date(2012, 12, 20), date(2012, 12, 21)]
    assert [epoch + timedelta(days=d) for d in days] == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(946_684_800, 1_924_992_000), min_size=1, max_size=20))  # 2000 to 2031
def test_new_york_clock_matches_the_time_zone_database_sample_by_sample(seconds: list[int]) -> None:
    ts = sorted(s * SEC + 123 for s in seconds)
    expected = []
    for t in ts:
        local = datetime.fromtimestamp(t // SEC, tz=NEW_YORK).replace(tzinfo=None)
        expected.append((local - datetime(1970, 1, 1)) // timedelta(seconds=1) * SEC + 123)
    assert metrics.new_york_ns(ts).tolist() == expected


def test_weekly_periods_start_on_monday_and_monthly_periods_on_the_first() -> None:
    # Friday 2024-03-29, Sunday 03-31, Monday 04-01, all at noon in New York (16:00 UTC)
    ts = [_utc(t) for t in ("2024-03-29T16:00", "2024-03-31T16:00", "2024-04-01T16:00")]
    weeks = metrics.period_keys(ts, "weekly").tolist()
    months = metrics.period_keys(ts, "monthly").tolist()
    assert weeks[0] == weeks[1] != weeks[2]
    assert months[0] == months[1] != months[2] and months[2] == (2024 - 1970) * 12 + 3
    assert metrics.periods_per_year("weekly") == 52 and metrics.periods_per_year("monthly") == 12


@pytest.mark.parametrize("period", ["hourly", "0min", "391min", "5 min", "5m", ""])
def test_an_unknown_returns_period_is_a_config_error_naming_the_valid_ones(period: str) -> None:
    message = (
        f"field `portfolio.returns_period`: unknown returns period {period!r}: use daily, weekly, monthly or "
        "<N>min with N from 1 to 390 (e.g. 5min)"
    )
    with pytest.raises(ConfigError) as info:
        metrics.periods_per_year(period, field="portfolio.returns_period")
    assert str(info.value) == message
    with pytest.raises(ConfigError, match="unknown returns period"):
        ResultsCollector(period=period)


def test_a_config_with_an_unknown_returns_period_is_refused_before_the_run_in_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('[portfolio]\nreturns_period = "hourly"\n')
    with pytest.raises(ConfigError, match=r"^field `portfolio.returns_period`: unknown returns period 'hourly'"):
        check_backtest_config(load_config(cfg, BacktestConfig))
    result = CliRunner().invoke(app, ["backtest", str(cfg)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {cfg}: field `portfolio.returns_period`: unknown returns period 'hourly': use daily, weekly, "
        "monthly or <N>min with N from 1 to 390 (e.g. 5min)"
    )


def test_cagr_and_calmar_match_a_hand_computation() -> None:
    # two half-year periods of +10% each: 1.21 in one year
    assert metrics.cagr([100, 110, 121], 2) == pytest.approx(0.21)
    # 252 daily periods doubling: 100% a year; 126 periods doubling: 300% a year (doubling twice)
    assert metrics.cagr([*([1_000] * 252), 2_000], 252) == pytest.approx(1.0)
    assert metrics.cagr([*([1_000] * 126), 2_000], 252) == pytest.approx(3.0)
    assert metrics.calmar(0.21, 0.5) == pytest.approx(0.42)


def test_cagr_and_calmar_are_none_when_undefined_and_minus_one_when_everything_was_lost() -> None:
    assert metrics.cagr([100, 110], 252) is None  # one period
    assert metrics.cagr([0, 10, 20], 252) is None  # no starting value
    assert metrics.cagr([100, 50, -10], 252) is None  # negative equity: no rate means anything
    assert metrics.cagr([100, 50, 0], 252) == -1.0
    assert metrics.cagr([1, 10**12, 10**15], 252 * 390) is None  # past float range, not inf
    assert metrics.calmar(None, 0.1) is None
    assert metrics.calmar(0.1, 0.0) is None  # nothing fell
    assert metrics.calmar(0.1, None) is None


def test_exposure_counts_intervals_ending_with_a_position_or_holding_a_fill() -> None:
    ts = [0, 10, 20, 30, 40]
    gross = [0, 500, 0, 0, 0]
    assert metrics.exposure(ts, gross) == pytest.approx(1 / 4)
    # a round trip inside (20, 30] leaves the position flat at 30 but was exposed in that interval;
    # a fill at exactly 10 belongs to (0, 10]; a fill before the first sample to the first interval
    assert metrics.exposure(ts, gross, [25, 27, 10, -5]) == pytest.approx(2 / 4)
    assert metrics.exposure(ts, [7, 7, 7, 7, 7]) == 1.0
    assert metrics.exposure([0], [5]) is None


# -- against empyrical-reloaded ------------------------------------------------------------------------------


def _closes(returns: list[float], start: int = 10**10) -> list[int]:
    closes = [start]
    for r in returns:
        closes.append(round(closes[-1] * (1 + r)))
    return closes


def _ours(closes: list[int], per_year: float) -> dict[str, float | None]:
    returns = [b / a - 1 for a, b in pairwise(closes)]
    growth = metrics.cagr(closes, per_year)
    drawdown = metrics.max_drawdown(closes).fraction
    return {
        "sharpe": metrics.sharpe(returns, per_year),
        "sortino": metrics.sortino(returns, per_year),
        "max_drawdown": drawdown,
        "cagr": growth,
        "calmar": metrics.calmar(growth, drawdown),
    }


def _empyrical(returns: Sequence[float], per_year: float) -> dict[str, float]:
    r = np.asarray(returns, dtype=np.float64)
    return {
        "sharpe": ep.sharpe_ratio(r, annualization=per_year),
        "sortino": ep.sortino_ratio(r, annualization=per_year),
        "max_drawdown": -ep.max_drawdown(r),
        "cagr": ep.annual_return(r, annualization=per_year),
        "calmar": ep.calmar_ratio(r, annualization=per_year),
    }


def test_hand_made_series_agree_with_empyrical() -> None:
    returns = [0.01, -0.01, 0.02, 0.0, -0.03, 0.015]
    closes = _closes(returns, start=10**12)
    actual = metrics.period_returns([OPEN + d * DAY for d in range(len(closes))], closes).values
    assert actual == pytest.approx(returns, abs=1e-11)
    ours, theirs = _ours(closes, 252), _empyrical(actual, 252)
    assert ours == pytest.approx(theirs, rel=1e-9)
    assert ours["sharpe"] == pytest.approx(np.mean(returns) / np.std(returns, ddof=1) * math.sqrt(252), rel=1e-6)
    assert ours["max_drawdown"] == pytest.approx(0.03, rel=1e-9)  # the one -3% day from a running peak
    assert ours["cagr"] == pytest.approx(math.prod(1 + r for r in returns) ** (252 / 6) - 1, rel=1e-9)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # empyrical's CAGR of a wild series
@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(-0.2, 0.25, allow_nan=False), min_size=2, max_size=80),
    st.sampled_from([252.0, 52.0, 12.0, 252.0 * 78]),
)
@example(returns=[0.25, -2.157e-10], per_year=52.0)  # a drawdown of 2.4e-10: Calmar's float noise dominates
@example(returns=[0.08984375, 0.021484375, -1e-05], per_year=19656.0)  # CAGR ~1e307 over 1e-5 is beyond a float
def test_random_series_agree_with_empyrical(returns: list[float], per_year: float) -> None:
    closes = _closes(returns)
    actual = [b / a - 1 for a, b in pairwise(closes)]
    ours, theirs = _ours(closes, per_year), _empyrical(actual, per_year)
    for name, value in ours.items():
        if value is None:  # undefined here, NaN or infinite in empyrical
            assert not np.isfinite(theirs[name]), (name, theirs[name])
        elif name == "calmar" and ours["max_drawdown"]:
            # Calmar divides by the drawdown. A tiny drawdown is the difference of two nearly equal numbers, which
            # empyrical computes in floats with a relative error of about 1e-16 / drawdown (returns=[0.25,
            # -2.157e-10]: 2.4e-10, so ~4e-7), and CAGR's rounding noise (closes are whole units) is divided too.
            dd = ours["max_drawdown"]
            assert value == pytest.approx(theirs[name], rel=1e-7 + 1e-15 / dd, abs=1e-12 / dd), name
        else:
            assert value == pytest.approx(theirs[name], rel=1e-7, abs=1e-12), name
    assert ours["max_drawdown"] is not None  # precondition: something was compared on every example


# -- real runs against empyrical-reloaded, with periods resampled independently by pandas ----------------------

NVDA = "backtrader-yahoo-daily/nvda-1999-2014.txt.gz"
AAPL_DAY = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(cfg: Path) -> tuple[Backtest, dict[str, Any]]:
    bt, report = run_backtest_config(load_config(cfg, BacktestConfig))
    return bt, report["summary"]


def _curve(bt: Backtest) -> pd.Series:
    curve = bt.portfolio.curve
    index = pd.to_datetime(np.asarray(curve.ts, dtype=np.int64), utc=True).tz_convert("America/New_York")
    return pd.Series(np.asarray(curve.equity, dtype=np.int64), index=index)


@pytest.fixture(scope="module")
def nvda_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Backtest, dict[str, Any]]:
    cfg = tmp_path_factory.mktemp("nvda") / "nvda.toml"
    cfg.write_text((EXAMPLES / "compare_nvda.toml").read_text().replace('"../shared/data/', f'"{data_dir}/'))
    return _run(cfg)


@pytest.fixture(scope="module")
def aapl_day_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Backtest, dict[str, Any]]:
    """The passive quoter on a real LOBSTER day, risk off so that it trades, returns in 5-minute periods."""
    cfg = tmp_path_factory.mktemp("aapl") / "aapl.toml"
    cfg.write_text(
        f'no_fees = true\nrisk = "off"\n[data]\nkind = "lobster"\npaths = ["{data_dir / AAPL_DAY}"]\n'
        '[strategy]\nname = "imbalance_quoter"\nparams = { quantity = 100, threshold = 0.5, max_position = 300 }\n'
        '[portfolio]\nreturns_period = "5min"\n'
    )
    return _run(cfg)


def test_sixteen_years_of_nvda_daily_bars_agree_with_empyrical(nvda_run: tuple[Backtest, dict[str, Any]]) -> None:
    bt, summary = nvda_run
    equity = _curve(bt)
    closes = equity.groupby(equity.index.date).last()
    assert len(closes) == len(equity) == 4_012, "precondition: one sample a bar, one bar a New York day"
    returns = closes.pct_change().dropna().to_numpy()
    assert summary["periodicity"] == "daily" and summary["return_periods"] == len(returns) == 4_011
    assert summary["round_trips"] > 50 and summary["max_drawdown"] > 0, "precondition: the strategy traded"
    theirs = _empyrical(returns, 252)
    for name in ("sharpe", "sortino", "max_drawdown", "cagr", "calmar"):
        assert summary[name] == pytest.approx(theirs[name], rel=1e-9), name


def test_a_lobster_day_in_five_minute_periods_agrees_with_empyrical(
    aapl_day_run: tuple[Backtest, dict[str, Any]],
) -> None:
    bt, summary = aapl_day_run
    equity = _curve(bt)
    closes = equity.resample("5min").last().dropna()
    assert equity.iloc[0] != closes.iloc[0], "precondition: the first sample opens a period with more samples"
    closes = pd.concat([equity.iloc[:1], closes])
    returns = closes.pct_change().dropna().to_numpy()
    # the 78 five-minute periods of the session, and the final sample at 16:00:00 opens a 79th
    assert summary["periodicity"] == "5min" and summary["return_periods"] == len(returns) == 79
    theirs = _empyrical(returns, 252 * 78)
    for name in ("sharpe", "sortino", "cagr"):
        assert summary[name] == pytest.approx(theirs[name], rel=1e-9), name
    # Calmar in the summary is CAGR over the drawdown of the whole curve; empyrical's is over period closes
    assert summary["calmar"] == pytest.approx(summary["cagr"] / summary["max_drawdown"])
    period_drawdown = metrics.max_drawdown(closes.to_list()).fraction
    assert metrics.calmar(summary["cagr"], period_drawdown) == pytest.approx(theirs["calmar"], rel=1e-9)
    assert period_drawdown <= summary["max_drawdown"]


def test_the_same_lobster_day_in_daily_periods_has_no_sharpe_sortino_cagr_or_calmar(
    aapl_day_run: tuple[Backtest, dict[str, Any]],
) -> None:
    """The "-643.9" of issue 13: one day is one daily return, and a ratio of one return is undefined."""
    bt, _ = aapl_day_run
    summary = ResultsCollector(portfolio=bt.portfolio).summary()  # the default period: daily
    assert summary.equity_samples > 10_000, "precondition: a whole day of samples"
    assert summary.periodicity == "daily" and summary.return_periods == 1
    assert (summary.sharpe, summary.sortino, summary.cagr, summary.calmar) == (None, None, None, None)
    console = Console(record=True, width=100)
    print_summary(summary, console)
    text = console.export_text()
    assert re.search(r"Sharpe \(daily returns, annualized\)\s+│\s+n/a", text), text
