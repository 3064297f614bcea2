"""Walk-forward: pick the best parameter set on a train window of periods, judge it on the test window after it.

The time axis is the sweep's periods: its ``days`` (recorded data), its synthetic ``seeds`` (each seed another
market, the stand-in for another day), or, when the windows are durations, the blocks of each day's session
(``intraday``: the one shared LOBSTER day walk-forwarded in half hours). Fold ``i`` trains on periods
``[i*step, i*step + train)`` and tests on the ``test`` periods after.

Every test slice is also a slice of the grid, and a task's seed derives from its key (slice and parameters), so
"run the chosen set on the test slices" is exactly the grid's task for that set there. The sweep therefore runs
the whole grid on every slice in one round (full parallelism, ``--resume`` as for any sweep), and the
walk-forward table is computed from the results: the same results give the same table whatever the number of
workers. The cost is the grid on test-only slices, which a plain sweep of those days would run anyway.

A window's metric is the sum over its slices for an integer metric (``pnl_units``: money adds up exactly) and the
mean for a float one (``sharpe``). A parameter set with any failed task in the train window is not eligible (fail
closed); ties go to the parameter set whose key sorts first, so the choice never depends on completion order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]

from tapeflow.model.errors import ConfigError
from tapeflow.report.tables import write_table_atomic
from tapeflow.sweep.config import Scalar, Sweep, WalkForwardSection
from tapeflow.sweep.intraday import Blocks, is_intraday
from tapeflow.sweep.task import METRICS, TaskResult


class Fold(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    train: tuple[str, ...]
    test: tuple[str, ...]


class FoldResult(msgspec.Struct, frozen=True, kw_only=True):
    fold: int
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    params: dict[str, Scalar] | None
    """The chosen set; None when no set finished every train task."""
    in_sample: int | float | None
    out_of_sample: int | float | None
    """None when a test task of the chosen set failed (or none was chosen)."""


def plan_folds(sweep: Sweep) -> list[Fold]:
    """The folds, checked (metric, windows) before anything runs; [] when the sweep has no walk-forward."""
    wf = sweep.walk_forward
    if wf is None:
        return []
    kind = METRICS.get(wf.metric)
    if kind not in (int, float):
        numeric = ", ".join(name for name, k in METRICS.items() if k in (int, float))
        raise ConfigError(f"unknown metric {wf.metric!r}; one of: {numeric}", field="sweep.walk_forward.metric")
    periods = sweep.periods
    train, test, step = window_periods(wf)
    if len(periods) < train + test:
        raise ConfigError(
            f"train {train} + test {test} periods need at least {train + test}; the sweep has "
            f"{len(periods)} (its `days`, or `seeds` for the synthetic market)",
            field="sweep.walk_forward",
        )
    folds: list[Fold] = []
    start = 0
    while start + train + test <= len(periods):
        mid = start + train
        folds.append(Fold(index=len(folds), train=periods[start:mid], test=periods[mid : mid + test]))
        start += step
    return folds


def window_periods(wf: WalkForwardSection) -> tuple[int, int, int]:
    """(train, test, step) in periods: as written, or in intraday blocks when given as durations."""
    if is_intraday(wf.train, wf.test, wf.step):
        blocks = Blocks(str(wf.train), str(wf.test), None if wf.step is None else str(wf.step), wf.session)
        return blocks.train, blocks.test, blocks.step
    train, test = int(wf.train), int(wf.test)
    return train, test, int(wf.step) if wf.step is not None else test


def _params_key(params: dict[str, Scalar]) -> str:
    return ",".join(f"{k}={msgspec.json.encode(v).decode()}" for k, v in params.items())


def _period(slice_key: str) -> str:
    return slice_key.rsplit("/", 1)[-1]


def _window_metric(rows: Sequence[TaskResult], metric: str) -> int | float | None:
    values = [r.metrics.get(metric) for r in rows]
    if not rows or any(r.status != "ok" for r in rows) or any(not isinstance(v, int | float) for v in values):
        return None
    numbers = [v for v in values if isinstance(v, int | float)]
    if METRICS[metric] is int:
        return sum(int(v) for v in numbers)
    mean = math.fsum(float(v) for v in numbers) / len(numbers)
    return None if math.isnan(mean) else mean


def evaluate(folds: Sequence[Fold], wf: WalkForwardSection, results: Sequence[TaskResult]) -> list[FoldResult]:
    """Each fold's chosen parameter set and its in- and out-of-sample metric, from the sweep's results."""
    by_set: dict[str, list[TaskResult]] = {}
    params_of: dict[str, dict[str, Scalar]] = {}
    for r in results:
        key = _params_key(r.params)
        by_set.setdefault(key, []).append(r)
        params_of[key] = r.params
    out: list[FoldResult] = []
    for fold in folds:
        best: tuple[int | float, str] | None = None
        for key in sorted(by_set):
            rows = [r for r in by_set[key] if _period(r.slice) in fold.train]
            value = _window_metric(rows, wf.metric)
            if value is None:
                continue
            better = best is None or (value > best[0] if wf.maximize else value < best[0])
            if better:  # strictly better only: on a tie the key that sorts first stays
                best = (value, key)
        chosen = None if best is None else best[1]
        test_rows = [] if chosen is None else [r for r in by_set[chosen] if _period(r.slice) in fold.test]
        out.append(
            FoldResult(
                fold=fold.index,
                train_start=fold.train[0],
                train_end=fold.train[-1],
                test_start=fold.test[0],
                test_end=fold.test[-1],
                params=None if chosen is None else params_of[chosen],
                in_sample=None if best is None else best[0],
                out_of_sample=_window_metric(test_rows, wf.metric),
            )
        )
    return out


def walk_forward_path(output: Path) -> Path:
    """Beside the results table: ``x.parquet`` -> ``x.walk_forward.parquet``."""
    return output.with_name(f"{output.stem}.walk_forward{output.suffix or '.parquet'}")


def write_walk_forward(rows: Sequence[FoldResult], metric: str, path: Path) -> Path:
    """The walk-forward table, replaced atomically; metric columns typed as the summary's field."""
    kind = pa.int64() if METRICS.get(metric) is int else pa.float64()
    table = pa.table(
        {
            "fold": pa.array([r.fold for r in rows], pa.int32()),
            "train_start": pa.array([r.train_start for r in rows], pa.string()),
            "train_end": pa.array([r.train_end for r in rows], pa.string()),
            "test_start": pa.array([r.test_start for r in rows], pa.string()),
            "test_end": pa.array([r.test_end for r in rows], pa.string()),
            "params": pa.array(
                [None if r.params is None else msgspec.json.encode(r.params).decode() for r in rows], pa.string()
            ),
            "metric": pa.array([metric] * len(rows), pa.string()),
            "in_sample": pa.array([r.in_sample for r in rows], kind),
            "out_of_sample": pa.array([r.out_of_sample for r in rows], kind),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_table_atomic(table, path)
