"""The table of standard metrics, every number taken from the run's summary (``run.json``), formatted only.

Nothing is recomputed here: the summary's Sharpe, Sortino and drawdown are the ones tested against
empyrical-reloaded (tests/report/test_metrics.py), and the page must show the same numbers as ``tapeflow
backtest``. Each row keeps its summary key, so a test (and a person) can trace a cell to its field.
"""

from __future__ import annotations

from typing import Any

from tapeflow.model.display import money

Row = tuple[str, str, str]
"""(summary key, label, formatted value)."""


def ratio(value: float | None, fmt: str = "{:.3f}") -> str:
    return "n/a" if value is None else fmt.format(value)


def metric_rows(summary: dict[str, Any]) -> list[Row]:
    """The rows in reading order; fees by kind from ``fees_by_component_units`` (key ``fees.<kind>``)."""
    period = summary.get("periodicity", "")
    rows: list[Row] = [
        ("pnl_units", "PnL (net of fees)", money(summary.get("pnl_units"))),
        ("total_return", "total return", ratio(summary.get("total_return"), "{:.4%}")),
        ("sharpe", f"Sharpe ({period} returns, annualized)", ratio(summary.get("sharpe"))),
        ("sortino", f"Sortino ({period} returns, annualized)", ratio(summary.get("sortino"))),
        ("return_periods", "return periods", f"{summary.get('return_periods', 0):,}"),
        ("max_drawdown", "max drawdown", ratio(summary.get("max_drawdown"), "{:.4%}")),
        ("max_drawdown_units", "max drawdown ($)", money(summary.get("max_drawdown_units"))),
        ("cagr", "CAGR", ratio(summary.get("cagr"), "{:.4%}")),
        ("calmar", "Calmar", ratio(summary.get("calmar"))),
        ("turnover", "turnover", ratio(summary.get("turnover"), "{:.2f}x")),
        ("exposure", "exposure", ratio(summary.get("exposure"), "{:.2%}")),
        ("traded_notional_units", "traded notional", money(summary.get("traded_notional_units"))),
        ("fees_units", "fees (total)", money(summary.get("fees_units"))),
    ]
    for kind, units in sorted((summary.get("fees_by_component_units") or {}).items()):
        rows.append((f"fees.{kind}", f"  fees: {kind}", money(units)))
    rows += [
        ("orders", "orders", f"{summary.get('orders', 0):,}"),
        ("fills", "fills", f"{summary.get('fills', 0):,}"),
        ("hit_ratio", "win rate (closed round trips)", ratio(summary.get("hit_ratio"), "{:.2%}")),
        ("avg_slippage_bps", "avg slippage vs arrival mid (bps)", ratio(summary.get("avg_slippage_bps"), "{:.2f}")),
        ("limit_fill_ratio", "limit fill ratio", ratio(summary.get("limit_fill_ratio"), "{:.2%}")),
    ]
    return rows
