"""``tapeflow kill``: engage, reset or show the persisted kill switch from a shell.

Engaging writes the state file (read by every node at start, so a restarted node stays stopped) and, with
``--signal``, creates the signal file a running live node watches. Resetting is deliberate: it needs ``--reset``
and a reason, and it removes the signal file too, or a running node would engage again at its next check. The
files come from ``--state``/``--signal`` or from the ``[risk.kill_switch]`` table of ``--config`` (the node's own
configuration, so the reset removes the very signal file the node watches); a reset that knows no signal file says
so. ``--reset --status`` resets first, then shows the state as read back from the file. A state file that is not a
valid state shows as engaged (as a node would read it); engaging or resetting replaces it.

A running node is reached through its control socket instead (``--socket PATH``, or ``--url tcp://127.0.0.1:PORT``
with ``--token``; ``tapeflow.live.control``): the node engages its own switch, cancels its open orders (and with
``--flatten`` closes its positions), writes its state file, and answers with what it did. ``--status`` then asks
the node for its kill switch, open orders and positions. Nothing listening is one line and exit 2.

This module must not import ``tapeflow.cli`` at import time (``cli`` imports it).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from tapeflow.cli.output import fail, print_json, say
from tapeflow.config import is_loopback
from tapeflow.model.display import ny_time, utc_iso
from tapeflow.model.errors import ConfigError, TapeflowError

NO_SIGNAL_NOTE = (
    "note: no signal file named (--signal, or --config with risk.kill_switch.signal_file); if a running node "
    "watches one, remove it too or the node engages again"
)


def _files(state: Path | None, signal: Path | None, config: Path | None) -> tuple[Path, Path | None]:
    """The state and signal files: the options first, then the configuration's ``[risk.kill_switch]``."""
    if config is not None:
        from tapeflow.risk.config import load_risk_config  # lazy: the risk package (~0.1 s), not for --help

        ks = load_risk_config(config).kill_switch
        base = config.parent
        if state is None and ks.state_file is not None:
            state = base / ks.state_file
        if signal is None and ks.signal_file is not None:
            signal = base / ks.signal_file
    if state is None:
        where = f"{config} has no risk.kill_switch.state_file" if config is not None else "no --state given"
        raise ConfigError(f"{where}; pass --state FILE (or --config with one)", field="--state")
    return state, signal


