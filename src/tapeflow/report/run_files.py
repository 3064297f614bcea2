"""The files a tear sheet needs beside orders/fills/equity.parquet: ``run.json`` and the market samples.

Why a module: the backtest (``backtest/run.py``) makes one call here, so the report can grow what it records
without touching the driver. ``run.json`` is the run's report (``tapeflow backtest --json``) minus what differs
between two runs of the same inputs (wall-clock speed, the paths written), so the same run gives the same bytes.
Every file is written under a temporary name and renamed into place, like the Parquet files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec

from tapeflow.compliance.audit_store import SqliteAuditStore
from tapeflow.compliance.surveillance import review
from tapeflow.report.market_samples import MarketSamples
from tapeflow.report.rejections import RejectionLog
from tapeflow.report.tables import write_table_atomic

RUN_JSON = "run.json"
ALERT_FIELDS = ("kind", "symbol", "ts", "strategy_id", "summary")
"""What the tear sheet shows of an alert; the evidence stays in the trail (``tapeflow surveil`` prints it)."""
VOLATILE_KEYS = frozenset({"elapsed_s", "events_per_s", "written"})
"""Keys of the run's report left out of ``run.json``: they change from one run of the same inputs to the next."""


def write_json_atomic(obj: Any, path: Path) -> Path:
    """``obj`` as indented JSON, written beside ``path`` and renamed into place (readers never see half)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(msgspec.json.format(msgspec.json.encode(obj), indent=1) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def surveillance_alerts(audit_path: str | Path, start_ns: int | None, end_ns: int | None) -> list[dict[str, Any]]:
    """Surveillance (default thresholds, ``compliance/surveillance.py``) over the run's audit trail: the alerts
    whose time is inside this run (a trail may hold earlier runs too)."""
    store = SqliteAuditStore(Path(audit_path), readonly=True)
    try:
        alerts = review(store.rows())
    finally:
        store.close()
    low = start_ns if start_ns is not None else 0
    high = end_ns if end_ns is not None else 2**63 - 1
    return [{name: getattr(a, name) for name in ALERT_FIELDS} for a in alerts if low <= a.ts <= high]


def write_run_files(
    folder: str | Path,
    report: dict[str, Any],
    *,
    samples: MarketSamples | None = None,
    rejections: RejectionLog | None = None,
    extra: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``run.json`` (the report, the refusals' timeline, surveillance alerts when the run kept an audit
    trail, and ``extra``: calendar, returns period) and, when
    ``samples`` is given, ``top.parquet``, ``depth.parquet`` and ``order_marks.parquet``; return their paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stable = {key: value for key, value in report.items() if key not in VOLATILE_KEYS} | (extra or {})
    if rejections is not None:
        stable["risk_rejection_timeline"] = rejections.timeline()
    if report.get("audit"):  # the run kept an audit trail: what surveillance finds in it is part of the run's record
        summary = report.get("summary") or {}
        stable["compliance_alerts"] = surveillance_alerts(
            report["audit"], summary.get("start_ns"), summary.get("end_ns")
        )
    written = [write_json_atomic(stable, out / RUN_JSON)]
    if samples is not None:
        written += [write_table_atomic(table, out / f"{stem}.parquet") for stem, table in samples.tables().items()]
    return written
