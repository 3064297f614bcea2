"""The simulated exchange's own record of one of our orders (what the venue knows, not what we believe)."""

from __future__ import annotations

from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.orders import SubmitOrder


class SimOrder:
    __slots__ = (
        "ahead",
        "behind_ids",
        "client_order_id",
        "commission_so_far",
        "filled",
        "order_type",
        "price",
        "quantity",
        "resting",
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
        self.price = command.price
        self.stop_price = command.stop_price
        self.time_in_force: TimeInForce = command.time_in_force
        self.venue_order_id = venue_order_id
        self.filled = 0
        self.commission_so_far = 0
        self.resting = False
        """In the book at ``price`` (as opposed to waiting for a stop trigger, or being matched on arrival)."""
        self.ahead = 0
        """Market shares ahead of this order in its price level's queue: L2 and L3 alike, a print (L2) or an
        execution behind us (L3) at our price fills us only after these (see ``queue.py``)."""
        self.behind_ids: set[int] = set()
        """L3: market order ids that joined the level after this order."""

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    def crosses(self, price: int) -> bool:
        """Would this order trade at ``price``? (A buy at or above it, a sell at or below it.)"""
        return price <= self.price if self.side is Side.BUY else price >= self.price

    def __repr__(self) -> str:
        return (
            f"SimOrder({self.client_order_id} {self.side.value} {self.remaining}/{self.quantity} "
            f"@{self.price} ahead={self.ahead})"
        )
