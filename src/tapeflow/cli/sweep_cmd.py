"""``tapeflow sweep CONFIG.toml``: many backtests (symbol-days x parameters) on Dask, embedded by default.

Exit status: 0 every task succeeded, 1 the sweep finished but some tasks failed (the table and the output say
which, with their errors), 2 user error (nothing ran), 130 interrupted (finished tasks are kept: ``--resume``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from tapeflow.cli.output import counted_progress, fail, print_json, say
from tapeflow.cli.report_cmd import sweep_page
from tapeflow.model.display import money
from tapeflow.model.errors import ConfigError, TapeflowError

if TYPE_CHECKING:
    from tapeflow.sweep import SweepOutcome

FAILED_EXIT = 1
INTERRUPTED_EXIT = 130
SHOWN_ROWS = 20


def sweep_command(
    config: Annotated[Path, typer.Argument(help="TOML sweep configuration (see examples/sweep_*.toml).")],
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, help="Worker processes (default: one per core); with --address: wait for this many."
        ),
    ] = None,
    address: Annotated[
        str | None, typer.Option("--address", help="Join a running Dask scheduler (tcp://HOST:PORT).")
    ] = None,
    executor: Annotated[
        str, typer.Option("--executor", help="dask (default: a LocalCluster on 127.0.0.1) or processes.")
    ] = "dask",
    resume: Annotated[
        bool, typer.Option("--resume", help="Keep the finished tasks of OUT; run only the rest.")
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Results table (Parquet).")] = None,
    report_page: Annotated[
        bool, typer.Option("--report", help="Also write the sweep's HTML page beside the table (OUT.html).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Run a grid or random search over symbol-days: one backtest per task, results in one Parquet table."""
    try:
        outcome = _run(config, workers, address, executor, resume, out, quiet=json_out, page=report_page)
        page = None
        if report_page and not outcome.interrupted:  # an interrupted sweep's page would show a partial grid
            page = sweep_page(Path(outcome.output), None, None, None, None)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    report = _report(outcome) | {"report": None if page is None else str(page)}
    if json_out:
        print_json(report)
    else:
        _print(outcome)
        if page is not None:
            say(f"sweep page: {page} (opens offline)")
    if outcome.interrupted:
        raise typer.Exit(code=INTERRUPTED_EXIT)
    if outcome.failed:
        raise typer.Exit(code=FAILED_EXIT)


def _run(
    config: Path,
    workers: int | None,
    address: str | None,
    kind: str,
    resume: bool,
    out: Path | None,
    *,
    quiet: bool,
    page: bool = False,
) -> SweepOutcome:
    from tapeflow.sweep import (  # lazy: backtest stack (~0.15 s) and dask, not for --help
        DaskExecutor,
        LocalProcesses,
        load_sweep,
        plan_folds,
        run_sweep,
    )

    if kind not in ("dask", "processes"):
        raise ConfigError(f"unknown executor {kind!r}; valid values: 'dask', 'processes'", field="--executor")
    if address is not None and kind != "dask":
        raise ConfigError("--address is a Dask scheduler; leave --executor at dask", field="--address")
    if address is not None and not address.startswith(("tcp://", "tls://")):
        raise ConfigError(f"{address!r} is not a scheduler address; give tcp://HOST:PORT", field="--address")
    sweep = load_sweep(config)
    plan_folds(sweep)  # a walk-forward's metric and windows are checked before a worker starts
    output = out if out is not None else Path(sweep.output or f"{config.stem}.results.parquet")
    if output.is_dir():
        raise ConfigError(f"{output} is a folder; give the results table's file, e.g. {output / 'sweep.parquet'}",
                          field="--out")  # fmt: skip
    if output.exists() and not resume:
        raise ConfigError(f"{output} exists; pass --resume to continue it, or remove it to start again", field="--out")
    if page:  # the page's path is checked before the sweep runs, not after an hour of it
        from tapeflow.report.tearsheet import check_report_path  # lazy: plotly (~0.3 s), only with --report

        if output.parent.is_dir():  # else the sweep creates it, and the page cannot be there yet
            check_report_path(output.with_suffix(".html"))
    if workers is None:  # a cluster's size is its own; here, one single-thread process per core
        workers = 1 if address is not None else (os.cpu_count() or 1)
    ex = LocalProcesses(workers) if kind == "processes" else DaskExecutor(workers, address)
    with ex, counted_progress("sweep[/] {task.description}", "tasks", quiet=quiet) as bar:
        task = bar.add_task(ex.description, total=len(sweep.tasks))
        failed: list[Any] = []

        def advance(result: Any) -> None:
            if result.status != "ok":
                failed.append(result)
                bar.update(task, description=f"{ex.description} [red]{len(failed)} failed")
            bar.advance(task)

        return run_sweep(sweep, ex, output, resume=resume, on_result=advance)


