"""Tick-to-trade: how long from a market event's arrival to our order's bytes on the wire, measured live.

The order sender calls ``LatencyMeter.on_written(command, written_ns)`` on its own thread right after a command's
bytes are written; the latency is ``written_ns - command.ts_init``, and ``ts_init`` is the arrival stamp of the
data that triggered the order when the driver keeps the feed's stamps (``run_live(stamp="source")``). A second
meter, fed by the ``AckLatency`` kernel component, measures the round trip to the venue's ``OrderAccepted``.

Why a log-linear histogram and per-thread counts:

- fixed memory however long the run: ``BUCKETS`` counters cover every value from 0 to 2**63 - 1 ns. Below
  ``EXACT`` (256 ns) each value has its own bucket; above, each power of two is cut into ``SUB`` (128) equal
  buckets, so a bucket is at most 1/128 of its lower bound wide. A percentile is reported as the middle of its
  bucket (clamped to the exact min and max), so it is within ``RELATIVE_ERROR`` (1/256, under 0.4 %) of the true
  order statistic; the counts themselves are exact;
- negligible cost on the sender's thread and no lock on the hot path: each recording thread has its own counters
  (a ``threading.local``), so no two threads ever write the same counter and nothing needs the GIL's help to stay
  exact, free-threaded builds included. A reader (the console, on the loop thread) sums them; it may miss a
  record being written at that instant, never corrupt one. Counters of threads that ended are folded into one
  retired set when read, so memory stays bounded by the live threads.

Percentiles use the nearest-rank definition (the smallest value with at least q % of the values at or below it),
NumPy's ``method="inverted_cdf"``.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import msgspec

from tapeflow.engine.kernel import Kernel
from tapeflow.model.errors import ValueRangeError
from tapeflow.model.orders import OrderAccepted, OrderCommand, OrderRejected, RiskRejected, SubmitOrder

SUB_BITS = 7
SUB = 1 << SUB_BITS
"""Buckets per power of two above ``EXACT``."""
EXACT = 2 * SUB
"""Values below this (ns) are counted exactly, one bucket each."""
MAX_VALUE = (1 << 63) - 1
BUCKETS = EXACT + (63 - SUB_BITS - 1) * SUB
RELATIVE_ERROR = Fraction(1, 2 * SUB)
"""Bound on |reported - true| / true for a percentile (the counts, min and max are exact)."""
QUANTILES = (Fraction(50), Fraction(99), Fraction(999, 10))


def bucket_of(value: int) -> int:
    """The bucket counting ``value`` (0 <= value <= ``MAX_VALUE``)."""
    if value < EXACT:
        return value
    shift = value.bit_length() - SUB_BITS - 1
    return EXACT + (shift - 1) * SUB + (value >> shift) - SUB


def bucket_bounds(index: int) -> tuple[int, int]:
    """Lowest value of bucket ``index`` and its width."""
    if index < EXACT:
        return index, 1
    shift, mantissa = divmod(index - EXACT, SUB)
    shift += 1
    return (mantissa + SUB) << shift, 1 << shift


class LatencyStats(msgspec.Struct, frozen=True, kw_only=True):
    """What a meter has seen, in ns; the percentiles within ``RELATIVE_ERROR`` of the exact ones (0 when empty)."""

    count: int
    p50: int
    p99: int
    p999: int
    max: int
    min: int
    mean: int
    rate_per_s: float
    """Records per second between the first and the last record's ``at_ns`` (0.0 with fewer than two)."""
    negative: int = 0
    """Values below zero (a command stamped by another clock than the writer's), counted and left out."""


class _Counts:
    """One thread's counters; only that thread writes them."""

    __slots__ = ("counts", "first", "hi", "last", "lo", "n", "negative", "total")

    def __init__(self) -> None:
        self.counts = [0] * BUCKETS
        self.n = 0
        self.total = 0
        self.lo = MAX_VALUE
        self.hi = 0
        self.first = 0
        self.last = 0
        self.negative = 0

    def fold(self, other: _Counts) -> None:
        counts = self.counts
        for i, c in enumerate(other.counts):
            if c:
                counts[i] += c
        self.n += other.n
        self.total += other.total
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)
        if other.first and (not self.first or other.first < self.first):
            self.first = other.first
        self.last = max(self.last, other.last)
        self.negative += other.negative


