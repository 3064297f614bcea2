"""The charts of the calibration page (``tapeflow calibrate --html``): the queue models against the L3 truth.

Every figure is built from the dict ``--json`` prints (``msgspec.to_builtins`` of ``run.CalibrationReport``), read
as it is: no figure recomputes a score, so the page and the JSON cannot disagree (the browser tests compare the
values plotly drew with the JSON's). Per symbol: fill probability per model and level with the truth beside each
model, the absolute error of the time to fill (mean and median) per model and level, the fill/no-fill confusion
per model over all levels, and each model's agreement with the truth per level (the best model of the symbol, as
``score.best_models`` chose it, named in the title).

Values stay plain lists (never numpy arrays, which plotly would write as base64): the JSON embedded in the page
is then the same numbers, readable.
"""

from __future__ import annotations

import re
from typing import Any

from tapeflow.calibration.follow import L3
from tapeflow.calibration.score import ALL_LEVELS
from tapeflow.report.figures_common import Chart, base_layout

TRUTH_COLOUR = "#222222"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
CONFUSION = (
    ("both", "both filled", "#2ca02c"),
    ("model_only", "model only (optimistic)", "#ff7f0e"),
    ("truth_only", "truth only (pessimistic)", "#d62728"),
    ("neither", "neither filled", "#c7c7c7"),
)
"""The confusion's cells as the JSON names them, their legend and colour, stacked in this order."""


def level_label(level: int) -> str:
    return "all" if level == ALL_LEVELS else f"L{level}"


def chart_id(text: str) -> str:
    """A symbol as part of an HTML id (letters, digits, ``-`` and ``_`` only)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _rows(data: dict[str, Any], symbol: str) -> list[dict[str, Any]]:
    return [r for r in data["scores"] if r["symbol"] == symbol]


def _levels(rows: list[dict[str, Any]]) -> list[int]:
    """The symbol's levels in reading order: 1, 2, ... then all levels pooled."""
    found = sorted({r["level"] for r in rows if r["level"] != ALL_LEVELS})
    return [*found, ALL_LEVELS] if any(r["level"] == ALL_LEVELS for r in rows) else found


def _models(data: dict[str, Any]) -> list[str]:
    """The L2 models in the configuration's order (the L3 check row apart)."""
    return [m for m in data["models"] if m != L3]


def _colour(data: dict[str, Any], model: str) -> str:
    return PALETTE[_models(data).index(model) % len(PALETTE)] if model in _models(data) else TRUTH_COLOUR


def _cell(rows: list[dict[str, Any]], model: str, level: int) -> dict[str, Any] | None:
    for r in rows:
        if r["model"] == model and r["level"] == level:
            return r
    return None


def _column(rows: list[dict[str, Any]], model: str, levels: list[int], key: str) -> list[Any]:
    return [None if (c := _cell(rows, model, lv)) is None else c[key] for lv in levels]


def symbols(data: dict[str, Any]) -> list[str]:
    return sorted({r["symbol"] for r in data["scores"]})


def fill_prob_chart(data: dict[str, Any], symbol: str) -> Chart:
    rows = _rows(data, symbol)
    levels = _levels(rows)
    x = [level_label(lv) for lv in levels]
    truth = [_truth_prob(rows, lv) for lv in levels]
    traces: list[dict[str, Any]] = [
        {"type": "bar", "name": "truth (L3 FIFO)", "x": x, "y": truth, "marker": {"color": TRUTH_COLOUR}}
    ]
    for model in _models(data):
        y = _column(rows, model, levels, "fill_prob")
        traces.append({"type": "bar", "name": model, "x": x, "y": y, "marker": {"color": _colour(data, model)}})
    layout = base_layout(
        f"{symbol}: fill probability by level",
        barmode="group",
        xaxis={"title": {"text": "level (L1: the best price)"}, "type": "category"},
        yaxis={"title": {"text": "P(filled within the horizon)"}, "range": [0, 1.05], "tickformat": ".0%"},
    )
    return Chart(
        f"fill-prob-{chart_id(symbol)}",
        f"{symbol}: fill probability, each model beside the truth",
        {"data": traces, "layout": layout},
        f"Share of scored probes completely filled within {data['horizon_s']} s: the truth (exact L3 FIFO queue, "
        "black) first, then each L2 model fed only the L2 view. 'all' pools every level.",
    )


def _truth_prob(rows: list[dict[str, Any]], level: int) -> float | None:
    """The truth's fill probability of a level: the same on every row of it (one set of probes), read from the
    first."""
    for r in rows:
        if r["level"] == level:
            return float(r["truth_fill_prob"])
    return None


