"""The one order record base that the execution engine's and the simulated exchange's records extend."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest

from tapeflow.execution.orders import Order
from tapeflow.model import OrderType, Side, SubmitOrder, TimeInForce
from tapeflow.model.order_record import OrderBase
from tapeflow.venues.sim.orders import SimOrder

SUBMIT = SubmitOrder(
    ts_event=5,
    ts_init=7,
    strategy_id="s",
    client_order_id="s-1",
    symbol="AAPL",
    side=Side.SELL,
    order_type=OrderType.STOP_LIMIT,
    quantity=300,
    price=1_000_000,
    stop_price=1_010_000,
    time_in_force=TimeInForce.GTC,
    venue="SIM",
)
RECORDS = [Order, SimOrder]


@pytest.mark.parametrize("record", RECORDS)
def test_both_order_records_extend_the_base_and_add_only_their_own_slots(record: type[OrderBase]) -> None:
    assert record.__mro__[1] is OrderBase
    assert record.__slots__  # each adds state; no slot is declared twice (that would hide the base's)
    assert not set(record.__slots__) & set(OrderBase.__slots__)
    made = record(SUBMIT, "SIM")
    assert not hasattr(made, "__dict__")  # slotted all the way down: these are made per order, read per fill


@pytest.mark.parametrize("record", RECORDS)
def test_neither_record_copies_the_terms_of_the_submit_itself(record: type[OrderBase]) -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(record.__init__)))
    assigned = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr in OrderBase.__slots__
    }
    assert assigned == set(), f"{record.__name__}.__init__ sets {sorted(assigned)}: the base does that"


def test_both_records_of_one_submit_hold_its_terms() -> None:
    ours, venue = Order(SUBMIT, "SIM"), SimOrder(SUBMIT, "SIM-1")
    terms = ("client_order_id", "strategy_id", "symbol", "side", "order_type", "quantity", "price", "stop_price")
    expected = ("s-1", "s", "AAPL", Side.SELL, OrderType.STOP_LIMIT, 300, 1_000_000, 1_010_000)
    for record in (ours, venue):
        assert tuple(getattr(record, t) for t in terms) == expected
        assert record.time_in_force is TimeInForce.GTC
    assert (ours.venue, ours.venue_order_id, ours.ts_submitted) == ("SIM", "", 7)  # the id comes with the accept
    assert (venue.venue_order_id, venue.remaining, venue.resting) == ("SIM-1", 300, False)
