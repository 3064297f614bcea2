"""A sweep's results read back for its page: the heatmap's aggregation and the walk-forward's stitched equity.

The report layer sits below ``sweep`` (docs/ARCHITECTURE.md), so this reads the sweep's Parquet tables by their
columns, not through ``tapeflow.sweep``: ``key``, ``slice`` (``SYMBOL/PERIOD``), ``params`` (JSON), ``status``,
``error``, ``attempts``, one column per summary metric, ``equity_ts``/``equity``; and beside it
``NAME.walk_forward.parquet`` (one row per fold). A column this module needs that is missing is a ``ConfigError``
naming it, so an unrelated Parquet file is refused in one line.

Aggregation follows the walk-forward's rule (sweep/walk_forward.py), so the heatmap and the fold table agree: a
cell's value over its symbol-days is the sum for an integer metric (money adds up exactly) and the mean for a
float one (``sharpe``); a cell with a failed task, or a task without the metric, has no value (fail closed: a
partial sum would look like a real one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.model.errors import ConfigError

REQUIRED = ("key", "slice", "params", "status", "attempts", "error", "equity_ts", "equity")
NOT_METRICS = frozenset({"seed", "attempts", "elapsed_s"})
"""Numeric columns of the table that describe the task, not its result."""

Scalar = bool | int | float | str
Number = int | float


class SweepTable(msgspec.Struct, frozen=True, kw_only=True):
    """The results table's rows (task order), its parameter names and numeric metrics, and the fold table."""

    path: str
    rows: list[dict[str, Any]]
    params: list[dict[str, Scalar]]
    """Each row's parameter set, decoded from its JSON (the one source: a column per parameter may be JSON text)."""
    param_names: tuple[str, ...]
    metrics: dict[str, bool]
    """Metric name -> True when it is an integer column (summed over symbol-days), False for a float (averaged)."""
    folds: list[dict[str, Any]] = []
    walk_forward_path: str | None = None


class Grid(msgspec.Struct, frozen=True, kw_only=True):
    """One heatmap: ``z[j][i]`` is the aggregate at ``x[i]``, ``y[j]`` (None: no value, see ``failed``)."""

    x: list[Scalar]
    y: list[Scalar]
    z: list[list[Number | None]]
    tasks: list[list[int]]
    failed: list[list[int]]
    fixed: dict[str, Scalar]
    """The other parameters' values this grid holds fixed ({} when the sweep varies at most two)."""


class Segment(msgspec.Struct, frozen=True, kw_only=True):
    """One task's equity inside the stitched curve: its change since its first sample, moved to start where the
    previous segment ended."""

    fold: int
    slice: str
    ts: list[int]
    equity: list[int]


def walk_forward_path(results: Path) -> Path:
    """The fold table beside the results: ``x.parquet`` -> ``x.walk_forward.parquet`` (as the sweep writes it)."""
    return results.with_name(f"{results.stem}.walk_forward{results.suffix or '.parquet'}")


def read_sweep(path: str | Path) -> SweepTable:
    p = Path(path)
    if p.is_dir():
        raise ConfigError("is a folder; give the sweep's results table (tapeflow sweep -o FILE.parquet)", path=p)
    table = _read(p)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise ConfigError(f"not a sweep results table (no column {', '.join(missing)})", path=p)
    rows: list[dict[str, Any]] = table.to_pylist()
    params = [msgspec.json.decode(r["params"]) for r in rows]
    names: list[str] = []
    for one in params:
        names += [n for n in one if n not in names]
    metrics: dict[str, bool] = {}
    for field in table.schema:
        if field.name in REQUIRED or field.name in NOT_METRICS or field.name in names:
            continue
        if pa.types.is_integer(field.type):
            metrics[field.name] = True
        elif pa.types.is_floating(field.type):
            metrics[field.name] = False
    wf = walk_forward_path(p)
    folds: list[dict[str, Any]] = _read(wf).to_pylist() if wf.is_file() else []
    return SweepTable(
        path=str(p),
        rows=rows,
        params=params,
        param_names=tuple(names),
        metrics=metrics,
        folds=folds,
        walk_forward_path=str(wf) if wf.is_file() else None,
    )


def _read(path: Path) -> Any:
    try:
        return pq.read_table(path)
    except FileNotFoundError as exc:
        raise ConfigError("file not found; give the results table tapeflow sweep wrote", path=path) from exc
    except (OSError, pa.ArrowInvalid) as exc:
        raise ConfigError(f"cannot read it as Parquet: {exc}", path=path) from exc


def aggregate(values: Sequence[Number | None], *, integer: bool) -> Number | None:
    """Sum (integer metric) or mean (float metric) of ``values``; None when empty or any is missing or NaN."""
    if not values or any(v is None for v in values):
        return None
    numbers = [v for v in values if v is not None]
    if integer:
        return sum(int(v) for v in numbers)
    mean = math.fsum(float(v) for v in numbers) / len(numbers)
    return None if math.isnan(mean) else mean


def check_metric(table: SweepTable, metric: str) -> bool:
    """Whether ``metric`` is an integer column; a name that is no numeric column is a ConfigError listing them."""
    if metric not in table.metrics:
        raise ConfigError(f"unknown metric {metric!r}; one of: {', '.join(table.metrics)}", field="--metric")
    return table.metrics[metric]