def _report(outcome: SweepOutcome) -> dict[str, Any]:
    return {
        "output": outcome.output,
        "tasks": outcome.tasks,
        "ran": outcome.ran,
        "resumed": outcome.resumed,
        "ok": sum(r.status == "ok" for r in outcome.results),
        "failed": [{"key": r.key, "attempts": r.attempts, "error": r.error} for r in outcome.failed],
        "missing": outcome.tasks - len(outcome.results),
        "interrupted": outcome.interrupted,
        "elapsed_s": outcome.elapsed_s,
        "results": [
            {
                "key": r.key,
                "status": r.status,
                "pnl_units": r.metrics.get("pnl_units"),
                "sharpe": r.metrics.get("sharpe"),
                "fills": r.metrics.get("fills"),
            }
            for r in outcome.results
        ],
        "walk_forward_output": outcome.walk_forward_output,
        "walk_forward_metric": outcome.walk_forward_metric,
        "walk_forward": [msgspec.to_builtins(f) for f in outcome.walk_forward],
    }


def _print(outcome: SweepOutcome, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="sweep results", show_header=True)
    table.add_column("task", overflow="fold")
    table.add_column("status")
    table.add_column("PnL", justify="right")
    table.add_column("fills", justify="right")
    for r in outcome.results[:SHOWN_ROWS]:
        pnl = r.metrics.get("pnl_units")
        table.add_row(
            r.key,
            r.status if r.status == "ok" else f"[red]{r.status}[/]",
            "-" if not isinstance(pnl, int) else money(pnl),
            str(r.metrics.get("fills", "-")),
        )
    console.print(table)
    if len(outcome.results) > SHOWN_ROWS:
        console.print(f"... and {len(outcome.results) - SHOWN_ROWS} more in the table", highlight=False)
    for r in outcome.failed:
        console.print(f"failed: {r.key} after {r.attempts} attempt(s): {r.error}", markup=False, highlight=False)
    line = (
        f"{outcome.ran} ran, {outcome.resumed} resumed, {len(outcome.failed)} failed of {outcome.tasks} tasks "
        f"in {outcome.elapsed_s:,.1f} s; results: {outcome.output}"
    )
    console.print(line, markup=False, highlight=False)
    if outcome.walk_forward_output is not None:
        _print_walk_forward(outcome, console)
    if outcome.interrupted:
        console.print("interrupted: finished tasks are kept; run again with --resume for the rest", style="yellow")


def _print_walk_forward(outcome: SweepOutcome, console: Console) -> None:
    metric = outcome.walk_forward_metric
    units = metric.endswith("_units")
    table = Table(title=f"walk-forward ({metric})", show_header=True)
    for name in ("fold", "train", "test", "chosen", "in-sample", "out-of-sample"):
        table.add_column(name, overflow="fold")
    for f in outcome.walk_forward:
        chosen = "-" if f.params is None else ", ".join(f"{k}={v}" for k, v in f.params.items()) or "(base)"
        table.add_row(
            str(f.fold),
            _window(f.train_start, f.train_end),
            _window(f.test_start, f.test_end),
            chosen,
            _metric_text(f.in_sample, money_units=units),
            _metric_text(f.out_of_sample, money_units=units),
        )
    console.print(table)
    console.print(f"walk-forward: {outcome.walk_forward_output}", markup=False, highlight=False)


def _window(start: str, end: str) -> str:
    return start if start == end else f"{start}..{end}"


def _metric_text(value: int | float | None, *, money_units: bool) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return money(value) if money_units else str(value)
    return f"{value:.4f}"