def ttf_error_chart(data: dict[str, Any], symbol: str) -> Chart:
    """Mean absolute error above, median below, over the probes both the model and the truth filled."""
    rows = _rows(data, symbol)
    levels = _levels(rows)
    x = [level_label(lv) for lv in levels]
    traces: list[dict[str, Any]] = []
    for model in _models(data):
        colour = _colour(data, model)
        for key, axis, shown in (("mae_ttf_s", "", True), ("median_ae_ttf_s", "2", False)):
            traces.append(
                {
                    "type": "bar",
                    "name": model,
                    "legendgroup": model,
                    "showlegend": shown,
                    "meta": key,
                    "x": x,
                    "y": _column(rows, model, levels, key),
                    "xaxis": f"x{axis}",
                    "yaxis": f"y{axis}",
                    "marker": {"color": colour},
                }
            )
    layout = base_layout(
        f"{symbol}: time-to-fill error against the truth",
        barmode="group",
        height=520,
        xaxis={"type": "category", "anchor": "y", "matches": "x2", "showticklabels": False},
        yaxis={"title": {"text": "mean |error| s"}, "domain": [0.55, 1.0]},
        xaxis2={"type": "category", "anchor": "y2", "title": {"text": "level (L1: the best price)"}},
        yaxis2={"title": {"text": "median |error| s"}, "domain": [0.0, 0.45]},
    )
    return Chart(
        f"ttf-error-{chart_id(symbol)}",
        f"{symbol}: time-to-fill error (mean and median absolute)",
        {"data": traces, "layout": layout},
        "Seconds between the model's complete fill and the truth's, over the probes both filled (mean above, "
        "median below). A missing bar: no probe filled under both.",
    )


def confusion_chart(data: dict[str, Any], symbol: str) -> Chart:
    rows = [r for r in _rows(data, symbol) if r["level"] == ALL_LEVELS]
    models = [L3, *_models(data)]
    pooled = {r["model"]: r for r in rows}
    x = [m for m in models if m in pooled]
    traces = [
        {
            "type": "bar",
            "name": label,
            "meta": key,
            "x": x,
            "y": [pooled[m][key] for m in x],
            "marker": {"color": colour},
        }
        for key, label, colour in CONFUSION
    ]
    layout = base_layout(
        f"{symbol}: filled or not, model against truth (all levels)",
        barmode="stack",
        xaxis={"title": {"text": "model (L3: the exact queue placed again, the harness's check)"}},
        yaxis={"title": {"text": "probes"}},
    )
    return Chart(
        f"confusion-{chart_id(symbol)}",
        f"{symbol}: fill/no-fill confusion per model",
        {"data": traces, "layout": layout},
        "Probes by outcome over all levels: both filled, filled only under the model (it is optimistic), only in "
        "truth (pessimistic), neither. L3 must show no optimistic or pessimistic probe.",
    )


def agreement_chart(data: dict[str, Any], symbol: str) -> Chart:
    """Agreement (filled or not, as the truth) per model and level: where each model is good; the best named."""
    rows = _rows(data, symbol)
    levels = _levels(rows)
    models = _models(data)
    z = [_column(rows, m, levels, "agreement") for m in models]
    text = [["-" if v is None else f"{v:.2f}" for v in line] for line in z]
    best = data["best"].get(symbol)
    trace = {
        "type": "heatmap",
        "name": "agreement",
        "x": [level_label(lv) for lv in levels],
        "y": models,
        "z": z,
        "text": text,
        "texttemplate": "%{text}",
        "zmin": 0,
        "zmax": 1,
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": "agreement"}},
    }
    layout = base_layout(
        f"{symbol}: agreement with the truth" + (f" (best over all levels: {best})" if best else ""),
        xaxis={"title": {"text": "level"}, "type": "category"},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True},
    )
    return Chart(
        f"agreement-{chart_id(symbol)}",
        f"{symbol}: which model is best where",
        {"data": [trace], "layout": layout},
        "Share of probes where the model and the truth agree on filled or not, per level. The best model of the "
        "symbol agrees most often over all levels, ties broken by the smaller mean time-to-fill error.",
    )


def calibration_charts(data: dict[str, Any]) -> list[Chart]:
    """Every chart of the page, symbol by symbol."""
    out: list[Chart] = []
    for symbol in symbols(data):
        out += [
            fill_prob_chart(data, symbol),
            ttf_error_chart(data, symbol),
            confusion_chart(data, symbol),
            agreement_chart(data, symbol),
        ]
    return out
