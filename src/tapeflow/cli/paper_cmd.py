"""``tapeflow paper CONFIG.toml``: serve a recorded tape as a local Alpaca-compatible paper venue (issue 15).

Bound to 127.0.0.1 unless ``--host`` asks for another address; a server reachable from elsewhere then needs
``--key``/``--secret``, since ``accept_any`` would let anyone on the network trade it. Ctrl-C and SIGTERM stop it
cleanly: uvicorn catches them while serving and re-raises them after; the handlers installed here receive that
re-raise, so the process ends with a sentence and status 0, not a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer
from rich.console import Console

from tapeflow.cli.output import fail
from tapeflow.config import is_loopback
from tapeflow.model.display import ny_time
from tapeflow.model.errors import ConfigError, TapeflowError

if TYPE_CHECKING:
    from tapeflow.paper.server import PaperServer


def paper_command(
    config: Annotated[Path, typer.Argument(help="TOML: \\[data], \\[latency], \\[fees], \\[portfolio], \\[paper].")],
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; anything but loopback needs --key and --secret.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: a free one).")] = 8000,
    speed: Annotated[
        str | None, typer.Option("--speed", help="step (POST /tapeflow/step), or Nx such as 1x or 10x.")
    ] = None,
    key: Annotated[str | None, typer.Option("--key", help="The only API key accepted (default: any).")] = None,
    secret: Annotated[str | None, typer.Option("--secret", help="Its secret (with --key).")] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--admin-token",
            envvar="TAPEFLOW_ADMIN_TOKEN",
            help="Enables the faults admin route (/tapeflow/faults, header X-Tapeflow-Admin, loopback callers only).",
        ),
    ] = None,
    journal: Annotated[
        Path | None,
        typer.Option("--journal", help="Record every call here; a journal already there is replayed first (restart)."),
    ] = None,
) -> None:
    """Serve a tape through Alpaca's trading API v2, trade_updates and market data streams (alpaca-py works).

    Exit status: 0 stopped (Ctrl-C, SIGTERM, or the end of the tape when paced), 2 user error.
    """
    try:
        server = build_server(
            config, host=host, port=port, speed=speed, key=key, secret=secret, admin_token=admin_token, journal=journal
        )
    except TapeflowError as exc:
        fail(exc)
        return
    console = Console(highlight=False)
    stopped_by: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, _f: stopped_by.append(s)) for sig in _SIGNALS}
    try:
        import asyncio  # lazy: ~13 ms at every `tapeflow` start, needed only while serving

        asyncio.run(server.serve(on_started=lambda: print_started(server, console, open_to_any=key is None)))
    except TapeflowError as exc:
        fail(exc)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if server.restart_requested and not stopped_by:
        bound = server.urls.rest.rsplit(":", 1)[1]
        console.print(f"restarting the paper venue (restart fault) on port {bound} from its journal", markup=False)
        console.file.flush()
        # a new process image in this process (same pid): the journal brings the state back, the port stays
        os.execv(sys.executable, [sys.executable, "-m", "tapeflow", *sys.argv[1:], "--port", bound])
    if server.tape_ended:
        console.print(f"the tape ended at {ny_time(server.venue.now)}; the paper venue stopped", markup=False)
    else:
        why = signal.Signals(stopped_by[0]).name if stopped_by else "asked to"
        console.print(f"the paper venue stopped ({why}) at tape time {ny_time(server.venue.now)}", markup=False)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def build_server(
    config: Path,
    *,
    host: str,
    port: int,
    speed: str | None,
    key: str | None,
    secret: str | None,
    admin_token: str | None = None,
    journal: Path | None = None,
) -> PaperServer:
    """The server the command runs, every option checked first (one line naming the option when one is wrong)."""
    from tapeflow.paper.auth import accept_any, fixed_keys  # lazy: the paper stack (starlette, uvicorn)
    from tapeflow.paper.config import load_paper_config, parse_speed  # lazy: the backtest stack, not for --help
    from tapeflow.paper.server import PaperServer  # lazy: the paper stack (starlette, uvicorn)

    if not host.strip():
        raise ConfigError("the host is empty; leave --host out for 127.0.0.1", field="--host")
    if (key is None) != (secret is None):
        raise ConfigError("give --key and --secret together", field="--key" if key is None else "--secret")
    if not is_loopback(host) and key is None:
        raise ConfigError(
            f"{host} is reachable from other machines; give --key and --secret so only your client can trade",
            field="--host",
        )
    if admin_token is not None and not admin_token.strip():
        raise ConfigError("the admin token is empty; leave it out to serve no admin route", field="--admin-token")
    cfg = load_paper_config(config)
    if speed is not None:
        parse_speed(speed, field="--speed")
        cfg = msgspec.structs.replace(cfg, paper=msgspec.structs.replace(cfg.paper, speed=speed))
    check = accept_any if key is None or secret is None else fixed_keys(key, secret)
    return PaperServer(cfg, check=check, host=host, port=port, admin_token=admin_token, journal=journal)


def print_started(server: PaperServer, console: Console, *, open_to_any: bool) -> None:
    """What a person copies into a client, and what is being replayed at which pace."""
    u = server.urls
    pace = "step (time moves on POST /tapeflow/step)" if server.speed is None else f"{server.speed_text} tape time"
    lines = [
        f"paper venue on {u.rest}",
        f"  TradingClient(url_override=)    {u.rest}",
        f"  TradingStream(url_override=)    {u.trade_stream}",
        f"  StockDataStream(url_override=)  {u.data_stream}",
        f"  speed: {pace}",
        f"  tape:  {server.tape_name}, from {ny_time(server.venue.now)}",
        "  keys:  any non-empty key and secret" if open_to_any else "  keys:  only the --key/--secret given",
        f"  journal: {server.replayed.entries} calls replayed" if server.journal is not None else "",
        f"  faults: POST {u.rest}/tapeflow/faults (header X-Tapeflow-Admin)" if server.faults is not None else "",
        "Ctrl-C stops it.",
    ]
    for line in lines:
        if line:
            console.print(line, markup=False, soft_wrap=True)
    console.file.flush()
