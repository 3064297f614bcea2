"""The sweep page's charts: the metric heatmap, the walk-forward's stitched equity and its in- vs out-of-sample decay.

Same look as the tear sheet (``figures_common.base_layout``, New York time axes, dollars for ``*_units``
metrics, converted only here for display). Every number plotted comes from ``sweep_data``; the heatmap's cells
carry their task and failure counts in ``customdata`` so a hover says how many symbol-days a value stands for.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import msgspec

from tapeflow.model.display import money
from tapeflow.model.prices import PRICE_SCALE
from tapeflow.report.figures_common import Chart, base_layout, ny_times
from tapeflow.report.sweep_data import Grid, Number, Segment, SweepTable, fold_rows, per_period, periods, stitch

MAX_HEATMAPS = 12
"""Heatmaps drawn at most (one per combination of the parameters off the axes); the page says how many were left."""


DIVERGING = [[0.0, "#b2182b"], [0.5, "#f7f7f7"], [1.0, "#1a7837"]]
"""Loss red, zero white, gain green (the scale is centred on 0: ``zmid``)."""


def is_money(metric: str) -> bool:
    return metric.endswith("_units")


def shown(value: Number | None, metric: str) -> Number | None:
    """A metric as plotted: dollars for 1/10,000-dollar integers, anything else as it is."""
    if value is None or not is_money(metric):
        return value
    return value / PRICE_SCALE


def label(value: Number | None, metric: str) -> str:
    if value is None:
        return "n/a"
    if is_money(metric) and isinstance(value, int):
        return money(value)
    return f"{value:,.4f}" if isinstance(value, float) else f"{value:,}"


def axis_text(value: Any) -> str:
    """A parameter value as an axis category: as written in the sweep file (0.3, "FRONT" shown as FRONT)."""
    return value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else repr(value)


def heatmap_chart(index: int, grid: Grid, metric: str, x: str, y: str | None, integer: bool) -> Chart:
    how = "sum" if integer else "mean"
    unit = " ($)" if is_money(metric) else ""
    text = [[label(v, metric) for v in row] for row in grid.z]
    trace = {
        "type": "heatmap",
        "x": [axis_text(v) for v in grid.x],
        "y": [axis_text(v) for v in grid.y],
        "z": [[shown(v, metric) for v in row] for row in grid.z],
        "text": text,
        "customdata": [
            [[t, f] for t, f in zip(ts, fs, strict=True)] for ts, fs in zip(grid.tasks, grid.failed, strict=True)
        ],
        "texttemplate": "%{text}",
        "hovertemplate": f"{x}=%{{x}}<br>{y or ''}=%{{y}}<br>{metric}: %{{text}}"
        "<br>%{customdata[0]} task(s), %{customdata[1]} failed<extra></extra>",
        "colorscale": DIVERGING,
        "colorbar": {"title": {"text": metric + unit}},
        "xgap": 1,
        "ygap": 1,
    }
    if any(v is not None for row in grid.z for v in row):
        trace["zmid"] = 0  # gain and loss on either side of the scale's middle colour
    fixed = ", ".join(f"{k}={axis_text(v)}" for k, v in grid.fixed.items())
    title = f"{metric} ({how} over slices)" + (f" at {fixed}" if fixed else "")
    figure = {
        "data": [trace],
        "layout": base_layout(
            title,
            xaxis={"title": {"text": x}, "type": "category"},
            yaxis={"title": {"text": y or ""}, "type": "category"},
            height=max(320, 90 + 45 * len(grid.y)),
        ),
    }
    note = (
        f"Each cell: the {how} of {metric} over the cell's slices (symbol-days, or intraday blocks), one task "
        "each, as in the results table; "
        "blank: a task of the cell failed or has no value (see Failed tasks)."
    )
    return Chart(f"heatmap-{index}", f"Heatmap {index + 1}: {title}", figure, note)


def stitched_chart(table: SweepTable) -> tuple[Chart | None, list[Segment]]:
    """Out-of-sample equity of each fold's chosen set, fold after fold (None without a fold table)."""
    if not table.folds:
        return None, []
    segments = stitch(table, [(f["fold"], fold_rows(table, f, test=True)) for f in table.folds])
    if not segments:
        return None, []
    starts = [s.ts[0] for s in segments]
    by_time = all(a < b for a, b in itertools.pairwise(starts))
    if by_time:  # a block's curve may run on (flat, no data) to the session's end: cut where the next one starts
        segments = [_clipped(s, nxt) for s, nxt in zip(segments, [*starts[1:], None], strict=True)]
    traces: list[dict[str, Any]] = []
    position = 0
    for fold in sorted({s.fold for s in segments}):
        xs: list[Any] = []
        ys: list[float] = []
        hover: list[str] = []
        for s in (s for s in segments if s.fold == fold):
            xs += [str(t) for t in ny_times(s.ts)] if by_time else list(range(position, position + len(s.ts)))
            position += len(s.ts)
            ys += [e / PRICE_SCALE for e in s.equity]
            hover += [s.slice] * len(s.ts)
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"fold {fold}",
                "x": xs,
                "y": ys,
                "text": hover,
                "hovertemplate": f"fold {fold} %{{text}}<br>%{{y:$,.2f}}<extra></extra>",
            }
        )
    xaxis = {"title": {"text": "New York time" if by_time else "sample (folds end to end)"}}
    figure = {
        "data": traces,
        "layout": base_layout(
            "Out-of-sample equity, stitched",
            xaxis=xaxis,
            yaxis={"title": {"text": "equity ($)"}, "tickformat": "$,.0f"},
        ),
    }
    note = (
        "Each fold's chosen parameter set on its test window, folds end to end: every task's equity change "
        "(its 64-sample curve minus its first sample) added to where the previous one ended. "
        + (
            "A curve that runs past the next one's start is cut there, ending at its final equity."
            if by_time
            else "The periods overlap in time (synthetic seeds), so the x axis counts samples."
        )
    )
    return Chart("walk-forward-equity", "Walk-forward: out-of-sample equity", figure, note), segments


