"""``tapeflow kill``: engage, reset or show the persisted kill switch from a shell.

Engaging writes the state file (read by every node at start, so a restarted node stays stopped) and, with
``--signal``, creates the signal file a running live node watches. Resetting is deliberate: it needs ``--reset``
and a reason, and it removes the signal file too, or a running node would engage again at its next check. The
files come from ``--state``/``--signal`` or from the ``[risk.kill_switch]`` table of ``--config`` (the node's own
configuration, so the reset removes the very signal file the node watches); a reset that knows no signal file says
so. ``--reset --status`` resets first, then shows the state as read back from the file. A state file that is not a
valid state shows as engaged (as a node would read it); engaging or resetting replaces it.

This module must not import ``tapeflow.cli`` at import time (``cli`` imports it).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from tapeflow.cli.output import fail, print_json, say
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
        typer.Option("--config", "-c", help="Take the state and signal files from this TOML's [risk.kill_switch]."),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Release the kill switch on purpose.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Show the state (with --reset: after the reset).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Engage the kill switch (blocks new orders, cancels open ones), or --reset it, or show --status."""
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
