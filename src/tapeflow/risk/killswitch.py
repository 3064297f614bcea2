"""The kill switch's state, kept in a small JSON file so that it survives a restart.

Once engaged, the switch stays on until someone resets it on purpose: a node that crashed after a runaway must
not come back up trading. The file is written atomically (a temporary file in the same directory, fsync, then
``os.replace``), so a crash mid-write leaves the old state or the new one, never half of either.

Fail closed, in both directions:

- Reading: a missing file means "never engaged"; anything else that is not a valid, complete state of a known
  version (empty, garbage, truncated, a field missing or of the wrong type, a directory, a path that cannot be
  opened) reads as *engaged*, with a reason naming the file and the problem. Guessing "off" from a damaged file
  would restart a node that was stopped for a reason.
- Writing: engaging never waits on the disk. The switch is on in memory first (no new order passes), open orders
  are cancelled, and only then is the state written; a write that fails leaves the switch engaged and is reported
  (the engine emits ``KillSwitchPersistFailed`` and logs it at error). A reset that cannot be written does not
  happen. The path is checked writable when the switch is built, so a bad path is a one-line ``ConfigError`` at
  start rather than a surprise during a trip.

The signal file is the operator's lever on a live node: its mere existence engages the switch (``tapeflow kill
--signal FILE`` creates it). Checking is one ``os.path.exists`` at most every ``check_ns`` of event time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from tapeflow.model.errors import ConfigError

VERSION: Literal[1] = 1
INVALID = "invalid_state"
"""The ``source`` of a state read from a file that is not a valid state: engaged until reset on purpose."""
_FIELD = "risk.kill_switch.state_file"


class KillSwitchState(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    engaged: bool = False
    reason: str = ""
    source: str = ""
    rule: str = ""
    ts: int = 0
    """Event time (ns UTC) of the last change."""


class _StoredState(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The file's form: every field required, so a file missing one is invalid rather than quietly "off"."""

    version: Literal[1]
    engaged: bool
    reason: str
    source: str
    rule: str
    ts: Annotated[int, msgspec.Meta(ge=0)]


_decoder = msgspec.json.Decoder(_StoredState)


def _invalid(path: Path, problem: str) -> KillSwitchState:
    reason = f"kill switch state file {path} is not a valid state ({problem}); engaged until reset on purpose"
    return KillSwitchState(engaged=True, reason=reason, source=INVALID)


def read_state(path: str | Path) -> KillSwitchState:
    """The persisted state; a missing file means "never engaged", an invalid one reads as engaged (never raises)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return KillSwitchState()
    except OSError as exc:
        return _invalid(p, f"cannot read it: {exc.strerror or exc}")
    try:
        stored = _decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _invalid(p, str(exc) or type(exc).__name__)
    return KillSwitchState(
        engaged=stored.engaged, reason=stored.reason, source=stored.source, rule=stored.rule, ts=stored.ts
    )


def encode_state(state: KillSwitchState) -> bytes:
    """The file's bytes for ``state`` (pretty JSON, newline-terminated)."""
    stored = _StoredState(
        version=VERSION,
        engaged=state.engaged,
        reason=state.reason,
        source=state.source,
        rule=state.rule,
        ts=state.ts,
    )
    return msgspec.json.format(msgspec.json.encode(stored)) + b"\n"


def _make_parent(p: Path) -> None:
    """Create the state file's directory; a file in the way is named as such (``mkdir`` says "File exists")."""
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise NotADirectoryError(errno.ENOTDIR, "a parent of it is a file, not a directory", str(p)) from exc


def write_state(path: str | Path, state: KillSwitchState) -> None:
    """Write ``state`` atomically (temp file, fsync, rename); raises ``OSError`` when it cannot."""
    p = Path(path)
    _make_parent(p)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encode_state(state))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_writable(path: str | Path) -> None:
    """Raise ``ConfigError`` unless the state can be written at ``path`` the way ``write_state`` writes it.

    Checked by doing it: a temporary file in the directory, written, fsynced and removed. The state file itself is
    not touched; a directory in its place would make the final rename fail, so it is refused too.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a directory", str(p))
        _make_parent(p)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b"{}\n")
                f.flush()
                os.fsync(f.fileno())
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except OSError as exc:
        raise ConfigError(
            f"the kill switch state cannot be written there ({exc.strerror or exc}); "
            "point it at a file in a writable directory",
            path=p,
            field=_FIELD,
        ) from exc


class KillSwitch:
    """In-memory switch, persisted when ``state_file`` is set, engaged by a signal file when ``signal_file`` is.

    Building one with a ``state_file`` checks the path is writable (``ConfigError`` otherwise) and reads it.
    """

    def __init__(
        self,
        state_file: str | Path | None = None,
        signal_file: str | Path | None = None,
        check_ns: int = 100_000_000,
    ) -> None:
        self.state_file = Path(state_file) if state_file is not None else None
        self.signal_file = str(signal_file) if signal_file is not None else None
        self.check_ns = check_ns
        if self.state_file is not None:
            check_writable(self.state_file)
            self.state = read_state(self.state_file)
        else:
            self.state = KillSwitchState()
        self.restored = self.state.engaged
        """True when the switch was found engaged at start (a restart after a trip, or an invalid state file)."""
        self.next_check = 0

    @property
    def engaged(self) -> bool:
        return self.state.engaged

    def engage(self, reason: str, source: str, ts: int, rule: str = "") -> bool:
        """Engage in memory, at once; False when it was already on (the first reason is kept).

        Not persisted here: the caller cancels open orders first, then calls ``persist``.
        """
        if self.state.engaged:
            return False
        self.state = KillSwitchState(engaged=True, reason=reason, source=source, rule=rule, ts=ts)
        return True

    def persist(self) -> OSError | None:
        """Write the current state; the error when that failed (the in-memory state is unchanged either way)."""
        if self.state_file is None:
            return None
        try:
            write_state(self.state_file, self.state)
        except OSError as exc:
            return exc
        return None

    def reset(self, reason: str, ts: int) -> bool:
        """Release it, written first: raises ``OSError`` (and stays engaged) when the released state cannot be
        written. Removes the signal file too, or it would engage again at the next check."""
        if self.state.engaged:
            released = KillSwitchState(engaged=False, reason=reason, source="reset", ts=ts)
            if self.state_file is not None:
                write_state(self.state_file, released)
            self.state = released
            was_engaged = True
        else:
            was_engaged = False
        if self.signal_file is not None:
            with contextlib.suppress(OSError):  # one left behind engages the switch again: fail closed
                os.unlink(self.signal_file)
        return was_engaged

    def signalled(self, now: int) -> bool:
        """True when the signal file exists; looks at most once every ``check_ns``."""
        if self.signal_file is None or now < self.next_check:
            return False
        self.next_check = now + self.check_ns
        return os.path.exists(self.signal_file)


def describe(exc: OSError) -> str:
    """One line for a failed write: the reason and the file."""
    return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
