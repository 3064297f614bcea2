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
) -> None:
    """Run an SMA crossover both ways and show what the vectorized (look-ahead) version gets wrong."""
    from tapeflow.backtest.compare import compare_sma
    from tapeflow.backtest.config import BacktestConfig
    from tapeflow.cli import fail, print_json
    from tapeflow.config import load_config

    try:
        report = compare_sma(load_config(config, BacktestConfig))
    except TapeflowError as exc:
        fail(exc)
        return
    if json_out:
        print_json(report)
    else:
        _print(report, show)


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
