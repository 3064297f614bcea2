"""The token buckets of one throttle rule, keyed by strategy or symbol: the state ``flow_rules.OrderRate`` decides on.

A bucket holds up to ``cap`` tokens (``burst`` orders of ``NS`` units each) and gains ``rate`` units per
nanosecond, in exact integers. ``Throttle`` is the reference; ``ThrottleCore`` (``_throttle_core.pyx``) keeps the
same buckets in C 64-bit integers when every value fits (``fits``), chosen by ``throttle`` as the context's ledger
is chosen (``TAPEFLOW_PURE_PYTHON=1`` or ``impl="python"``: the reference). The rule-by-rule path and the composed
fast check use one object, so there is one state: the rule calls ``refill``, ``spend`` and ``take``; the fast check
``ready`` (before every rule has passed: nothing written) and ``take`` (after), or, over the reference, its own
text on the ``TokenBucket`` objects (``OrderRate.fast_check``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tapeflow.config import compiled_core_chosen as _compiled_chosen
from tapeflow.risk.context import NS
from tapeflow.risk.ledger import Impl

try:  # the compiled buckets (setup.py builds them); without them the reference runs
    from tapeflow.risk._throttle_core import ThrottleCore

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

C_BOUND = 1 << 62
"""The largest cap and rate the compiled buckets take: a refill stays at or below the cap and a spend removes one
``NS``, so every value stays far inside int64."""


class TokenBucket:
    """``tokens`` (in 1/``NS`` of an order) as of ``last`` (ns); a throttle refills it up to its cap."""

    __slots__ = ("last", "tokens")

    def __init__(self, tokens: int, last: int) -> None:
        self.tokens = tokens
        self.last = last


class Buckets(Protocol):
    """What a throttle's bucket shows: the reference's ``TokenBucket`` or the core's ``Bucket``."""

    tokens: int
    last: int


class ThrottleState(Protocol):
    """What the rule and the fast check call; ``Throttle`` says what each does."""

    @property
    def buckets(self) -> Mapping[str, Buckets]: ...
    def configure(self, cap: int, rate: int) -> None: ...
    def refill(self, key: str, now: int) -> int: ...
    def spend(self, key: str) -> None: ...
    def ready(self, key: str, now: int) -> bool: ...
    def take(self, key: str, now: int) -> None: ...


class Throttle:
    """The reference: buckets as ``TokenBucket`` objects in a dict, exact integers of any size."""

    __slots__ = ("buckets", "cap", "rate")

    def __init__(self, cap: int, rate: int) -> None:
        self.buckets: dict[str, TokenBucket] = {}
        self.cap = cap
        self.rate = rate

    def configure(self, cap: int, rate: int) -> None:
        self.cap = cap
        self.rate = rate

    def _refilled(self, bucket: TokenBucket, now: int) -> int:
        if now <= bucket.last:
            return bucket.tokens
        return min(self.cap, bucket.tokens + (now - bucket.last) * self.rate)

    def refill(self, key: str, now: int) -> int:
        """The key's tokens at ``now``, written back (a new key starts full): what the rule checks."""
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(self.cap, now)
        elif now > bucket.last:
            bucket.tokens = self._refilled(bucket, now)
            bucket.last = now
        return bucket.tokens

    def spend(self, key: str) -> None:
        """One order's token, from a bucket ``refill`` has just brought to now."""
        self.buckets[key].tokens -= NS

    def ready(self, key: str, now: int) -> bool:
        """True when the key has a token at ``now``; nothing is written (the order may still fail a later rule)."""
        bucket = self.buckets.get(key)
        return (self.cap if bucket is None else self._refilled(bucket, now)) >= NS

    def take(self, key: str, now: int) -> None:
        """What a passed order spends: the refill to ``now`` and one token."""
        self.refill(key, now)
        self.spend(key)


def fits(cap: int, rate: int) -> bool:
    """Whether the compiled buckets can hold a throttle of this cap and rate exactly."""
    return 0 <= cap <= C_BOUND and 0 < rate <= C_BOUND


def throttle(cap: int, rate: int, impl: Impl = "auto") -> ThrottleState:
    """``impl`` as ``open_order_ledger`` takes it; the compiled buckets only when ``cap`` and ``rate`` fit them."""
    if _compiled_chosen(impl, COMPILED_AVAILABLE, "the compiled token buckets") and fits(cap, rate):
        return ThrottleCore(cap, rate)
    return Throttle(cap, rate)


def reconfigured(state: ThrottleState, cap: int, rate: int) -> ThrottleState:
    """``state`` with a new cap and rate, its buckets kept: the reference once the core cannot hold them."""
    if isinstance(state, Throttle) or fits(cap, rate):
        state.configure(cap, rate)
        return state
    moved = Throttle(cap, rate)
    moved.buckets = {key: TokenBucket(b.tokens, b.last) for key, b in state.buckets.items()}
    return moved
