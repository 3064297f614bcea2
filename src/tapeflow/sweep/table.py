"""The results table: one row per task (key, parameters, seed, status, error, metrics, thinned equity), in Parquet.

Rows are in task order (the order the sweep file expands to), never completion order, so the same sweep gives the
same table whatever the number of workers; only ``elapsed_s`` differs between runs. The file is replaced
atomically (``report.tables.write_table_atomic``): a reader, or a sweep resumed after a crash, sees a whole table.
Parameters are both one column each (named by their dotted field, for a heatmap) and one JSON column ``params``
(exact, whatever the value types), which is what ``--resume`` reads back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.model.errors import ConfigError
from tapeflow.report.tables import write_table_atomic
from tapeflow.sweep.task import METRICS, TaskResult

_ARROW = {int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
FIXED = ("key", "slice", "params", "seed", "config_hash", "status", "attempts", "error", "elapsed_s")


def results_table(results: Sequence[TaskResult], param_names: Sequence[str]) -> pa.Table:
    rows = sorted(results, key=lambda r: r.index)
    columns: dict[str, pa.Array] = {
        "key": pa.array([r.key for r in rows], pa.string()),
        "slice": pa.array([r.slice for r in rows], pa.string()),
        "params": pa.array([msgspec.json.encode(r.params).decode() for r in rows], pa.string()),
        "seed": pa.array([r.seed for r in rows], pa.int64()),
        "config_hash": pa.array([r.config_hash for r in rows], pa.string()),
        "status": pa.array([r.status for r in rows], pa.string()),
        "attempts": pa.array([r.attempts for r in rows], pa.int32()),
        "error": pa.array([r.error for r in rows], pa.string()),
        "elapsed_s": pa.array([r.elapsed_s for r in rows], pa.float64()),
    }
    for name in param_names:
        values = [r.params.get(name) for r in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types (1 and "a"): as JSON text
            columns[name] = pa.array([msgspec.json.encode(v).decode() for v in values], pa.string())
    for name, kind in METRICS.items():
        columns[name] = pa.array([r.metrics.get(name) for r in rows], _ARROW[kind])
    columns["equity_ts"] = pa.array([r.equity_ts for r in rows], pa.list_(pa.int64()))
    columns["equity"] = pa.array([r.equity for r in rows], pa.list_(pa.int64()))
    return pa.table(columns)


def write_results(results: Sequence[TaskResult], param_names: Sequence[str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_table_atomic(results_table(results, param_names), path)


def read_results(path: Path) -> list[TaskResult]:
    """The rows of an earlier results table, as results (``--resume``); ``index`` is -1 until matched to a task."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ConfigError(f"cannot read the results to resume from: {exc}", path=path) from exc
    missing = [c for c in (*FIXED, "equity_ts", "equity") if c not in table.column_names]
    if missing:
        raise ConfigError(f"not a sweep results table (no column {', '.join(missing)})", path=path)
    found: list[TaskResult] = []
    for row in table.to_pylist():
        metrics: dict[str, Any] = {name: row.get(name) for name in METRICS}
        found.append(
            TaskResult(
                index=-1,
                key=row["key"],
                slice=row["slice"],
                params=msgspec.json.decode(row["params"]),
                seed=row["seed"],
                config_hash=row["config_hash"],
                status=row["status"],
                attempts=row["attempts"],
                error=row["error"],
                metrics=metrics,
                equity_ts=row["equity_ts"],
                equity=row["equity"],
                elapsed_s=row["elapsed_s"],
            )
        )
    return found
