"""``tapeflow compare CONFIG.toml``: vectorized against event-driven on the same bars, and why they differ."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tapeflow.model.errors import TapeflowError


def compare_command(
    config: Annotated[Path, typer.Argument(help="TOML run configuration with bar data and the sma_cross strategy.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    show: Annotated[int, typer.Option("--show", help="How many paired trades to list.")] = 10,
    push_pull: Annotated[
        bool, typer.Option("--push-pull", help="Compare event-driven (push) with polling (pull) instead.")
    ] = False,
    poll_ms: Annotated[int, typer.Option("--poll-ms", min=1, help="Polling interval for --push-pull.")] = 100,
) -> None:
    """Vectorized against event-driven on bars (look-ahead), or with --push-pull, events against polling."""
    from tapeflow.backtest.compare import compare_push_pull, compare_sma
    from tapeflow.backtest.config import load_backtest_config
    from tapeflow.cli import fail, print_json

    try:
        cfg = load_backtest_config(config)
        report = compare_push_pull(cfg, poll_ms) if push_pull else compare_sma(cfg)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json(report)
    elif push_pull:
        _print_push_pull(report)
    else:
        _print(report, show)


def _print_push_pull(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{report['strategy']} on {report['data']}: every event (push) vs a poll every "
        f"{report['poll_ms']} ms (pull)"
    )
    table.add_column("")
    table.add_column("push", justify="right")
    table.add_column("pull", justify="right")
    push, pull = report["push"], report["pull"]
    for key in ("orders", "fills", "filled_quantity", "pnl_units", "fees_units", "limit_fill_ratio"):
        table.add_row(key, _fmt(push.get(key)), _fmt(pull.get(key)))
    for key in ("quotes", "quotes_never_seen", "reaction_delay_mean_us", "reaction_delay_max_us"):
        table.add_row(key, "0" if "never" in key or "delay" in key else "-", _fmt(pull.get(key)))
    console = Console()
    console.print(table)
    console.print(f"blind spot: {report['blind_spot']}")
    console.print(f"PnL difference (push - pull): {report['pnl_difference_units'] / 10_000:,.2f} dollars")


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _print(report: dict[str, Any], show: int) -> None:
    import datetime

    from rich.console import Console
    from rich.table import Table

    from tapeflow.model.prices import price_to_str

    console = Console()
    head = Table(title=f"{report['symbol']}: SMA {report['fast']}/{report['slow']} over {report['bars']:,} bars")
    head.add_column("")
    head.add_column("vectorized (fills at signal close)", justify="right")
    head.add_column("event-driven (fills at next open)", justify="right")
    v, e = report["vectorized"], report["event_driven"]
    head.add_row("trades", str(v["trades"]), str(e["trades"]))
    head.add_row(
        "final equity", f"${price_to_str(v['final_equity_units'])}", f"${price_to_str(e['final_equity_units'])}"
    )
    head.add_row("total return", f"{v['total_return']:.4%}", f"{e['total_return']:.4%}")
    head.add_row(
        "difference", f"{report['return_difference']:+.4%}", f"${price_to_str(report['pnl_difference_units'])}"
    )
    console.print(head)
    trades = Table(title="first paired trades")
    for col in ("date", "side", "vectorized price", "event-driven price", "difference"):
        trades.add_column(col)
    for pair in report["paired_trades"][:show]:
        day = datetime.datetime.fromtimestamp(pair["vectorized"]["ts"] // 1_000_000_000, datetime.UTC).date()
        trades.add_row(
            str(day),
            pair["vectorized"]["side"],
            price_to_str(pair["vectorized"]["price"]),
            price_to_str(pair["event_driven"]["price"]),
            price_to_str(pair["price_difference"]),
        )
    console.print(trades)
    console.print("[bold]why they differ[/]")
    for cause in report["causes"]:
        console.print(f"- {cause}")
