"""What the execution engine needs of a venue: one method to send it a command.

The simulated exchange implements it by scheduling the command's arrival on the kernel after the order-entry
latency; a network adapter would write to a socket. Answers come back as events on the kernel queue.

Connection. A network venue can lose its session. It says so with the events of ``tapeflow.model.venue_events``
(``VenueDisconnected``, then ``VenueReconnected``), and while it is down ``send`` does not queue a command to send
later, silently or otherwise: a command held back while the market moves is an order nobody decided on. It answers
at once, on the kernel queue, with the reject that command's sender expects (``refusal``: ``OrderRejected`` for a
submit, ``CancelRejected`` for a cancel, ``ModifyRejected`` for a modify) whose reason names the disconnection. New
orders do not even get that far: the node wires ``tapeflow.risk.venue_rules.VenueConnectivity``, which refuses them
in risk. A venue that cannot lose a connection (the simulated exchange) says so with ``always_connected = True``;
the node then wires no such check for it.

Sending. ``send`` never blocks, so a network adapter only queues the command for a thread that writes it; a venue
whose queue can hold a cancel long enough to matter (a large kill) says so with ``reports_cancel_sent = True`` and
posts ``tapeflow.model.orders.CancelSent`` as each cancel leaves.
"""

from __future__ import annotations

from typing import Protocol

from tapeflow.model.events import Event
from tapeflow.model.orders import (
    CancelOrder,
    CancelRejected,
    ModifyOrder,
    ModifyRejected,
    OrderRejected,
    SubmitOrder,
)

Command = SubmitOrder | CancelOrder | ModifyOrder
"""Every ``OrderCommand``, spelled as a closed union so that a venue's handling is checked exhaustive by mypy (a test
keeps it equal to the base's subclasses). Subscribers use the base, ``tapeflow.model.orders.OrderCommand``."""


class VenueClient(Protocol):
    name: str

    def send(self, command: Command) -> None:
        """Hand ``command`` to the venue. Never blocks; never raises for a business reason (answers are events).

        While disconnected: answer with ``refusal(command, ...)`` on the kernel queue; never queue the command."""
        ...


def always_connected(venue: VenueClient) -> bool:
    """Whether ``venue`` declares it cannot disconnect (``always_connected = True``); a venue that says nothing can."""
    return getattr(venue, "always_connected", False) is True


def reports_cancel_sent(venue: VenueClient) -> bool:
    """Whether ``venue``'s ``send`` only queues a cancel for a sender of its own and posts ``CancelSent`` when the
    cancel leaves (``reports_cancel_sent = True``): the venue cannot answer a cancel before then, so the kill
    switch's wait for the answer starts there. A venue that says nothing hands a command over in ``send``."""
    return getattr(venue, "reports_cancel_sent", False) is True


def refusal(command: Command, venue: str, reason: str, now: int) -> Event:
    """The reject a venue answers ``command`` with when it cannot take it (``reason`` says why, e.g. disconnected)."""
    kind: type[OrderRejected | CancelRejected | ModifyRejected] = (
        OrderRejected
        if isinstance(command, SubmitOrder)
        else CancelRejected
        if isinstance(command, CancelOrder)
        else ModifyRejected
    )
    return kind(
        ts_event=now,
        ts_init=now,
        strategy_id=command.strategy_id,
        client_order_id=command.client_order_id,
        symbol=command.symbol,
        reason=reason,
        venue=venue,
    )
