"""Equity and drawdown, and the distribution of returns: the two charts every run has.

The equity curve is ``equity.parquet`` as the portfolio sampled it (mark to mid, net of fees). Drawdown is the
fall from the running peak of that same curve, so its deepest point is the summary's ``max_drawdown``. Returns are
the summary's own: ``metrics.period_returns`` over the same samples, period and calendar as the run used, so the
histogram is the distribution Sharpe and Sortino stand on. A run with too few periods for a distribution (one
afternoon is one daily return) shows the returns between consecutive equity samples instead, and says so.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from tapeflow.model.display import duration
from tapeflow.model.sessions import SessionCalendar
from tapeflow.report.figures_common import Chart, base_layout, dollars, ny_times, session_shapes
from tapeflow.report.metrics import period_returns
from tapeflow.report.run_data import RunData

MAX_CURVE_POINTS = 5_000
"""Equity samples drawn at most (a day of one-second samples is 23,400: 1.4 MB of page for no visible detail)."""
MIN_PERIODS = 10
"""Fewer period returns than this make no distribution: the chart falls back to per-sample returns."""


def equity_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    equity = data.tables["equity"]
    if equity.rows == 0:
        return None
    ts, values = equity.ints("ts"), equity.ints("equity")
    peak = np.maximum.accumulate(values)
    drawdown = np.where(peak > 0, values / np.where(peak > 0, peak, 1) - 1.0, 0.0) * 100
    keep = thinned_curve(drawdown)
    x, values, drawdown = ny_times(ts[keep]), values[keep], drawdown[keep]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=x, y=dollars(values), mode="lines", name="equity ($)"), row=1, col=1)
    fig.add_trace(
        go.Scatter(x=x, y=drawdown, mode="lines", fill="tozeroy", name="drawdown (%)", line={"color": "firebrick"}),
        row=2,
        col=1,
    )
    shapes, note = session_shapes(int(ts[0]), int(ts[-1]), sessions)
    fig.update_layout(**base_layout("Equity and drawdown", height=480, shapes=shapes, showlegend=False))
    fig.update_yaxes(title_text="equity ($)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown (%)", row=2, col=1)
    fig.update_xaxes(title_text="New York time", row=2, col=1)
    deepest = float(drawdown.min())
    drawn = "" if len(keep) == equity.rows else f" ({len(keep):,} drawn: evenly thinned, the deepest point kept)"
    note = (
        f"{equity.rows:,} equity samples{drawn}, marked to mid, net of fees. Deepest drawdown {deepest:.4f}%. " + note
    )
    return Chart("equity", "Equity and drawdown", fig.to_plotly_json(), note)


def thinned_curve(drawdown: np.ndarray) -> np.ndarray:
    """Indices of the samples drawn: every k-th, the last, and the deepest drawdown (so the chart shows it)."""
    n = len(drawdown)
    if n <= MAX_CURVE_POINTS:
        return np.arange(n)
    chosen = np.arange(0, n, -(-n // MAX_CURVE_POINTS))
    return np.unique(np.concatenate([chosen, [n - 1, int(np.argmin(drawdown))]]))


def returns_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    equity = data.tables["equity"]
    if equity.rows < 2:
        return None
    ts, values = equity.ints("ts"), equity.ints("equity")
    period = str(data.run.get("returns_period") or data.run["summary"].get("periodicity") or "daily")
    returns = period_returns(ts, values, period, sessions)
    if len(returns.values) >= MIN_PERIODS:
        shown = np.asarray(returns.values, dtype=np.float64) * 100
        what = f"{len(shown):,} {period} returns (the ones Sharpe and Sortino are computed from)"
    else:
        shown = (values[1:] / values[:-1] - 1.0) * 100
        step = int(np.median(np.diff(ts))) if len(ts) > 1 else 0
        what = (
            f"only {len(returns.values)} {period} return(s) in this run: shown are the {len(shown):,} returns "
            f"between equity samples (median spacing {duration(step)})"
        )
    fig = go.Figure(go.Histogram(x=shown, nbinsx=min(60, max(10, len(shown) // 5)), name="returns (%)"))
    fig.update_layout(**base_layout("Distribution of returns", showlegend=False))
    fig.update_xaxes(title_text="return (%)")
    fig.update_yaxes(title_text="count")
    return Chart("returns", "Distribution of returns", fig.to_plotly_json(), f"Histogram of {what}.")
