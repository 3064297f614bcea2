"""``tapeflow compare CONFIG.toml``: vectorized against event-driven on the same bars, and why they differ.

``--push-pull`` compares a strategy fed every quote with one polling; ``--push-pull --live URL`` measures the same
blind spot on the wire, against a running venue (``tapeflow paper``, paced) instead of in a backtest: the data
stream and a REST poller side by side for ``--seconds``. It needs no CONFIG (no strategy runs: what is measured is
what each client could see), so CONFIG is optional and refused with ``--live``.

``--out DIR`` also writes the event-driven run's results folder (as ``tapeflow backtest --out``) with the comparison
in its ``run.json``; ``--report [PATH]`` the tear sheet of that folder, which then draws the comparison chart."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tapeflow.cli.backtest_cmd import report_paths
from tapeflow.cli.live_compare import live_push_pull as _live
from tapeflow.cli.live_compare import print_live
from tapeflow.cli.output import counted_progress, fail, print_json
from tapeflow.model.display import money, ny_date, price
from tapeflow.model.errors import ConfigError, TapeflowError


def compare_command(
    config: Annotated[
        Path | None, typer.Argument(help="TOML run configuration with bar data and the sma_cross strategy.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    show: Annotated[int, typer.Option("--show", help="How many paired trades to list.")] = 10,
    push_pull: Annotated[
        bool, typer.Option("--push-pull", help="Compare event-driven (push) with polling (pull) instead.")
    ] = False,
    poll_ms: Annotated[int, typer.Option("--poll-ms", help="Polling interval for --push-pull.")] = 100,
    live: Annotated[
        str | None,
        typer.Option("--live", help="With --push-pull: measure on a running venue at this URL (no CONFIG)."),
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", help="How long --live measures (wall time).")] = 10.0,
    symbols: Annotated[str, typer.Option("--symbols", help="Comma-separated symbols for --live.")] = "",
    stream: Annotated[
        str, typer.Option("--stream", help="The data stream for --live (default: the URL's host, /v2/FEED).")
    ] = "",
    feed: Annotated[str, typer.Option("--feed", help="The data feed for --live (iex, sip).")] = "iex",
    connect_timeout: Annotated[
        float, typer.Option("--connect-timeout", help="Seconds --live waits for the data stream.")
    ] = 10.0,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the event-driven run's results (with the comparison in run.json) here."),
    ] = None,
    report_html: Annotated[
        str | None,
        typer.Option(
            "--report",
            help="Also write the HTML tear sheet, with the comparison chart (bare --report: report.html in --out).",
        ),
    ] = None,
) -> None:
    """Vectorized against event-driven on bars (look-ahead), or with --push-pull, events against polling."""
    from tapeflow.backtest.compare import compare_sma  # lazy: backtest stack (~0.15 s), not for --help
    from tapeflow.backtest.config import (  # lazy: backtest stack (~0.15 s), not for --help
        check_output_dir,
        load_backtest_config,
    )

    try:
        if poll_ms < 1:
            raise ConfigError(f"--poll-ms must be at least 1, got {poll_ms}", field="--poll-ms")
        if live is not None:
            if config is not None:
                raise ConfigError("--live measures a running venue: give no CONFIG", field="--live")
            if not push_pull:
                raise ConfigError("--live measures push against pull: add --push-pull", field="--live")
            report = _live(
                live,
                symbols,
                poll_ms=poll_ms,
                seconds=seconds,
                stream=stream,
                feed=feed,
                connect_timeout=connect_timeout,
                quiet=json_out,
            )
            if json_out:
                print_json(report)
            else:
                print_live(report)
            return
        if config is None:
            raise ConfigError("name a CONFIG.toml (or measure a running venue with --push-pull --live URL)")
        if push_pull and (out is not None or report_html is not None):
            raise ConfigError("--out and --report save the vectorized comparison, not --push-pull", field="--out")
        page = None
        if report_html is not None:
            out, page = report_paths(out, report_html)
        if out is not None:  # refused now, not after the runs
            check_output_dir(out, field="--out")
        cfg = load_backtest_config(config)
        report = _push_pull_with_progress(cfg, poll_ms, quiet=json_out) if push_pull else compare_sma(cfg)
        if out is not None:
            _save(cfg, out, page, report)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json(report)
    elif push_pull:
        _print_push_pull(report)
    else:
        _print(report, show)


def _save(cfg: Any, out: Path, page: Path | None, report: dict[str, Any]) -> None:
    """The results folder (and page) of the comparison; where they went is added to ``report``."""
    from tapeflow.backtest.compare import save_comparison  # lazy: backtest stack (~0.15 s), not for --help

    saved = save_comparison(cfg, out, dict(report))
    report["written"] = saved["written"]
    if page is not None:
        from tapeflow.report.tearsheet import write_tearsheet  # lazy: plotly (~0.3 s), only with --report

        report["report"] = str(write_tearsheet(out, page))


def _push_pull_with_progress(cfg: Any, poll_ms: int, *, quiet: bool) -> dict[str, Any]:
    """Two full runs over tick data take a while: a bar with an ETA on stderr (not under --json or in a log)."""
    from tapeflow.backtest.compare import compare_push_pull  # lazy: backtest stack (~0.15 s), not for --help

    with counted_progress("push, then pull", "events", quiet=quiet) as bar:
        task = bar.add_task("compare", total=None)
        return compare_push_pull(
            cfg,
            poll_ms,
            progress=lambda n: bar.advance(task, n),
            on_total=lambda total: bar.update(task, total=total),
        )


def _print_push_pull(report: dict[str, Any]) -> None:

    table = Table(
        title=f"{report['strategy']} on {report['data']}: every event (push) vs a poll every "
        f"{report['poll_ms']} ms (pull)"
    )
    table.add_column("measure")
    table.add_column("push", justify="right")
    table.add_column("pull", justify="right")
    push, pull = report["push"], report["pull"]
    rows: list[tuple[str, str, str]] = [
        ("orders", _count(push["orders"]), _count(pull["orders"])),
        ("fills", _count(push["fills"]), _count(pull["fills"])),
        ("shares filled", _count(push["filled_quantity"]), _count(pull["filled_quantity"])),
        ("PnL (net of fees)", money(push["pnl_units"]), money(pull["pnl_units"])),
        ("fees", money(push["fees_units"]), money(pull["fees_units"])),
        ("limit fill ratio", _share(push["limit_fill_ratio"]), _share(pull["limit_fill_ratio"])),
        ("quotes", "all", _count(pull.get("quotes"))),
        ("quotes never seen", "0", _count(pull.get("quotes_never_seen"))),
        ("reaction delay, mean", "0 ms", _ms(pull.get("reaction_delay_mean_us"))),
        ("reaction delay, max", "0 ms", _ms(pull.get("reaction_delay_max_us"))),
    ]
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(f"blind spot: {report['blind_spot']}", markup=False, highlight=False)
    console.print(f"PnL difference (push - pull): {money(report['pnl_difference_units'])}", highlight=False)


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _ms(us: float | None) -> str:
    return "-" if us is None else f"{us / 1_000:,.1f} ms"


def _print(report: dict[str, Any], show: int) -> None:

    console = Console()
    head = Table(title=f"{report['symbol']}: SMA {report['fast']}/{report['slow']} over {report['bars']:,} bars")
    head.add_column("measure")
    head.add_column("vectorized\n(fills at signal close)", justify="right")
    head.add_column("event-driven\n(fills at next open)", justify="right")
    v, e = report["vectorized"], report["event_driven"]
    head.add_row("trades", f"{v['trades']:,}", f"{e['trades']:,}")
    head.add_row("final equity", money(v["final_equity_units"]), money(e["final_equity_units"]))
    head.add_row("total return", f"{v['total_return']:.4%}", f"{e['total_return']:.4%}")
    head.add_row("difference", f"{report['return_difference']:+.4%}", money(report["pnl_difference_units"]))
    console.print(head)
    trades = Table(title="first paired trades")
    trades.add_column("date (New York)")
    trades.add_column("side")
    for col in ("vectorized price", "event-driven price", "difference"):
        trades.add_column(col, justify="right")
    for pair in report["paired_trades"][:show]:
        diff = pair["price_difference"]
        trades.add_row(
            ny_date(pair["vectorized"]["ts"]),
            pair["vectorized"]["side"],
            price(pair["vectorized"]["price"]),
            price(pair["event_driven"]["price"]),
            ("+" if diff > 0 else "") + price(diff) if diff else "$0.00",
        )
    console.print(trades)
    console.print("[bold]why they differ[/]")
    for cause in report["causes"]:
        console.print(f"- {cause}", markup=False, highlight=False)
    for path in report.get("written") or []:
        console.print(f"written: {path}", markup=False, highlight=False)
    if report.get("report"):
        console.print(f"report: {report['report']}", markup=False, highlight=False)
