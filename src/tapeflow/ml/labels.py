"""Labels: the forward mid-price return over a horizon, known only once the horizon has passed.

A sample taken at t is labelled mid(t + H) / mid(t) - 1, where mid(t + H) is the mid in force when the kernel's
time reaches t + H (like the sample itself, it sees the events dispatched before that instant). The label is set
at exactly t + H, never earlier: until then the sample has none (NaN) and the window will not hand it out. Each
sample stores its label end time t + H, which is what the look-ahead guard checks.

Two ways to reach t + H, with the same values:

- ``schedule``: a kernel call per sample at t + H (any sampling time, any horizon);
- ``defer``: for samples the sampling timer takes when H is a multiple (2 or more) of its interval, t + H is one
  of its own later ticks, and the recorder calls ``mature_due`` there before sampling. That saves the kernel call
  per sample (about 1.5 us of the ~5 us a sample cost). The tick reads at another place in the kernel's
  ``(ts, seq)`` order than the call would (the call was queued at t, the tick at t + H - interval, so the call
  came first), so the value is the call's only if no quote of the symbol arrived at t + H before the tick: the
  symbol's last quote must be older than t + H (``quoted_at``). If not (a quote scheduled into the kernel at
  exactly t + H; a feed's quotes at t + H come after the tick), the label is not guessed: the sample stays
  unlabelled and ``ambiguous`` counts it. ``Kernel.finish`` drops timers past the end but delivers calls, so one
  backstop call is kept queued (at the newest deferred label's end): it labels what the ticks did not reach, with
  the same check, and at the end of a run that is every label whose horizon ends after the last tick. Another
  timer at t + H queued between the two (a retrain trigger every R, interval < R < H) now runs before the label
  is set instead of after; a retrain there leaves that one sample out (it never sees more).

The recorder's own sampling tick takes ``defer``'s ring path (issue 19): a deferred sample waits in its ring
(``SampleRing.deferred_from`` on, no object per sample; ``deferred_in_rings`` counts them and arms the same
backstop) and the tick at its label end sets it as it samples that symbol, with ``mature_due``'s check, value and
counters written out (``mature_rings`` is that loop for the backstop). A waiting sample about to be overwritten
(a ring smaller than the horizon's samples) moves to ``defer``'s queue (``lose_oldest``), where it is counted as
before; on-demand samples between the ticks keep their kernel call (``SampleRing.on_call``).

Mids are carried as bid + ask (twice the mid, an exact int), so the return is one exact division into a float.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from tapeflow.ml.window import SampleRing
from tapeflow.model.errors import ConfigError


class _Scheduler(Protocol):
    def call_at(self, ts: int, fn: Callable[[Any], None], arg: Any = None) -> None: ...


def forward_return(mid2_start: int, mid2_end: int) -> float:
    """mid_end / mid_start - 1 from doubled mids (bid + ask, exact ints)."""
    return (mid2_end - mid2_start) / mid2_start


def _unbound(ts: int, fn: Callable[[Any], None], arg: Any = None) -> None:
    raise AssertionError("bind() the labels to the kernel first")


def _never_quoted(symbol: str) -> int:
    return -1


_Pending = tuple[int, str, SampleRing, int, int]
"""A deferred label: (label end, symbol, ring, sample number, bid + ask at the sample)."""


class ForwardReturnLabels:
    """Sets each sample's label at its sample time + ``horizon_ns`` in the sample's ring.

    ``mid2_now(symbol)`` answers bid + ask in force now, or None when the quote is one-sided: that sample then
    never gets a label and never trains. ``quoted_at(symbol)`` answers the ``ts_init`` of the symbol's quote in
    force now (-1: none); only ``defer`` needs it.

    The counters and the backstop's state are slots (the compiled sample step moves them through the slots'
    offsets); everything else stays in the instance's ``__dict__``.
    """

    __slots__ = ("__dict__", "_armed", "_ring_newest", "ambiguous", "matured", "ring_pending", "unlabelled")

    def __init__(
        self,
        horizon_ns: int,
        mid2_now: Callable[[str], int | None],
        quoted_at: Callable[[str], int] = _never_quoted,
    ) -> None:
        if horizon_ns <= 0:
            raise ConfigError(f"label horizon must be positive, got {horizon_ns} ns", field="horizon_ns")
        self.horizon_ns = horizon_ns
        self._mid2_now = mid2_now
        self._quoted_at = quoted_at
        self._scheduler: _Scheduler | None = None
        self._call_at: Callable[[int, Callable[[Any], None], Any], None] = _unbound
        self._pending: deque[_Pending] = deque()
        """Deferred labels, oldest first (label ends never decrease: the ticks that defer them only advance)."""
        self._armed = False
        """A backstop call is queued."""
        self.backstop: Callable[[tuple[int, bool]], None] = self._backstop
        """What the backstop call runs: ``_backstop``, the reference, or the compiled sample step's copy of its
        steps (``ml._sample_core.Sampler.backstop``), which a compiled recorder puts here. Either is queued at the
        same place in the kernel's order with the same argument."""
        self.matured = 0
        """Labels set so far (a sample overwritten before maturing is not counted)."""
        self.unlabelled = 0
        """Samples whose horizon ended on a one-sided quote."""
        self.ring_pending = 0
        """Samples waiting in their rings for a label deferred to a sampling tick (the ring path: see
        ``mature_rings``); the recorder's tick sets them itself, written out."""
        self._ring_newest = 0
        """The label end of the newest of them."""
        self.rings: list[tuple[str, SampleRing]] = []
        """The recorder's (symbol, ring) pairs, for the backstop to reach the ring path's labels."""
        self.ambiguous = 0
        """Deferred samples left unlabelled because their symbol was quoted at the label's end instant before the
        tick that would have labelled them (which quote the kernel call would have read is not known)."""

    def bind(self, scheduler: _Scheduler) -> None:
        self._scheduler = scheduler
        self._call_at = scheduler.call_at

    def label_end(self, sample_ts: int) -> int:
        return sample_ts + self.horizon_ns

    @property
    def pending(self) -> int:
        """Deferred labels not set yet."""
        return len(self._pending) + self.ring_pending

    @property
    def queued(self) -> int:
        """Deferred labels in ``defer``'s queue (the ring path's lost samples among them)."""
        return len(self._pending)

    def deferred_in_rings(self, end: int, count: int) -> None:
        """A sampling tick left ``count`` samples in their rings whose labels end at ``end`` (the ring path of
        ``defer``: no object per sample; the tick at ``end`` sets them, or the backstop queued here)."""
        self.ring_pending += count
        self._ring_newest = end
        if not self._armed:
            self._armed = True
            self._call_at(end, self.backstop, (end, True))

    def lose_oldest(self, symbol: str, ring: SampleRing) -> None:
        """The ring is about to overwrite the oldest sample still waiting in it (a capacity below the horizon's
        samples, or on-demand samples in between): it goes on to ``defer``'s queue with its label end, where the
        counters treat it as they always did (it is no longer held, so it gets no label)."""
        seq = ring.deferred_from
        ring.deferred_from = seq + 1
        if seq in ring.on_call:
            ring.on_call.discard(seq)
            return
        slot = seq % ring.capacity
        entry = (int(ring.ends_view[slot]), symbol, ring, seq, int(ring.mids_view[slot] * 2))
        self.ring_pending -= 1
        bisect.insort(self._pending, entry, key=lambda e: e[0])  # by label end, as ``mature_due`` pops them

    def mature_rings(self, now: int, exact_now: bool) -> None:
        """The ring path's ``mature_due``, for the backstop (the sampling tick writes this out): every waiting
        sample whose label ended at or before ``now``, with the same check and counters."""
        quoted_at = self._quoted_at
        for symbol, ring in self.rings:
            seq, capacity, ends, on_call = ring.deferred_from, ring.capacity, ring.ends_view, ring.on_call
            while seq < ring.appended:
                end = ends[seq % capacity]
                if end > now:
                    break
                if on_call and seq in on_call:
                    on_call.discard(seq)
                    seq += 1
                    continue
                self.ring_pending -= 1
                if quoted_at(symbol) >= end and not (exact_now and end == now):
                    self.ambiguous += 1
                else:
                    self._set(symbol, ring, seq, int(ring.mids_view[seq % capacity] * 2))
                seq += 1
            ring.deferred_from = seq

    def schedule(self, symbol: str, ring: SampleRing, seq: int, sample_ts: int, mid2: int) -> None:
        """One kernel call for this sample, at exactly its label end."""
        self._call_at(sample_ts + self.horizon_ns, self._mature, (symbol, ring, seq, mid2))

    def _mature(self, arg: tuple[str, SampleRing, int, int]) -> None:
        symbol, ring, seq, mid2 = arg
        self._set(symbol, ring, seq, mid2)

    def set_label(self, symbol: str, ring: SampleRing, seq: int, mid2: int) -> None:
        """Sets sample ``seq``'s label now from the mid in force (``mid2``: bid + ask at the sample)."""
        self._set(symbol, ring, seq, mid2)

    def _set(self, symbol: str, ring: SampleRing, seq: int, mid2: int) -> None:
        """Runs once per sample on the loop, so ``forward_return`` and ``SampleRing.set_label`` are inlined (the
        same expression and the same still-held test; test_labels checks the values)."""
        end = self._mid2_now(symbol)
        if end is None:
            self.unlabelled += 1
            return
        capacity = ring.capacity
        if ring.appended - seq <= capacity:  # still held (``SampleRing.held``: seq < appended always)
            ring.y[seq % capacity] = (end - mid2) / mid2
            self.matured += 1

    def defer(self, symbol: str, ring: SampleRing, seq: int, sample_ts: int, mid2: int) -> None:
        """Leaves this sample's label to ``mature_due`` at a later tick (see the module's docstring); the caller
        promises a tick at exactly ``sample_ts + horizon_ns`` while the run lasts."""
        end = sample_ts + self.horizon_ns
        self._pending.append((end, symbol, ring, seq, mid2))
        if not self._armed:
            self._armed = True
            self._call_at(end, self.backstop, (end, True))  # queued where this sample's own call would be

    def mature_due(self, now: int, exact_now: bool = False) -> None:
        """Sets every deferred label whose end is at or before ``now``; ``exact_now``: this runs where the kernel
        call of the labels ending at ``now`` would have (no check needed for them)."""
        pending = self._pending
        quoted_at = self._quoted_at
        while pending and pending[0][0] <= now:
            end, symbol, ring, seq, mid2 = pending.popleft()
            if quoted_at(symbol) >= end and not (exact_now and end == now):
                self.ambiguous += 1
                continue
            self._set(symbol, ring, seq, mid2)

    def _backstop(self, arg: tuple[int, bool]) -> None:
        now, exact = arg
        self._armed = False
        self.mature_due(now, exact)
        if self.ring_pending:
            self.mature_rings(now, exact)
        if self._pending or self.ring_pending:
            self._armed = True
            end = max(self._ring_newest if self.ring_pending else 0, self._pending[-1][0] if self._pending else 0)
            self._call_at(end, self.backstop, (end, False))
