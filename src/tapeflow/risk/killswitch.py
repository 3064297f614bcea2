"""The kill switch's state, kept in a small JSON file so that it survives a restart.

Once engaged, the switch stays on until someone resets it on purpose: a node that crashed after a runaway must
not come back up trading. The file is written atomically (a temporary file in the same directory, fsync, then
``os.replace``), so a crash mid-write leaves the old state or the new one, never half of either. A state file that
exists but cannot be read refuses the start (``ConfigError``) rather than guessing "off".

The signal file is the operator's lever on a live node: its mere existence engages the switch (``tapeflow kill
--signal FILE`` creates it). Checking is one ``os.path.exists`` at most every ``check_ns`` of event time.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import msgspec

from tapeflow.model.errors import ConfigError


class KillSwitchState(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    engaged: bool = False
    reason: str = ""
    source: str = ""
    rule: str = ""
    ts: int = 0
    """Event time (ns UTC) of the last change."""


def read_state(path: str | Path) -> KillSwitchState:
    """The persisted state; a missing file means "never engaged"."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return KillSwitchState()
    except OSError as exc:
        raise ConfigError(f"cannot read the kill switch state: {exc.strerror}", path=p) from exc
    try:
        return msgspec.json.decode(data, type=KillSwitchState)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(
            f"kill switch state is unreadable ({exc}); inspect it, then fix or delete it with `tapeflow kill --reset`",
            path=p,
        ) from exc


def write_state(path: str | Path, state: KillSwitchState) -> None:
    """Write ``state`` atomically (temp file, fsync, rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.json.format(msgspec.json.encode(state)) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class KillSwitch:
    """In-memory switch, persisted when ``state_file`` is set, engaged by a signal file when ``signal_file`` is."""

    def __init__(
        self,
        state_file: str | Path | None = None,
        signal_file: str | Path | None = None,
        check_ns: int = 100_000_000,
    ) -> None:
        self.state_file = Path(state_file) if state_file is not None else None
        self.signal_file = str(signal_file) if signal_file is not None else None
        self.check_ns = check_ns
        self.state = read_state(self.state_file) if self.state_file is not None else KillSwitchState()
        self.restored = self.state.engaged
        """True when the switch was found engaged at start (a restart after a trip)."""
        self.next_check = 0

    @property
    def engaged(self) -> bool:
        return self.state.engaged

    def engage(self, reason: str, source: str, ts: int, rule: str = "") -> bool:
        """Engage (persisting first); False when it was already on (the first reason is kept)."""
        if self.state.engaged:
            return False
        self.state = KillSwitchState(engaged=True, reason=reason, source=source, rule=rule, ts=ts)
        self._persist()
        return True

    def reset(self, reason: str, ts: int) -> bool:
        """Release it; removes the signal file too, or it would engage again at the next check."""
        if self.signal_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.signal_file)
        if not self.state.engaged:
            return False
        self.state = KillSwitchState(engaged=False, reason=reason, source="reset", ts=ts)
        self._persist()
        return True

    def signalled(self, now: int) -> bool:
        """True when the signal file exists; looks at most once every ``check_ns``."""
        if self.signal_file is None or now < self.next_check:
            return False
        self.next_check = now + self.check_ns
        return os.path.exists(self.signal_file)

    def _persist(self) -> None:
        if self.state_file is not None:
            write_state(self.state_file, self.state)
