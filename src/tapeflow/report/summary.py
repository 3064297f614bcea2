"""The summary of a run (the ``--json`` object of ``tapeflow backtest``) and its terminal table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from tapeflow.model.prices import price_to_str

if TYPE_CHECKING:
    from rich.console import Console

MONEY_UNIT = "1/10000 USD"


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """The run in one object (the ``--json`` output). Money fields end in ``_units``: int 1/10,000 dollar.

    Equity-based fields are None when the collector had no portfolio; ratios are None when undefined.
    """

    start_ns: int | None
    end_ns: int | None
    equity_samples: int
    starting_equity_units: int | None
    final_equity_units: int | None
    pnl_units: int | None
    realized_pnl_units: int | None
    unrealized_pnl_units: int | None
    fees_units: int
    traded_notional_units: int
    total_return: float | None
    sharpe: float | None
    sortino: float | None
    periodicity: str
    periods_per_year: float | None
    max_drawdown: float | None
    max_drawdown_units: int | None
    turnover: float | None
    orders: int
    orders_by_status: dict[str, int]
    fills: int
    round_trips: int
    winning_round_trips: int
    open_round_trips: int
    hit_ratio: float | None
    avg_slippage_units: float | None
    avg_slippage_bps: float | None
    limit_orders: int
    limit_fill_ratio: float | None
    money_unit: str = MONEY_UNIT
    fees_by_component_units: dict[str, int] = {}
    """``OrderFilled.fee_components`` summed by name (sec_fee, finra_taf, exchange, commission)."""


def print_summary(summary: Summary, console: Console) -> None:
    """The summary as a two-column rich table; dollars shown exactly (four decimals at most)."""
    from rich.table import Table

    table = Table(title="tapeflow backtest results", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in _summary_rows(summary):
        table.add_row(label, value)
    console.print(table)


def _summary_rows(s: Summary) -> list[tuple[str, str]]:
    def money(units: int | None) -> str:
        return "n/a" if units is None else f"${price_to_str(units)}"

    def ratio(value: float | None, fmt: str = "{:.3f}") -> str:
        return "n/a" if value is None else fmt.format(value)

    return [
        ("starting equity", money(s.starting_equity_units)),
        ("final equity", money(s.final_equity_units)),
        ("PnL (net of fees)", money(s.pnl_units)),
        ("  realized (gross)", money(s.realized_pnl_units)),
        ("  unrealized", money(s.unrealized_pnl_units)),
        ("  fees", money(s.fees_units)),
        *((f"    {name}", money(units)) for name, units in s.fees_by_component_units.items()),
        ("total return", ratio(s.total_return, "{:.4%}")),
        (f"Sharpe ({s.periodicity}, annualized)", ratio(s.sharpe)),
        (f"Sortino ({s.periodicity}, annualized)", ratio(s.sortino)),
        ("max drawdown", f"{ratio(s.max_drawdown, '{:.4%}')} ({money(s.max_drawdown_units)})"),
        ("turnover", ratio(s.turnover, "{:.2f}x")),
        ("traded notional", money(s.traded_notional_units)),
        ("orders", f"{s.orders:,}"),
        *((f"  {status}", f"{count:,}") for status, count in s.orders_by_status.items()),
        ("fills", f"{s.fills:,}"),
        ("round trips (closed)", f"{s.round_trips:,} (+{s.open_round_trips} open)"),
        ("hit ratio", ratio(s.hit_ratio, "{:.2%}")),
        ("avg slippage vs arrival mid", f"{ratio(s.avg_slippage_units, '{:.2f}')} units/share"),
        ("avg slippage (bps)", ratio(s.avg_slippage_bps, "{:.2f}")),
        ("limit fill ratio", f"{ratio(s.limit_fill_ratio, '{:.2%}')} of {s.limit_orders:,} orders"),
    ]
