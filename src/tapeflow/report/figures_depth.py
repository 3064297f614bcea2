"""The depth heatmap of L2/L3 runs, and the vectorized-vs-event comparison when the run carries one.

Depth is ``depth.parquet``: the best levels of each side, snapshotted on a doubling interval (bounded, see
``market_samples.py``). The heatmap has one column per snapshot and one row per price bin (at most
``MAX_PRICE_ROWS``: a bin is one tick while the day's range allows, several ticks otherwise, and the note says
which); a cell is the displayed shares there, bids positive and asks negative, so the two sides read apart on a
diverging scale. Fills of the symbol are drawn over it. The comparison is ``run.json`` ``comparison``, the object
``backtest/compare.py`` ``compare_sma`` returns (``tapeflow compare --json``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from tapeflow.model.sessions import SessionCalendar
from tapeflow.report.figures_common import Chart, base_layout, dollars, ny_times
from tapeflow.report.figures_execution import busiest_symbol, sampling_note
from tapeflow.report.run_data import RunData

MAX_PRICE_ROWS = 200


def depth_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    depth = data.table("depth")
    if depth is None or depth.rows == 0:
        return None
    symbols = depth.strings("symbol")
    symbol = busiest_symbol(data) or symbols[0]
    mine = np.asarray([s == symbol for s in symbols], dtype=np.bool_)
    if not mine.any():
        symbol = symbols[0]
        mine = np.asarray([s == symbol for s in symbols], dtype=np.bool_)
    ts, side = depth.ints("ts")[mine], depth.ints("side")[mine]
    price, size = depth.ints("price")[mine], depth.ints("size")[mine]
    times, column = np.unique(ts, return_inverse=True)
    low, high = int(price.min()), int(price.max())
    ticks = np.unique(price)
    tick = int(np.diff(ticks).min()) if len(ticks) > 1 else 1
    levels = (high - low) // tick + 1
    per_row = -(-levels // MAX_PRICE_ROWS)  # ticks per bin
    row = (price - low) // (tick * per_row)
    rows = int(row.max()) + 1
    grid = np.zeros((rows, len(times)), dtype=np.float64)
    np.add.at(grid, (row, column), (size * side).astype(np.float64))
    grid[grid == 0] = np.nan
    centers = dollars(low + np.arange(rows, dtype=np.int64) * tick * per_row)
    fig = go.Figure(
        go.Heatmap(
            x=ny_times(times),
            y=centers,
            z=grid.astype(np.float32),
            colorscale="RdBu",
            zmid=0,
            colorbar={"title": {"text": "shares (bid +, ask -)"}},
            name="depth",
        )
    )
    fills = data.tables["fills"]
    if fills.rows:
        is_symbol = np.asarray([s == symbol for s in fills.strings("symbol")], dtype=np.bool_)
        fig.add_trace(
            go.Scatter(
                x=ny_times(fills.ints("ts_event")[is_symbol]),
                y=dollars(fills.ints("price")[is_symbol]),
                mode="markers",
                marker={"color": "black", "size": 4},
                name="our fills",
            )
        )
    fig.update_layout(**base_layout(f"Depth of {symbol} (downsampled)", height=480))
    fig.update_xaxes(title_text="New York time (exchange time)")
    fig.update_yaxes(title_text="price ($)")
    bins = "one tick a row" if per_row == 1 else f"{per_row} ticks a row (the day's range is {levels:,} ticks)"
    note = f"{len(times):,} snapshots of the best levels, {bins}. " + sampling_note(depth.meta, symbol, "depth")
    return Chart("depth", f"Depth of {symbol}", fig.to_plotly_json(), note)


def comparison_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    comparison: dict[str, Any] | None = data.run.get("comparison")
    if not comparison:
        return None
    vec, event = comparison["vectorized"], comparison["event_driven"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("total return (%)", "event-driven minus vectorized price"))
    fig.add_trace(
        go.Bar(
            x=["vectorized", "event-driven"],
            y=[vec["total_return"] * 100, event["total_return"] * 100],
            text=[f"{vec['trades']:,} trades", f"{event['trades']:,} trades"],
            name="total return",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    pairs = comparison.get("paired_trades") or []
    if pairs:
        fig.add_trace(
            go.Scatter(
                x=ny_times([p["event_driven"]["ts"] for p in pairs]),
                y=[p["price_difference"] / 10_000 for p in pairs],
                mode="markers",
                name="paired trades",
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    fig.update_yaxes(title_text="$ a share", row=1, col=2)
    fig.update_layout(**base_layout("Vectorized against event-driven"))
    note = (
        f"{comparison.get('symbol', '')}: return difference {comparison['return_difference']:.4%} "
        f"(vectorized minus event-driven). Causes: " + "; ".join(comparison.get("causes") or []) + "."
    )
    return Chart("comparison", "Vectorized against event-driven", fig.to_plotly_json(), note)