def _clipped(segment: Segment, next_start: int | None) -> Segment:
    """``segment`` without its samples at or after ``next_start``; its last kept sample shows its final equity
    (after the data ends nothing moves the marks, so that is where the segment stood)."""
    if next_start is None or segment.ts[-1] < next_start:
        return segment
    keep = max(1, sum(t < next_start for t in segment.ts))
    equity = [*segment.equity[: keep - 1], segment.equity[-1]]
    return msgspec.structs.replace(segment, ts=segment.ts[:keep], equity=equity)


def decay_chart(table: SweepTable, metric: str, integer: bool) -> Chart | None:
    """Per fold: the chosen set's in-sample metric beside its out-of-sample one, per period."""
    if not table.folds:
        return None
    order = periods(table)
    names = [f"fold {f['fold']}" for f in table.folds]
    inside: list[float | None] = []
    outside: list[float | None] = []
    for f in table.folds:
        n_train = _span(order, f["train_start"], f["train_end"])
        n_test = _span(order, f["test_start"], f["test_end"])
        inside.append(_shown_float(per_period(f["in_sample"], n_train, integer=integer), metric))
        outside.append(_shown_float(per_period(f["out_of_sample"], n_test, integer=integer), metric))
    unit = " ($)" if is_money(metric) else ""
    traces = [
        {"type": "bar", "name": "in-sample (best on train)", "x": names, "y": inside},
        {"type": "bar", "name": "out-of-sample (same set on test)", "x": names, "y": outside},
    ]
    title = f"{metric} per period: best in-sample vs out-of-sample"
    figure = {"data": traces, "layout": base_layout(title, barmode="group", yaxis={"title": {"text": metric + unit}})}
    note = (
        "For each fold, the parameter set that scored best on its train window: its score there (in-sample) and "
        "on the test window after it (out-of-sample). "
        + ("Sums are divided by the window's periods so windows of different lengths compare. " if integer else "")
        + "The gap between the bars is how much of the in-sample result was fitted to the train window."
    )
    return Chart("walk-forward-decay", "Walk-forward: in-sample vs out-of-sample", figure, note)


def _span(order: Sequence[str], start: str, end: str) -> int:
    if start not in order or end not in order:
        return 0
    return order.index(end) - order.index(start) + 1


def _shown_float(value: float | None, metric: str) -> float | None:
    if value is None:
        return None
    return value / PRICE_SCALE if is_money(metric) else value
