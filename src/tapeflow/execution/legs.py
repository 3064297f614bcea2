"""The pieces of a contingent order: a ``Leg`` as the strategy asks for it, the ``LegState`` the emulator keeps of
it (a trailing stop's stop moves here), and the ``Group`` that ties a bracket's children or an OCO's legs.

Apart from ``contingent`` (the ``OrderEmulator``, which drives them from reports and market data) because these
are what a strategy builds and reads back; the rules of when a leg moves from one status to the next are there.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from tapeflow.model.enums import Side, TimeInForce
from tapeflow.model.errors import ConfigError
from tapeflow.model.prices import NO_PRICE

BPS: Final = 10_000
"""Basis points in one: ``trail_bps`` is a share of the reference price in these."""


class Leg(msgspec.Struct, frozen=True, kw_only=True):
    """One leg of an OCO or a bracket child: a limit (``price``), a stop (``stop_price``, with ``price`` a
    stop-limit), or a trailing stop (``trail_offset`` in price units or ``trail_bps``; ``stop_price`` then is
    the initial stop, or none to start from the market)."""

    side: Side
    quantity: int
    price: int = NO_PRICE
    stop_price: int = NO_PRICE
    trail_offset: int = 0
    trail_bps: int = 0
    time_in_force: TimeInForce = TimeInForce.GTC

    @property
    def emulated(self) -> bool:
        return self.stop_price != NO_PRICE or self.trailing

    @property
    def trailing(self) -> bool:
        return self.trail_offset > 0 or self.trail_bps > 0

    def check(self, what: str) -> None:
        """Refuse a leg that cannot mean anything, naming the field (a user error, before anything is sent)."""
        if self.quantity <= 0:
            raise ConfigError(f"{what}: quantity {self.quantity} must be a positive number of shares", field="quantity")
        if self.trail_offset < 0 or self.trail_bps < 0 or (self.trail_offset and self.trail_bps):
            raise ConfigError(
                f"{what}: give one of trail_offset (price units) or trail_bps (basis points), positive",
                field="trail_offset",
            )
        if self.trail_bps >= BPS:
            raise ConfigError(f"{what}: trail_bps {self.trail_bps} must be below 10000 (100%)", field="trail_bps")
        if not self.emulated and self.price == NO_PRICE:
            raise ConfigError(f"{what}: a leg needs a limit price, a stop price or a trail", field="price")


class LegStatus(enum.Enum):
    WAITING = "WAITING"
    """A bracket child before its entry is done."""
    ARMED = "ARMED"
    """An emulated stop watching the market."""
    TRIGGERED = "TRIGGERED"
    """Its stop was reached; waiting for the sibling's cancel before it goes out."""
    SENT = "SENT"
    """A ``SubmitOrder`` is on its way through risk to the venue (or working there)."""
    DONE = "DONE"
    """Filled, cancelled, expired or rejected: nothing more will happen to it."""


HELD: Final = frozenset({LegStatus.WAITING, LegStatus.ARMED, LegStatus.TRIGGERED})
"""Statuses of a leg the emulator still holds (not yet sent to risk and the venue)."""


class LegState:
    """What the emulator knows about one leg; read it through ``OrderEmulator.leg``."""

    __slots__ = ("best", "cancel_sent", "cid", "filled", "group", "leg", "quantity", "reason", "status", "stop")

    def __init__(self, cid: str, leg: Leg, group: Group) -> None:
        self.cid = cid
        self.leg = leg
        self.group = group
        self.quantity = leg.quantity
        self.filled = 0
        self.status = LegStatus.WAITING
        self.stop = leg.stop_price
        self.best = NO_PRICE
        """The best favourable reference seen since arming (trailing stops)."""
        self.reason = ""
        self.cancel_sent = False
        """A cancel for it is on its way to the venue (one is enough: later fills do not send another)."""

    @property
    def side(self) -> Side:
        return self.leg.side

    def follow(self, ref: int) -> None:
        """Move a trailing stop with a more favourable reference; never back."""
        sell = self.leg.side is Side.SELL
        if self.best != NO_PRICE and (ref <= self.best if sell else ref >= self.best):
            return
        self.best = ref
        if self.leg.trail_offset:
            stop = ref - self.leg.trail_offset if sell else ref + self.leg.trail_offset
        else:  # percent: rounded away from the market, so the stop is never tighter than asked
            stop = ref * (BPS - self.leg.trail_bps) // BPS if sell else -(-ref * (BPS + self.leg.trail_bps) // BPS)
        stop = max(stop, 1)
        if self.stop == NO_PRICE or (stop > self.stop if sell else stop < self.stop):
            self.stop = stop

    def reached(self, ref: int) -> bool:
        if self.stop == NO_PRICE:
            return False
        return ref <= self.stop if self.leg.side is Side.SELL else ref >= self.stop


class Group:
    """A bracket (``entry`` set, children reduce each other) or an OCO (first fill cancels the other)."""

    __slots__ = ("entry", "entry_filled", "gid", "legs", "reduce", "symbol")

    def __init__(self, gid: str, symbol: str, *, entry: str = "", reduce: bool = False) -> None:
        self.gid = gid
        self.symbol = symbol
        self.entry = entry
        self.entry_filled = 0
        self.reduce = reduce
        self.legs: list[LegState] = []

    def other(self, leg: LegState) -> LegState | None:
        return next((o for o in self.legs if o is not leg), None)

    @property
    def is_open(self) -> bool:
        return any(leg.status is not LegStatus.DONE for leg in self.legs)
