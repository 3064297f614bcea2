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

from tapeflow.cli.output import fail, print_json
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
) -> None:
    """Follow seeded passive orders under the exact L3 queue and each L2 queue model; score each model.

    The table shows each model's fill probability (the L3 row is the truth's), the confusion against the truth and
    the time to fill; ``--json`` adds the truth's fill probability per row and the medians. With ``--latency``:
    example strategies under each latency preset instead (docs/REALISM.md, "Latency sensitivity").
    """
    if latency:
        latency_study(config, json_out=json_out)
        return
    from tapeflow.calibration import config as cal_config  # lazy: data readers and the exchange, not for --help
    from tapeflow.calibration.run import run_calibration  # lazy: as above

    try:
        if config is None:
            cfg, base = cal_config.CalibrateSection(), None
        else:
            cfg, base = cal_config.load_calibrate_config(config), config.resolve().parent
        report = run_calibration(cfg, base)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    data = msgspec.to_builtins(report)
    if json_out:
        print_json(data)
    else:
        print_calibration(data)


def latency_study(config: Path | None, *, json_out: bool) -> None:
    from tapeflow.backtest.latency_study import run_latency_study  # lazy: runs backtests, not for --help
    from tapeflow.calibration.latency import load_latency_study  # lazy: as above

    try:
        if config is None:
            raise ConfigError("--latency needs CONFIG.toml with a [latency_study] section")
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


def print_latency_study(data: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"[bold]Latency sensitivity[/]: {data['base']}; windows {data['windows']} events (mean, range across them)",
        highlight=False,
    )
    table = Table(box=box.SIMPLE_HEAD, caption="bps of the mid; markouts signed in the fill's favour")
    marks = [f"markout_{h}s_bps" for h in data["horizons_s"]]
    for name in ("strategy", "where", "entry us", "PnL $", "fill %", "slip", *(f"mk {h}s" for h in data["horizons_s"])):
        table.add_column(name, justify="left" if name in ("strategy", "where") else "right")
    for row in data["rows"]:
        m = row["mean"]
        fill = None if m["fill_rate"] is None else 100 * m["fill_rate"]
        table.add_row(
            row["role"],
            row["location"],
            _f(row["order_entry_us"], 1),
            _f(m["pnl_dollars"], 0),
            _f(fill, 1),
            _f(m["slippage_bps"]),
            *(_f(m[k]) for k in marks),
        )
    console.print(table)
    for check in data["checks"]:
        verdict = "holds" if check["holds"] else "FAILS"
        console.print(
            f"{check['role']} {check['strategy']}: {check['measure']} does not improve with latency "
            f"(tolerance {check['tolerance']}): {verdict}",
            highlight=False,
        )


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
