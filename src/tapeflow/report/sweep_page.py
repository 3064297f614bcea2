"""The sweep page: one offline HTML file of a sweep's results (``tapeflow report RESULTS.parquet``, or
``tapeflow sweep ... --report``).

It has the tear sheet's shell (style, plotly embedded once, each chart a ``<section id="chart-NAME">`` with its
figure as JSON in ``<script id="fig-NAME">``, drawn by the same script), so it opens with no network and tests
read the figures from the page. What it shows, top to bottom (docs/REPORTS.md): the metric heatmap(s) over two
swept parameters, the walk-forward's fold table (``<table id="folds">``), its stitched out-of-sample equity and
its in- vs out-of-sample decay, and the failed tasks (``<table id="failed">``, one ``data-key`` per task).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import msgspec
import plotly.io as pio  # type: ignore[import-untyped]
import plotly.offline  # type: ignore[import-untyped]

from tapeflow.report.figures_common import Chart
from tapeflow.report.sweep_data import SweepTable, check_metric, grids, read_sweep
from tapeflow.report.sweep_figures import (
    MAX_HEATMAPS,
    axis_text,
    decay_chart,
    heatmap_chart,
    label,
    stitched_chart,
)
from tapeflow.report.tearsheet import DRAW_SCRIPT, PAGE_STYLE, PLOT_CONFIG, check_report_path, figure_json, write_page

_MORE_STYLE = """
table.list { border-collapse: collapse; margin-top: 0.5em; font-size: 0.92em; }
table.list th, table.list td { padding: 0.15em 0.7em; border-bottom: 1px solid #eee; text-align: left; }
table.list td.value { text-align: right; font-variant-numeric: tabular-nums; }
"""


class SweepPage(msgspec.Struct, frozen=True, kw_only=True):
    """What the page was made of (the command's --json says it): its path, metric and axes, and counts."""

    path: str
    metric: str
    x: str | None
    y: str | None
    heatmaps: int
    folds: int
    failed: int


def default_metric(table: SweepTable) -> str:
    """The walk-forward's metric when there is one (the page then agrees with its fold table), else PnL."""
    if table.folds and table.folds[0].get("metric") in table.metrics:
        return str(table.folds[0]["metric"])
    return "pnl_units" if "pnl_units" in table.metrics else next(iter(table.metrics), "pnl_units")


def build_sweep_page(
    table: SweepTable, metric: str, x: str | None = None, y: str | None = None
) -> tuple[str, SweepPage]:
    """(the page, what it holds); deterministic: the same tables give the same bytes."""
    integer = check_metric(table, metric)
    found = grids(table, metric, x, y)
    names = table.param_names
    x = x or next((n for n in names if n != y), None)
    y = y or next((n for n in names if n != x), None)
    charts: list[Chart] = [heatmap_chart(i, g, metric, x or "", y, integer) for i, g in enumerate(found)]
    charts = charts[:MAX_HEATMAPS]
    equity, _ = stitched_chart(table)
    decay = decay_chart(table, metric, integer)
    failed = [r for r in table.rows if r["status"] != "ok"]
    title = f"tapeflow sweep: {Path(table.path).name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{PAGE_STYLE}{_MORE_STYLE}</style>",
        f"<script>{plotly.offline.get_plotlyjs()}</script>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *(f'<p class="meta">{html.escape(line)}</p>' for line in _header(table, metric, x, y)),
    ]
    if failed:
        parts.append(f'<p class="warn">{len(failed)} of {len(table.rows)} tasks failed (listed at the end).</p>')
    if not found:
        parts.append('<p class="note">No heatmap: the sweep varies no parameter.</p>')
    elif len(found) > MAX_HEATMAPS:
        parts.append(f'<p class="note">{len(found) - MAX_HEATMAPS} more heatmaps not drawn; choose --x and --y.</p>')
    parts += [_section(c) for c in charts]
    if table.folds:
        parts.append(_folds(table, metric))
        parts += [_section(c) for c in (equity, decay) if c is not None]
    parts.append(_failed(failed))
    parts += [f"<script>{DRAW_SCRIPT % pio.json.to_json_plotly(PLOT_CONFIG)}</script>", "</body></html>", ""]
    held = SweepPage(path="", metric=metric, x=x, y=y, heatmaps=len(charts), folds=len(table.folds), failed=len(failed))
    return "\n".join(parts), held


def _section(chart: Chart) -> str:
    return "\n".join(
        [
            f'<section id="chart-{chart.name}"><h2>{html.escape(chart.title)}</h2>',
            f'<div class="chart" id="plot-{chart.name}"></div>',
            f'<p class="note">{html.escape(chart.note)}</p>',
            f'<script type="application/json" id="fig-{chart.name}">{figure_json(chart.figure)}</script>',
            "</section>",
        ]
    )


def _header(table: SweepTable, metric: str, x: str | None, y: str | None) -> list[str]:
    ok = sum(r["status"] == "ok" for r in table.rows)
    slices = list(dict.fromkeys(r["slice"] for r in table.rows))
    lines = [
        f"tasks: {len(table.rows)} ({ok} ok, {len(table.rows) - ok} failed) over {len(slices)} slices: "
        + ", ".join(slices[:8])
        + (f" and {len(slices) - 8} more" if len(slices) > 8 else ""),
        "parameters: " + (", ".join(table.param_names) or "none"),
        f"metric: {metric}; heatmap axes: {x or '-'} (x), {y or '-'} (y)",
        f"results: {table.path}" + (f"; walk-forward: {table.walk_forward_path}" if table.walk_forward_path else ""),
    ]
    return lines


def _folds(table: SweepTable, metric: str) -> str:
    head = "<tr><th>fold</th><th>train</th><th>test</th><th>chosen</th><th>in-sample</th><th>out-of-sample</th></tr>"
    rows = []
    for f in table.folds:
        chosen = (
            "-"
            if f["params"] is None
            else ", ".join(f"{k}={axis_text(v)}" for k, v in msgspec.json.decode(f["params"]).items()) or "(base)"
        )
        cells = [
            str(f["fold"]),
            _span(f["train_start"], f["train_end"]),
            _span(f["test_start"], f["test_end"]),
            chosen,
        ]
        values = [label(f["in_sample"], metric), label(f["out_of_sample"], metric)]
        rows.append(
            f'<tr data-fold="{f["fold"]}">'
            + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            + "".join(f'<td class="value">{html.escape(v)}</td>' for v in values)
            + "</tr>"
        )
    wf_metric = table.folds[0].get("metric", metric)
    return (
        '<section id="walk-forward"><h2>Walk-forward folds</h2>'
        f'<p class="note">Per fold: the parameter set with the best {html.escape(str(wf_metric))} on the train '
        "window (in-sample, summed over its slices for money, averaged for ratios) and the same set on the "
        "test window after it (out-of-sample); from the walk-forward table beside the results.</p>"
        f'<table class="list" id="folds">{head}\n' + "\n".join(rows) + "\n</table></section>"
    )


def _span(start: str, end: str) -> str:
    return start if start == end else f"{start}..{end}"


def _failed(failed: list[dict[str, Any]]) -> str:
    if not failed:
        return '<section id="failed-tasks"><h2>Failed tasks</h2><p class="note">No task failed.</p></section>'
    head = "<tr><th>task</th><th>attempts</th><th>error</th></tr>"
    rows = "\n".join(
        f'<tr data-key="{html.escape(r["key"])}"><td>{html.escape(r["key"])}</td>'
        f'<td class="value">{r["attempts"]}</td><td>{html.escape(r["error"] or "")}</td></tr>'
        for r in failed
    )
    return (
        '<section id="failed-tasks"><h2>Failed tasks</h2>'
        '<p class="note">Each after its retries; <code>tapeflow sweep ... --resume</code> runs them again.</p>'
        f'<table class="list" id="failed">{head}\n{rows}\n</table></section>'
    )


def write_sweep_page(
    results: str | Path, out: str | Path, *, metric: str | None = None, x: str | None = None, y: str | None = None
) -> SweepPage:
    """Read the sweep's tables and write its page to ``out`` atomically (temporary name, then rename)."""
    table = read_sweep(results)  # first: a missing table is the error to report
    target = Path(out)
    check_report_path(target)
    page, held = build_sweep_page(table, metric or default_metric(table), x, y)
    write_page(page, target)
    return msgspec.structs.replace(held, path=str(target))
