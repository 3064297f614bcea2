"""Where the fills happened and what they cost: fills on the price with the bid/ask band, and slippage split.

The band is ``top.parquet`` (thinned top of book, docs/REPORTS.md); the fills are ``fills.parquet`` at their
exchange time. One symbol is drawn: the one with the most fills (the note names the others). Fills beyond
``MAX_POINTS`` per side are thinned evenly and the note says so; the band's sampling interval is quoted from the
file. Slippage comes from ``fill_costs.py`` (which parts are the run's and which are derived is said there).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from tapeflow.model.display import duration
from tapeflow.model.sessions import SessionCalendar
from tapeflow.report.figures_common import Chart, base_layout, dollars, ny_times, session_shapes, thin
from tapeflow.report.fill_costs import PARTS, fill_costs
from tapeflow.report.run_data import RunData


def sampling_note(meta: dict[str, str], symbol: str, what: str) -> str:
    """How thinned a sampled file is for ``symbol``, from its ``tapeflow.sampling`` metadata."""
    sampling: dict[str, Any] = msgspec.json.decode(meta.get("tapeflow.sampling", "{}"))
    s = sampling.get(symbol)
    if not s:
        return ""
    return (
        f"Downsampled {what}: {s['samples']:,} samples of {s['book_changes']:,} book changes "
        f"(at most one per {duration(int(s['interval_ns']))} of exchange time)."
    )


def busiest_symbol(data: RunData) -> str | None:
    """The symbol with the most fills (the first in name order on a tie), None without fills."""
    counts = Counter(data.tables["fills"].strings("symbol"))
    return max(sorted(counts), key=lambda s: counts[s]) if counts else None


def price_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    fills, top = data.tables["fills"], data.table("top")
    symbol = busiest_symbol(data)
    if symbol is None:
        return None
    symbols = fills.strings("symbol")
    counts = Counter(symbols)
    fig = go.Figure()
    notes: list[str] = []
    if top is not None and top.rows:
        mine = np.asarray([s == symbol for s in top.strings("symbol")], dtype=np.bool_)
        bid, ask = top.ints("bid")[mine], top.ints("ask")[mine]
        two_sided = (bid > 0) & (ask > 0)
        x = ny_times(top.ints("ts")[mine][two_sided])
        fig.add_trace(go.Scatter(x=x, y=dollars(bid[two_sided]), mode="lines", name="bid", line={"width": 1}))
        fig.add_trace(
            go.Scatter(x=x, y=dollars(ask[two_sided]), mode="lines", name="ask", line={"width": 1}, fill="tonexty")
        )
        notes.append(sampling_note(top.meta, symbol, "bid/ask band"))
    else:
        notes.append("No top of book was sampled in this run (bar data): fills only.")
    is_symbol = np.asarray([s == symbol for s in symbols], dtype=np.bool_)
    sides = np.asarray(fills.strings("side"))
    ts, price, qty = fills.ints("ts_event"), fills.ints("price"), fills.ints("quantity")
    for side, marker in (
        ("BUY", {"symbol": "triangle-up", "color": "green"}),
        ("SELL", {"symbol": "triangle-down", "color": "red"}),
    ):
        chosen = np.flatnonzero(is_symbol & (sides == side))
        keep, stride = thin(len(chosen))
        rows = chosen[keep]
        if not len(rows):
            continue
        if stride > 1:
            notes.append(f"{side.lower()} fills thinned: every {stride}th of {len(chosen):,} drawn.")
        fig.add_trace(
            go.Scatter(
                x=ny_times(ts[rows]),
                y=dollars(price[rows]),
                mode="markers",
                name=f"{side.lower()} fills",
                marker=marker | {"size": 7},
                text=[f"{q:,} shares" for q in qty[rows]],
            )
        )
    shapes, session_note = session_shapes(int(ts.min()), int(ts.max()), sessions)
    fig.update_layout(**base_layout(f"Fills on {symbol} with the bid/ask band", height=460, shapes=shapes))
    fig.update_xaxes(title_text="New York time (exchange time)")
    fig.update_yaxes(title_text="price ($)")
    others = sorted(s for s in counts if s != symbol)
    lead = f"{counts[symbol]:,} fills on {symbol}." + (f" Not drawn: {', '.join(others)}." if others else "")
    return Chart("price", f"Fills on {symbol}", fig.to_plotly_json(), " ".join([lead, *notes, session_note]).strip())


def slippage_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    costs = fill_costs(data)
    if costs is None:
        return None
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.45, 0.55],
        subplot_titles=("average per share, by liquidity side", "total per fill"),
    )
    labels = [*PARTS, "total"]
    for maker, name in ((False, "taker"), (True, "maker")):
        rows = costs.maker == maker
        shares = int(costs.quantity[rows].sum())
        if not shares:
            continue
        parts = (costs.spread_x2, costs.latency_x2, costs.depth_walk_x2, costs.total_x2)
        averages = [float((p[rows] * costs.quantity[rows]).sum()) / shares / 20_000 for p in parts]
        fig.add_trace(go.Bar(x=labels, y=averages, name=f"{name} ({shares:,} shares)"), row=1, col=1)
    fig.add_trace(
        go.Histogram(x=costs.total_x2 / 20_000, name="total per fill", nbinsx=50, showlegend=False), row=1, col=2
    )
    fig.update_layout(**base_layout("Slippage against the arrival mid", barmode="group"))
    fig.update_yaxes(title_text="$ a share (positive: cost)", row=1, col=1)
    fig.update_xaxes(title_text="$ a share (positive: cost)", row=1, col=2)
    note = (
        "Total = side x (fill price - mid when the order left), as in the summary. Split (derived, docs/REPORTS.md): "
        "spread = the half spread to the touch the order trades against (its own side for a maker: earned), "
        "latency = that touch's move until the acceptance was seen, depth walk = the rest (past the touch)."
    )
    if costs.left_out:
        note += f" {costs.left_out:,} fills without a book mark are left out."
    return Chart("slippage", "Slippage against the arrival mid", fig.to_plotly_json(), note)
