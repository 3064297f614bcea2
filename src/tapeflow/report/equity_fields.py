"""The summary's equity fields of a run (``ResultsCollector.summary``): returns, drawdown, ratios, exposure.

Apart from ``results.py``, which records orders and fills on the trading loop, because these are read once, after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tapeflow.report import metrics

if TYPE_CHECKING:
    from tapeflow.model.sessions import SessionCalendar
    from tapeflow.portfolio.portfolio import Portfolio


def equity_fields(
    portfolio: Portfolio | None, notional: int, period: str, fill_ts: list[int], sessions: SessionCalendar | None
) -> dict[str, Any]:
    if portfolio is None or not len(portfolio.curve):
        keys = ("start_ns", "end_ns", "starting_equity_units", "final_equity_units", "pnl_units")
        more = ("realized_pnl_units", "unrealized_pnl_units", "total_return", "sharpe", "sortino", "periods_per_year")
        last = ("max_drawdown", "max_drawdown_units", "turnover", "cagr", "calmar", "exposure")
        return dict.fromkeys(keys + more + last) | {"equity_samples": 0, "periodicity": "none"}
    curve = portfolio.curve
    returns = metrics.period_returns(curve.ts, curve.equity, period, sessions)
    drawdown = metrics.max_drawdown(curve.equity)
    per_year = returns.periods_per_year
    growth = metrics.cagr(returns.closes, per_year)
    return {
        "start_ns": curve.ts[0],
        "end_ns": curve.ts[-1],
        "equity_samples": len(curve),
        "starting_equity_units": portfolio.starting_cash,
        "final_equity_units": curve.equity[-1],
        "pnl_units": curve.equity[-1] - portfolio.starting_cash,
        "realized_pnl_units": curve.realized[-1],
        "unrealized_pnl_units": curve.unrealized[-1],
        "total_return": metrics.total_return([portfolio.starting_cash, curve.equity[-1]]),
        "sharpe": metrics.sharpe(returns.values, per_year),
        "sortino": metrics.sortino(returns.values, per_year),
        "periodicity": returns.periodicity,
        "periods_per_year": per_year,
        "return_periods": len(returns.values),
        "cagr": growth,
        "max_drawdown": drawdown.fraction,
        "max_drawdown_units": drawdown.money,
        "calmar": metrics.calmar(growth, drawdown.fraction),
        "turnover": metrics.turnover(notional, curve.equity),
        "exposure": metrics.exposure(curve.ts, curve.gross, fill_ts),
    }
