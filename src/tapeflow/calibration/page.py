"""The calibration pages: ``tapeflow calibrate [CONFIG] --html OUT`` and ``tapeflow calibrate --latency CONFIG
--html OUT``, one offline HTML file each, in the tear sheet's look.

Both reuse the tear sheet's shell (``report.tearsheet``: its style, plotly.js embedded once, a ``<section
id="chart-NAME">`` per chart with the figure as ``<script type="application/json" id="fig-NAME">``), so the same
tests and the same harness read them, and both open with no network. Every number comes from the dict ``--json``
prints for the same run (one source): the figures (``figures``, ``latency_figures``) and the plain tables here
only read it. Docs: docs/REALISM.md, docs/REPORTS.md.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from tapeflow.calibration.figures import calibration_charts
from tapeflow.calibration.latency_figures import latency_charts
from tapeflow.report.figures_common import Chart
from tapeflow.report.tearsheet import chart_section, page_head, page_tail, write_page


def _table(table_id: str, header: list[str], rows: list[tuple[dict[str, str], list[str]]]) -> str:
    """A plain table (numbers a person can copy); each row carries ``data-*`` keys that trace it to the JSON."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join(
        "<tr"
        + "".join(f' data-{k}="{html.escape(v)}"' for k, v in attrs.items())
        + ">"
        + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        + "</tr>"
        for attrs, cells in rows
    )
    return f'<table class="metrics" id="{table_id}">\n<tr>{head}</tr>\n{body}\n</table>'


def _page(title: str, meta: list[str], tables: list[tuple[str, str, str]], charts: list[Chart]) -> str:
    parts = [*page_head(title), *(f'<p class="meta">{html.escape(line)}</p>' for line in meta)]
    for name, heading, table in tables:
        parts += [f'<section id="table-{name}"><h2>{html.escape(heading)}</h2>', table, "</section>"]
    for chart in charts:
        parts += chart_section(chart)
    parts += page_tail()
    return "\n".join(parts)


def _count(levels: dict[str, int]) -> str:
    return ", ".join(f"L{lv}: {n}" for lv, n in levels.items()) or "-"


def build_calibration_page(data: dict[str, Any]) -> str:
    """The queue models' page from the ``--json`` dict of ``tapeflow calibrate`` (deterministic)."""
    days = ", ".join(f"{d['symbol']} {d['day']} (L{d['depth']})" for d in data["days"])
    meta = [
        f"days: {days}",
        f"seed {data['seed']}; horizon {data['horizon_s']} s; probes join {data['window'][0]}-{data['window'][1]} "
        f"New York; models: {', '.join(data['models'])}",
    ]
    day_rows = [
        (
            {"symbol": d["symbol"], "day": d["day"]},
            [
                d["symbol"],
                d["day"],
                f"L{d['depth']}",
                d["file"],
                str(d["probes"]),
                str(d["placed"]),
                str(d["scored"]),
                _count(data["unplaced"].get(d["symbol"], {})),
                _count(data["unseen"].get(d["symbol"], {})),
            ],
        )
        for d in data["days"]
    ]
    best_rows = [({"symbol": s, "model": m}, [s, m]) for s, m in data["best"].items()]
    tables = [
        (
            "days",
            "Days and probes",
            _table(
                "days",
                ["symbol", "day", "depth", "file", "probes", "placed", "scored", "level absent", "out of view"],
                day_rows,
            ),
        ),
        ("best", "Best L2 model per symbol (all levels)", _table("best", ["symbol", "best model"], best_rows)),
    ]
    return _page("tapeflow calibrate: queue models against the L3 truth", meta, tables, calibration_charts(data))


def build_latency_page(data: dict[str, Any]) -> str:
    """The latency study's page from the ``--json`` dict of ``tapeflow calibrate --latency`` (deterministic)."""
    meta = [
        f"base: {Path(data['base']).name}; presets (nearest first): {', '.join(data['locations'])}",
        f"windows: the first {', '.join(f'{w:,}' for w in data['windows'])} events of the day (one run each); "
        f"markout horizons: {', '.join(f'{h} s' for h in data['horizons_s'])}",
    ]
    check_rows = [
        (
            {"role": c["role"], "measure": c["measure"]},
            [
                c["role"],
                c["strategy"],
                c["measure"],
                _per_preset(c),
                f"{c['tolerance']}" + (f" | {c['se_multiple']:g} SE" if c.get("se_multiple") else ""),
                "holds" if c["holds"] else "FAILS",
            ],
        )
        for c in data["checks"]
    ]
    tables = [
        (
            "checks",
            "Fill quality does not improve as latency grows",
            _table("checks", ["role", "strategy", "measure", "per preset", "tolerance", "verdict"], check_rows),
        )
    ]
    return _page("tapeflow calibrate --latency: fill quality by latency preset", meta, tables, latency_charts(data))


def _per_preset(check: dict[str, Any]) -> str:
    """Each preset's value, with its standard error where the JSON has one (studies before the errors had none)."""
    ses = check.get("ses") or [None] * len(check["values"])
    return ", ".join(
        "-" if v is None else f"{v:.3f}" if e is None else f"{v:.3f} ± {e:.3f}"
        for v, e in zip(check["values"], ses, strict=True)
    )


def write_calibration_page(data: dict[str, Any], out: Path) -> Path:
    return write_page(build_calibration_page(data), out)


def write_latency_page(data: dict[str, Any], out: Path) -> Path:
    return write_page(build_latency_page(data), out)
