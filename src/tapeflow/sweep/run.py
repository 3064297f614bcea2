"""Drive a sweep: skip what an earlier run finished, send the rest to an executor, keep every result on disk.

A task travels: ``load_sweep`` builds its ``TaskSpec`` (checked) -> ``run_sweep`` drops it when ``--resume`` finds
its key and configuration already done -> the executor runs ``run_task`` on a worker (retries there) -> the
``TaskResult`` comes back in any order -> it joins the results, which are written (atomically, in task order)
every ``checkpoint_s`` and at the end. Ctrl-C stops the sending, writes what has finished and returns with
``interrupted`` set: ``--resume`` later runs only the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from tapeflow.sweep.config import Sweep, TaskSpec
from tapeflow.sweep.executors import Executor
from tapeflow.sweep.table import read_results, write_results
from tapeflow.sweep.task import TaskResult, run_task, task_result
from tapeflow.sweep.walk_forward import FoldResult, evaluate, plan_folds, walk_forward_path, write_walk_forward

OnResult = Callable[[TaskResult], None]


class SweepOutcome(msgspec.Struct, frozen=True, kw_only=True):
    output: str
    tasks: int
    resumed: int
    """Tasks taken from the earlier table instead of run again."""
    ran: int
    failed: list[TaskResult]
    interrupted: bool
    elapsed_s: float
    results: list[TaskResult]
    walk_forward: list[FoldResult] = []
    walk_forward_output: str | None = None
    walk_forward_metric: str = ""
    """Beside ``output`` when the sweep has ``[sweep.walk_forward]`` and was not interrupted."""


def pending_tasks(sweep: Sweep, earlier: list[TaskResult]) -> tuple[list[TaskSpec], list[TaskResult]]:
    """(tasks still to run, results kept): a row is kept when it succeeded with the same key and configuration;
    a failed one runs again, and a row of a task no longer in the sweep is dropped."""
    done = {(r.key, r.config_hash): r for r in earlier if r.status == "ok"}
    todo: list[TaskSpec] = []
    kept: list[TaskResult] = []
    for spec in sweep.tasks:
        row = done.get((spec.key, spec.config_hash))
        if row is None:
            todo.append(spec)
        else:
            kept.append(msgspec.structs.replace(row, index=spec.index))
    return todo, kept


def run_sweep(
    sweep: Sweep,
    executor: Executor,
    output: Path,
    *,
    resume: bool = False,
    on_result: OnResult | None = None,
    checkpoint_s: float = 5.0,
    task: Callable[[TaskSpec], TaskResult] = run_task,
) -> SweepOutcome:
    """Run every task not already done; the table at ``output`` holds each result by the time this returns."""
    started = time.perf_counter()
    folds = plan_folds(sweep)  # a bad metric or window is a ConfigError before any task runs
    earlier = read_results(output) if resume and output.exists() else []
    todo, results = pending_tasks(sweep, earlier)
    resumed = len(results)
    ran = 0
    interrupted = False
    last_write = time.monotonic()
    try:
        for i, outcome in executor.map_unordered(task, todo):
            result = outcome if isinstance(outcome, TaskResult) else _lost(todo[i], outcome)
            results.append(result)
            ran += 1
            if on_result is not None:
                on_result(result)
            if time.monotonic() - last_write >= checkpoint_s:
                write_results(results, sweep.param_names, output)
                last_write = time.monotonic()
    except KeyboardInterrupt:
        interrupted = True
    write_results(results, sweep.param_names, output)
    results.sort(key=lambda r: r.index)
    wf_rows: list[FoldResult] = []
    wf_output = None
    if sweep.walk_forward is not None and not interrupted:  # a partial grid would choose from partial windows
        wf_rows = evaluate(folds, sweep.walk_forward, results)
        wf_output = str(write_walk_forward(wf_rows, sweep.walk_forward.metric, walk_forward_path(output)))
    return SweepOutcome(
        output=str(output),
        tasks=len(sweep.tasks),
        resumed=resumed,
        ran=ran,
        failed=[r for r in results if r.status != "ok"],
        interrupted=interrupted,
        elapsed_s=round(time.perf_counter() - started, 3),
        results=results,
        walk_forward=wf_rows,
        walk_forward_output=wf_output,
        walk_forward_metric="" if sweep.walk_forward is None else sweep.walk_forward.metric,
    )


def _lost(spec: TaskSpec, error: BaseException) -> TaskResult:
    """A task the executor could not run (its worker died, it could not be sent): failed, with why."""
    return task_result(spec, "failed", 1, f"{type(error).__name__}: {error}", 0.0)
