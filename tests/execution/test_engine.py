"""The execution engine's order view: which orders it counts as open after each report."""

from __future__ import annotations

from typing import Any

import pytest

from tapeflow.execution.engine import ExecutionEngine
from tapeflow.model import CancelRejected, OrderStatus, OrderType, Side, SubmitOrder


class Venue:
    name = "SIM"

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, command: Any) -> None:
        self.sent.append(command)


@pytest.mark.parametrize("status", list(OrderStatus))
def test_an_order_stays_among_the_open_orders_after_a_report_exactly_while_its_status_is_open(
    status: OrderStatus,
) -> None:
    engine = ExecutionEngine([Venue()])  # type: ignore[list-item]
    ids = {"strategy_id": "s", "client_order_id": "s-1", "symbol": "AAPL"}
    engine.execute(
        SubmitOrder(ts_event=1, ts_init=1, **ids, side=Side.BUY, order_type=OrderType.LIMIT, quantity=100, price=10)
    )
    order = engine.order("s-1")
    assert order is not None
    order.status = status
    engine.on_report(CancelRejected(ts_event=2, ts_init=2, **ids, reason="too late"))  # an answer: no transition
    assert engine.refused_reports == 0
    assert [o.client_order_id for o in engine.open_orders()] == (["s-1"] if status.is_open else [])
