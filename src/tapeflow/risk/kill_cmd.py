"""``tapeflow kill``: engage, reset or show the persisted kill switch from a shell.

Engaging writes the state file (read by every node at start, so a restarted node stays stopped) and, with
``--signal``, creates the signal file a running live node watches. Resetting is deliberate: it needs ``--reset``
and a reason, and it removes the signal file too, or a running node would engage again at its next check. A state
file that is not a valid state shows as engaged (as a node would read it); engaging or resetting replaces it.

This module must not import ``tapeflow.cli`` at import time (``cli`` imports it).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from tapeflow.model.errors import ConfigError, TapeflowError


def kill_command(
    state: Annotated[Path, typer.Option("--state", help="The kill switch state file (risk.kill_switch.state_file).")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the state and the event log.")] = "",
    signal: Annotated[
        Path | None, typer.Option("--signal", help="Also create (or, with --reset, remove) this signal file.")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Release the kill switch on purpose.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Only show the state.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Engage the kill switch (blocks new orders, cancels open ones), or --reset it, or show --status."""
    import msgspec

    from tapeflow.cli import fail, print_json
    from tapeflow.risk.killswitch import INVALID, KillSwitchState, read_state, write_state

    try:
        current = read_state(state)
        if status:
            new = current
        elif reset:
            if not reason:
                raise ConfigError("a reset needs a reason: pass --reason", field="--reason")
            new = KillSwitchState(engaged=False, reason=reason, source="reset:cli", ts=time.time_ns())
            write_state(state, new)
            if signal is not None and signal.exists():
                os.unlink(signal)
        else:
            new = KillSwitchState(
                engaged=True, reason=reason or "engaged by hand", source="manual:cli", ts=time.time_ns()
            )
            if current.engaged and current.source != INVALID:
                new = current  # keep the first reason (an invalid file is replaced by a valid engaged state)
            else:
                write_state(state, new)
            if signal is not None:
                signal.parent.mkdir(parents=True, exist_ok=True)
                signal.touch()
    except OSError as exc:
        fail(
            ConfigError(f"cannot write: {exc.strerror}; pass a --state path in a writable directory", path=exc.filename)
        )
        return
    except TapeflowError as exc:
        fail(exc)
        return
    if json_out:
        print_json({"state_file": str(state), **msgspec.to_builtins(new)})
        return
    word = "ENGAGED" if new.engaged else "off"
    typer.echo(f"kill switch {word} ({state})" + (f": {new.reason} [{new.source}]" if new.reason else ""))
