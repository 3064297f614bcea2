"""The tear sheet: one self-contained HTML page of a run's charts, readable offline.

The page embeds plotly.js once (``plotly.offline.get_plotlyjs``), so it opens with no network: no script, style or
font is fetched from anywhere (tests check that no ``http(s)://`` script, link or import is left). Each chart is a
``<section id="chart-NAME">`` holding a ``<script type="application/json" id="fig-NAME">`` with the plotly figure
and the ``<div id="plot-NAME">`` it is drawn into: tests and the browser harness read the figures straight from
the page. The metrics table is plain HTML (``<table id="metrics">``, one ``data-key`` per summary field), so its
numbers are text a person can copy.

Which charts, in which order, and where each number comes from: docs/REPORTS.md.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import plotly.io as pio  # type: ignore[import-untyped]
import plotly.offline  # type: ignore[import-untyped]

from tapeflow.model.display import ny_time
from tapeflow.model.errors import ConfigError
from tapeflow.model.sessions import SessionCalendar
from tapeflow.report.figures_common import Chart, calendar
from tapeflow.report.figures_depth import comparison_chart, depth_chart
from tapeflow.report.figures_equity import equity_chart, returns_chart
from tapeflow.report.figures_execution import price_chart, slippage_chart
from tapeflow.report.figures_metrics import metric_rows
from tapeflow.report.figures_orders import latency_chart, queue_chart
from tapeflow.report.figures_risk import alerts_chart, rejections_chart
from tapeflow.report.run_data import RunData, load_run
from tapeflow.report.summary import Summary, warning_lines

ChartFn = Callable[[RunData, SessionCalendar | None], Chart | None]
CHARTS: list[ChartFn] = [
    equity_chart,
    returns_chart,
    price_chart,
    depth_chart,
    slippage_chart,
    queue_chart,
    latency_chart,
    rejections_chart,
    alerts_chart,
    comparison_chart,
]
"""The charts in page order; each returns None when the run has nothing for it to show."""
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
"""No plotly logo link in the mode bar: nothing on the page points off it."""

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin: 1.2em 0 0.2em; }
.meta { color: #555; margin: 0.1em 0; } .warn { color: #a00; font-weight: bold; }
table.metrics { border-collapse: collapse; margin-top: 0.5em; }
table.metrics td { padding: 0.15em 0.8em; border-bottom: 1px solid #eee; }
table.metrics td.value { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; font-size: 0.9em; margin: 0.2em 0 0.6em; }
.chart { width: 100%; min-height: 380px; }
"""
"""The tear sheet's look, public because the sweep page (``report/sweep_page.py``) builds its own head with it."""
DRAW_SCRIPT = """
document.querySelectorAll('script[type="application/json"][id^="fig-"]').forEach(function (node) {
  var fig = JSON.parse(node.textContent);
  var div = document.getElementById('plot-' + node.id.slice(4));
  Plotly.newPlot(div, fig.data, fig.layout, %s);
});
"""
"""Draws every embedded figure into its div (``%s``: the plot config); shared with the sweep page like the style."""


def charts(data: RunData) -> list[Chart]:
    sessions = calendar(data.run.get("calendar"))
    found = [fn(data, sessions) for fn in CHARTS]
    return [c for c in found if c is not None]


def build_tearsheet(data: RunData) -> str:
    """The page as one string (deterministic: the same folder gives the same bytes)."""
    summary = data.run["summary"]
    parts = [
        *page_head(_title(data.run)),
        *(f'<p class="meta">{html.escape(line)}</p>' for line in _header_lines(data.run)),
        *(f'<p class="warn">{html.escape(line)}</p>' for line in _warnings(summary)),
        '<section id="chart-metrics"><h2>Metrics</h2>',
        '<p class="note">From the run summary (run.json), as <code>tapeflow backtest</code> prints it.</p>',
        _metrics_table(summary),
        "</section>",
    ]
    for chart in charts(data):
        parts += chart_section(chart)
    parts += page_tail()
    return "\n".join(parts)


