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
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer
from rich.console import Console

from tapeflow.cli.output import fail, print_json
from tapeflow.model.errors import ConfigError, TapeflowError

if TYPE_CHECKING:
    from tapeflow.live.dashboard import DashboardConfig
    from tapeflow.live.session import LiveResult, LiveSession

TOKEN_ENV = "TAPEFLOW_DASHBOARD_TOKEN"


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
    dashboard: Annotated[
        str | None,
        typer.Option(
            "--dashboard",
            metavar="[HOST:]PORT",
            help="Serve the live dashboard here (127.0.0.1 unless --dashboard-host); its kill button needs the token "
            "printed at start (or $TAPEFLOW_DASHBOARD_TOKEN).",
        ),
    ] = None,
    dashboard_host: Annotated[
        str | None,
        typer.Option("--dashboard-host", help="Bind the dashboard to this address on purpose (default 127.0.0.1)."),
    ] = None,
) -> None:
    """Trade live: the same node as `tapeflow backtest`, on the paper venue or Alpaca, until the feed ends or
    SIGINT/SIGTERM (a graceful stop: open orders cancelled, audit trail flushed; a second signal stops at once)."""
    try:
        board = dashboard_config(dashboard, dashboard_host)
        session = build_session(
            config, json_out=json_out, i_mean_live=i_mean_live, control=control_socket, quiet=quiet, dashboard=board
        )
        if session.dashboard is not None and board is not None:
            _announce_dashboard(session.dashboard.url, board.token)
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


def dashboard_config(spec: str | None, host: str | None) -> DashboardConfig | None:
    """``--dashboard``/``--dashboard-host`` checked (a host other machines reach only when named on purpose), with
    the kill button's token: ``$TAPEFLOW_DASHBOARD_TOKEN``, or a fresh random one."""
    from tapeflow.live.dashboard import DashboardConfig, dashboard_address  # lazy: starlette, not for --help
    from tapeflow.live.dashboard_kill import MIN_TOKEN  # lazy: as above

    if spec is None:
        if host is not None:
            raise ConfigError("--dashboard-host needs --dashboard PORT", field="--dashboard-host")
        return None
    bound, port = dashboard_address(spec, host)
    token = os.environ.get(TOKEN_ENV, "")
    if token and len(token) < MIN_TOKEN:
        raise ConfigError(f"${TOKEN_ENV} must have at least {MIN_TOKEN} characters", field=TOKEN_ENV)
    return DashboardConfig(host=bound, port=port, token=token or secrets.token_urlsafe(24))


def _announce_dashboard(url: str, token: str) -> None:
    """On stderr (never in ``--json``'s stdout): where the page is, with a fresh token in the URL's fragment (a
    browser never sends a fragment to a server, so it is in no log but this terminal's)."""
    err = Console(stderr=True, highlight=False)
    if os.environ.get(TOKEN_ENV):
        err.print(f"  dashboard: {url} (kill token: ${TOKEN_ENV})", markup=False)
    else:
        err.print(f"  dashboard: {url}#token={token}", markup=False)


def build_session(
    config: Path,
    *,
    json_out: bool,
    i_mean_live: bool,
    control: Path | None,
    quiet: bool,
    dashboard: DashboardConfig | None = None,
) -> LiveSession:
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
    return LiveSession(cfg, keys, json_out=json_out, console=not quiet, out=None, dashboard=dashboard)


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
