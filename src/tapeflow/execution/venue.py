"""What the execution engine needs of a venue: one method to send it a command.

The simulated exchange implements it by scheduling the command's arrival on the kernel after the order-entry
latency; a network adapter would write to a socket. Answers come back as events on the kernel queue.
"""

from __future__ import annotations

from typing import Protocol

from tapeflow.model.orders import CancelOrder, ModifyOrder, SubmitOrder

Command = SubmitOrder | CancelOrder | ModifyOrder
"""Every ``OrderCommand``, spelled as a closed union so that a venue's handling is checked exhaustive by mypy (a test
keeps it equal to the base's subclasses). Subscribers use the base, ``tapeflow.model.orders.OrderCommand``."""


class VenueClient(Protocol):
    name: str

    def send(self, command: Command) -> None:
        """Hand ``command`` to the venue. Never blocks; never raises for a business reason (answers are events)."""
        ...