def page_head(title: str) -> list[str]:
    """The page's head (style, plotly.js embedded once) and its ``<h1>``: shared with the calibration page
    (``calibration/page.py``), so both look alike and both open offline."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{PAGE_STYLE}</style>",
        f"<script>{plotly.offline.get_plotlyjs()}</script>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]


def chart_section(chart: Chart) -> list[str]:
    """One chart's ``<section>``: the div it is drawn into, its note, and its figure as JSON the page draws."""
    return [
        f'<section id="chart-{chart.name}"><h2>{html.escape(chart.title)}</h2>',
        f'<div class="chart" id="plot-{chart.name}"></div>',
        f'<p class="note">{html.escape(chart.note)}</p>',
        f'<script type="application/json" id="fig-{chart.name}">{figure_json(chart.figure)}</script>',
        "</section>",
    ]


def page_tail() -> list[str]:
    """The script that draws every embedded figure, and the end of the page."""
    return [f"<script>{DRAW_SCRIPT % pio.json.to_json_plotly(PLOT_CONFIG)}</script>", "</body></html>", ""]


def figure_json(figure: dict[str, Any]) -> str:
    """The figure as JSON that cannot close its script tag early (``</`` written ``<\\/``)."""
    return str(pio.json.to_json_plotly(figure)).replace("</", "<\\/")


def _title(run: dict[str, Any]) -> str:
    return f"tapeflow run: {run.get('strategy', '?')}"


def _header_lines(run: dict[str, Any]) -> list[str]:
    summary = run["summary"]
    symbols = run.get("symbols") or []
    lines = [f"symbols: {', '.join(symbols[:12])}" + (f" and {len(symbols) - 12} more" if len(symbols) > 12 else "")]
    if summary.get("start_ns") is not None and summary.get("end_ns") is not None:
        lines.append(
            f"period: {ny_time(summary['start_ns'], precision='s')} to {ny_time(summary['end_ns'], precision='s')}"
        )
    paths = [Path(p).name for p in run.get("paths") or []]
    lines.append(
        f"data: {run.get('data', '?')} ({run.get('level', '?')})"
        + (f": {', '.join(paths[:3])}" if paths else "")
        + f"; risk checks: {run.get('risk', '?')}; calendar: {run.get('calendar', 'n/a')}"
    )
    return lines


def _warnings(summary: dict[str, Any]) -> list[str]:
    try:
        return [line for line, _ in warning_lines(msgspec.convert(summary, Summary))]
    except msgspec.ValidationError:  # an older or hand-edited summary: the page still shows, without these lines
        return []


def _metrics_table(summary: dict[str, Any]) -> str:
    rows = "\n".join(
        f'<tr data-key="{html.escape(key)}"><td class="label">{html.escape(label)}</td>'
        f'<td class="value">{html.escape(value)}</td></tr>'
        for key, label, value in metric_rows(summary)
    )
    return f'<table class="metrics" id="metrics">\n{rows}\n</table>'


def check_report_path(path: Path, option: str = "-o") -> None:
    """The page is one file: refuse a folder, a symbolic link and a missing parent folder before any work
    (``option``: the command-line option that named it, for the error)."""
    if path.is_symlink():
        raise ConfigError(f"{path} is a symbolic link; give a plain file path for the report", field=option)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give the report's file, e.g. {path / 'report.html'}", field=option)
    if not path.parent.is_dir():
        raise ConfigError(f"the folder {path.parent} does not exist; create it or give another path", field=option)


def write_tearsheet(folder: str | Path, out: str | Path) -> Path:
    """Read the results ``folder`` and write its page to ``out`` atomically (temporary name, then rename)."""
    target = Path(out)
    data = load_run(folder)  # first: a missing results folder is the error to report, not the page's folder in it
    check_report_path(target)
    return write_page(build_tearsheet(data), target)


def write_page(page: str, target: Path) -> Path:
    """Write ``page`` to ``target`` atomically (a temporary name beside it, flushed, then renamed)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(page.encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
