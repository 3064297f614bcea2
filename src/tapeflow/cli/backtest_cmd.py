"""``tapeflow backtest CONFIG.toml``: run a configured backtest with a progress bar, print its summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from tapeflow.cli.output import counted_progress, fail, print_json
from tapeflow.model.display import money, ny_time, utc_iso
from tapeflow.model.errors import TapeflowError

if TYPE_CHECKING:
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
        typer.Option("--audit", help="Write the audit trail to this SQLite file (overrides \\[audit] path)."),
    ] = None,
    report_html: Annotated[
        str | None,
        typer.Option(
            "--report",
            help="Also write the HTML tear sheet to this file (bare --report: report.html in the --out folder; "
            "without --out the results go beside the page, in NAME.results/).",
        ),
    ] = None,
) -> None:
    """Replay history through the kernel, the simulated exchange, risk and portfolio, and summarise the run.

    Exit status: 0 the run completed, 2 user error (bad configuration or data path), 3 the kill switch halted
    trading during the run (the summary says when and why).
    """

    try:
        page = None
        if report_html is not None:
            out, page = report_paths(out, report_html)
        if out is not None:  # refused now, not after a run that may take minutes
            from tapeflow.backtest.config import check_output_dir  # lazy: backtest stack (~0.15 s), not for --help

            check_output_dir(out, field="--out")
        report = run_with_progress(config, out, quiet=json_out, audit=audit)
        if page is not None and out is not None:
            from tapeflow.report.tearsheet import write_tearsheet  # lazy: plotly (~0.3 s), only with --report

            report["report"] = str(write_tearsheet(out, page))
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json(report)
    else:
        print_report(report)
    if report.get("halted"):
        raise typer.Exit(code=HALTED_EXIT)


def bare_report(args: list[str]) -> list[str]:
    """``--report`` with no path (last, or followed by another option; ``backtest`` and ``compare``) as
    ``--report=``: typer has no options with an optional value, so ``main`` rewrites the command line before
    parsing it."""
    if "backtest" not in args and "compare" not in args:
        return args
    fixed = list(args)
    for i, arg in enumerate(fixed):
        if arg == "--report" and (i + 1 == len(fixed) or fixed[i + 1].startswith("-")):
            fixed[i] = "--report="
    return fixed


def report_paths(out: Path | None, report_html: str) -> tuple[Path, Path]:
    """Where ``--report`` puts the results and the page: the page needs the results folder, so without ``--out``
    the results go beside the page (``run.html`` -> ``run.results/``). Both paths are checked before the run."""
    from tapeflow.report.tearsheet import check_report_path  # lazy: plotly (~0.3 s), only with --report

    if report_html:
        page = Path(report_html)
        folder = out if out is not None else page.with_name(page.stem + ".results")
    elif out is not None:
        folder, page = out, out / "report.html"
    else:
        folder = Path("tapeflow-results")
        page = folder / "report.html"
    if page.parent != folder:
        check_report_path(page)
    return folder, page


def run_with_progress(config: Path, out: Path | None, *, quiet: bool, audit: Path | None = None) -> dict[str, Any]:
    from tapeflow.backtest.config import (  # lazy: backtest stack (~0.15 s), not for --help
        check_audit_db,
        load_backtest_config,
    )

    cfg = load_backtest_config(config)
    if audit is not None:  # a shell path: relative to the working directory, unlike the config's own paths
        check_audit_db(audit, field="--audit")
        cfg = msgspec.structs.replace(cfg, audit=msgspec.structs.replace(cfg.audit, path=str(audit)))
    return run_config_with_progress(cfg, out, quiet=quiet)


def run_config_with_progress(cfg: BacktestConfig, out: Path | None, *, quiet: bool) -> dict[str, Any]:
    from tapeflow.backtest.run import run_backtest_config  # lazy: backtest stack (~0.15 s), not for --help

    with counted_progress("backtest", "events", quiet=quiet) as bar:
        task = bar.add_task("replay", total=None)
        _, report = run_backtest_config(
            cfg,
            progress=lambda n: bar.advance(task, n),
            on_total=lambda total: bar.update(task, total=total),
            output_dir=out,
        )
    summary = report["summary"]
    report["period_utc"] = [_utc(summary.get("start_ns")), _utc(summary.get("end_ns"))]
    return report


def _utc(ts_ns: int | None) -> str | None:
    """ISO 8601 UTC beside the exact ns in --json: programs read UTC, people read New York time."""
    return None if ts_ns is None else utc_iso(ts_ns)


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """The run for a person: what ran on what (header), the results, the engine's counters, the refusals."""
    from tapeflow.report.results import Summary, print_summary  # lazy: pyarrow (~0.1 s), not for --help

    console = console or Console()
    summary = msgspec.convert(report["summary"], Summary)
    for line in header_lines(report, summary):
        console.print(line, markup=False, highlight=False, soft_wrap=False, overflow="fold")
    print_risk_header(report, console)
    print_summary(summary, console)
    if report.get("ml"):
        console.print(ml_table(report["ml"]))
    console.print(_engine_table(report))
    rejections = report.get("risk_rejections") or []
    if rejections:
        console.print(_rejections_table(rejections))


