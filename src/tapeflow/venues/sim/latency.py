"""Latency models of the simulated exchange: how long each message spends on the wire and in software.

The simulated exchange asks a ``LatencyModel`` four questions, each answered in integer nanoseconds:

    feed_delay()              exchange -> strategy, market data (constant for a run)
    entry_delay(action)       strategy -> exchange, an insert, modify or cancel
    response_delay(action)    exchange -> strategy, the ack, reject, fill or cancel report for that action
    compute_delay()           strategy decision time, added before an order leaves

A strategy decision made at ``t`` therefore reaches the matching engine at
``t + compute_delay() + entry_delay(a)``, and its report is seen at that time plus ``response_delay(a)``.

The exchange relies on one invariant: ``response_delay(a) >= feed_delay()`` for every action. Both travel the same
exchange -> strategy path, and a fill report must never reach the strategy before the market data that
shows the trade would have; otherwise a backtest could react to its own fill before the book moved, which a live
system cannot. ``FixedLatency`` refuses configurations that break it.

Two models: ``FixedLatency`` (every delay a constant, the default and the unit of configuration) and
``JitterLatency`` (a ``FixedLatency`` plus seeded, non-negative uniform jitter on entry, response and compute; the
feed delay stays constant, so the invariant holds by construction). Presets built from geography live in
``tapeflow.venues.geography``. See docs/LATENCY.md.
"""

from __future__ import annotations

import enum
from typing import Annotated, Protocol, runtime_checkable

import msgspec
import numpy as np

from tapeflow.model.errors import ConfigError

NonNegNs = Annotated[int, msgspec.Meta(ge=0)]
"""A duration in nanoseconds; negative latency would reorder cause and effect."""


class OrderAction(enum.Enum):
    """What an order message asks the venue to do; each kind may travel a different code path."""

    INSERT = "INSERT"
    MODIFY = "MODIFY"
    CANCEL = "CANCEL"


@runtime_checkable
class LatencyModel(Protocol):
    """Delays the simulated exchange applies, in int ns. ``response_delay(a) >= feed_delay()`` must always hold."""

    def feed_delay(self) -> int: ...

    def entry_delay(self, action: OrderAction) -> int: ...

    def response_delay(self, action: OrderAction) -> int: ...

    def compute_delay(self) -> int: ...


_RESPONSE_FIELDS = {
    OrderAction.INSERT: "insert_response_ns",
    OrderAction.MODIFY: "modify_response_ns",
    OrderAction.CANCEL: "cancel_response_ns",
}


class FixedLatency(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Constant delays: deterministic, easy to reason about, and what a TOML ``[latency]`` section decodes into.

    The defaults are zero (an idealised venue next to the strategy), so a run without a latency section behaves
    like the backtests before this model existed.
    """

    feed_ns: NonNegNs = 0
    insert_entry_ns: NonNegNs = 0
    modify_entry_ns: NonNegNs = 0
    cancel_entry_ns: NonNegNs = 0
    insert_response_ns: NonNegNs = 0
    modify_response_ns: NonNegNs = 0
    cancel_response_ns: NonNegNs = 0
    compute_ns: NonNegNs = 0

    def __post_init__(self) -> None:
        # Constructing a struct in Python does not check ``Meta`` constraints (only decoding does), so check here.
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{value!r} is not a non-negative integer number of nanoseconds", field=name)
        for name in _RESPONSE_FIELDS.values():
            value = getattr(self, name)
            if value < self.feed_ns:
                raise ConfigError(
                    f"{value} ns is shorter than feed_ns = {self.feed_ns} ns; a report travels the same "
                    "exchange -> strategy path as market data, so set it to at least feed_ns",
                    field=name,
                )

    def feed_delay(self) -> int:
        return self.feed_ns

    def entry_delay(self, action: OrderAction) -> int:
        # identity tests, not a dict keyed by the enum: an Enum's __hash__ is Python code (~100 ns a lookup, and
        # the simulated exchange asks once or twice per order message)
        if action is OrderAction.INSERT:
            return self.insert_entry_ns
        return self.cancel_entry_ns if action is OrderAction.CANCEL else self.modify_entry_ns

    def response_delay(self, action: OrderAction) -> int:
        if action is OrderAction.INSERT:
            return self.insert_response_ns
        return self.cancel_response_ns if action is OrderAction.CANCEL else self.modify_response_ns

    def compute_delay(self) -> int:
        return self.compute_ns

    def round_trip(self, action: OrderAction = OrderAction.INSERT) -> int:
        """Decision to report, the number a trader quotes as "our latency to the venue"."""
        return self.compute_ns + self.entry_delay(action) + self.response_delay(action)


def uniform_latency(
    *, feed_ns: int, entry_ns: int, response_ns: int | None = None, compute_ns: int = 0
) -> FixedLatency:
    """The same entry and response delay for every action; ``response_ns`` defaults to ``max(entry_ns, feed_ns)``."""
    response = max(entry_ns, feed_ns) if response_ns is None else response_ns
    return FixedLatency(
        feed_ns=feed_ns,
        insert_entry_ns=entry_ns,
        modify_entry_ns=entry_ns,
        cancel_entry_ns=entry_ns,
        insert_response_ns=response,
        modify_response_ns=response,
        cancel_response_ns=response,
        compute_ns=compute_ns,
    )


class JitterLatency:
    """``base`` plus seeded uniform jitter in ``[0, jitter_ns]`` on entry, response and compute delays.

    Jitter is only ever added, never subtracted, so no delay falls below its base and the feed invariant keeps
    holding. The feed delay itself stays constant: a varying feed delay would reorder market data, which a real
    feed (one TCP/multicast stream) never does. The same seed and the same sequence of calls give the same
    delays, so runs stay reproducible; the draws depend on call order, which the deterministic kernel fixes.
    """

    def __init__(self, base: FixedLatency, *, jitter_ns: int, seed: int) -> None:
        if jitter_ns < 0:
            raise ConfigError(f"{jitter_ns} is negative; jitter is added to the base delay", field="jitter_ns")
        self.base = base
        self.jitter_ns = jitter_ns
        self.seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))

    def _jitter(self) -> int:
        if self.jitter_ns == 0:
            return 0
        return int(self._rng.integers(0, self.jitter_ns, endpoint=True))

    def feed_delay(self) -> int:
        return self.base.feed_ns

    def entry_delay(self, action: OrderAction) -> int:
        return self.base.entry_delay(action) + self._jitter()

    def response_delay(self, action: OrderAction) -> int:
        return self.base.response_delay(action) + self._jitter()

    def compute_delay(self) -> int:
        return self.base.compute_ns + self._jitter()

    def __repr__(self) -> str:
        return f"JitterLatency({self.base!r}, jitter_ns={self.jitter_ns}, seed={self.seed})"
