"""The execution engine's order view: which orders it counts as open after each report."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.execution.engine import ExecutionEngine
from tapeflow.model import (
    CancelRejected,
    LiquiditySide,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReport,
    OrderStatus,
    OrderType,
    OrderUpdated,
    Side,
    SubmitOrder,
)


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


class _Reference(ExecutionEngine):
    """``on_report`` as it was: every report through ``Order.apply``, the transition table's one reference."""

    def on_report(self, event: OrderReport) -> None:
        cid = event.client_order_id
        order = self._orders.get(cid)
        if order is None:
            return
        if not order.apply(event):
            self.refused_reports += 1
            self.anomalies.append(f"{type(event).__name__} for {cid} refused in status {order.status.value}")
            return
        if not order.is_open:
            self._open.pop(cid, None)


def _report(kind: str, cid: str, ts: int, quantity: int, price: int) -> OrderReport:
    ids = {"ts_event": ts, "ts_init": ts + 1, "strategy_id": "s", "client_order_id": cid, "symbol": "AAPL"}
    if kind == "accepted":
        return OrderAccepted(**ids, venue_order_id=f"v-{cid}-{ts}")
    if kind == "filled":
        return OrderFilled(
            **ids, side=Side.BUY, price=price, quantity=quantity, leaves_quantity=0, liquidity_side=LiquiditySide.TAKER
        )
    if kind == "updated":
        return OrderUpdated(**ids, quantity=quantity, price=price)
    if kind == "cancelled":
        return OrderCancelled(**ids)
    if kind == "expired":
        return OrderExpired(**ids)
    if kind == "rejected":
        return OrderRejected(**ids, reason="no")
    return CancelRejected(**ids, reason="too late")


_KINDS = ["accepted", "accepted", "filled", "filled", "filled", "updated", "cancelled", "expired", "rejected", "answer"]


@settings(max_examples=100, deadline=None)
@given(
    reports=st.lists(
        st.tuples(
            st.sampled_from(_KINDS), st.sampled_from(["s-1", "s-2", "other"]), st.integers(1, 120), st.integers(1, 99)
        ),
        max_size=12,
    )
)
def test_reports_move_the_orders_as_order_apply_moves_them(reports: list[tuple[str, str, int, int]]) -> None:
    """The engine's own steps for an accept and a fill (``on_report`` without ``apply``'s frame) leave the orders,
    the open orders and the refusals as the reference, which sends every report through ``Order.apply``."""
    engines = [ExecutionEngine([Venue()]), _Reference([Venue()])]  # type: ignore[list-item]
    for engine in engines:
        for cid in ("s-1", "s-2"):
            engine.execute(
                SubmitOrder(
                    ts_event=0,
                    ts_init=0,
                    strategy_id="s",
                    client_order_id=cid,
                    symbol="AAPL",
                    side=Side.BUY,
                    order_type=OrderType.LIMIT,
                    quantity=100,
                    price=10,
                )
            )
        for ts, (kind, cid, quantity, price) in enumerate(reports, start=1):
            engine.on_report(_report(kind, cid, ts, quantity, price))
    new, old = ([msgspec.structs.asdict(o) for o in e.orders()] for e in engines)
    assert new == old
    assert [o.client_order_id for o in engines[0].open_orders()] == [
        o.client_order_id for o in engines[1].open_orders()
    ]
    assert (engines[0].refused_reports, engines[0].anomalies) == (engines[1].refused_reports, engines[1].anomalies)
