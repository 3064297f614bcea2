"""What a worker runs: one backtest from a ``TaskSpec``, retried in place, returned as a small ``TaskResult``.

The retries happen inside the task, on the worker, so every executor (local processes, Dask) retries the same way
and the attempt count is part of the result. A task never raises: an exception after the last attempt is the
result (``status = "failed"`` with the error's type and message), so one bad symbol-day cannot stop a sweep. Only
the summary's scalar metrics and a thinned equity curve come back, never the event stream: a result is a few
kilobytes whatever the day's size, which is what lets thousands of them cross a network.
"""

from __future__ import annotations

import tempfile
import time
import typing
from pathlib import Path
from typing import Any

import msgspec

from tapeflow.backtest.config import BacktestConfig
from tapeflow.backtest.run import run_backtest_config
from tapeflow.report.summary import Summary
from tapeflow.sweep.config import Scalar, TaskSpec
from tapeflow.sweep.intraday import cut_lobster

SERIES_POINTS = 64
"""Equity samples kept per task: enough to draw a curve, small enough to ship by the thousand."""


def _metric_types() -> dict[str, type]:
    """The summary's scalar fields and their column type (int or float); dicts, lists and text stay behind."""
    found: dict[str, type] = {}
    for name, hint in typing.get_type_hints(Summary).items():
        args = set(typing.get_args(hint)) - {type(None)} or {hint}
        if args == {int}:
            found[name] = int
        elif args == {float}:
            found[name] = float
        elif args == {bool}:
            found[name] = bool
    return found


METRICS: dict[str, type] = _metric_types()
"""Metric name -> type, in the summary's field order: the columns of the results table."""


class TaskResult(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    key: str
    slice: str
    params: dict[str, Scalar]
    seed: int
    config_hash: str
    status: str
    """``ok`` or ``failed``."""
    attempts: int
    error: str | None = None
    metrics: dict[str, int | float | bool | None] = {}
    equity_ts: list[int] = []
    equity: list[int] = []
    """A thinned equity curve (ns UTC, 1/10,000 dollar): at most ``SERIES_POINTS`` samples, the last included."""
    elapsed_s: float = 0.0
    """Wall time of the task on its worker (all attempts); the one field that differs between identical runs."""


def thin(
    ts: typing.Sequence[int], values: typing.Sequence[int], points: int = SERIES_POINTS
) -> tuple[list[int], list[int]]:
    """At most ``points`` samples, evenly spaced by index, first and last kept (the last is the final equity)."""
    n = len(ts)
    if n <= points:
        return list(ts), list(values)
    picks = [round(i * (n - 1) / (points - 1)) for i in range(points)]
    return [ts[i] for i in picks], [values[i] for i in picks]


def run_task(spec: TaskSpec) -> TaskResult:
    """Run ``spec`` up to ``1 + retries`` times; the first success, or the last error, is the result."""
    started = time.perf_counter()
    error = ""
    for attempt in range(1, spec.retries + 2):
        try:
            metrics, ts, equity = _run_once(spec)
        except Exception as exc:  # any failure of one task is that task's result, never the sweep's end
            error = f"{type(exc).__name__}: {exc}"
            continue
        elapsed = time.perf_counter() - started
        return task_result(spec, "ok", attempt, None, elapsed, metrics=metrics, equity_ts=ts, equity=equity)
    return task_result(spec, "failed", spec.retries + 1, error, time.perf_counter() - started)


def _run_once(spec: TaskSpec) -> tuple[dict[str, Any], list[int], list[int]]:
    if spec.window_ms is None:
        return _run_config(spec.config)
    with tempfile.TemporaryDirectory(prefix="tapeflow-block-") as tmp:  # the block's own small file, then gone
        start, end = spec.window_ms
        paths = tuple(str(cut_lobster(p, start, end, Path(tmp))) for p in spec.config.data.paths)
        data = msgspec.structs.replace(spec.config.data, paths=paths)
        return _run_config(msgspec.structs.replace(spec.config, data=data))


def _run_config(config: BacktestConfig) -> tuple[dict[str, Any], list[int], list[int]]:
    bt, report = run_backtest_config(config)
    summary = report["summary"]
    metrics = {name: summary.get(name) for name in METRICS}
    portfolio = bt.results.portfolio
    if portfolio is None:
        return metrics, [], []
    ts, equity = thin(portfolio.curve.ts, portfolio.curve.equity)
    return metrics, ts, equity


def task_result(
    spec: TaskSpec, status: str, attempts: int, error: str | None, elapsed_s: float, **more: Any
) -> TaskResult:
    """``spec``'s identity (key, slice, params, seed, config hash) with how it ended: the one place a row is made,
    by the worker for a task it ran and by the sweep for one the executor lost."""
    return TaskResult(
        index=spec.index,
        key=spec.key,
        slice=spec.slice,
        params=spec.params,
        seed=spec.seed,
        config_hash=spec.config_hash,
        status=status,
        attempts=attempts,
        error=error,
        elapsed_s=round(elapsed_s, 6),
        **more,
    )