def header_lines(report: dict[str, Any], summary: Any) -> list[str]:
    """Strategy, symbols, period (New York time) and data, so a printed result says what it is the result of."""
    symbols = report.get("symbols") or []
    shown = ", ".join(symbols[:8]) + (f" and {len(symbols) - 8} more" if len(symbols) > 8 else "")
    lines = [f"strategy: {report.get('strategy', '?')}" + (f" on {shown}" if shown else "")]
    if summary.start_ns is not None and summary.end_ns is not None:
        lines.append(
            f"period:   {ny_time(summary.start_ns, precision='s')} to {ny_time(summary.end_ns, precision='s')}"
        )
    paths = report.get("paths") or []
    data = f"data:     {report.get('data', '?')} ({report.get('level', '?')})"
    if paths:
        data += (
            ": "
            + ", ".join(Path(p).name for p in paths[:3])
            + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        )
    lines.append(data)
    extras = []
    if report.get("stp") not in (None, "off"):
        extras.append(f"self-trade prevention: {report['stp']}")
    if report.get("audit"):
        extras.append(f"audit trail: {report['audit']}")
    if extras:
        lines.append("          " + "; ".join(extras))
    return lines


_ENGINE_LABELS = {
    "feed_events": "feed events",
    "scheduled_events": "scheduled events",
    "exchange_fills": "exchange fills",
    "exchange_rejects": "exchange rejects",
    "risk_passed": "risk checks passed",
    "risk_rejected": "risk refusals",
    "refused_reports": "refused venue reports",
}


def _engine_table(report: dict[str, Any]) -> object:
    """The engine's counters with words for labels; the kill switch as a sentence, never a dict."""

    engine = report["engine"]
    table = Table(title="engine", show_header=False)
    table.add_column("counter")
    table.add_column("value", justify="right", overflow="fold")
    for key, label in _ENGINE_LABELS.items():
        if key in engine:
            table.add_row(label, f"{engine[key]:,}")
    ks = engine.get("risk_kill_switch") or {}
    if ks:
        state = "ENGAGED" if ks.get("engaged") else "off"
        if ks.get("engaged") and ks.get("ts"):
            state += f" since {ny_time(ks['ts'], precision='s')}"
        if ks.get("persist_failures"):
            state += f" ({ks['persist_failures']:,} state writes failed)"
        if ks.get("cancels_resent") or ks.get("cancel_alarms") or ks.get("cancels_unanswered"):
            state += f"; {ks.get('cancels_resent', 0):,} cancels resent, {ks.get('cancel_alarms', 0):,} alarms"
            if ks.get("cancels_unanswered"):
                state += f", {ks['cancels_unanswered']:,} unanswered"
        table.add_row("kill switch at end", state)
    table.add_row("elapsed", f"{report['elapsed_s']:,.3f} s")
    table.add_row("events/s", f"{report['events_per_s']:,}" if report["events_per_s"] else "-")
    for path in report["written"]:
        table.add_row("written", path)
    if report.get("report"):
        table.add_row("report", report["report"])
    return table


def ml_table(ml: dict[str, dict[str, Any]]) -> Table:
    """One row per run (retrained, and frozen with ``compare_frozen``): what the model's predictions were worth."""
    table = Table(title="model", show_header=True)
    for name in ("run", "hit rate", "predictions", "PnL", "updates", "failures"):
        table.add_column(name, justify="left" if name == "run" else "right")
    for run in ("retrained", "frozen"):
        figures = ml.get(run)
        if figures is None:
            continue
        hit = figures.get("hit_rate")
        table.add_row(
            run,
            "-" if hit is None else f"{hit:.2%}",
            f"{figures['predictions']:,}",
            money(figures.get("pnl_units")),
            f"{figures['updates']:,}",
            f"{figures['failures']:,}",
        )
    return table


def _rejections_table(rejections: list[dict[str, Any]]) -> object:
    """Each rule that refused orders: how many, and the first refusal's sentence (it states limit and value)."""
    table = Table(title="risk rejections by rule", show_header=True)
    table.add_column("rule")
    table.add_column("orders", justify="right")
    table.add_column("first refusal (limit and value)", overflow="fold")
    for r in rejections:
        table.add_row(r["rule"], f"{r['count']:,}", r["first_reason"])
    return table


def print_risk_header(report: dict[str, Any], console: Console) -> None:
    """Which pre-trade checks ran: a run without any is not comparable to one with them, so OFF stands out."""
    risk = report.get("risk")
    if risk is None:
        return
    if risk == "off":
        console.print("Risk checks: OFF (no pre-trade checks ran)", style="bold red", markup=False, highlight=False)
    else:
        console.print(f"Risk checks: {risk}", markup=False, highlight=False)
