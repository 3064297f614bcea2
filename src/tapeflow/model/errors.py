"""The one error hierarchy of tapeflow.

    TapeflowError                 anything tapeflow raises on purpose; the CLI prints it as one line, exit 2
    ├── ConfigError               a run configuration is missing, unreadable or has a bad field
    ├── DataError                 an input file or feed message cannot be read; carries file and line/offset
    ├── ValueRangeError           a value (price, size, timestamp) cannot be represented exactly or is out of range
    ├── EngineError               the kernel was driven into an impossible state
    │   ├── OutOfOrderError       an event arrived with a timestamp earlier than the clock
    │   └── LookAheadError        training data holds a label that ends after the retrain's trigger (minus embargo)
    ├── RequestError              a client's request to a venue we serve is refused (HTTP status and code)
    └── VenueError                a venue we are a client of refused us or failed after every retry

Each message says what was wrong, the value and the limit, where, and what to do: a user who reads only the one
line the CLI prints must know how to fix the input. Third-party errors are translated at the edge with
``raise ... from exc`` so that the cause stays visible under ``--debug``.

This module lives in ``model`` because ``model`` is the bottom layer and every other layer may import it.
"""

from __future__ import annotations

from pathlib import Path


class TapeflowError(Exception):
    """Base of every error tapeflow raises deliberately (never a bug)."""


class ConfigError(TapeflowError):
    """Raised when a configuration file is missing, malformed, or a field has a bad value."""

    def __init__(self, message: str, *, path: str | Path | None = None, field: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.field = field
        where = ""
        if self.path is not None:
            where += f"{self.path}: "
        if field is not None:
            where += f"field `{field}`: "
        super().__init__(where + message)


class DataError(TapeflowError):
    """Raised when input data cannot be read; names the file and the line (text) or byte offset (binary)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.offset = offset
        where = self.path or "<input>"
        if line is not None:
            where += f", line {line}"
        if offset is not None:
            where += f", byte offset {offset}"
        super().__init__(f"{where}: {message}")


class ValueRangeError(TapeflowError, ValueError):
    """Raised when a price, size or time cannot be represented exactly in tapeflow's integer units."""


class EngineError(TapeflowError):
    """Raised when the kernel is used in a way that would break determinism or ordering."""


class OutOfOrderError(EngineError):
    """Raised when an event's timestamp is earlier than the simulated clock: time never goes backwards."""

    def __init__(self, ts: int, now: int, what: str = "event", hint: str | None = None) -> None:
        self.ts = ts
        self.now = now
        if hint is None:
            hint = "sources must be sorted by ts_init: sort the input or fix its timestamps"
        super().__init__(f"{what} at ts={ts} is earlier than the clock at ts={now} (by {now - ts} ns); {hint}")


class LookAheadError(EngineError):
    """Raised where training data is accepted when a sample's label ends after the trigger minus the embargo: the
    model would learn from prices no one knew at the trigger, and a backtest would look prophetic."""

    def __init__(self, sample_ts: int, label_end_ts: int, limit_ts: int, count: int = 1) -> None:
        self.sample_ts = sample_ts
        self.label_end_ts = label_end_ts
        self.limit_ts = limit_ts
        self.count = count
        super().__init__(
            f"look-ahead: {count} training sample(s) have labels that end after ts={limit_ts} (trigger minus "
            f"embargo), the first (sampled at ts={sample_ts}) at ts={label_end_ts}, {label_end_ts - limit_ts} ns "
            "too late; build the set with training_set(trigger, window, embargo), which purges them"
        )


class RequestError(TapeflowError):
    """Raised when a venue we serve (the paper venue) refuses a client's request: ``status`` is the HTTP status
    and ``code`` the venue's own error number (Alpaca's, such as 40010001), so the edge answers exactly what the
    real venue would and a client's error handling is tested against the real shapes."""

    def __init__(self, status: int, code: int, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} ({code}): {message}")


class VenueError(TapeflowError):
    """Raised at the edge when a venue we connect to (Alpaca, the paper venue) refuses our session or keeps
    failing a request after every retry; the adapter turns it into events (a disconnection, a reject), never a
    crash of the node."""
