"""The ``tapeflow`` command line: one typer app; each command in its own module here (``*_cmd.py``, ``demo.py``).

The top layer: commands import what they run (backtest, data, compliance, risk) and how to print it
(``output.py``); nothing below imports this package.

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

import typer

from tapeflow import __version__
from tapeflow.cli.output import USER_ERROR, fail, print_json, state
from tapeflow.model.errors import TapeflowError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="tapeflow",
    help="Event-driven trading for US equities: one event queue for backtest and live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    state["debug"] = debug


@app.command()
def demo(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML run configuration, \\[data] included (defaults built in)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    events: Annotated[
        int | None, typer.Option("--events", min=1, help="Events per symbol (overrides the config).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the synthetic market.")] = None,
) -> None:
    """A full backtest (quoter, latency, fees, risk) on the built-in synthetic market, or a --config's \\[data]."""
    from tapeflow.cli.demo import run_demo  # lazy: backtest stack (~0.15 s), not for --help

    try:
        run_demo(config_path=config, json_out=json_out, events_per_symbol=events, seed=seed)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)


from tapeflow.cli.book_cmd import book_app  # noqa: E402

app.add_typer(book_app, name="book")
from tapeflow.cli.data_cmd import data_app  # noqa: E402

app.add_typer(data_app, name="data")

from tapeflow.cli.latency_cmd import latency_command  # noqa: E402

app.command(name="latency")(latency_command)


from tapeflow.cli.calibrate_cmd import calibrate_command  # noqa: E402

app.command(name="calibrate")(calibrate_command)


from tapeflow.cli.backtest_cmd import backtest_command, bare_report  # noqa: E402

app.command(name="backtest")(backtest_command)


from tapeflow.cli.report_cmd import report_command  # noqa: E402

app.command(name="report")(report_command)


from tapeflow.cli.compare_cmd import compare_command  # noqa: E402

app.command(name="compare")(compare_command)


from tapeflow.cli.audit_cmd import audit_app, surveil_command  # noqa: E402

app.add_typer(audit_app, name="audit")
app.command(name="surveil")(surveil_command)


from tapeflow.cli.kill_cmd import kill_command  # noqa: E402

app.command(name="kill")(kill_command)


from tapeflow.cli.paper_cmd import paper_command  # noqa: E402

app.command(name="paper")(paper_command)


from tapeflow.cli.live_cmd import live_command  # noqa: E402

app.command(name="live")(live_command)


from tapeflow.cli.sweep_cmd import sweep_command  # noqa: E402

app.command(name="sweep")(sweep_command)


def main() -> None:
    """Console-script entry point.

    Under ``--json`` a usage error (an unknown option, a value out of range) is also one JSON object on stdout,
    like every other user error; typer's own message still goes to stderr.
    """
    sys.argv[1:] = bare_report(sys.argv[1:])
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
