"""The simulated exchange's own record of one of our orders (what the venue knows, not what we believe)."""

from __future__ import annotations

import msgspec

from tapeflow.model.enums import Side
from tapeflow.model.order_record import OrderBase, submitted_terms
from tapeflow.model.orders import SubmitOrder


class SimOrder(OrderBase, gc=False, eq=False):
    """The venue's side of an order: how much is filled, where it rests and who is ahead of it in the queue.

    Built as ``SimOrder(*submitted_terms(command), venue_order_id)`` on the exchange's order path (no Python frame),
    or by ``of``; the state below starts at its defaults."""

    filled: int = 0
    commission_so_far: int = 0
    resting: bool = False
    """In the book at ``price`` (as opposed to waiting for a stop trigger, or being matched on arrival)."""
    ahead: int = 0
    """Market shares ahead of this order in its price level's queue: L2 and L3 alike, a print (L2) or an
    execution behind us (L3) at our price fills us only after these (see ``queue.py``)."""
    ahead_at_arrival: int = -1
    """``ahead`` when the order last came to rest (-1: never rested in a book), reported on its fills."""
    behind_ids: set[int] = msgspec.field(default_factory=set)
    """L3: market order ids that joined the level after this order (ints: no cycle, so ``gc=False`` holds)."""

    @classmethod
    def of(cls, command: SubmitOrder, venue_order_id: str) -> SimOrder:
        """The venue's record of ``command``, known to it as ``venue_order_id``."""
        return cls(*submitted_terms(command), venue_order_id)

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
