"""``tapeflow calibrate [CONFIG.toml]``: the L2 queue models scored against the L3 truth of real days (a table or
one JSON object). Docs: docs/REALISM.md.

This module must not import ``tapeflow.cli`` at import time (``cli`` imports it); the calibration itself is loaded
only when the command runs (see the ``# lazy:`` line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tapeflow.cli.output import err_console, fail, print_json, say
from tapeflow.model.errors import ConfigError, TapeflowError


def calibrate_command(
    config: Annotated[
        Path | None,
        typer.Argument(help="TOML with a \\[calibrate] section (default: every LOBSTER day under the data root)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    latency: Annotated[
        bool,
        typer.Option("--latency", help="CONFIG has a \\[latency_study]: run the latency sensitivity study instead."),
    ] = False,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Also write the charts as one offline HTML page to this file.")
    ] = None,
) -> None:
    """Follow seeded passive orders under the exact L3 queue and each L2 queue model; score each model.

    The table shows each model's fill probability (the L3 row is the truth's), the confusion against the truth and
    the time to fill; ``--json`` adds the truth's fill probability per row and the medians. With ``--latency``:
    example strategies under each latency preset instead (docs/REALISM.md, "Latency sensitivity"). ``--html``
    writes the same figures as charts (docs/REPORTS.md, "Calibration pages").
    """
    if latency:
        latency_study(config, json_out=json_out, html_out=html_out)
        return
    from tapeflow.calibration import config as cal_config  # lazy: data readers and the exchange, not for --help
    from tapeflow.calibration.page import write_calibration_page  # lazy: plotly, not for --help
    from tapeflow.calibration.run import run_calibration  # lazy: as above
    from tapeflow.report.tearsheet import check_report_path  # lazy: as above

    try:
        if html_out is not None:
            check_report_path(html_out, "--html")  # before the run: a bad path must not cost a calibration
        if config is None:
            cfg, base = cal_config.CalibrateSection(), None
        else:
            cfg, base = cal_config.load_calibrate_config(config), config.resolve().parent
        report = run_calibration(cfg, base)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    data = msgspec.to_builtins(report)  # one source: the JSON, the table and the page all read this
    if json_out:
        print_json(data)
    else:
        print_calibration(data)
    if html_out is not None:
        _written(write_calibration_page(data, html_out), json_out=json_out)


def _written(path: Path, *, json_out: bool) -> None:
    """Under ``--json`` stdout holds the one object only: the line goes to stderr."""
    line = f"page written: {path} ({path.stat().st_size / 1_000_000:.1f} MB, opens offline)"
    if json_out:
        err_console.print(line, highlight=False, markup=False, soft_wrap=True)
    else:
        say(line)


def latency_study(config: Path | None, *, json_out: bool, html_out: Path | None = None) -> None:
    from tapeflow.backtest.latency_study import run_latency_study  # lazy: runs backtests, not for --help
    from tapeflow.calibration.latency import load_latency_study  # lazy: as above
    from tapeflow.calibration.page import write_latency_page  # lazy: plotly, not for --help
    from tapeflow.report.tearsheet import check_report_path  # lazy: as above

    try:
        if config is None:
            raise ConfigError("--latency needs CONFIG.toml with a [latency_study] section")
        if html_out is not None:
            check_report_path(html_out, "--html")
        study, base = load_latency_study(config)
        report = run_latency_study(study, base)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    data = msgspec.to_builtins(report)
    if json_out:
        print_json(data)
    else:
        print_latency_study(data)
    if html_out is not None:
        _written(write_latency_page(data, html_out), json_out=json_out)


LATENCY_LEGEND = (
    "entry: one-way order entry; fill %: orders with a fill; slip: slippage",
    "against the arrival mid (a cost); mk Ns: markout N s after each fill, in",
    "the fill's favour. slip and mk in bps of the mid; mean across the windows.",
)
"""Under the latency table, each line within 80 columns: the abbreviations spelled out."""


def print_latency_study(data: dict[str, Any], console: Console | None = None) -> None:
    """The study within 80 columns: short headers (spelled out in a legend), the strategies' names in the checks
    table below (the main table names only their role)."""
    console = console or Console()
    console.print(f"[bold]Latency sensitivity[/]: {Path(data['base']).name}", highlight=False)
    console.print(f"windows: first {', '.join(f'{w:,}' for w in data['windows'])} events of the day", highlight=False)
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False)
    marks = [f"markout_{h}s_bps" for h in data["horizons_s"]]
    for name in ("role", "where", "entry", "PnL $", "fill %", "slip", *(f"mk {h}s" for h in data["horizons_s"])):
        table.add_column(name, justify="left" if name in ("role", "where") else "right", no_wrap=True)
    for row in data["rows"]:
        m = row["mean"]
        fill = None if m["fill_rate"] is None else 100 * m["fill_rate"]
        table.add_row(
            row["role"],
            row["location"],
            entry_latency(row["order_entry_us"]),
            _f(m["pnl_dollars"], 0),
            _f(fill, 1),
            _f(m["slippage_bps"]),
            *(_f(m[k]) for k in marks),
        )
    console.print(table)
    for line in LATENCY_LEGEND:
        console.print(line, highlight=False)
    if any(row.get("se") for row in data["rows"]):
        errors = Table(
            title="Standard error of each mean (bps)", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False
        )
        for name in ("role", "where", "slip", *(f"mk {h}s" for h in data["horizons_s"])):
            errors.add_column(name, justify="left" if name in ("role", "where") else "right", no_wrap=True)
        for row in data["rows"]:
            se = row.get("se", {})
            errors.add_row(row["role"], row["location"], *(_f(se.get(k)) for k in ("slippage_bps", *marks)))
        console.print(errors)
    checks = Table(
        title="Does not improve as latency grows", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False
    )
    for name in ("role", "strategy", "measure", "tolerance", "verdict"):
        checks.add_column(name, justify="right" if name == "tolerance" else "left", no_wrap=True)
    for check in data["checks"]:
        verdict = "holds" if check["holds"] else "FAILS"
        tolerance = f"{check['tolerance']}"
        if check.get("se_multiple"):
            tolerance += f" | {check['se_multiple']:g} SE"  # a step must beat both to count as an improvement
        checks.add_row(check["role"], check["strategy"], check["measure"], tolerance, verdict)
    console.print(checks)


def entry_latency(us: float) -> str:
    """Microseconds in at most seven characters: ``6.3 us``, ``194 us``, ``7.5 ms``, ``26.0 ms``."""
    if us < 100:
        return f"{us:.1f} us"
    if us < 1_000:
        return f"{us:.0f} us"
    return f"{us / 1_000:.1f} ms"


def _f(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_calibration(data: dict[str, Any]) -> None:
    console = Console()
    days = ", ".join(f"{d['symbol']} {d['day']} (L{d['depth']}, {d['probes']} probes)" for d in data["days"])
    console.print(
        f"[bold]Queue models against the L3 truth[/]: {days}; seed {data['seed']}, horizon {data['horizon_s']} s, "
        f"window {data['window'][0]}-{data['window'][1]} New York",
        highlight=False,
    )
    table = Table(box=box.SIMPLE_HEAD, caption="confusion: both filled/model only/truth only/neither")
    for name in ("sym", "lvl", "model", "n", "P(fill)", "confusion", "agree", "ttf s", "MAE s"):
        table.add_column(name, justify="left" if name in ("sym", "model", "confusion") else "right")
    for row in data["scores"]:
        confusion = f"{row['both']}/{row['model_only']}/{row['truth_only']}/{row['neither']}"
        table.add_row(
            row["symbol"],
            "all" if row["level"] == 0 else str(row["level"]),
            row["model"],
            str(row["probes"]),
            _f(row["fill_prob"], 3),
            confusion,
            _f(row["agreement"], 3),
            _f(row["mean_ttf_s"], 1),
            _f(row["mae_ttf_s"]),
        )
    console.print(table)
    for symbol, model in data["best"].items():
        console.print(f"best for {symbol}: {model}", highlight=False)
    for symbol, levels in data["unplaced"].items():
        missing = ", ".join(f"level {lv}: {n}" for lv, n in levels.items())
        console.print(f"{symbol}: probes whose level did not exist then (not scored): {missing}", highlight=False)
