"""The control desk on a bare kernel: flattening waits for the kill's cancels, sends again after a partial fill,
gives up after ``MAX_ROUNDS`` refused orders, and refuses to flatten without a kill; kill answers name what the
node did. The venue is a recording one; its answers are fed by hand."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from tapeflow.execution.order_ids import ClientOrderIds
from tapeflow.live.control_desk import MAX_ROUNDS, RETRY_NS, ControlDesk
from tapeflow.model import LiquiditySide, Side
from tapeflow.model.orders import (
    CancelOrder,
    CancelRejected,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    SubmitOrder,
)
from tapeflow.model.risk_events import (
    FLATTEN_STRATEGY,
    FlattenPositions,
    KillSwitchCancelFailed,
    PositionsFlattened,
    SetKillSwitch,
)
from tapeflow.risk import kill_cancels
from tests.risk.helpers import FakePortfolio, Rig
from tests.risk.test_rules import cfg


class _Positions(FakePortfolio):
    """The fake portfolio of the risk tests, listing its positions as the desk reads them."""

    def views(self) -> list[Any]:
        return [
            SimpleNamespace(symbol=s, quantity=q, realized=0, unrealized=0) for s, q in sorted(self.positions.items())
        ]


class _Desk:
    def __init__(self, positions: dict[str, int]) -> None:
        self.portfolio = _Positions(positions=dict(positions))
        self.rig = Rig(cfg(), portfolio=self.portfolio)
        self.desk = ControlDesk()
        node = SimpleNamespace(
            risk=self.rig.engine,
            execution=self.rig.execution,
            portfolio=SimpleNamespace(positions=self.portfolio.views),
            order_ids=ClientOrderIds("r1"),
        )
        self.desk.bind(node)  # type: ignore[arg-type]
        self.rig.kernel.add(self.desk)
        self.answers: list[dict[str, Any]] = []

    def send(self, *events: Any) -> None:
        self.rig.kernel.run(list(events))

    def now(self) -> int:
        return self.rig.kernel.now

    def kill(self, source: str = "control#1", *, flatten: bool = True) -> None:
        t = self.now()
        self.desk.expect_kill(source, self.answers.append)
        if flatten:
            self.desk.expect_flatten(source, self.answers.append)
        events: list[Any] = [SetKillSwitch(ts_event=t, ts_init=t, engaged=True, reason="stop", source=source)]
        if flatten:
            events.append(FlattenPositions(ts_event=t, ts_init=t, reason="stop", source=source))
        self.send(*events)

    def flatten_orders(self) -> list[SubmitOrder]:
        sent = self.rig.venue.sent
        return [c for c in sent if isinstance(c, SubmitOrder) and c.strategy_id == FLATTEN_STRATEGY]

    def report(self, kind: type, order: SubmitOrder, **fields: Any) -> None:
        t = self.now()
        common = {"strategy_id": order.strategy_id, "client_order_id": order.client_order_id, "symbol": order.symbol}
        self.send(kind(ts_event=t, ts_init=t, **common, **fields))


def test_flatten_waits_for_the_kills_cancels_then_closes_each_position_once() -> None:
    d = _Desk({"AAPL": 300, "MSFT": -100, "IBM": 0})
    resting = d.rig.submit(quantity=100)  # a strategy's open order: the kill cancels it
    d.kill()
    assert d.answers[0]["cancelled_orders"] == 1 and not d.answers[0]["already_engaged"]
    assert d.flatten_orders() == []  # the cancel is not acknowledged yet: a fill could still move a position
    d.report(OrderCancelled, resting)
    orders = d.flatten_orders()
    assert [(o.symbol, o.side, o.quantity) for o in orders] == [("AAPL", Side.SELL, 300), ("MSFT", Side.BUY, 100)]
    assert all(o.client_order_id.startswith("flatten-r1-") for o in orders)
    for order in orders:
        d.report(OrderAccepted, order)
        d.portfolio.positions[order.symbol] = 0
        d.report(
            OrderFilled,
            order,
            side=order.side,
            price=1_000_000,
            quantity=order.quantity,
            leaves_quantity=0,
            liquidity_side=LiquiditySide.TAKER,
        )
    assert d.answers[1] == {"done": True, "flat": True, "orders": 2, "reason": None}
    [done] = d.desk.flattened
    assert isinstance(done, PositionsFlattened) and (done.flat, done.orders, done.source) == (True, 2, "control#1")


def test_a_partial_fill_gets_another_order_and_max_rounds_refusals_in_a_row_after_it_end_in_not_flat() -> None:
    d = _Desk({"AAPL": 300})
    d.kill()
    first = d.flatten_orders()[0]
    d.portfolio.positions["AAPL"] = 100
    d.report(
        OrderFilled,
        first,
        side=Side.SELL,
        price=1,
        quantity=200,
        leaves_quantity=100,
        liquidity_side=LiquiditySide.TAKER,
    )
    d.report(OrderCancelled, first, cancelled_quantity=100, reason="no more liquidity for a market order")
    assert [o.quantity for o in d.flatten_orders()] == [300, 100]  # the rest, once the first closed
    for n in range(MAX_ROUNDS):  # the partial fill started the count again: MAX_ROUNDS more that fill nothing
        assert len(d.answers) == 1
        d.report(OrderRejected, d.flatten_orders()[-1], reason="halted")
        if n < MAX_ROUNDS - 1:
            assert len(d.flatten_orders()) == 2 + n  # the next one waits: the same book would refuse it again
            d.rig.kernel.advance(d.now() + (RETRY_NS << n) - 1)  # 1 s, 2 s, 4 s, ... of event time
            assert len(d.flatten_orders()) == 2 + n
            d.rig.kernel.advance(d.now() + 1)
            assert len(d.flatten_orders()) == 3 + n
    assert len(d.flatten_orders()) == 1 + MAX_ROUNDS
    assert d.answers[-1] == {
        "done": True,
        "flat": False,
        "orders": 1 + MAX_ROUNDS,
        "reason": f"still open after {MAX_ROUNDS} orders in a row that filled nothing: AAPL +100",
    }


def test_flatten_without_a_kill_is_refused_and_a_second_kill_is_answered_as_already_engaged() -> None:
    d = _Desk({"AAPL": 300})
    t = d.now()
    d.desk.expect_flatten("control#9", d.answers.append)
    d.send(FlattenPositions(ts_event=t, ts_init=t, reason="oops", source="control#9"))
    assert d.answers == [
        {
            "done": True,
            "flat": False,
            "orders": 0,
            "reason": "the kill switch is not engaged: flatten only after a kill",
        }
    ]
    assert d.flatten_orders() == []
    d.kill("control#1", flatten=False)
    d.kill("control#2", flatten=False)
    assert [(a["already_engaged"], a["source"]) for a in d.answers[1:]] == [(False, "control#1"), (True, "control#1")]


def _cancels(d: _Desk, order: SubmitOrder) -> int:
    return sum(1 for c in d.rig.venue.sent if isinstance(c, CancelOrder) and c.client_order_id == order.client_order_id)


def _later(d: _Desk, wait: int) -> None:
    """Let ``wait`` of event time pass (the kill switch's chase retries on kernel timers)."""
    d.rig.kernel.advance(d.now() + wait)


def test_a_kill_cancel_the_venue_refuses_is_sent_again_and_the_flatten_follows_once_the_order_is_cancelled() -> None:
    """The flaky ``tapeflow kill --flatten``: the venue refused the kill's cancel of an order it had not seen yet
    (the cancel overtook the insert) and the order worked on; the flatten waited for it forever, and the venue kept
    the order and the position. The kill switch's chase sends it again; the desk sends no cancel of its own."""
    d = _Desk({"AAPL": 169})
    resting = d.rig.submit(quantity=100)
    d.kill()
    assert _cancels(d, resting) == 1
    d.report(CancelRejected, resting, reason="unknown order")
    assert _cancels(d, resting) == 1  # not at once (that was the desk's second rule): after the chase's wait
    _later(d, kill_cancels.RETRY_NS)
    assert _cancels(d, resting) == 2 and d.flatten_orders() == []  # asked again; nothing flattened while it works
    d.report(OrderAccepted, resting)
    assert _cancels(d, resting) == 2  # that cancel is working: no second one
    d.report(OrderCancelled, resting, cancelled_quantity=100, reason="cancel request")
    [order] = d.flatten_orders()
    assert (order.side, order.quantity) == (Side.SELL, 169)


def test_an_order_whose_cancels_the_venue_keeps_refusing_is_asked_until_the_alarm_and_then_waited_for() -> None:
    """A refusal may only say that another cancel is on its way ("already pending_cancel"): the flatten neither
    asks forever nor gives up; it flattens once the order closes."""
    d = _Desk({"AAPL": 100})
    resting = d.rig.submit(quantity=100)
    d.kill()
    for _ in range(kill_cancels.MAX_ATTEMPTS + 2):
        d.report(CancelRejected, resting, reason='422: order is already in "pending_cancel" state')
        _later(d, kill_cancels.MAX_RETRY_NS)
    assert _cancels(d, resting) == kill_cancels.MAX_ATTEMPTS and d.flatten_orders() == [] and len(d.answers) == 1
    assert [e.client_order_id for e in d.rig.seen if isinstance(e, KillSwitchCancelFailed)] == [resting.client_order_id]
    d.report(OrderAccepted, resting)
    d.report(OrderCancelled, resting, cancelled_quantity=100, reason="cancel request")
    [order] = d.flatten_orders()
    assert (order.side, order.quantity) == (Side.SELL, 100)


def test_a_cancel_refused_too_late_for_a_filled_order_is_not_sent_again() -> None:
    d = _Desk({"AAPL": 0})
    resting = d.rig.submit(quantity=100)
    d.kill()
    d.portfolio.positions["AAPL"] = 100
    d.report(
        OrderFilled,
        resting,
        side=Side.BUY,
        price=1,
        quantity=100,
        leaves_quantity=0,
        liquidity_side=LiquiditySide.TAKER,
    )
    [order] = d.flatten_orders()
    d.report(CancelRejected, resting, reason="order is already closed")
    assert _cancels(d, resting) == 1 and d.flatten_orders() == [order]


def test_after_a_reset_during_a_flatten_a_refused_cancel_is_not_sent_again() -> None:
    """The desk's flatten outlives a reset of the switch; the orders are their strategies' again, so nothing (neither
    the chase, released, nor the desk, which has no cancel rule of its own) cancels them again."""
    d = _Desk({"AAPL": 100})
    resting = d.rig.submit(quantity=100)
    d.kill()
    t = d.now()
    d.send(SetKillSwitch(ts_event=t, ts_init=t, engaged=False, reason="false alarm", source="control#2"))
    d.report(CancelRejected, resting, reason="unknown order")
    _later(d, 60 * kill_cancels.MAX_RETRY_NS)
    assert _cancels(d, resting) == 1 and d.flatten_orders() == []


def test_a_strategys_order_refused_while_a_flatten_order_is_in_flight_sends_no_second_flatten_order() -> None:
    """The flaky ``tapeflow kill --flatten`` as it failed under load: the strategy's next buy, refused by the kill
    switch while the flatten sell was on its way, was taken for the flatten order's own refusal; the desk sent a
    second and a third flatten order (risk refused both: one was in flight), reported "not flat" after its rounds,
    and the first order's outcome came back to nobody."""
    d = _Desk({"AAPL": 249})
    d.kill()
    [order] = d.flatten_orders()
    refused = d.rig.submit(quantity=100)  # the strategy tries again: the kill switch refuses it
    assert refused.strategy_id != FLATTEN_STRATEGY and refused.symbol == order.symbol
    assert d.flatten_orders() == [order] and len(d.answers) == 1  # still waiting for the first one
    d.report(OrderAccepted, order)
    d.portfolio.positions["AAPL"] = 0
    d.report(
        OrderFilled, order, side=Side.SELL, price=1, quantity=249, leaves_quantity=0, liquidity_side=LiquiditySide.TAKER
    )
    assert d.answers[-1] == {"done": True, "flat": True, "orders": 1, "reason": None}


def _reset(d: _Desk, reason: str = "false alarm") -> None:
    t = d.now()
    d.send(SetKillSwitch(ts_event=t, ts_init=t, engaged=False, reason=reason, source="control#2"))


def test_a_reset_stops_a_flatten_waiting_for_the_kills_orders_and_it_sends_nothing_after() -> None:
    """The flatten waited for a strategy's order whose kill cancel the venue refused; the operator resets: the
    flatten ends at once, saying so (before, it waited on, and sent a market order once that order closed, against
    a position the strategies trade again)."""
    d = _Desk({"AAPL": 100})
    resting = d.rig.submit(quantity=100)
    d.kill()
    d.report(CancelRejected, resting, reason="unknown order")
    assert len(d.answers) == 1 and d.desk.snapshot()["flattening"]
    _reset(d)
    reason = "stopped: the kill switch was reset (false alarm); still open: AAPL +100"
    assert d.answers[1] == {"done": True, "flat": False, "orders": 0, "reason": reason}
    [done] = d.desk.flattened
    assert (done.flat, done.orders, done.reason) == (False, 0, reason)
    snapshot = d.desk.snapshot()
    assert not snapshot["flattening"] and snapshot["flatten_stopped"] is None
    d.report(OrderAccepted, resting)
    d.report(OrderCancelled, resting, cancelled_quantity=100, reason="cancel request")
    _later(d, 60 * RETRY_NS)
    assert d.flatten_orders() == [] and len(d.answers) == 2


def test_a_reset_stops_a_flatten_but_it_follows_its_orders_in_flight_to_their_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At the reset one flatten order is in flight (AAPL) and one symbol waits for its next round (MSFT, whose order
    the venue rejected): nothing more is sent, and the answer waits for the AAPL order's outcome, which it counts."""
    d = _Desk({"AAPL": 100, "MSFT": -50})
    d.kill()
    aapl, msft = d.flatten_orders()
    d.report(OrderRejected, msft, reason="halted")
    with caplog.at_level(logging.WARNING, logger="tapeflow.live.control_desk"):
        _reset(d)
    assert [r.message for r in caplog.records if "reset" in r.message and aapl.client_order_id in r.message]
    assert len(d.answers) == 1 and d.desk.flattened == []  # the AAPL order is still out: not over yet
    snapshot = d.desk.snapshot()
    assert snapshot["flattening"] and snapshot["flatten_stopped"] == "the kill switch was reset (false alarm)"
    _later(d, 60 * RETRY_NS)  # MSFT's next round came due: nothing is sent
    assert d.flatten_orders() == [aapl, msft]
    d.report(OrderAccepted, aapl)
    d.portfolio.positions["AAPL"] = 0
    d.report(
        OrderFilled, aapl, side=Side.SELL, price=1, quantity=100, leaves_quantity=0, liquidity_side=LiquiditySide.TAKER
    )
    reason = "stopped: the kill switch was reset (false alarm); still open: MSFT -50"
    assert d.answers[1] == {"done": True, "flat": False, "orders": 2, "reason": reason}
    assert [e.reason for e in d.desk.flattened] == [reason] and d.desk.snapshot()["flatten_stopped"] is None
    assert d.flatten_orders() == [aapl, msft]
