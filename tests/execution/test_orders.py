"""The order transition table: venue reports move an order's status, answers to requests do not."""

from __future__ import annotations

import pytest

from tapeflow.execution.orders import ANSWERS, TRANSITIONS, TRANSITIONS_BY_ID, Order
from tapeflow.model import (
    CancelRejected,
    Event,
    LiquiditySide,
    ModifyRejected,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    OrderReport,
    OrderStatus,
    OrderType,
    Side,
    SubmitOrder,
)
from tapeflow.model.codec import event_types

from ..backtest.scenario import MS, SYM, T0, px, run, snapshot

_IDS = {"strategy_id": "s", "client_order_id": "s-1", "symbol": "AAPL"}


def _order() -> Order:
    submit = SubmitOrder(
        ts_event=1, ts_init=1, **_IDS, side=Side.BUY, order_type=OrderType.LIMIT, quantity=100, price=1_000_000
    )
    return Order.of(submit, "SIM")


def _fill(ts: int, quantity: int) -> OrderFilled:
    return OrderFilled(
        ts_event=ts,
        ts_init=ts,
        **_IDS,
        side=Side.BUY,
        price=1_000_000,
        quantity=quantity,
        leaves_quantity=100 - quantity,
        liquidity_side=LiquiditySide.TAKER,
    )


def test_every_venue_report_either_moves_an_order_or_is_an_answer() -> None:
    in_table = {event for _, event in TRANSITIONS}
    reports = {t for t in event_types() if issubclass(t, OrderReport)}
    assert in_table | ANSWERS == reports
    assert not in_table & ANSWERS


def test_the_table_keyed_by_member_id_answers_as_the_table_for_every_status_and_event_type() -> None:
    """``Order.apply`` reads the id-keyed copy (no Enum hash per report); over the whole finite domain it must
    give what ``TRANSITIONS`` gives, including "not allowed" (None)."""
    pairs = [(status, kind) for status in OrderStatus for kind in event_types()]
    assert len(pairs) > 100
    for status, kind in pairs:
        assert TRANSITIONS_BY_ID.get((id(status), kind)) is TRANSITIONS.get((status, kind)), (status, kind)


@pytest.mark.parametrize("status", list(OrderStatus))
def test_an_orders_openness_and_leaves_follow_its_status_as_the_status_says(status: OrderStatus) -> None:
    order = _order()
    order.filled_quantity = 30
    order.status = status
    assert order.is_open is status.is_open
    assert order.leaves_quantity == (70 if status.is_open else 0)


@pytest.mark.parametrize("answer", [CancelRejected, ModifyRejected])
def test_a_refused_cancel_or_modify_leaves_a_filled_order_as_it_was_and_is_not_refused(answer: type[Event]) -> None:
    order = _order()
    assert order.apply(OrderAccepted(ts_event=2, ts_init=2, **_IDS))
    assert order.apply(_fill(3, 100))
    assert order.apply(answer(ts_event=4, ts_init=4, **_IDS, reason="order is filled"))
    assert (order.status, order.filled_quantity, order.ts_last) == (OrderStatus.FILLED, 100, 3)


def test_an_accepted_order_the_venue_rejects_afterwards_is_closed() -> None:
    """A broker may acknowledge before it routes and reject after (Alpaca's ``accepted`` turning ``rejected``)."""
    order = _order()
    assert order.apply(OrderAccepted(ts_event=2, ts_init=2, **_IDS))
    assert order.apply(OrderRejected(ts_event=3, ts_init=3, **_IDS, reason="rejected by the venue"))
    assert (order.status, order.is_open, order.leaves_quantity, order.ts_last) == (OrderStatus.REJECTED, False, 0, 3)


def test_a_report_the_table_does_not_allow_is_refused_without_change() -> None:
    order = _order()
    assert not order.apply(_fill(2, 101))  # an overfill is a venue error
    assert (order.status, order.filled_quantity, order.ts_last) == (OrderStatus.SUBMITTED, 0, 1)
    assert order.apply(_fill(4, 100))
    assert not order.apply(_fill(5, 1))  # a fill after the order's end
    assert (order.status, order.filled_quantity, order.ts_last) == (OrderStatus.FILLED, 100, 4)


def test_execution_hears_a_cancel_rejected_for_a_filled_order_without_counting_an_anomaly() -> None:
    book = snapshot(T0, bids=[("100.00", 500)], asks=[("100.01", 300)])
    bt, strategy = run(
        [book],
        {T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.01")), T0 + 2 * MS: lambda s: s.cancel("s-1", SYM)},
    )
    assert strategy.kinds() == ["OrderAccepted", "OrderFilled", "CancelRejected"]
    order = bt.execution.order("s-1")
    assert order is not None and order.status is OrderStatus.FILLED
    assert (bt.execution.refused_reports, bt.execution.anomalies) == (0, [])
