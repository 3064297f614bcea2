"""``tapeflow report RESULTS_DIR -o report.html``: the tear sheet of a finished run, as one offline HTML page.

The folder is what ``tapeflow backtest CONFIG --out FOLDER`` (or ``--report``) wrote; docs/REPORTS.md says what
each chart shows. A folder that is not one, or an output path that is a folder, a link or has no parent folder,
is one line on stderr and exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tapeflow.cli.output import fail, print_json, say
from tapeflow.model.errors import TapeflowError

DEFAULT_NAME = "report.html"


def report_command(
    results: Annotated[Path, typer.Argument(help="Results folder of a run (tapeflow backtest --out FOLDER).")],
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help=f"HTML file to write (default: RESULTS/{DEFAULT_NAME}).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a line.")] = False,
) -> None:
    """Write the run's tear sheet: equity, drawdown, returns, metrics, fills, slippage, latency, risk (offline)."""
    from tapeflow.report.tearsheet import write_tearsheet  # lazy: plotly and pyarrow (~0.3 s), not for --help

    target = out if out is not None else results / DEFAULT_NAME
    try:
        written = write_tearsheet(results, target)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    size = written.stat().st_size
    if json_out:
        print_json({"report": str(written), "bytes": size})
    else:
        say(f"report written: {written} ({size / 1_000_000:.1f} MB, opens offline)")
