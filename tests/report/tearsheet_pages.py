"""Reading a tear sheet the way a test must: the figures' JSON and the metrics table out of the HTML."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from tapeflow.backtest.config import load_backtest_config
from tapeflow.backtest.run import run_backtest_config

_FIGURE = re.compile(r'<script type="application/json" id="fig-([a-z_]+)">(.*?)</script>', re.S)
_ROW = re.compile(r'<tr data-key="([^"]+)"><td class="label">(.*?)</td><td class="value">(.*?)</td></tr>')


def figures(page: str) -> dict[str, dict[str, Any]]:
    """Each chart's plotly figure by name (``fig-NAME`` scripts)."""
    return {name: json.loads(body.replace("<\\/", "</")) for name, body in _FIGURE.findall(page)}


def metrics(page: str) -> dict[str, str]:
    """The metrics table: summary key -> the text shown."""
    return {key: html.unescape(value) for key, _, value in _ROW.findall(page)}


def values(data: Any) -> list[Any]:
    """A trace's array as a list, whether plotly wrote it as a list or as base64 (``{"dtype", "bdata"}``)."""
    if data is None:
        return []
    if isinstance(data, dict) and "bdata" in data:
        array = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        if "shape" in data:
            array = array.reshape([int(n) for n in str(data["shape"]).split(",")])
        return list(array.ravel())
    return list(np.asarray(data, dtype=object).ravel())


def trace_points(trace: dict[str, Any]) -> int:
    """How many points a trace draws (the longest of x, y, z)."""
    return max(len(values(trace.get(axis))) for axis in ("x", "y", "z", "cells"))


SYNTHETIC = """
[data]
kind = "synthetic"

[data.synthetic]
symbols = ["AAPL"]
events_per_symbol = {events}
seed = 7

[strategy]
name = "imbalance_quoter"
params = {{ quantity = 100, threshold = 0.3, max_position = 500 }}

[latency]
location = "colo"
venue = "XNAS"

[exchange]
queue_model = "PROPORTIONAL"

[portfolio]
capital = "1000000.00"

[risk.order]
max_quantity = 1000
"""


def synthetic_run(folder: Path, events: int = 20_000, audit: Path | None = None) -> dict[str, Any]:
    """A small quoter run (about a second) with its results written to ``folder``; returns the run's report.
    With ``audit``, the run keeps its audit trail there."""
    config = folder.parent / "synthetic.toml"
    text = SYNTHETIC.format(events=events)
    if audit is not None:
        text += f'\n[audit]\npath = "{audit}"\n'
    config.write_text(text)
    _, report = run_backtest_config(load_backtest_config(config), output_dir=folder)
    return report
