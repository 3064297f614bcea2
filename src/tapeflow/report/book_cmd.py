"""``tapeflow book ...``: order book commands (a typer sub-app, added to the main app by ``tapeflow.cli``).

This module must not import ``tapeflow.cli`` at import time (``cli`` imports it); the error and JSON helpers
are imported inside the command.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tapeflow.model.errors import TapeflowError

book_app = typer.Typer(
    name="book", help="Order book tools: replay and verify market-by-order data.", no_args_is_help=True
)


def _count_rows(path: Path) -> int | None:
    """Rows in the message file, for the progress bar (the zip stores the uncompressed size, not the rows)."""
    from tapeflow.data.lobster import open_lobster

    try:
        lf = open_lobster(path)
        with zipfile.ZipFile(lf.path) as zf:
            size = zf.getinfo(lf.message_member).file_size
        return size // 40 or None  # ~41 bytes a row: an estimate, the bar's total is corrected at the end
    except (TapeflowError, OSError, KeyError, zipfile.BadZipFile):
        return None


@book_app.command("replay")
def replay_cmd(
    file: Annotated[Path, typer.Argument(help="A LOBSTER zip (message and orderbook files inside).")],
    verify: Annotated[
        bool, typer.Option("--verify", help="Compare the rebuilt top N levels with every orderbook row.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    max_examples: Annotated[int, typer.Option("--examples", min=0, help="Mismatches to describe in full.")] = 10,
) -> None:
    """Replay a LOBSTER day through the L3 order book; with --verify, prove it against the orderbook file.

    Exits 1 when --verify finds a mismatch, 2 when the file cannot be read.
    """
    from tapeflow.cli import fail, print_json
    from tapeflow.report.book_replay import replay

    err = Console(stderr=True)
    total = _count_rows(file)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
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
        table = Table(title=f"{report.symbol} {report.date} level {report.levels}", show_header=False)
        for key, value in msgspec.to_builtins(report).items():
            if key != "mismatch_examples":
                table.add_row(key, f"{value:,.1f}" if isinstance(value, float) else str(value))
        out.print(table)
        for m in report.mismatch_examples:
            out.print(
                f"row {m.row} ({m.message}): {m.side} level {m.level} is {m.book[0]} x {m.book[1]} in the "
                f"book, {m.expected[0]} x {m.expected[1]} in the orderbook file"
            )
    if verify and report.mismatches:
        raise typer.Exit(code=1)
