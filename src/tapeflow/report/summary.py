"""The summary of a run (the ``--json`` object of ``tapeflow backtest``) and its terminal table.

Besides what the strategy did, the summary says what the run stood on: what each reader saw (``data``), what
went wrong with each book (``books``), and whether the kill switch halted trading (``halted``). A backtest on a
crossed book or a file full of skipped lines is a confident wrong answer, so ``anomalies`` is raised by any
count that is not zero, and the terminal shows it above the results, where nobody can miss it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from tapeflow.book.integrity import IntegrityTotals
from tapeflow.data.quality import SourceQuality
from tapeflow.model.display import duration, money, ny_time

if TYPE_CHECKING:
    from rich.console import Console

MONEY_UNIT = "1/10000 USD"


class Halt(msgspec.Struct, frozen=True, kw_only=True):
    """The kill switch engaged during the run: when (event time, ns UTC), by what, and why."""

    ts_ns: int
    reason: str
    source: str
    """``manual``, ``signal_file``, ``rule``, ``restored`` (engaged when the run started), ..."""
    rule: str = ""
    """The rule that tripped it, when a rule did."""
    cancelled_orders: int = 0
    engaged_at_end: bool = True
    """False when it was reset later in the run; the run was halted all the same."""


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
    """The period returns were resampled to before annualizing (``daily``, ``weekly``, ``monthly``, ``<N>min``)."""
    periods_per_year: float | None
    return_periods: int = 0
    """How many period returns Sharpe, Sortino and CAGR stand on; under two they are None."""
    cagr: float | None = None
    """Compound annual growth rate over ``return_periods`` periods."""
    max_drawdown: float | None
    max_drawdown_units: int | None
    calmar: float | None = None
    """CAGR over ``max_drawdown`` (the deepest fall of the whole equity curve)."""
    turnover: float | None
    exposure: float | None = None
    """Share of equity sample intervals with a position held (or a fill) in them."""
    orders: int
    orders_by_status: dict[str, int]
    fills: int
    round_trips: int
    winning_round_trips: int
    open_round_trips: int
    hit_ratio: float | None
    """Win rate: winning over closed round trips."""
    losing_round_trips: int = 0
    avg_win_units: int | None = None
    avg_loss_units: int | None = None
    """Negative, like ``largest_loss_units``."""
    largest_win_units: int | None = None
    largest_loss_units: int | None = None
    profit_factor: float | None = None
    """Gross wins over gross losses; None without a losing round trip."""
    expectancy_units: int | None = None
    """Average PnL per closed round trip, net of fees."""
    avg_holding_ns: int | None = None
    avg_slippage_units: float | None
    avg_slippage_bps: float | None
    limit_orders: int
    limit_fill_ratio: float | None
    money_unit: str = MONEY_UNIT
    fees_by_component_units: dict[str, int] = {}
    """``OrderFilled.fee_components`` summed by name (sec_fee, finra_taf, exchange, commission)."""
    anomalies: bool = False
    """True when any reader or book count below is not zero: the results stand on damaged data."""
    data: list[SourceQuality] = []
    """What each source's reader saw, in source order."""
    books: list[IntegrityTotals] = []
    """What went wrong with each book, in symbol order (quote books keep no such state and are absent)."""
    halted: Halt | None = None
    """The first engagement of the kill switch, or None when it never engaged."""


def has_anomalies(data: list[SourceQuality], books: list[IntegrityTotals]) -> bool:
    return any(q.anomalies for q in data) or any(b.anomalies for b in books)


