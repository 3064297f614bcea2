"""The one order record base that the execution engine's and the simulated exchange's records extend."""

from __future__ import annotations

import gc

import pytest

from tapeflow.execution.orders import Order
from tapeflow.model import OrderType, Side, SubmitOrder, TimeInForce
from tapeflow.model.enums import OrderStatus
from tapeflow.model.order_record import OrderBase, submitted_terms
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
TERMS = ("client_order_id", "strategy_id", "symbol", "side", "order_type", "quantity", "price", "stop_price")


def _made(record: type[OrderBase]) -> OrderBase:
    return Order.of(SUBMIT, "SIM") if record is Order else SimOrder.of(SUBMIT, "SIM-1")


@pytest.mark.parametrize("record", RECORDS)
def test_both_order_records_extend_the_base_and_add_only_their_own_fields(record: type[OrderBase]) -> None:
    assert record.__mro__[1] is OrderBase
    base = OrderBase.__struct_fields__
    own = record.__struct_fields__[len(base) :]
    assert record.__struct_fields__[: len(base)] == base
    assert own  # each adds state; no field is declared twice (that would hide the base's)
    assert not set(own) & set(base)
    assert not hasattr(_made(record), "__dict__")  # slotted all the way down: these are made per order, read per fill


def test_the_terms_are_read_in_the_bases_field_order() -> None:
    """``Record(*submitted_terms(command), ...)`` is positional: the getter and the fields must agree in order."""
    terms = submitted_terms(SUBMIT)
    assert OrderBase.__struct_fields__[: len(terms)] == (*TERMS, "time_in_force")
    assert terms == tuple(getattr(SUBMIT, name) for name in OrderBase.__struct_fields__[: len(terms)])
    assert OrderBase.__struct_fields__[len(terms)] == "venue_order_id"


@pytest.mark.parametrize("record", RECORDS)
def test_a_record_is_untracked_by_the_collector_and_equal_only_to_itself(record: type[OrderBase]) -> None:
    """Execution keeps one record an order to the end of a run: tracked, each was traversed by the young
    collections (issue 19). A record is equal to itself alone and hashes by identity, as the plain class did (the
    exchange finds an order in a waiting list by equality)."""
    made, twin = _made(record), _made(record)
    assert not gc.is_tracked(made)
    assert made == made and made != twin and len({made, twin}) == 2
    if isinstance(made, SimOrder):
        made.behind_ids.add(7)  # its one container holds ints: no cycle through it
        assert not gc.is_tracked(made) and twin.behind_ids == set()


def test_both_records_of_one_submit_hold_its_terms() -> None:
    ours, venue = Order.of(SUBMIT, "SIM"), SimOrder.of(SUBMIT, "SIM-1")
    expected = ("s-1", "s", "AAPL", Side.SELL, OrderType.STOP_LIMIT, 300, 1_000_000, 1_010_000)
    for record in (ours, venue):
        assert tuple(getattr(record, t) for t in TERMS) == expected
        assert record.time_in_force is TimeInForce.GTC
    assert (ours.venue, ours.venue_order_id, ours.ts_submitted, ours.ts_last) == ("SIM", "", 7, 7)
    assert (ours.status, ours.filled_quantity, ours.filled_notional) == (OrderStatus.SUBMITTED, 0, 0)
    assert (venue.venue_order_id, venue.remaining, venue.resting) == ("SIM-1", 300, False)
    assert (venue.filled, venue.commission_so_far, venue.ahead, venue.ahead_at_arrival) == (0, 0, 0, -1)
