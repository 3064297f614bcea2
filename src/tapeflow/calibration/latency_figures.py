"""The charts of the latency page (``tapeflow calibrate --latency CONFIG --html OUT``): fill quality per preset.

Built from the dict ``--json`` prints (``msgspec.to_builtins`` of ``backtest.latency_study.StudyReport``), read as
it is, so the page and the JSON cannot disagree: each point is a row's ``mean`` and its error bar reaches the
row's ``range`` (the lowest and highest value across the study's windows). The x axis is the presets in the
study's order, nearest first, each labelled with its one-way order-entry latency.
"""

from __future__ import annotations

from typing import Any

from tapeflow.calibration.figures import PALETTE, chart_id
from tapeflow.report.figures_common import Chart, base_layout

MEASURES = (
    ("pnl_dollars", "pnl", "PnL", "PnL $", ""),
    ("fill_rate", "fill-rate", "Fill rate", "orders with a fill", ".0%"),
    ("slippage_bps", "slippage", "Slippage against the arrival mid", "bps of the mid (a cost)", ""),
)
"""(key in a row's ``mean``, chart name, title, y axis, tick format): one chart each, a trace per strategy."""


def strategies(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, strategy) in the study's order."""
    seen: list[tuple[str, str]] = []
    for row in data["rows"]:
        key = (row["role"], row["strategy"])
        if key not in seen:
            seen.append(key)
    return seen


def _rows(data: dict[str, Any], role: str, strategy: str) -> list[dict[str, Any]]:
    return [r for r in data["rows"] if (r["role"], r["strategy"]) == (role, strategy)]


def preset_label(row: dict[str, Any]) -> str:
    return f"{row['location']} ({row['order_entry_us']:,.1f} us)"


def error_bars(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Asymmetric bars from each mean to the range's ends (0 where nothing was measured)."""
    plus: list[float] = []
    minus: list[float] = []
    for r in rows:
        mean, span = r["mean"].get(key), r["range"].get(key)
        if mean is None or span is None:
            plus.append(0.0)
            minus.append(0.0)
        else:
            plus.append(span[1] - mean)
            minus.append(mean - span[0])
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "visible": True}


def _trace(rows: list[dict[str, Any]], key: str, name: str, colour: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "meta": key,
        "x": [preset_label(r) for r in rows],
        "y": [r["mean"].get(key) for r in rows],
        "error_y": error_bars(rows, key),
        "marker": {"color": colour, "size": 8},
        "line": {"color": colour},
    }


def measure_chart(data: dict[str, Any], key: str, name: str, title: str, axis: str, tickformat: str) -> Chart:
    traces = [
        _trace(_rows(data, role, strategy), key, f"{role} ({strategy})", PALETTE[i % len(PALETTE)])
        for i, (role, strategy) in enumerate(strategies(data))
    ]
    yaxis: dict[str, Any] = {"title": {"text": axis}}
    if tickformat:
        yaxis["tickformat"] = tickformat
    layout = base_layout(
        f"{title} by latency preset",
        xaxis={"title": {"text": "preset (one-way order entry)"}, "type": "category"},
        yaxis=yaxis,
    )
    return Chart(
        f"latency-{name}",
        f"{title} by latency preset",
        {"data": traces, "layout": layout},
        f"Mean across the windows {data['windows']} (events from the day's start); bars: lowest to highest window.",
    )


def markout_chart(data: dict[str, Any], role: str, strategy: str) -> Chart:
    rows = _rows(data, role, strategy)
    traces = [
        _trace(rows, f"markout_{h}s_bps", f"{h} s", PALETTE[i % len(PALETTE)]) for i, h in enumerate(data["horizons_s"])
    ]
    layout = base_layout(
        f"{role} ({strategy}): markouts by latency preset",
        xaxis={"title": {"text": "preset (one-way order entry)"}, "type": "category"},
        yaxis={"title": {"text": "bps of the mid, in the fill's favour"}},
    )
    return Chart(
        f"latency-markouts-{chart_id(role)}-{chart_id(strategy)}",
        f"{role} ({strategy}): markouts 1 s, 10 s, 60 s after each fill"
        if list(data["horizons_s"]) == [1, 10, 60]
        else f"{role} ({strategy}): markouts after each fill",
        {"data": traces, "layout": layout},
        "The mid's move after each fill, signed in the fill's favour and weighted by shares (negative: picked "
        "off). Mean across windows; bars: lowest to highest window.",
    )


def latency_charts(data: dict[str, Any]) -> list[Chart]:
    out = [measure_chart(data, *m) for m in MEASURES]
    out += [markout_chart(data, role, strategy) for role, strategy in strategies(data)]
    return out
