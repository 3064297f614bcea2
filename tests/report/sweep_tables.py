"""Sweep results tables made by hand (through the sweep's own writers, so the schema is the real one): known
metrics per task, so an aggregate on the page can be checked against a number worked out here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tapeflow.sweep.table import write_results
from tapeflow.sweep.task import TaskResult
from tapeflow.sweep.walk_forward import FoldResult, walk_forward_path, write_walk_forward

NAMES = ("strategy.params.threshold", "exchange.queue_model")


def result(
    index: int,
    slice_key: str,
    params: dict[str, Any],
    pnl: int | None,
    sharpe: float | None,
    *,
    status: str = "ok",
    equity: Sequence[int] = (),
    ts: Sequence[int] = (),
) -> TaskResult:
    key = slice_key + "|" + ",".join(f"{k}={v!r}" for k, v in params.items())
    return TaskResult(
        index=index,
        key=key,
        slice=slice_key,
        params=params,
        seed=index,
        config_hash="h",
        status=status,
        attempts=1 if status == "ok" else 2,
        error=None if status == "ok" else "RuntimeError: boom",
        metrics={} if status != "ok" else {"pnl_units": pnl, "sharpe": sharpe, "fills": 3},
        equity_ts=list(ts),
        equity=list(equity),
    )


def grid_results(failed: int | None = None) -> list[TaskResult]:
    """2 slices x thresholds (0.2, 0.6) x queue models (FRONT, BACK): pnl = 100*slice + 10*threshold-index +
    model-index (units), sharpe = the same / 100; the task at index ``failed`` failed."""
    out: list[TaskResult] = []
    for s, slice_key in enumerate(("AAPL/seed=1", "AAPL/seed=2")):
        for t, threshold in enumerate((0.2, 0.6)):
            for m, model in enumerate(("FRONT", "BACK")):
                i = len(out)
                pnl = 100 * (s + 1) + 10 * t + m
                params = {NAMES[0]: threshold, NAMES[1]: model}
                base = 10_000_000_000
                out.append(
                    result(
                        i,
                        slice_key,
                        params,
                        pnl,
                        pnl / 100,
                        status="failed" if i == failed else "ok",
                        equity=[base, base + pnl // 2, base + pnl],
                        ts=[1, 2, 3],
                    )
                )
    return out


def write_table(
    folder: Path, results: Sequence[TaskResult], folds: Sequence[FoldResult] = (), metric: str = "pnl_units"
) -> Path:
    path = folder / "sweep.parquet"
    names = list(dict.fromkeys(n for r in results for n in r.params))
    write_results(results, names, path)
    if folds:
        write_walk_forward(folds, metric, walk_forward_path(path))
    return path
