"""The venue protocol's ``Command``: exactly the order commands, so a venue that handles it handles them all."""

from __future__ import annotations

import typing

from tapeflow.execution.venue import Command
from tapeflow.model.codec import event_types
from tapeflow.model.orders import OrderCommand


def test_command_union_is_every_order_command_type() -> None:
    assert set(typing.get_args(Command)) == {t for t in event_types() if issubclass(t, OrderCommand)}
