"""``tapeflow live CONFIG.toml``: the trading node on a live venue (the local paper venue, or Alpaca).

Real money needs two keys turned: ``venue = "alpaca-live"`` in the configuration and ``--i-mean-live`` on the
command line; either alone is refused with a line saying what is missing. Keys come from the environment or a
keys file (``tapeflow.live.keys``), never from the configuration or the command line (a shell's history keeps
what is typed).

Exit status: 0 the run ended (the feed ended, a graceful stop); 2 a user error (configuration, keys, a venue that
cannot be reached at start); 128 + N a second signal N cut the graceful stop short.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer
from rich.console import Console

from tapeflow.cli.output import fail, print_json
from tapeflow.model.errors import ConfigError, TapeflowError

if TYPE_CHECKING:
    from tapeflow.live.session import LiveResult, LiveSession


def live_command(
    config: Annotated[Path, typer.Argument(help="TOML: \\[live], \\[strategy], \\[risk], \\[audit] (docs/LIVE.md).")],
    json_out: Annotated[
        bool,
        typer.Option("--json", help="JSON lines: snapshots (<= 4/s), then the result."),
    ] = False,
    i_mean_live: Annotated[
        bool, typer.Option("--i-mean-live", help='Required with venue = "alpaca-live": real orders, real money.')
    ] = False,
    control_socket: Annotated[
        Path | None, typer.Option("--control", help="Listen for `tapeflow kill --socket` here (overrides \\[live]).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No live view; only the result at the end.")] = False,
) -> None:
    """Trade live: the same node as `tapeflow backtest`, on the paper venue or Alpaca, until the feed ends or
    SIGINT/SIGTERM (a graceful stop: open orders cancelled, audit trail flushed; a second signal stops at once)."""
    try:
        session = build_session(config, json_out=json_out, i_mean_live=i_mean_live, control=control_socket, quiet=quiet)
        result = asyncio.run(session.run())
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json({"result": msgspec.to_builtins(result)})
    else:
        print_result(result)
    if result.stop.exit_code:
        raise typer.Exit(code=result.stop.exit_code)


def build_session(config: Path, *, json_out: bool, i_mean_live: bool, control: Path | None, quiet: bool) -> LiveSession:
    from tapeflow.live.config import load_live_config  # lazy: the live stack (~0.3 s), not for --help
    from tapeflow.live.keys import load_keys  # lazy: as above
    from tapeflow.live.session import LiveSession  # lazy: as above

    cfg = load_live_config(config)
    if cfg.live.venue == "alpaca-live" and not i_mean_live:
        raise ConfigError(
            'venue = "alpaca-live" sends real orders with real money: add --i-mean-live if that is what you want, '
            'or use "alpaca-paper"',
            path=config,
            field="live.venue",
        )
    if i_mean_live and cfg.live.venue != "alpaca-live":
        raise ConfigError(
            f'--i-mean-live is for venue = "alpaca-live"; this configuration trades on {cfg.live.venue!r}',
            path=config,
            field="live.venue",
        )
    if control is not None:
        cfg = msgspec.structs.replace(cfg, live=msgspec.structs.replace(cfg.live, control_socket=str(control)))
    keys = load_keys(cfg.live.venue, cfg.live.keys_file)
    if not json_out and not quiet:
        _announce(cfg, keys.source)
    return LiveSession(cfg, keys, json_out=json_out, console=not quiet, out=None)


def _announce(cfg: Any, keys_source: str) -> None:
    ends = cfg.live.endpoints()
    err = Console(stderr=True, highlight=False)
    err.print(f"tapeflow live: {cfg.live.venue} at {ends.trading} (clock: {cfg.live.node_clock})", markup=False)
    err.print(f"  strategy {cfg.strategy.name} on {', '.join(cfg.live.symbols)}; keys from {keys_source}", markup=False)
    if cfg.live.control_socket:
        err.print(f"  control: tapeflow kill --socket {cfg.live.control_socket}", markup=False)
    err.print("  Ctrl-C stops gracefully (open orders cancelled); twice stops at once.", markup=False)


def print_result(result: LiveResult, console: Console | None = None) -> None:
    """The run for a person: how it ended, the results summary, the feed and the order API's counters."""
    from tapeflow.report.results import Summary, print_summary  # lazy: pyarrow (~0.1 s), not for --help

    console = console or Console()
    stop = result.stop
    how = {"source": "the feed ended", "graceful": "graceful stop", "hard": "stopped at once"}.get(stop.how, stop.how)
    line = f"run {result.run_id} on {result.venue}: {how}"
    if stop.reason:
        line += f" ({stop.reason})"
    if stop.how != "source":
        line += f"; {stop.cancelled} orders cancelled, {'all' if stop.drained else 'not all'} confirmed"
    console.print(line, markup=False, highlight=False)
    print_summary(msgspec.convert(result.summary, Summary), console)
    feed = result.feed
    console.print(
        f"feed: {feed.get('rows', 0)} messages, {feed.get('malformed', 0)} malformed, "
        f"{feed.get('duplicates', 0)} duplicates, {feed.get('out_of_order', 0)} out of order",
        markup=False,
        highlight=False,
    )
    orders = result.orders
    console.print(
        f"order API: {orders['requests']} requests, {orders['retries']} retried, {orders['given_up']} given up",
        markup=False,
        highlight=False,
    )
    for error in orders["errors"][:5]:
        console.print(f"  {error}", markup=False, highlight=False)
    sys.stdout.flush()
