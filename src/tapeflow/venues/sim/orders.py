"""The simulated exchange's own record of one of our orders (what the venue knows, not what we believe)."""

from __future__ import annotations

from tapeflow.model.enums import Side
from tapeflow.model.order_record import OrderBase
from tapeflow.model.orders import SubmitOrder


class SimOrder(OrderBase):
    """The venue's side of an order: how much is filled, where it rests and who is ahead of it in the queue."""

    __slots__ = ("ahead", "ahead_at_arrival", "behind_ids", "commission_so_far", "filled", "resting")

    def __init__(self, command: SubmitOrder, venue_order_id: str) -> None:
        # the base by name, not ``super()``, which builds an object on every order (as ``execution.orders.Order``)
        OrderBase.__init__(self, command, venue_order_id)
        self.filled = 0
        self.commission_so_far = 0
        self.resting = False
        """In the book at ``price`` (as opposed to waiting for a stop trigger, or being matched on arrival)."""
        self.ahead = 0
        """Market shares ahead of this order in its price level's queue: L2 and L3 alike, a print (L2) or an
        execution behind us (L3) at our price fills us only after these (see ``queue.py``)."""
        self.ahead_at_arrival = -1
        """``ahead`` when the order last came to rest (-1: never rested in a book), reported on its fills."""
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
