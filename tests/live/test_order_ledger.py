"""The ledger: every report once, fills keyed by cumulative quantity, prices exact from any road."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tapeflow.engine.inbox import Inbox
from tapeflow.execution.engine import ExecutionEngine
from tapeflow.live.order_ledger import INEXACT, OrderLedger, venue_order
from tapeflow.live.order_wire import WireOrder, WireUpdate
from tapeflow.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tapeflow.model.events import Event
from tapeflow.model.orders import (
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    SubmitOrder,
)

SUBMIT = SubmitOrder(
    ts_event=1,
    ts_init=1,
    strategy_id="s",
    client_order_id="s-r-1",
    symbol="AAPL",
    side=Side.BUY,
    order_type=OrderType.LIMIT,
    quantity=300,
    price=5_835_000,
)
"""The order every ledger of ``make`` was sent."""


def make() -> tuple[OrderLedger, Inbox]:
    inbox = Inbox()
    ledger = OrderLedger("alpaca", inbox, clock=lambda: 10)
    ledger.sent(SUBMIT)
    return ledger, inbox


def wire(filled: int = 0, status: str = "new", avg: str | None = None, **kw: object) -> WireOrder:
    fields: dict[str, object] = {
        "id": "v1",
        "client_order_id": "s-r-1",
        "symbol": "AAPL",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "time_in_force": TimeInForce.DAY,
        "qty": 300,
        "filled_qty": filled,
        "filled_avg_price": Decimal(avg) if avg is not None else None,
        "limit_price": 5_835_000,
        "stop_price": 0,
        "status": status,
        "created_at": 5,
    }
    fields.update(kw)
    return WireOrder(**fields)  # type: ignore[arg-type]


def fill(cum: int, price: int, qty: int, avg: str, status: str = "partially_filled") -> WireUpdate:
    event = "fill" if status == "filled" else "partial_fill"
    return WireUpdate(event, wire(cum, status, avg), 20 + cum, f"x{cum}", price, qty)


def fills(events: list[Event]) -> list[tuple[int, int]]:
    return [(e.quantity, e.price) for e in events if isinstance(e, OrderFilled)]


def test_a_duplicated_update_is_applied_once() -> None:
    ledger, inbox = make()
    update = fill(100, 5_834_900, 100, "583.49")
    ledger.apply_update(update)
    ledger.apply_update(update)
    events = inbox.drain()
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    assert ledger.duplicates == 1


def test_updates_out_of_order_give_the_exact_total_and_nothing_twice() -> None:
    ledger, inbox = make()
    ledger.apply_update(fill(300, 5_835_000, 200, "583.4966666666666666666666667", "filled"))  # overtook the first
    ledger.apply_update(fill(100, 5_834_900, 100, "583.49"))
    got = fills(inbox.drain())
    assert sum(q for q, _ in got) == 300
    # 100 @ 583.49 + 200 @ 583.50 = 17,504,900 dollars x 10^-4 ... the venue's average was rounded at 28 digits
    assert sum(q * p for q, p in got) == 100 * 5_834_900 + 200 * 5_835_000


def test_a_fill_learned_only_from_rest_is_priced_exactly_from_the_average() -> None:
    ledger, inbox = make()
    ledger.apply_record(wire(300, "filled", "583.495"))  # 300 shares for 175,048.50 dollars
    got = fills(inbox.drain())
    assert sum(q for q, _ in got) == 300 and sum(q * p for q, p in got) == 1_750_485_000
    assert all(p in (5_834_950,) for _, p in got)


def test_an_average_that_does_not_divide_evenly_is_split_into_two_exact_fills() -> None:
    ledger, inbox = make()
    ledger.apply_record(wire(4, "partially_filled", "583.33335"))  # 4 shares for 2333.3334 dollars
    got = fills(inbox.drain())
    assert got == [(2, 5_833_333), (2, 5_833_334)]  # adjacent prices, never a rounded one
    assert sum(q * p for q, p in got) == 23_333_334


def test_a_rounded_average_is_marked_inexact() -> None:
    ledger, inbox = make()
    ledger.apply_record(wire(3, "partially_filled", "583.33333333"))
    got = [e for e in inbox.drain() if isinstance(e, OrderFilled)]
    assert all(e.trade_id.endswith(INEXACT) for e in got) and ledger.inexact_fills == 1
    assert sum(e.quantity * e.price for e in got) == 17_500_000  # 1749.9999999 dollars, to the nearest unit


def test_a_cancel_seen_on_both_roads_ends_the_order_once_after_its_missing_fill() -> None:
    ledger, inbox = make()
    ledger.apply_update(WireUpdate("new", wire(), 20))
    ledger.apply_update(WireUpdate("canceled", wire(100, "canceled", "583.49"), 30))
    ledger.apply_record(wire(100, "canceled", "583.49"))
    events = inbox.drain()
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled, OrderCancelled]
    assert events[-1].cancelled_quantity == 200  # type: ignore[attr-defined]
    assert ledger.open_count() == 0


def test_a_replacement_is_reported_once_and_becomes_the_record_cancels_go_to() -> None:
    ledger, inbox = make()
    ledger.apply_update(WireUpdate("new", wire(), 20))
    new = wire(id="v2", client_order_id="s-r-1.r1", qty=400, limit_price=5_836_000, replaces="v1")
    ledger.apply_update(WireUpdate("replaced", new, 30))
    ledger.apply_record(new)
    events = inbox.drain()
    assert [type(e) for e in events] == [OrderAccepted, OrderUpdated]
    assert ledger.venue_order_id("s-r-1") == "v2"


def test_a_replaced_update_that_carries_the_old_record_asks_for_the_venue_and_posts_nothing() -> None:
    ledger, inbox = make()
    ledger.apply_update(WireUpdate("new", wire(), 20))
    inbox.drain()
    applied = ledger.apply_update(WireUpdate("replaced", wire(status="replaced"), 30))
    assert applied is not None and applied.ask_venue
    assert inbox.drain() == [] and ledger.venue_order_id("s-r-1") == "v1"


def test_an_order_that_is_not_ours_is_none_and_posts_nothing() -> None:
    ledger, inbox = make()
    assert ledger.apply_record(wire(id="zz", client_order_id="someone-1")) is None
    assert inbox.drain() == []


def test_a_reject_after_a_refusal_is_not_posted_twice() -> None:
    ledger, inbox = make()
    refused = OrderRejected(ts_event=1, ts_init=1, strategy_id="s", client_order_id="s-r-1", symbol="AAPL", reason="x")
    ledger.post(refused)
    ledger.apply_record(wire(status="rejected"))
    assert inbox.drain() == [refused]


@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_any_order_and_duplication_of_fill_updates_applies_each_share_once_at_the_exact_cost(
    sizes: list[int], rnd: random.Random
) -> None:
    ledger, inbox = make()
    prices = [5_834_900 + 7 * i for i in range(len(sizes))]
    updates = []
    cum = notional = 0
    for size, price in zip(sizes, prices, strict=True):
        cum += size
        notional += size * price
        avg = Decimal(notional) / Decimal(cum * 10_000)
        updates.append(
            WireUpdate("partial_fill", wire(cum, "partially_filled", str(avg), qty=300), cum, "", price, size)
        )
    shuffled = updates + rnd.sample(updates, len(updates))
    rnd.shuffle(shuffled)
    for update in shuffled:
        ledger.apply_update(update)
    got = fills(inbox.drain())
    assert sum(q for q, _ in got) == cum
    assert abs(sum(q * p for q, p in got) - notional) <= (0 if ledger.inexact_fills == 0 else 1)


def test_a_pending_new_order_taken_over_at_restart_is_accepted_only_when_the_venue_says_new() -> None:
    inbox = Inbox()
    ledger = OrderLedger("alpaca", inbox, clock=lambda: 10)
    restored = venue_order(wire(status="pending_new"), "s", "s-r-1")
    assert restored.accepted is False and venue_order(wire(status="new"), "s", "s-r-1").accepted is True
    ledger.restored(restored)
    ledger.apply_update(WireUpdate("new", wire(status="new"), 20))
    (accepted,) = inbox.drain()
    assert isinstance(accepted, OrderAccepted) and accepted.venue_order_id == "v1"


class _NoVenue:
    name = "alpaca"

    def send(self, command: object) -> None:
        return None


def test_an_order_alpaca_accepted_then_rejected_ends_rejected_and_closed_in_the_node() -> None:
    """Alpaca's ``accepted`` is "received, not yet routed" and can still turn ``rejected`` (asynchronously, e.g. an
    order queued outside the session): the ledger reports the accept, then the reject, and the node's transition
    table must close the order on it instead of refusing the report and keeping it open."""
    ledger, inbox = make()
    submit = SUBMIT
    execution = ExecutionEngine([_NoVenue()])  # type: ignore[list-item]
    execution.execute(submit)
    ledger.apply_record(wire(status="accepted"), fills=False)  # the submit's REST answer
    ledger.apply_update(WireUpdate("rejected", wire(status="rejected"), 30))
    events = inbox.drain()
    assert [type(e) for e in events] == [OrderAccepted, OrderRejected]
    for event in events:
        execution.on_report(event)  # type: ignore[arg-type]
    order = execution.order("s-r-1")
    assert order is not None and order.status is OrderStatus.REJECTED and not order.is_open
    assert list(execution.open_orders()) == [] and (execution.refused_reports, execution.anomalies) == (0, [])
