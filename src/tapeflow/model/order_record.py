"""The part of an order record every holder of one keeps: what the ``SubmitOrder`` asked for.

The execution engine (``execution.orders.Order``: what we believe) and the simulated exchange
(``venues.sim.orders.SimOrder``: what the venue knows) each keep their own record of the same order, and both
start from the same terms of it. They are declared here, once, so that a field added to an order is added to both
records or neither, and read from the command in one place (``submitted_terms``).

A mutable ``msgspec.Struct`` (issue 19) rather than a plain class with ``__slots__``: a record is built in C from
the command's terms (``Record(*submitted_terms(command), ...)``), not by two Python ``__init__`` frames an order on
each side, and ``gc=False`` leaves it untracked: a record holds strings, ints, enum members and, on the venue's side,
a set of ints, never itself, so it is in no cycle, and execution's records (one an order, kept to the end of the
run) no longer set off young collections. ``eq=False``: two records are the same record only if they are one object
(as with the plain class), and a record hashes by identity. Its fields' writes go through msgspec's ``__setattr__``,
slower than a plain slot's store, which gives back about two thirds of what this saves (docs/PERFORMANCE.md, round 12).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Final

import msgspec

from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.orders import CancelOrder, SubmitOrder


class OrderBase(msgspec.Struct, gc=False, eq=False):
    """Identity, instrument and terms of one order, as submitted; subclasses add the state they track.

    The first nine fields are ``submitted_terms``'s, in its order; ``venue_order_id`` follows them."""

    client_order_id: str
    strategy_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    """Shares ordered; a venue's ``OrderUpdated`` may change it."""
    price: int
    stop_price: int
    time_in_force: TimeInForce
    venue_order_id: str
    """The venue's id for the order (execution knows it from the venue's accept; "" until then)."""

    def cancel_at(self, now: int) -> CancelOrder:
        """The request to cancel this order, decided at ``now``: what the kill switch, the self-trade gate, the
        control desk and a graceful stop each send for an order they hold, built in one place."""
        return CancelOrder(
            ts_event=now,
            ts_init=now,
            strategy_id=self.strategy_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
        )


Terms = tuple[str, str, str, Side, OrderType, int, int, int, TimeInForce]
"""``OrderBase``'s first nine fields, in order: what ``submitted_terms`` reads from a ``SubmitOrder``."""

submitted_terms: Final[Callable[[SubmitOrder], Terms]] = attrgetter(
    "client_order_id",
    "strategy_id",
    "symbol",
    "side",
    "order_type",
    "quantity",
    "price",
    "stop_price",
    "time_in_force",
)
"""``submitted_terms(command)``: the command's terms in ``OrderBase``'s field order, read in one C call, so that a
record is ``Record(*submitted_terms(command), venue_order_id, ...)`` (``test_order_record.py`` holds the two orders
equal)."""
