"""What the kernel's schedule holds besides events: timers (one-shot or repeating, cancellable) and calls.

The kernel fires both in ``(ts, seq)`` order between feed events (``Kernel._fire``, ``Kernel._call``). A timer
with a ``tick`` is callback-only: it is scheduled, ordered and dropped at the end of a run like any timer, but its
firing builds and dispatches no ``TimerFired`` (about 0.5 us saved a firing) and calls ``tick(now)``: for a
component's own cadence that no one else needs to see (the ML feature recorder's sampling).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tapeflow.model.errors import EngineError, OutOfOrderError
from tapeflow.model.events import TimerFired


def first_due(name: str, now: int, at: int | None, interval: int | None) -> int:
    """When a timer set at ``now`` first comes due (``at``, else ``now + interval``); refuses what cannot fire."""
    if interval is not None and interval <= 0:
        raise EngineError(f"timer {name!r}: interval must be positive, got {interval} ns")
    if at is None:
        if interval is None:
            raise EngineError(f"timer {name!r}: give `at` (absolute ns) or `interval` (ns), or both")
        at = now + interval
    if at < now:
        raise OutOfOrderError(at, now, f"timer {name!r}", "set timers for now or later")
    return at


class Timer:
    """A handle on a scheduled timer. ``cancel()`` is lazy: the kernel skips a cancelled timer when it comes due."""

    __slots__ = ("callback", "cancelled", "fired", "id", "interval", "name", "tick", "when")

    def __init__(
        self,
        name: str,
        timer_id: int,
        when: int,
        interval: int | None,
        callback: Callable[[TimerFired], None] | None,
        tick: Callable[[int], None] | None = None,
    ) -> None:
        if callback is not None and tick is not None:
            raise EngineError(f"timer {name!r}: give `callback` (after a TimerFired) or `tick` (none), not both")
        self.name = name
        self.id = timer_id
        self.when = when
        """Next due time (ns)."""
        self.interval = interval
        self.callback = callback
        self.tick = tick
        """Callback-only: called with the firing time instead of dispatching a ``TimerFired``."""
        self.cancelled = False
        self.fired = 0

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def active(self) -> bool:
        return not self.cancelled and (self.interval is not None or self.fired == 0)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "active" if self.active else "done"
        return f"Timer({self.name!r}, id={self.id}, when={self.when}, interval={self.interval}, {state})"


class Call:
    """A directed action on the schedule: ``fn(arg)`` at a time, ordered like everything else, not dispatched."""

    __slots__ = ("arg", "fn")

    def __init__(self, fn: Callable[[Any], None], arg: Any) -> None:
        self.fn = fn
        self.arg = arg
