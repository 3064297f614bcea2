"""What the pre-trade checks refused, on a timeline by rule, and the compliance alerts of the run.

The refusals are ``run.json`` ``risk_rejection_timeline`` (time and rule of each, from ``RiskRejected`` events,
the first 20,000 kept) with the per-rule counts and first reasons of ``risk_rejections``. Alerts are
``compliance_alerts``: surveillance over the run's audit trail (``run_files.surveillance_alerts``: kind, symbol,
time, strategy, summary); a run without a trail shows no alert chart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]

from tapeflow.model.display import ny_time
from tapeflow.model.sessions import SessionCalendar
from tapeflow.report.figures_common import Chart, base_layout, ny_times, session_shapes, thin
from tapeflow.report.run_data import RunData


def rejections_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    timeline: dict[str, Any] = data.run.get("risk_rejection_timeline") or {}
    ts = np.asarray(timeline.get("ts") or [], dtype=np.int64)
    rules = np.asarray(timeline.get("rule") or [], dtype=object)
    if len(ts) == 0:
        return None
    fig = go.Figure()
    notes = []
    for rule in sorted(set(rules.tolist())):
        chosen = np.flatnonzero(rules == rule)
        keep, stride = thin(len(chosen), 5_000)
        rows = chosen[keep]
        fig.add_trace(
            go.Scatter(x=ny_times(ts[rows]), y=[rule] * len(rows), mode="markers", name=f"{rule} ({len(chosen):,})")
        )
        if stride > 1:
            notes.append(f"{rule}: every {stride}th of {len(chosen):,} drawn")
    shapes, session_note = session_shapes(int(ts.min()), int(ts.max()), sessions)
    fig.update_layout(**base_layout("Risk refusals by rule", shapes=shapes, showlegend=True))
    fig.update_xaxes(title_text="New York time")
    first = "; ".join(
        f"{r['rule']}: {r['count']:,}, first: {r['first_reason']}" for r in data.run.get("risk_rejections") or []
    )
    note = f"{len(ts):,} refusals. {first}."
    if timeline.get("left_out"):
        note += f" {timeline['left_out']:,} later refusals are counted but not drawn."
    if notes:
        note += " Thinned: " + "; ".join(notes) + "."
    return Chart("rejections", "Risk refusals by rule", fig.to_plotly_json(), f"{note} {session_note}".strip())


def alerts_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    alerts: list[dict[str, Any]] = data.run.get("compliance_alerts") or []
    if not alerts:
        return None
    columns = [
        [ny_time(int(a["ts"]), precision="s") for a in alerts],
        [str(a.get("kind", "")) for a in alerts],
        [str(a.get("symbol", "")) for a in alerts],
        [str(a.get("strategy_id", "")) for a in alerts],
        [str(a.get("summary", "")) for a in alerts],
    ]
    fig = go.Figure(
        go.Table(
            header={"values": ["time (New York)", "kind", "symbol", "strategy", "summary"]},
            cells={"values": columns},
            columnwidth=[2, 1, 1, 2, 6],
        )
    )
    fig.update_layout(**base_layout("Compliance alerts", height=max(200, 60 + 28 * min(len(alerts), 30))))
    return Chart("alerts", "Compliance alerts", fig.to_plotly_json(), f"{len(alerts):,} alerts from surveillance.")