def kill_command(
    state: Annotated[
        Path | None, typer.Option("--state", help="The kill switch state file (risk.kill_switch.state_file).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the state and the event log.")] = "",
    signal: Annotated[
        Path | None, typer.Option("--signal", help="Also create (or, with --reset, remove) this signal file.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Take the state and signal files from this TOML's \\[risk.kill_switch]."),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Release the kill switch on purpose.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Show the state (with --reset: after the reset).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    sock: Annotated[
        Path | None, typer.Option("--socket", help="A running node's control socket (unix): kill it there.")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="A running node's TCP control socket: tcp://127.0.0.1:PORT.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="TAPEFLOW_CONTROL_TOKEN", help="The token of a TCP control socket."),
    ] = None,
    flatten: Annotated[
        bool, typer.Option("--flatten", help="With --socket/--url: also close every position with market orders.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the node's answer.")] = 30.0,
) -> None:
    """Engage the kill switch (blocks new orders, cancels open ones), or --reset it, or show --status."""
    if sock is not None or url is not None:
        _running_node(
            sock,
            url,
            token,
            reason=reason,
            flatten=flatten,
            status=status,
            json_out=json_out,
            timeout=timeout,
            file_options=(state, signal, config, reset),
        )
        return
    if flatten:
        fail(
            ConfigError("--flatten needs a running node: pass --socket or --url", field="--flatten"), json_out=json_out
        )
    from tapeflow.risk.killswitch import (  # lazy: the risk package (~0.1 s), not for --help
        INVALID,
        KillSwitchState,
        read_state,
        write_state,
    )

    removed = False
    try:
        if status and not reset and reason:
            raise ConfigError(
                "--status only shows the state, so --reason would be ignored; drop --status to engage, or add --reset",
                field="--reason",
            )
        state_file, signal_file = _files(state, signal, config)
        current = read_state(state_file)
        if reset:
            if not reason:
                raise ConfigError("a reset needs a reason: pass --reason", field="--reason")
            released = KillSwitchState(engaged=False, reason=reason, source="reset:cli", ts=time.time_ns())
            write_state(state_file, released)
            if signal_file is not None and signal_file.exists():
                os.unlink(signal_file)
                removed = True
            new = read_state(state_file)  # what a node will read, shown as read back
        elif status:
            new = current
        else:
            new = KillSwitchState(
                engaged=True, reason=reason or "engaged by hand", source="manual:cli", ts=time.time_ns()
            )
            if current.engaged and current.source != INVALID:
                new = current  # keep the first reason (an invalid file is replaced by a valid engaged state)
            else:
                write_state(state_file, new)
            if signal_file is not None:
                signal_file.parent.mkdir(parents=True, exist_ok=True)
                signal_file.touch()
    except OSError as exc:
        what = f"cannot write: {exc.strerror}; pass a --state path in a writable directory"
        fail(ConfigError(what, path=exc.filename), json_out=json_out)
        return
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    present = None if signal_file is None else signal_file.exists()
    if json_out:
        out: dict[str, Any] = {"state_file": str(state_file), **msgspec.to_builtins(new)}
        out["ts_utc"] = utc_iso(new.ts) if new.ts else None
        out["signal_file"] = None if signal_file is None else str(signal_file)
        out["signal_present"] = present
        out["signal_removed"] = removed
        print_json(out)
    else:
        _print(new, state_file, signal_file, removed=removed)
    if reset and signal_file is None:
        typer.echo(NO_SIGNAL_NOTE, err=True)


def _print(new: Any, state_file: Path, signal_file: Path | None, *, removed: bool) -> None:
    word = "ENGAGED" if new.engaged else "off"
    since = f" since {ny_time(new.ts, precision='s')}" if new.ts else ""
    say(f"kill switch {word}{since} ({state_file})" + (f": {new.reason} [{new.source}]" if new.reason else ""))
    if signal_file is not None:
        if removed:
            say(f"signal file {signal_file} removed")
        else:
            shown = "present: a running node engages" if signal_file.exists() else "absent"
            say(f"signal file {signal_file} {shown}")


# -- a running node, over its control socket -------------------------------------------------------------------------

MAX_REPLY = 1 << 24
"""Bytes of one reply at most (a status of a node with very many open orders)."""


def _running_node(
    sock: Path | None,
    url: str | None,
    token: str | None,
    *,
    reason: str,
    flatten: bool,
    status: bool,
    json_out: bool,
    timeout: float,
    file_options: tuple[object, ...],
) -> None:
    try:
        if sock is not None and url is not None:
            raise ConfigError("pass --socket or --url, not both", field="--url")
        if any(o not in (None, False) for o in file_options):
            raise ConfigError(
                "--state, --signal, --config and --reset act on files; --socket/--url talk to a running node: "
                "use one or the other",
                field="--socket",
            )
        if status and (flatten or reason):
            raise ConfigError("--status only asks for the state; drop --reason/--flatten to kill", field="--status")
        request: dict[str, Any] = {"cmd": "status"} if status else {"cmd": "kill", "reason": reason, "flatten": flatten}
        if url is not None:
            if not token:
                raise ConfigError("a TCP control socket needs --token (or TAPEFLOW_CONTROL_TOKEN)", field="--token")
            request["token"] = token
        reply = _ask(sock, url, request, timeout)
        if not reply.get("ok"):
            raise ConfigError(f"the node refused: {reply.get('error', 'no reason given')} ({reply.get('code')})")
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json(reply)
    elif status:
        _print_status(reply)
    else:
        _print_kill(reply)


def _ask(sock: Path | None, url: str | None, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request line, read one reply line; every failure to reach the node is one ``ConfigError``."""
    where = str(sock) if sock is not None else str(url)
    if sock is not None:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address: Any = str(sock)
    else:
        address = _tcp_address(str(url))
        conn = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        try:
            conn.connect(address)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ConfigError(f"no node listens on {where} ({exc.strerror or exc})") from exc
        conn.sendall(json.dumps(request).encode() + b"\n")
        data = bytearray()
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
            if len(data) > MAX_REPLY:
                raise ConfigError(f"the reply from {where} is over {MAX_REPLY} bytes")
    except TimeoutError as exc:
        raise ConfigError(f"the node at {where} did not answer within {timeout:g} s") from exc
    except OSError as exc:
        raise ConfigError(f"cannot talk to the node at {where}: {exc.strerror or exc}") from exc
    finally:
        conn.close()
    try:
        reply = json.loads(bytes(data))
    except ValueError as exc:
        raise ConfigError(f"the node at {where} closed the connection without a valid answer") from exc
    if not isinstance(reply, dict):
        raise ConfigError(f"the node at {where} answered something that is not a JSON object")
    return reply


def _tcp_address(url: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` with a loopback HOST: the token must never cross a network in the clear."""
    rest = url.removeprefix("tcp://")
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if not url.startswith("tcp://") or not host or not port.isdigit():
        raise ConfigError(f"{url!r} is not tcp://HOST:PORT", field="--url")
    if not is_loopback(host):
        raise ConfigError(f"{host} is not a loopback address; the control socket listens on 127.0.0.1", field="--url")
    return ("127.0.0.1" if host == "localhost" else host), int(port)


def _print_kill(reply: dict[str, Any]) -> None:
    ks = "already ENGAGED" if reply.get("already_engaged") else "ENGAGED"
    say(f"kill switch {ks} on the running node: {reply.get('reason')} [{reply.get('source')}]")
    say(f"open orders cancelled: {reply.get('cancelled_orders', 0)}")
    if reply.get("state_file"):
        written = "written" if reply.get("persisted") else f"NOT written ({reply.get('persist_error')})"
        say(f"state file {reply['state_file']} {written}")
    else:
        say("no state file configured: a restarted node will not know it was killed")
    flat = reply.get("flatten")
    if isinstance(flat, dict):
        if flat.get("flat"):
            say(f"flattened: every position is zero ({flat.get('orders')} market orders)")
        elif flat.get("done"):
            say(f"NOT flat: {flat.get('reason')} ({flat.get('orders')} market orders)")
        else:
            say("flattening still under way: check with --status")


def _print_status(reply: dict[str, Any]) -> None:
    ks = reply.get("kill_switch", {})
    if ks.get("engaged"):
        say(f"kill switch ENGAGED: {ks.get('reason')} [{ks.get('source')}]")
    else:
        say("kill switch off")
    orders = reply.get("open_orders", [])
    say(f"open orders: {len(orders)}")
    for o in orders:
        say(f"  {o['client_order_id']} {o['side']} {o['quantity']} {o['symbol']} ({o['status']})")
    if reply.get("flatten_stopped"):
        say(f"flatten stopping: {reply['flatten_stopped']}; waiting for its orders in flight")
    positions = reply.get("positions", [])
    say(f"positions: {len(positions)}")
    for p in positions:
        say(f"  {p['symbol']} {p['quantity']:+d}")
