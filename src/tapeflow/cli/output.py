"""What every command prints: one JSON object under ``--json``, lines for a person, and one-line user errors.

Kept apart from the app (``tapeflow.cli``) so that each command module imports it at the top: the app imports the
commands, the commands import this, and nothing imports the app back.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from typing import Any

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tapeflow.model.errors import TapeflowError

state = {"debug": False}
"""Set by the root callback from ``--debug``: a user error then raises with its traceback."""
err_console = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (the ``--json`` contract)."""
    sys.stdout.write(msgspec.json.encode(obj).decode() + "\n")


USER_ERROR = 2


def say(line: str) -> None:
    """One line for a person on stdout: wrapped to the terminal's width when there is one (a TTY, or COLUMNS
    set), continuation lines indented under it; in a pipe or a log each record stays one line, for grep."""
    if not (sys.stdout.isatty() or os.environ.get("COLUMNS")):
        typer.echo(line)
        return
    width = shutil.get_terminal_size().columns
    indent = " " * (len(line) - len(line.lstrip(" ")))
    wrapped = textwrap.wrap(
        line, width=max(width, 40), subsequent_indent=indent + "  ", break_on_hyphens=False, break_long_words=True
    )
    typer.echo("\n".join(wrapped) if wrapped else line)


def fail(exc: TapeflowError, *, json_out: bool = False) -> None:
    """Report a user error as one line on stderr and exit 2 (with the traceback under --debug).

    Under ``--json`` (pass the command's ``json_out``) stdout also gets one JSON object, ``{"error": "...",
    "code": 2}``, so a program reading stdout sees the failure rather than nothing.
    """
    if state["debug"]:
        raise exc
    if json_out:
        print_json({"error": str(exc), "code": USER_ERROR})
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=USER_ERROR)


def counted_progress(label: str, unit: str, *, quiet: bool = False) -> Progress:
    """A bar of ``unit`` counted so far, against a total when one is known, with an ETA.

    On stderr, so stdout holds only results; off under ``--json`` (``quiet``) and when stderr is not a terminal (a
    log file). ``label`` is rich markup for the first column (``{task.description}`` shows the task's own).
    """
    console = Console(stderr=True)
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    )