class LatencyMeter:
    """A latency distribution recorded from any number of threads; see the module docstring."""

    def __init__(self, name: str = "tick_to_trade") -> None:
        self.name = name
        self._local = threading.local()
        self._lock = threading.Lock()
        """Guards the registry of per-thread counters (taken once per thread, and by readers), never a record."""
        self._threads: list[tuple[threading.Thread, _Counts]] = []
        self._retired = _Counts()

    def _register(self) -> _Counts:
        counts = _Counts()
        with self._lock:
            self._threads.append((threading.current_thread(), counts))
        self._local.counts = counts
        return counts

    def record(self, value: int, at_ns: int = 0) -> None:
        """Count one latency of ``value`` ns; ``at_ns`` (when it ended, e.g. the write time) feeds the rate."""
        try:
            c: _Counts = self._local.counts
        except AttributeError:
            c = self._register()
        if value < 0:
            c.negative += 1
            return
        if value > MAX_VALUE:
            value = MAX_VALUE
        if value > c.hi:  # the bounds before the count: a reader that sees the count sees them
            c.hi = value
        if value < c.lo:
            c.lo = value
        c.counts[value if value < EXACT else bucket_of(value)] += 1
        c.n += 1
        c.total += value
        if at_ns:
            if not c.first:
                c.first = at_ns
            c.last = at_ns

    def on_written(self, command: OrderCommand, written_ns: int) -> None:
        """The order sender's hook: ``command``'s bytes were written at ``written_ns`` (its thread, its clock)."""
        self.record(written_ns - command.ts_init, written_ns)

    def merged(self) -> _Counts:
        """Every thread's counters summed (threads that ended are folded into the retired set first)."""
        total = _Counts()
        with self._lock:
            alive: list[tuple[threading.Thread, _Counts]] = []
            for thread, counts in self._threads:
                if thread.is_alive():
                    alive.append((thread, counts))
                else:
                    self._retired.fold(counts)
            self._threads = alive
            total.fold(self._retired)
            for _, counts in alive:
                total.fold(counts)
        return total

    def percentiles(self, quantiles: tuple[Fraction, ...] = QUANTILES) -> list[int]:
        """The values at ``quantiles`` (percent, 0 < q <= 100), each within ``RELATIVE_ERROR``; [] when empty."""
        merged = self.merged()
        return _percentiles(merged, quantiles) if merged.n else []

    def stats(self) -> LatencyStats:
        m = self.merged()
        if not m.n:
            return LatencyStats(
                count=0, p50=0, p99=0, p999=0, max=0, min=0, mean=0, rate_per_s=0.0, negative=m.negative
            )
        p50, p99, p999 = _percentiles(m, QUANTILES)
        n = sum(m.counts)  # the counts are the truth; ``n`` may be one behind a record being written
        span = m.last - m.first
        rate = (n - 1) * 1e9 / span if span > 0 and n > 1 else 0.0
        return LatencyStats(
            count=n,
            p50=p50,
            p99=p99,
            p999=p999,
            max=m.hi,
            min=m.lo,
            mean=m.total // max(m.n, 1),
            rate_per_s=rate,
            negative=m.negative,
        )


def _percentiles(m: _Counts, quantiles: tuple[Fraction, ...]) -> list[int]:
    n = sum(m.counts)
    ranks = []
    for q in quantiles:
        if not 0 < q <= 100:
            raise ValueRangeError(f"a percentile lies in (0, 100], got {q}")
        ranks.append(max(1, -(-q * n // 100)))  # ceil(q * n / 100), exactly
    order = sorted(range(len(ranks)), key=ranks.__getitem__)
    out = [0] * len(ranks)
    seen = 0
    k = 0
    for index, count in enumerate(m.counts):
        if not count:
            continue
        seen += count
        while k < len(order) and ranks[order[k]] <= seen:
            lo, width = bucket_bounds(index)
            out[order[k]] = min(max(lo + (width >> 1), m.lo), m.hi)
            k += 1
        if k == len(order):
            break
    for j in order[k:]:  # a rank past the counts read (a record landed meanwhile): the maximum
        out[j] = m.hi
    return out


class AckLatency:
    """Kernel component: from a ``SubmitOrder``'s ``ts_init`` to the arrival (``ts_init``) of its
    ``OrderAccepted``, into ``meter``. Orders refused (by risk or the venue) are forgotten; at most
    ``max_pending`` orders wait for an answer (the oldest is dropped and counted past that: fixed memory)."""

    def __init__(self, meter: LatencyMeter | None = None, *, max_pending: int = 65_536) -> None:
        if max_pending <= 0:
            raise ValueRangeError(f"max_pending must be positive, got {max_pending}")
        self.meter = meter if meter is not None else LatencyMeter("ack")
        self.max_pending = max_pending
        self._pending: dict[str, int] = {}
        self.dropped = 0

    @property
    def waiting(self) -> int:
        """Orders sent and not answered yet: a driver that stops before this is 0 loses their figures."""
        return len(self._pending)

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(SubmitOrder, self.on_submit)
        kernel.subscribe(OrderAccepted, self.on_accepted)
        kernel.subscribe(OrderRejected, self.on_refused)
        kernel.subscribe(RiskRejected, self.on_refused)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_submit(self, command: SubmitOrder) -> None:
        pending = self._pending
        if len(pending) >= self.max_pending:
            del pending[next(iter(pending))]
            self.dropped += 1
        pending[command.client_order_id] = command.ts_init

    def on_accepted(self, event: OrderAccepted) -> None:
        sent = self._pending.pop(event.client_order_id, None)
        if sent is not None:
            self.meter.record(event.ts_init - sent, event.ts_init)

    def on_refused(self, event: OrderRejected | RiskRejected) -> None:
        self._pending.pop(event.client_order_id, None)
