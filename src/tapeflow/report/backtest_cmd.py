"""``tapeflow backtest CONFIG.toml``: run a configured backtest with a progress bar, print its summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tapeflow.model.errors import TapeflowError

if TYPE_CHECKING:
    from rich.console import Console

    from tapeflow.backtest.config import BacktestConfig

HALTED_EXIT = 3
"""Exit status of a run the kill switch halted (0: ran to the end, 2: user error): scripts must not take its
results for a normal run's."""


def backtest_command(
    config: Annotated[Path, typer.Argument(help="TOML run configuration (see docs/BACKTEST.md).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write orders, fills, equity as Parquet here.")] = None,
    audit: Annotated[
        Path | None,
        typer.Option("--audit", help="Write the audit trail to this SQLite file (overrides [audit] path)."),
    ] = None,
) -> None:
    """Replay history through the kernel, the simulated exchange, risk and portfolio, and summarise the run.

    Exit status: 0 the run completed, 2 user error (bad configuration or data path), 3 the kill switch halted
    trading during the run (the summary says when and why).
    """
    from tapeflow.cli import fail, print_json

    try:
        if out is not None:  # refused now, not after a run that may take minutes
            from tapeflow.backtest.config import check_output_dir

            check_output_dir(out, field="--out")
        report = run_with_progress(config, out, quiet=json_out, audit=audit)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json(report)
    else:
        print_report(report)
    if report.get("halted"):
        raise typer.Exit(code=HALTED_EXIT)


def run_with_progress(config: Path, out: Path | None, *, quiet: bool, audit: Path | None = None) -> dict[str, Any]:
    import msgspec

    from tapeflow.backtest.config import check_audit_db, load_backtest_config

    cfg = load_backtest_config(config)
    if audit is not None:  # a shell path: relative to the working directory, unlike the config's own paths
        check_audit_db(audit, field="--audit")
        cfg = msgspec.structs.replace(cfg, audit=msgspec.structs.replace(cfg.audit, path=str(audit)))
    return run_config_with_progress(cfg, out, quiet=quiet)


def run_config_with_progress(cfg: BacktestConfig, out: Path | None, *, quiet: bool) -> dict[str, Any]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from tapeflow.backtest.run import run_backtest_config

    columns = (
        TextColumn("[bold]backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True, disable=quiet) as bar:
        task = bar.add_task("replay", total=None)
        _, report = run_backtest_config(
            cfg,
            progress=lambda n: bar.advance(task, n),
            on_total=lambda total: bar.update(task, total=total),
            output_dir=out,
        )
    return report


def print_report(report: dict[str, Any]) -> None:
    import msgspec
    from rich.console import Console
    from rich.table import Table

    from tapeflow.report.results import Summary, print_summary

    console = Console()
    print_risk_header(report, console)
    print_summary(msgspec.convert(report["summary"], Summary), console)
    table = Table(title="engine", show_header=False)
    for key, value in report["engine"].items():
        table.add_row(key, str(value))
    table.add_row("elapsed", f"{report['elapsed_s']} s")
    table.add_row("events/s", f"{report['events_per_s']:,}" if report["events_per_s"] else "-")
    for path in report["written"]:
        table.add_row("written", path)
    console.print(table)


def print_risk_header(report: dict[str, Any], console: Console) -> None:
    """Which pre-trade checks ran: a run without any is not comparable to one with them, so OFF stands out."""
    risk = report.get("risk")
    if risk is None:
        return
    if risk == "off":
        console.print("Risk checks: OFF (no pre-trade checks ran)", style="bold red", markup=False, highlight=False)
    else:
        console.print(f"Risk checks: {risk}", markup=False, highlight=False)