def print_summary(summary: Summary, console: Console) -> None:
    """The summary as a two-column rich table; money to the cent with separators (exact values are in --json).

    A halt and any anomaly come first, one line each in red and yellow; the data and book tables follow the
    results when there is something to show.
    """
    from rich.table import Table  # lazy: rich (~20 ms) only to print; a run used as a library never does

    for line, style in warning_lines(summary):
        console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)
    table = Table(title="tapeflow backtest results", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in _summary_rows(summary):
        table.add_row(label, value)
    console.print(table)
    if summary.data:
        console.print(_data_table(summary.data))
    if summary.books:
        console.print(_books_table(summary.books))


def warning_lines(s: Summary) -> list[tuple[str, str]]:
    """(text, rich style) of the lines printed above the results: a halt, then what was wrong with the data."""
    lines: list[tuple[str, str]] = []
    if s.halted is not None:
        h = s.halted
        by = f"rule {h.rule}" if h.rule else h.source
        still = "" if h.engaged_at_end else " (reset later in the run)"
        lines.append((f"HALTED: kill switch engaged at {format_ts(h.ts_ns)} by {by}: {h.reason}{still}", "bold red"))
    if s.anomalies:
        parts: list[str] = []
        for q in s.data:
            counts = _counts(
                ("malformed", q.malformed),
                ("out of order", q.out_of_order),
                ("duplicates", q.duplicates),
                ("unknown ids", q.unknown_ids),
            )
            if counts:
                parts.append(f"{q.source}: {counts}")
        for b in s.books:
            counts = _counts(
                ("crossing episodes", b.crossings),
                ("gaps", b.gaps),
                ("unknown order refs", b.unknown_order_refs),
                ("duplicates", b.duplicates),
            )
            spans = (("crossed for", b.crossed_ns), ("stale for", b.stale_ns))
            times = ", ".join(f"{label} {format_duration(ns)}" for label, ns in spans if ns)
            if counts:
                parts.append(f"{b.symbol} book: {counts}" + (f" ({times})" if times else ""))
        lines.append(("DATA ANOMALIES, results may be wrong: " + "; ".join(parts), "bold yellow"))
    return lines


def _counts(*counts: tuple[str, int]) -> str:
    """``3 malformed, 1 duplicates``: the counts that are not zero."""
    return ", ".join(f"{value:,} {label}" for label, value in counts if value)


def format_ts(ts_ns: int) -> str:
    """An event time as the market's users read it: New York time with the zone, to the microsecond (exact)."""
    return ny_time(ts_ns)


def format_duration(ns: int) -> str:
    """A duration for a person: the two largest units (``2d 3h``, ``4m 12s``, ``350ms``, ``900ns``)."""
    return duration(ns)


def _data_table(data: list[SourceQuality]) -> object:
    """One row per source, the problem counts in one column (terminals are 80 columns wide), and the first
    problem only when there is one to show."""
    from rich.table import Table  # lazy: rich (~20 ms) only to print; a run used as a library never does

    table = Table(title="data read", show_header=True)
    table.add_column("source", overflow="fold")
    table.add_column("format")
    table.add_column("rows", justify="right")
    table.add_column("events", justify="right")
    table.add_column("problems", overflow="fold")
    problems = any(q.first_problem for q in data)
    if problems:
        table.add_column("first problem", overflow="fold")
    for q in data:
        counts = _counts(
            ("malformed", q.malformed),
            ("out of order", q.out_of_order),
            ("duplicates", q.duplicates),
            ("unknown ids", q.unknown_ids),
        )
        source = q.source.removeprefix(f"{q.format}:")
        row = [source, q.format, f"{q.rows:,}", f"{q.events:,}", counts or "none"]
        table.add_row(*row, *([q.first_problem or "-"] if problems else []))
    return table


def _books_table(books: list[IntegrityTotals]) -> object:
    from rich.table import Table  # lazy: rich (~20 ms) only to print; a run used as a library never does

    table = Table(title="book integrity", show_header=True)
    table.add_column("symbol")
    for column in ("gaps", "crossed", "time crossed", "time stale", "unknown refs", "dupl."):
        table.add_column(column, justify="right")
    for b in books:
        table.add_row(
            b.symbol,
            f"{b.gaps:,}",
            f"{b.crossings:,}",
            format_duration(b.crossed_ns) if b.crossed_ns else "-",
            format_duration(b.stale_ns) if b.stale_ns else "-",
            f"{b.unknown_order_refs:,}",
            f"{b.duplicates:,}",
        )
    return table


def _summary_rows(s: Summary) -> list[tuple[str, str]]:
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
        (f"Sharpe ({s.periodicity} returns, annualized)", ratio(s.sharpe)),
        (f"Sortino ({s.periodicity} returns, annualized)", ratio(s.sortino)),
        ("CAGR", ratio(s.cagr, "{:.4%}")),
        ("  periods", f"{s.return_periods:,} {s.periodicity}"),
        ("max drawdown", f"{ratio(s.max_drawdown, '{:.4%}')} ({money(s.max_drawdown_units)})"),
        ("Calmar", ratio(s.calmar)),
        ("turnover", ratio(s.turnover, "{:.2f}x")),
        ("exposure", ratio(s.exposure, "{:.2%}")),
        ("traded notional", money(s.traded_notional_units)),
        ("orders", f"{s.orders:,}"),
        *((f"  {status.lower().replace('_', ' ')}", f"{count:,}") for status, count in s.orders_by_status.items()),
        ("fills", f"{s.fills:,}"),
        ("round trips (closed)", f"{s.round_trips:,} (+{s.open_round_trips:,} open)"),
        ("win rate", ratio(s.hit_ratio, "{:.2%}")),
        ("  avg win / avg loss", f"{money(s.avg_win_units)} / {money(s.avg_loss_units)}"),
        ("  largest win / loss", f"{money(s.largest_win_units)} / {money(s.largest_loss_units)}"),
        ("  profit factor", ratio(s.profit_factor, "{:.2f}")),
        ("  expectancy per trip", money(s.expectancy_units)),
        ("  avg holding time", "n/a" if s.avg_holding_ns is None else format_duration(s.avg_holding_ns)),
        ("avg slippage vs arrival mid", _per_share(s.avg_slippage_units)),
        ("avg slippage (bps)", ratio(s.avg_slippage_bps, "{:.2f}")),
        ("limit fill ratio", f"{ratio(s.limit_fill_ratio, '{:.2%}')} of {s.limit_orders:,} orders"),
    ]


def _per_share(units: float | None) -> str:
    """Slippage in dollars a share (``-$0.0106 a share``): four decimals, the unit of a price."""
    if units is None:
        return "n/a"
    dollars = units / 10_000
    sign = "-" if dollars < 0 else ""
    return f"{sign}${abs(dollars):,.4f} a share"
