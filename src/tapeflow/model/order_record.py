"""The part of an order record every holder of one keeps: what the ``SubmitOrder`` asked for.

The execution engine (``execution.orders.Order``: what we believe) and the simulated exchange
(``venues.sim.orders.SimOrder``: what the venue knows) each keep their own record of the same order, and both
start from the same terms of it. They are copied here, once, so that a field added to an order is added to both
records or neither. A plain class with ``__slots__`` rather than a Struct: records are mutable, made per order
and read on every fill, and each subclass adds its own slots.
"""

from __future__ import annotations

from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.orders import CancelOrder, SubmitOrder


class OrderBase:
    """Identity, instrument and terms of one order, as submitted; subclasses add the state they track."""

    __slots__ = (
        "client_order_id",
        "order_type",
        "price",
        "quantity",
        "side",
        "stop_price",
        "strategy_id",
        "symbol",
        "time_in_force",
        "venue_order_id",
    )

    def __init__(self, command: SubmitOrder, venue_order_id: str) -> None:
        self.client_order_id = command.client_order_id
        self.strategy_id = command.strategy_id
        self.symbol = command.symbol
        self.side: Side = command.side
        self.order_type: OrderType = command.order_type
        self.quantity = command.quantity
        """Shares ordered; a venue's ``OrderUpdated`` may change it."""
        self.price = command.price
        self.stop_price = command.stop_price
        self.time_in_force: TimeInForce = command.time_in_force
        self.venue_order_id = venue_order_id
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
