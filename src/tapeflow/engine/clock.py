"""Clocks: what time it is for a component.

A clock is two methods. In a backtest, and when a recorded tape is replayed through the live driver, time is the
``ts_init`` of the event being handled (``SimClock``): it jumps from event to event and never goes backwards. In
real-time live trading, ``LiveClock`` reads the wall clock. Components only ever call ``now()``, so they cannot tell
which one they have.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from tapeflow.model.errors import OutOfOrderError


@runtime_checkable
class Clock(Protocol):
    def now(self) -> int:
        """Current time, int ns since the Unix epoch, UTC."""
        ...


class SimClock:
    """Event time. Set by the kernel to each event's ``ts_init``; refuses to go backwards."""

    __slots__ = ("_now",)

    def __init__(self, start: int = 0) -> None:
        self._now = start

    def now(self) -> int:
        return self._now

    def advance_to(self, ts: int) -> None:
        if ts < self._now:
            raise OutOfOrderError(ts, self._now)
        self._now = ts


class LiveClock:
    """Wall time (``time.time_ns``). Used in real-time live trading, where events are stamped on arrival."""

    __slots__ = ()

    def now(self) -> int:
        return time.time_ns()
