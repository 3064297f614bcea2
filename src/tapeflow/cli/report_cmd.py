"""``tapeflow report RESULTS -o report.html``: one offline HTML page of a finished run, or of a finished sweep.

RESULTS is what ``tapeflow backtest CONFIG --out FOLDER`` (or ``--report``) wrote: its tear sheet. Or it is the
results table of ``tapeflow sweep`` (a ``.parquet`` file): the sweep page (heatmap, walk-forward, failed tasks;
``--metric``, ``--x``, ``--y`` choose what the heatmap shows). docs/REPORTS.md says what each chart shows. A path
that is neither, or an output path that is a folder, a link or has no parent folder, is one line on stderr and
exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tapeflow.cli.output import fail, print_json, say
from tapeflow.model.errors import ConfigError, TapeflowError

DEFAULT_NAME = "report.html"


def report_command(
    results: Annotated[
        Path, typer.Argument(help="Results folder of a run (tapeflow backtest --out FOLDER), or a sweep's .parquet.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help=f"HTML file to write (default: RESULTS/{DEFAULT_NAME}; a sweep: RESULTS.html)."
        ),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Sweep page: the heatmap's metric (default: walk-forward's, or PnL).")
    ] = None,
    x: Annotated[str | None, typer.Option("--x", help="Sweep page: the heatmap's x parameter (dotted name).")] = None,
    y: Annotated[str | None, typer.Option("--y", help="Sweep page: the heatmap's y parameter (dotted name).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a line.")] = False,
) -> None:
    """Write the run's tear sheet (equity, drawdown, fills, ...) or a sweep's page (heatmap, walk-forward); offline."""
    try:
        if results.is_file():  # a sweep's results table; a run's results are a folder
            written = sweep_page(results, out, metric, x, y)
        else:
            if metric is not None or x is not None or y is not None:
                raise ConfigError("--metric, --x and --y are for a sweep's results table (.parquet)", field="--metric")
            from tapeflow.report.tearsheet import write_tearsheet  # lazy: plotly and pyarrow (~0.3 s), not for --help

            written = write_tearsheet(results, out if out is not None else results / DEFAULT_NAME)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    size = written.stat().st_size
    if json_out:
        print_json({"report": str(written), "bytes": size})
    else:
        say(f"report written: {written} ({size / 1_000_000:.1f} MB, opens offline)")


def sweep_page(results: Path, out: Path | None, metric: str | None, x: str | None, y: str | None) -> Path:
    """The sweep page of ``results`` (default beside it: ``x.parquet`` -> ``x.html``); ``sweep --report`` too."""
    from tapeflow.report.sweep_page import write_sweep_page  # lazy: plotly and pyarrow (~0.3 s), not for --help

    target = out if out is not None else results.with_suffix(".html")
    return Path(write_sweep_page(results, target, metric=metric, x=x, y=y).path)