def grids(table: SweepTable, metric: str, x: str | None = None, y: str | None = None) -> list[Grid]:
    """The heatmaps of ``metric`` over parameters ``x`` and ``y`` (default: the first two swept), each cell
    aggregated over its symbol-days; one grid per combination of the other parameters, in task order."""
    integer = check_metric(table, metric)
    names = table.param_names
    for axis, name in (("--x", x), ("--y", y)):
        if name is not None and name not in names:
            raise ConfigError(f"{name!r} is not a swept parameter; one of: {', '.join(names) or 'none'}", field=axis)
    x = x or next((n for n in names if n != y), None)
    y = y or next((n for n in names if n != x), None)
    if x is None:
        return []
    others = [n for n in names if n not in (x, y)]
    groups: dict[str, list[int]] = {}
    fixed_of: dict[str, dict[str, Scalar]] = {}
    for i, params in enumerate(table.params):
        fixed = {n: params[n] for n in others if n in params}
        key = _json(fixed)
        groups.setdefault(key, []).append(i)
        fixed_of[key] = fixed
    return [_grid(table, rows, metric, integer, x, y, fixed_of[key]) for key, rows in groups.items()]


def _grid(
    table: SweepTable, rows: list[int], metric: str, integer: bool, x: str, y: str | None, fixed: dict[str, Scalar]
) -> Grid:
    xs: list[Scalar] = []
    ys: list[Scalar] = []
    cells: dict[tuple[str, str], list[int]] = {}
    for i in rows:
        params = table.params[i]
        xv, yv = params.get(x, ""), params.get(y, "") if y is not None else ""
        if xv not in xs:
            xs.append(xv)
        if yv not in ys:
            ys.append(yv)
        cells.setdefault((_json(xv), _json(yv)), []).append(i)
    z: list[list[Number | None]] = []
    tasks: list[list[int]] = []
    failed: list[list[int]] = []
    for yv in ys:
        z_row: list[Number | None] = []
        t_row: list[int] = []
        f_row: list[int] = []
        for xv in xs:
            members = cells.get((_json(xv), _json(yv)), [])
            bad = sum(table.rows[i]["status"] != "ok" for i in members)
            values = [None if table.rows[i]["status"] != "ok" else table.rows[i].get(metric) for i in members]
            z_row.append(aggregate(values, integer=integer))
            t_row.append(len(members))
            f_row.append(bad)
        z.append(z_row)
        tasks.append(t_row)
        failed.append(f_row)
    return Grid(x=xs, y=ys, z=z, tasks=tasks, failed=failed, fixed=fixed)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def periods(table: SweepTable) -> list[str]:
    """The sweep's time axis: each slice's period (after its last ``/``), in order of first appearance; tasks
    run slices outer and, per symbol, periods in the order written, so this is the sweep's own order."""
    found: dict[str, None] = {}
    for row in table.rows:
        found.setdefault(_period(row["slice"]), None)
    return list(found)


def _period(slice_key: str) -> str:
    return str(slice_key).rsplit("/", 1)[-1]


def window(order: Sequence[str], start: str, end: str) -> list[str]:
    """The periods from ``start`` to ``end`` inclusive, in the sweep's order ([] when either is unknown)."""
    if start not in order or end not in order:
        return []
    return list(order[order.index(start) : order.index(end) + 1])


def fold_rows(table: SweepTable, fold: dict[str, Any], *, test: bool) -> list[int]:
    """Row numbers of the fold's chosen set on its test (or train) window, in period order then task order."""
    if fold.get("params") is None:
        return []
    chosen = msgspec.json.decode(fold["params"])
    order = periods(table)
    span = (
        window(order, fold["test_start"], fold["test_end"])
        if test
        else window(order, fold["train_start"], fold["train_end"])
    )
    picked = [i for i, p in enumerate(table.params) if p == chosen and _period(table.rows[i]["slice"]) in span]
    return sorted(picked, key=lambda i: (span.index(_period(table.rows[i]["slice"])), i))


def stitch(table: SweepTable, rows_by_fold: Sequence[tuple[int, Sequence[int]]]) -> list[Segment]:
    """The folds' equity end to end: each task's curve minus its first sample, added to where the last ended.

    Each task starts from the configured capital, so stitching adds up changes (PnL), not levels; the first
    segment starts at the first task's starting equity. A failed task or one with no curve adds nothing."""
    segments: list[Segment] = []
    level: int | None = None
    for fold, rows in rows_by_fold:
        for i in rows:
            row = table.rows[i]
            equity: list[int] = row["equity"] or []
            if row["status"] != "ok" or not equity:
                continue
            base = equity[0] if level is None else level
            shifted = [base + e - equity[0] for e in equity]
            level = shifted[-1]
            segments.append(Segment(fold=fold, slice=row["slice"], ts=list(row["equity_ts"]), equity=shifted))
    return segments


def per_period(value: Number | None, n: int, *, integer: bool) -> float | None:
    """A window's metric per period, so a 2-period train and a 1-period test compare: an integer metric is the
    window's sum (divided here); a float one is already a mean over the window's tasks."""
    if value is None or n <= 0:
        return None
    return float(value) / n if integer else float(value)
