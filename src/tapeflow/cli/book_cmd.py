"""``tapeflow book ...``: order book commands (a typer sub-app, added to the main app by ``tapeflow.cli``).

This module must not import ``tapeflow.cli`` at import time (``cli`` imports it); it imports ``cli.output`` for
the error and JSON helpers, and loads what a command runs only when the command runs (see the ``# lazy:`` lines).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from tapeflow.cli.output import counted_progress, fail, print_json
from tapeflow.data.lobster_file import open_lobster
from tapeflow.model.display import price
from tapeflow.model.errors import TapeflowError

if TYPE_CHECKING:
    from tapeflow.report.book_replay import ReplayReport

book_app = typer.Typer(
    name="book", help="Order book tools: replay and verify market-by-order data.", no_args_is_help=True
)


def _count_rows(path: Path) -> int | None:
    """Rows in the message file, for the progress bar (the zip stores the uncompressed size, not the rows)."""
    try:
        lf = open_lobster(path)
        with zipfile.ZipFile(lf.path) as zf:
            size = zf.getinfo(lf.message_member).file_size
        return size // 40 or None  # ~41 bytes a row: an estimate, the bar's total is corrected at the end
    except (TapeflowError, OSError, KeyError, zipfile.BadZipFile):
        return None


@book_app.command("replay")
def replay_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="A LOBSTER zip (message and orderbook files inside), or a Parquet store converted from one."
        ),
    ],
    verify: Annotated[
        bool, typer.Option("--verify", help="Compare the rebuilt top N levels with every orderbook row.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    max_examples: Annotated[int, typer.Option("--examples", min=0, help="Mismatches to describe in full.")] = 10,
) -> None:
    """Replay a LOBSTER day through the L3 order book; with --verify, prove it against the orderbook file.

    Exits 1 when --verify finds a mismatch, 2 when the file cannot be read.
    """
    from tapeflow.report.book_replay import replay  # lazy: pyarrow (~0.1 s), not for --help

    total = _count_rows(file)
    progress = counted_progress("{task.description}", "rows")
    try:
        with progress:
            task = progress.add_task(f"replay {file.name}", total=total)
            report = replay(
                file,
                verify=verify,
                progress=lambda rows: progress.update(task, completed=rows, total=max(rows, total or 0)),
                max_examples=max_examples,
            )
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json(msgspec.to_builtins(report))
    else:
        out = Console()
        out.print(_replay_table(report))
        for m in report.mismatch_examples:
            out.print(
                f"row {m.row:,} ({m.message}): {m.side} level {m.level} is {_level(m.book)} in the book, "
                f"{_level(m.expected)} in the orderbook file",
                markup=False,
                highlight=False,
            )
    if verify and report.mismatches:
        raise typer.Exit(code=1)


LOBSTER_TYPES = {
    "1": "new orders",
    "2": "partial cancels",
    "3": "deletions",
    "4": "visible executions",
    "5": "hidden executions",
    "6": "cross trades",
    "7": "trading halts",
}
"""LOBSTER's message type codes, as its documentation names them."""


def _level(level: tuple[int, int]) -> str:
    """``100 shares at $585.33`` (an empty level as the file writes it: no price)."""
    units, size = level
    if size == 0 or abs(units) >= 9_999_999_999:
        return "empty"
    return f"{size:,} shares at {price(units)}"


def _replay_table(report: ReplayReport) -> Table:
    """Labelled rows with units: no dict or tuple reprs."""
    table = Table(title=f"{report.symbol} {report.date}, top {report.levels} levels", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right", overflow="fold")
    table.add_row("file", Path(report.file).name)
    table.add_row("messages replayed", f"{report.rows:,}")
    for code, count in sorted(report.messages_by_type.items()):
        table.add_row(f"  {LOBSTER_TYPES.get(code, 'type ' + code)}", f"{count:,}")
    if report.verified:
        verdict = "verified: every row matches" if not report.mismatches else f"{report.mismatches:,} MISMATCHES"
        table.add_row("against the orderbook file", verdict)
    else:
        table.add_row("against the orderbook file", "not checked (pass --verify)")
    table.add_row("levels taken from the file", f"{report.levels_from_file:,}")
    table.add_row("orders first seen mid-life", f"{report.discovered_orders:,}")
    table.add_row("unknown order references", f"{report.unknown_order_refs:,}")
    table.add_row("trades", f"{report.trades:,}")
    bids, asks = report.book_levels_at_end
    table.add_row("book at the end", f"{report.book_orders_at_end:,} orders; {bids:,} bid, {asks:,} ask levels")
    table.add_row("elapsed", f"{report.elapsed_s:,.1f} s ({report.msgs_per_s:,.0f} messages/s)")
    return table
