"""Timers: one-shot or repeating, cancellable, fired by the kernel in time order between feed events."""

from __future__ import annotations

from collections.abc import Callable

from tapeflow.model.events import TimerFired


class Timer:
    """A handle on a scheduled timer. ``cancel()`` is lazy: the kernel skips a cancelled timer when it comes due."""

    __slots__ = ("callback", "cancelled", "fired", "id", "interval", "name", "when")

    def __init__(
        self,
        name: str,
        timer_id: int,
        when: int,
        interval: int | None,
        callback: Callable[[TimerFired], None] | None,
    ) -> None:
        self.name = name
        self.id = timer_id
        self.when = when
        """Next due time (ns)."""
        self.interval = interval
        self.callback = callback
        self.cancelled = False
        self.fired = 0

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def active(self) -> bool:
        return not self.cancelled and (self.interval is not None or self.fired == 0)

    def fire(self, ts: int) -> TimerFired:
        """The event for this firing; a repeating timer moves ``when`` to its next due time."""
        self.fired += 1
        if self.interval is not None:
            self.when = ts + self.interval
        return TimerFired(ts_event=ts, ts_init=ts, name=self.name, timer_id=self.id)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "active" if self.active else "done"
        return f"Timer({self.name!r}, id={self.id}, when={self.when}, interval={self.interval}, {state})"
