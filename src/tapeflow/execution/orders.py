"""Order state, changed only through one transition table.

Every status change of an order comes from an event (the venue's accept, fill, cancel, expire, reject, update),
looked up in ``TRANSITIONS``; a refused cancel or modify changes nothing (``ANSWERS``). An event that the table
does not allow in the current status is not applied: it is counted and reported (a venue bug or a duplicated report
must never corrupt what we believe we hold). ``OrderStatus`` itself is in ``tapeflow.model.enums``, shared with the
results files.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

from tapeflow.model.enums import OrderStatus
from tapeflow.model.events import Event
from tapeflow.model.order_record import OrderBase, submitted_terms
from tapeflow.model.orders import (
    CancelRejected,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    SubmitOrder,
)

_S = OrderStatus
TRANSITIONS: Final[dict[tuple[OrderStatus, type[Event]], OrderStatus]] = {
    (_S.SUBMITTED, OrderAccepted): _S.ACCEPTED,
    (_S.SUBMITTED, OrderRejected): _S.REJECTED,
    # a venue may fill (IOC, marketable) or cancel before the ack reaches us: reports can overtake each other
    (_S.SUBMITTED, OrderFilled): _S.PARTIALLY_FILLED,
    (_S.SUBMITTED, OrderCancelled): _S.CANCELLED,
    (_S.SUBMITTED, OrderExpired): _S.EXPIRED,
    (_S.ACCEPTED, OrderFilled): _S.PARTIALLY_FILLED,
    (_S.ACCEPTED, OrderCancelled): _S.CANCELLED,
    (_S.ACCEPTED, OrderExpired): _S.EXPIRED,
    (_S.ACCEPTED, OrderUpdated): _S.ACCEPTED,
    # a broker may acknowledge an order before routing it and reject it after (Alpaca's "accepted": received, not
    # yet routed; its move to "rejected" is asynchronous): refusing this report would leave the order open here
    (_S.ACCEPTED, OrderRejected): _S.REJECTED,
    (_S.PARTIALLY_FILLED, OrderFilled): _S.PARTIALLY_FILLED,
    (_S.PARTIALLY_FILLED, OrderCancelled): _S.CANCELLED,
    (_S.PARTIALLY_FILLED, OrderExpired): _S.EXPIRED,
    (_S.PARTIALLY_FILLED, OrderUpdated): _S.PARTIALLY_FILLED,
    # an ack can arrive after the order's end when the latency model answers inserts slower than cancels
    (_S.FILLED, OrderAccepted): _S.FILLED,
    (_S.CANCELLED, OrderAccepted): _S.CANCELLED,
    (_S.EXPIRED, OrderAccepted): _S.EXPIRED,
}
"""(status, event type) -> next status. A fill that completes the order goes to FILLED (see ``Order.apply``)."""

TRANSITIONS_BY_ID: Final[dict[tuple[int, type[Event]], OrderStatus]] = {
    (id(s), e): n for (s, e), n in TRANSITIONS.items()
}
"""``TRANSITIONS`` keyed by the status member's ``id``: the same table (members are singletons for the process),
looked up without hashing an ``Enum``, whose ``__hash__`` is Python code (~0.2 us on each report, two or more per
order; issue 19)."""
_FILLED = OrderStatus.FILLED
_SUBMITTED = OrderStatus.SUBMITTED
OPEN_IDS: Final[frozenset[int]] = frozenset(id(s) for s in OrderStatus if s.is_open)
"""``OrderStatus.is_open`` by the member's id: a set of ints, not three class reads behind two properties; asked by
execution and risk on every report (issue 19)."""

ANSWERS: Final[frozenset[type[Event]]] = frozenset({CancelRejected, ModifyRejected})
"""Reports that answer a request about an order rather than change it: a refused cancel or modify leaves the order
as it was, in any status, so they are accepted without a transition and never counted as refused."""


class Order(OrderBase, gc=False, eq=False):
    """What we know about one of our orders. Mutable, owned by the execution engine; others get views.

    Built as ``Order(*submitted_terms(command), "", venue, ts_submitted=..., ts_last=...)`` on the order path (no
    Python frame: the base's docstring says why), or by ``of``. Untracked by the collector (``gc=False``): the
    engine keeps one an order to the end of the run, and each used to be traversed by the young collections."""

    venue: str
    """The venue the order was routed to (its name)."""
    status: OrderStatus = _SUBMITTED
    filled_quantity: int = 0
    filled_notional: int = 0
    """Sum of price x quantity over fills (exact, price units x shares)."""
    ts_submitted: int = 0
    ts_last: int = 0

    @classmethod
    def of(cls, command: SubmitOrder, venue: str) -> Order:
        """Our record of ``command``, routed to ``venue``: submitted, nothing filled, no venue id yet."""
        ts = command.ts_init
        return cls(*submitted_terms(command), "", venue, ts_submitted=ts, ts_last=ts)

    @property
    def leaves_quantity(self) -> int:
        return self.quantity - self.filled_quantity if id(self.status) in OPEN_IDS else 0

    @property
    def is_open(self) -> bool:
        return id(self.status) in OPEN_IDS

    @property
    def avg_fill_price(self) -> Fraction | None:
        if not self.filled_quantity:
            return None
        return Fraction(self.filled_notional, self.filled_quantity)

    def apply(self, event: Event) -> bool:
        """Apply a venue report; False (and no change) when the table does not allow it in this status.

        An answer (``ANSWERS``) changes nothing and is True: it is expected in any status."""
        nxt = TRANSITIONS_BY_ID.get((id(self.status), type(event)))
        if nxt is None:
            return type(event) in ANSWERS
        if isinstance(event, OrderFilled):
            if event.quantity > self.quantity - self.filled_quantity:
                return False  # an overfill is a venue error: refuse it rather than hold a position we cannot have
            self.filled_quantity += event.quantity
            self.filled_notional += event.price * event.quantity
            if self.filled_quantity == self.quantity:
                nxt = _FILLED
        elif isinstance(event, OrderAccepted):
            self.venue_order_id = event.venue_order_id
        elif isinstance(event, OrderUpdated):
            self.quantity = event.quantity
            self.price = event.price
            self.stop_price = event.stop_price
        self.status = nxt
        self.ts_last = event.ts_init
        return True

    def __repr__(self) -> str:
        return (
            f"Order({self.client_order_id} {self.side.value} {self.quantity} {self.symbol} "
            f"{self.order_type.value} @{self.price} {self.status.value} filled={self.filled_quantity})"
        )
