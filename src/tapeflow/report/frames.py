"""A run's results as pandas DataFrames for notebooks: dollars as floats, times as tz-aware datetimes.

The Parquet files and the summary keep exact integers (1/10,000 dollar, ns UTC); a notebook wants to plot and
group, so here prices and money are float dollars, "no price" (0 in the files) is NaN, and timestamps are
``datetime64[ns, tz]`` (UTC unless asked otherwise; nanoseconds survive because the conversion happens in Arrow,
not through floats). Columns keep their Parquet names; ``arrival_mid_x2`` becomes ``arrival_mid`` (halved).

pandas is an optional extra (``pip install 'tapeflow[notebook]'``): a backtest does not need it, so it is imported
only when a DataFrame is asked for, and its absence is one clear line.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from tapeflow.model.errors import TapeflowError

if TYPE_CHECKING:
    from tapeflow.report.trades import RoundTrips

UNITS_PER_DOLLAR = 10_000.0
_TIMES = {"ts", "ts_submit", "ts_accepted", "ts_done", "ts_init", "ts_event", "ts_open", "ts_close"}
_PRICES = {"price", "stop_price"}
"""Price columns where 0 means "no price" (a market order has no limit)."""
_MONEY = {"fee", "fees", "filled_notional", "equity", "cash", "gross", "net", "realized", "unrealized", "pnl"}
_MONEY |= {"entry_price", "exit_price"}


class PandasResults(NamedTuple):
    """The four DataFrames of a run (unpack them, or use the names)."""

    orders: Any
    fills: Any
    equity: Any
    round_trips: Any


def require_pandas() -> None:
    """Fail with one line that says what to install when pandas is missing."""
    if importlib.util.find_spec("pandas") is None:
        raise TapeflowError("pandas is not installed; DataFrames need it: pip install 'tapeflow[notebook]'")


def round_trips_table(trips: RoundTrips) -> Any:
    """Closed round trips as an Arrow table in exact units (average entry and exit prices as float units)."""
    rows = trips.trips
    return pa.table(
        {
            "symbol": pa.array([t.symbol for t in rows], pa.string()),
            "direction": pa.array(["long" if t.direction > 0 else "short" for t in rows], pa.string()),
            "ts_open": pa.array([t.ts_open for t in rows], pa.int64()),
            "ts_close": pa.array([t.ts_close for t in rows], pa.int64()),
            "holding": pa.array([t.holding_ns for t in rows], pa.duration("ns")),
            "quantity": pa.array([t.quantity for t in rows], pa.int64()),
            "entry_price": pa.array([t.entry_notional / t.quantity for t in rows], pa.float64()),
            "exit_price": pa.array([t.exit_notional / t.quantity for t in rows], pa.float64()),
            "fees": pa.array([t.fees for t in rows], pa.int64()),
            "pnl": pa.array([t.pnl for t in rows], pa.int64()),
        }
    )


def to_pandas(tables: dict[str, Any], trips: RoundTrips, tz: str = "UTC") -> PandasResults:
    """DataFrames from the Arrow tables of ``ResultsCollector.tables()`` and the run's round trips."""
    require_pandas()
    frames = {stem: _frame(table, tz) for stem, table in tables.items()}
    return PandasResults(
        orders=frames["orders"],
        fills=frames["fills"],
        equity=frames["equity"],
        round_trips=_frame(round_trips_table(trips), tz),
    )


def _frame(table: Any, tz: str) -> Any:
    columns: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in _TIMES:
            columns[name] = column.cast(pa.timestamp("ns", tz="UTC")).cast(pa.timestamp("ns", tz=tz))
        elif name in _PRICES:
            dollars = pc.divide(column.cast(pa.float64()), UNITS_PER_DOLLAR)
            columns[name] = pc.if_else(pc.equal(column, 0), pa.scalar(None, pa.float64()), dollars)
        elif name in _MONEY:
            columns[name] = pc.divide(column.cast(pa.float64()), UNITS_PER_DOLLAR)
        elif name == "arrival_mid_x2":
            columns["arrival_mid"] = pc.divide(column.cast(pa.float64()), 2 * UNITS_PER_DOLLAR)
        else:
            columns[name] = column
    frame = pa.table(columns).to_pandas()
    frame.attrs["units"] = f"prices and money in USD (float); times tz-aware ({tz}); quantities in shares"
    return frame
