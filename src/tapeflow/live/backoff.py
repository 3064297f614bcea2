"""How long to wait before trying a connection or a request again: exponential, capped, with full jitter.

Alpaca's users report 429 storms from clients that reconnect at once, and at the same moment as every other
client. Two things prevent that here: the wait doubles with each failure up to a cap, and each wait is drawn
uniformly from [0, that bound] ("full jitter", the variant that spreads a crowd of clients best), never below a
floor, so a thousand clients that lost the same server do not come back in step. A server that says how long to
wait (``Retry-After``) is obeyed when that is longer.

The random draws come from a ``random.Random`` seeded by the caller, so a test (and a replayed run) sees the same
waits every time; nothing here sleeps or reads a clock: the caller waits through its own clock.
"""

from __future__ import annotations

import random

import msgspec

from tapeflow.model.errors import ConfigError


class BackoffConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[live.backoff]``: the bounds of the waits between attempts, in seconds."""

    initial: float = 0.5
    """The bound of the first wait (the first wait is drawn from [floor, initial])."""
    cap: float = 30.0
    """No wait is longer than this (unless the server asks for longer with Retry-After)."""
    floor: float = 0.05
    """No wait is shorter than this: a reconnect loop never spins."""
    factor: float = 2.0
    """Each failure multiplies the bound by this."""
    max_attempts: int = 0
    """Give up after this many failures in a row (0: never; a live feed keeps trying)."""

    def __post_init__(self) -> None:
        if not 0 < self.floor <= self.initial <= self.cap:
            raise ConfigError(
                f"backoff needs 0 < floor <= initial <= cap, got floor={self.floor} initial={self.initial} "
                f"cap={self.cap}",
                field="live.backoff",
            )
        if self.factor < 1.0:
            raise ConfigError(f"backoff factor must be at least 1, got {self.factor}", field="live.backoff.factor")
        if self.max_attempts < 0:
            raise ConfigError(
                f"backoff max_attempts must be 0 (never give up) or more, got {self.max_attempts}",
                field="live.backoff.max_attempts",
            )


class Backoff:
    """The waits of one connection or one request: ``next_wait()`` after a failure, ``reset()`` after a success."""

    __slots__ = ("_rng", "attempts", "config")

    def __init__(self, config: BackoffConfig | None = None, *, seed: int = 0) -> None:
        self.config = config if config is not None else BackoffConfig()
        self._rng = random.Random(seed)
        self.attempts = 0
        """Failures in a row since the last success."""

    @property
    def exhausted(self) -> bool:
        """Whether ``max_attempts`` failures in a row have happened (never, when it is 0)."""
        limit = self.config.max_attempts
        return limit > 0 and self.attempts >= limit

    def bound(self) -> float:
        """The upper bound of the next wait, in seconds (before jitter)."""
        c = self.config
        return min(c.cap, c.initial * c.factor ** min(self.attempts, 64))

    def next_wait(self, retry_after: float | None = None) -> float:
        """Count one failure and return how many seconds to wait before the next attempt.

        ``retry_after``: what the server asked for (a 429's Retry-After), obeyed when longer than the draw."""
        c = self.config
        wait = max(c.floor, self._rng.uniform(0.0, self.bound()))
        self.attempts += 1
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        return wait

    def reset(self) -> None:
        """A success: the next failure starts from ``initial`` again."""
        self.attempts = 0


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header as seconds (a number of seconds; an HTTP date or garbage gives None)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0 or seconds > 3600:  # NaN, negative or absurd: not a usable instruction
        return None
    return seconds
