"""Labels: the forward mid-price return over a horizon, known only once the horizon has passed.

A sample taken at t is labelled mid(t + H) / mid(t) - 1, where mid(t + H) is the mid in force when the kernel's
time reaches t + H (like the sample itself, it sees the events dispatched before that instant). The label is set
by a kernel call at exactly t + H, never earlier: until then the sample has none (NaN) and the window will not
hand it out. Each sample stores its label end time t + H, which is what the look-ahead guard checks.

Mids are carried as bid + ask (twice the mid, an exact int), so the return is one exact division into a float.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from tapeflow.ml.window import SampleRing
from tapeflow.model.errors import ConfigError


class _Scheduler(Protocol):
    def call_at(self, ts: int, fn: Callable[[Any], None], arg: Any = None) -> None: ...


def forward_return(mid2_start: int, mid2_end: int) -> float:
    """mid_end / mid_start - 1 from doubled mids (bid + ask, exact ints)."""
    return (mid2_end - mid2_start) / mid2_start


class ForwardReturnLabels:
    """Schedules each sample's label at its sample time + ``horizon_ns`` and writes it into the sample's ring.

    ``mid2_now(symbol)`` answers bid + ask in force now, or None when the quote is one-sided: that sample then
    never gets a label and never trains.
    """

    def __init__(self, horizon_ns: int, mid2_now: Callable[[str], int | None]) -> None:
        if horizon_ns <= 0:
            raise ConfigError(f"label horizon must be positive, got {horizon_ns} ns", field="horizon_ns")
        self.horizon_ns = horizon_ns
        self._mid2_now = mid2_now
        self._scheduler: _Scheduler | None = None
        self.matured = 0
        """Labels set so far (a sample overwritten before maturing is not counted)."""
        self.unlabelled = 0
        """Samples whose horizon ended on a one-sided quote."""

    def bind(self, scheduler: _Scheduler) -> None:
        self._scheduler = scheduler

    def label_end(self, sample_ts: int) -> int:
        return sample_ts + self.horizon_ns

    def schedule(self, symbol: str, ring: SampleRing, seq: int, sample_ts: int, mid2: int) -> None:
        assert self._scheduler is not None, "bind() the labels to the kernel first"
        self._scheduler.call_at(self.label_end(sample_ts), self._mature, (symbol, ring, seq, mid2))

    def _mature(self, arg: tuple[str, SampleRing, int, int]) -> None:
        symbol, ring, seq, mid2 = arg
        end = self._mid2_now(symbol)
        if end is None:
            self.unlabelled += 1
            return
        if ring.set_label(seq, forward_return(mid2, end)):
            self.matured += 1
