"""How orders travelled: latency per leg, time to fill and the queue ahead at fill time.

From the run (exact event times, ``orders.parquet``): ``compute = ts_submit - ts_decided`` (the strategy's
decision time added before the order left), ``order entry = ts_arrived - ts_submit`` (to the venue), ``ack =
ts_accepted - ts_arrived`` (the acceptance back to us), and time to fill = first fill's exchange time minus the
order's arrival at the venue. The feed leg (``ts_init - ts_event`` of market data) is taken from the sampled top
of book (``top.parquet``). The queue ahead is exact where the venue said it: the simulated exchange reports the
shares ahead of a resting order when it joined its level (``fills.parquet`` ``queue_ahead_at_arrival``, from
``OrderFilled``); otherwise derived: the displayed shares at the order's limit price when its acceptance was seen
(``order_marks.parquet``), an estimate of the queue it joined. The note says how many of each.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from tapeflow.model.sessions import SessionCalendar
from tapeflow.report.figures_common import Chart, base_layout, thin
from tapeflow.report.run_data import RunData, Table

LEGS = ("feed", "compute", "order entry", "ack")


def latency_legs(data: RunData) -> dict[str, np.ndarray]:
    """Each leg's durations in ns (the legs with no data are empty)."""
    orders = data.tables["orders"]
    legs: dict[str, np.ndarray] = {leg: np.zeros(0, dtype=np.int64) for leg in LEGS}
    top = data.table("top")
    if top is not None and top.rows:
        legs["feed"] = top.ints("feed_ns")
    if orders.rows and "ts_decided" in orders.names():
        submit, decided = orders.ints("ts_submit"), orders.ints("ts_decided")
        arrived, accepted = orders.ints("ts_arrived"), orders.ints("ts_accepted")
        known = ~orders.has_nulls("ts_submit") & ~orders.has_nulls("ts_decided")
        legs["compute"] = (submit - decided)[known]
        reached = known & ~orders.has_nulls("ts_arrived") & ~orders.has_nulls("ts_accepted")
        legs["order entry"] = (arrived - submit)[reached]
        legs["ack"] = (accepted - arrived)[reached]
    return legs


def latency_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    legs = latency_legs(data)
    if not any(len(v) for v in legs.values()):
        return None
    fig = make_subplots(rows=1, cols=4, subplot_titles=[f"{leg} (us)" for leg in LEGS])
    parts: list[str] = []
    for col, leg in enumerate(LEGS, start=1):
        values = legs[leg]
        if len(values):  # a bar run has no sampled book, so no feed leg: its panel stays empty, not a blank trace
            fig.add_trace(go.Histogram(x=values / 1_000, name=leg, nbinsx=40, showlegend=False), row=1, col=col)
            parts.append(f"{leg}: median {np.median(values) / 1_000:,.1f} us over {len(values):,}")
        else:
            parts.append(f"{leg}: no data in this run")
    fig.update_layout(**base_layout("Latency per leg"))
    note = "; ".join(parts) + ". Feed from the sampled top of book; compute, entry and ack per order, from the run."
    return Chart("latency", "Latency per leg", fig.to_plotly_json(), note)


def venue_queue(fills: Table) -> dict[tuple[str, str], int]:
    """Each order's shares ahead when it joined its level, as the venue reported on its first fill that says
    (``queue_ahead_at_arrival`` >= 0); empty for results written before the column existed."""
    if "queue_ahead_at_arrival" not in fills.names():
        return {}
    exact: dict[tuple[str, str], int] = {}
    keys = zip(fills.strings("strategy_id"), fills.strings("client_order_id"), strict=True)
    for key, value in zip(keys, fills.ints("queue_ahead_at_arrival").tolist(), strict=True):
        if value >= 0:
            exact.setdefault(key, value)
    return exact


def queue_chart(data: RunData, sessions: SessionCalendar | None) -> Chart | None:
    orders, fills, marks = data.tables["orders"], data.tables["fills"], data.table("order_marks")
    if fills.rows == 0 or orders.rows == 0 or "ts_arrived" not in orders.names():
        return None
    first_fill: dict[tuple[str, str], int] = {}
    for key, ts in zip(
        zip(fills.strings("strategy_id"), fills.strings("client_order_id"), strict=True),
        fills.ints("ts_event").tolist(),
        strict=True,
    ):
        first_fill.setdefault(key, ts)
    exact = venue_queue(fills)
    ahead: dict[tuple[str, str], int] = {}
    if marks is not None and marks.rows:
        keys = zip(marks.strings("strategy_id"), marks.strings("client_order_id"), strict=True)
        ahead = {k: v for k, v in zip(keys, marks.ints("shares_ahead_ack").tolist(), strict=True) if v >= 0}
    arrived, no_arrival = orders.ints("ts_arrived"), orders.has_nulls("ts_arrived")
    waits: list[int] = []
    queue: list[int] = []
    is_exact: list[bool] = []
    for i, key in enumerate(zip(orders.strings("strategy_id"), orders.strings("client_order_id"), strict=True)):
        filled = first_fill.get(key)
        if filled is None or no_arrival[i]:
            continue
        waits.append(max(0, filled - int(arrived[i])))
        queue.append(exact[key] if key in exact else ahead.get(key, -1))
        is_exact.append(key in exact)
    if not waits:
        return None
    wait_ms = np.asarray(waits, dtype=np.float64) / 1e6
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("time to first fill (ms)", "shares ahead when accepted vs time to fill")
    )
    fig.add_trace(go.Histogram(x=wait_ms, nbinsx=50, name="time to fill", showlegend=False), row=1, col=1)
    q = np.asarray(queue, dtype=np.int64)
    known = np.flatnonzero(q >= 0)
    keep, stride = thin(len(known))
    rows = known[keep]
    if len(rows):  # market orders have no limit price, so no queue
        fig.add_trace(
            go.Scatter(x=q[rows], y=wait_ms[rows], mode="markers", name="filled orders", showlegend=False),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="ms", row=1, col=1)
    shown_exact = int(np.count_nonzero(np.asarray(is_exact, dtype=bool)[rows])) if len(rows) else 0
    kind = "exact" if shown_exact == len(rows) and len(rows) else "derived" if shown_exact == 0 else "exact and derived"
    fig.update_xaxes(title_text=f"shares ahead at the limit price ({kind})", row=1, col=2)
    fig.update_yaxes(title_text="ms", row=1, col=2)
    fig.update_layout(**base_layout("Queue position and time to fill"))
    note = (
        f"{len(waits):,} filled orders; median time to first fill {np.median(wait_ms):,.3f} ms (from the run: first "
        "fill minus arrival at the venue, exchange time). Shares ahead: "
        f"{shown_exact:,} exact (the simulated exchange's queue when the order joined its level), "
        f"{len(rows) - shown_exact:,} derived (displayed size at the order's price when its acceptance was seen: an "
        "estimate of the queue it joined)."
    )
    if stride > 1:
        note += f" Scatter thinned: every {stride}th of {len(known):,} orders."
    return Chart("queue", "Queue position and time to fill", fig.to_plotly_json(), note)
