"""The ``tapeflow`` command line: one typer app, sub-command groups added by the packages that own them.

User errors (``TapeflowError``) print one line on stderr saying what was wrong and what to do, and exit 2. A
traceback is printed only with ``--debug``. Every command that prints results takes ``--json`` and then prints
exactly one JSON object on stdout: the results, or ``{"error": "...", "code": 2}`` on a user error (the line on
stderr is printed as well).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec
import typer
from rich.console import Console
from rich.markup import escape

from tapeflow import __version__
from tapeflow.model.errors import TapeflowError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="tapeflow",
    help="Event-driven trading for US equities: one event queue for backtest and live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}
err_console = Console(stderr=True)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"tapeflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
) -> None:
    _state["debug"] = debug


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (the ``--json`` contract)."""
    sys.stdout.write(msgspec.json.encode(obj).decode() + "\n")


USER_ERROR = 2


def say(line: str) -> None:
    """One line for a person on stdout: wrapped to the terminal's width when there is one (a TTY, or COLUMNS
    set), continuation lines indented under it; in a pipe or a log each record stays one line, for grep."""
    import os
    import shutil
    import textwrap

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
    if _state["debug"]:
        raise exc
    if json_out:
        print_json({"error": str(exc), "code": USER_ERROR})
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=USER_ERROR)


@app.command()
def demo(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML run configuration, [data] included (defaults built in).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    events: Annotated[
        int | None, typer.Option("--events", min=1, help="Events per symbol (overrides the config).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the synthetic market.")] = None,
) -> None:
    """A full backtest (quoter, latency, fees, risk) on the built-in synthetic market, or a --config's [data]."""
    from tapeflow.report.demo import run_demo

    try:
        run_demo(config_path=config, json_out=json_out, events_per_symbol=events, seed=seed)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)


from tapeflow.report.book_cmd import book_app  # noqa: E402

app.add_typer(book_app, name="book")
from tapeflow.report.data_cmd import data_app  # noqa: E402

app.add_typer(data_app, name="data")

from tapeflow.venues.latency_cmd import latency_command  # noqa: E402

app.command(name="latency")(latency_command)


from tapeflow.report.backtest_cmd import backtest_command  # noqa: E402

app.command(name="backtest")(backtest_command)


from tapeflow.report.compare_cmd import compare_command  # noqa: E402

app.command(name="compare")(compare_command)


from tapeflow.report.audit_cmd import audit_app, surveil_command  # noqa: E402

app.add_typer(audit_app, name="audit")
app.command(name="surveil")(surveil_command)


from tapeflow.risk.kill_cmd import kill_command  # noqa: E402

app.command(name="kill")(kill_command)


def main() -> None:
    """Console-script entry point.

    Under ``--json`` a usage error (an unknown option, a value out of range) is also one JSON object on stdout,
    like every other user error; typer's own message still goes to stderr.
    """
    if "--json" not in sys.argv[1:]:
        app()
        return
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:  # click's usage errors: ClickException derives from it
        exit_code = int(getattr(exc, "exit_code", USER_ERROR))
        print_json({"error": _usage_message(exc), "code": exit_code})
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_message(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    return str(message)
