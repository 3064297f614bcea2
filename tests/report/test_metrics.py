from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model import LiquiditySide, OrderFilled, Side
from tapeflow.model.sessions import ExchangeCalendar
from tapeflow.portfolio import Portfolio, PortfolioConfig
from tapeflow.report import metrics

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


def test_daily_buckets_follow_the_calendar_over_thanksgiving_week() -> None:
    est_open = 14 * 3_600 * SEC + 30 * 60 * SEC  # 09:30 EST
    # Wed close, a holiday sample on Thursday (joins Friday's session), Friday's half-day close, Monday.
    ts = [
        THANKSGIVING_MONDAY + 2 * DAY + est_open,
        THANKSGIVING_MONDAY + 3 * DAY + est_open,
        THANKSGIVING_MONDAY + 4 * DAY + est_open + 3 * 3_600 * SEC,
        THANKSGIVING_MONDAY + 7 * DAY + est_open,
    ]
    returns = metrics.period_returns(ts, [1_000_000, 1_100_000, 1_050_000, 1_050_000])
    assert returns.periodicity == "daily"
    assert returns.values == pytest.approx([0.0, 0.05, 0.0])  # open -> Wed -> Fri (Thursday is no close) -> Mon


def test_a_sample_after_new_york_midnight_belongs_to_the_new_day_not_ts_minus_5_h() -> None:
    # 00:30 EDT on Tuesday 2012-06-19 is 04:30 UTC: "ts - 5 h" put it on Monday; the calendar puts it on Tuesday.
    monday_close = MONDAY + 20 * 3_600 * SEC
    tuesday_0030 = MONDAY + DAY + 4 * 3_600 * SEC + 30 * 60 * SEC
    days = metrics.session_days([monday_close, tuesday_0030], ExchangeCalendar("XNYS"))
    assert days.tolist() == [15_509, 15_510]  # 2012-06-18 and 2012-06-19 as days since 1970-01-01


def test_a_run_within_one_day_annualizes_per_sample_from_the_median_interval() -> None:
    ts = [MONDAY + OPEN + i * SEC for i in range(4)]
    returns = metrics.period_returns(ts, [100, 110, 99, 99])
    assert returns.periodicity == "per-sample"
    assert returns.periods_per_year == pytest.approx(252 * 23_400)
    assert returns.values == pytest.approx([0.1, -0.1, 0.0])


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
