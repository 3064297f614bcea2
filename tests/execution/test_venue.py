"""The venue protocol: ``Command`` is exactly the order commands; the answers for a venue that cannot take one; who
declares it cannot disconnect."""

from __future__ import annotations

import typing

from tapeflow.book.keeper import BookKeeper
from tapeflow.execution.venue import Command, always_connected, refusal
from tapeflow.model import (
    CancelOrder,
    CancelRejected,
    ModifyOrder,
    ModifyRejected,
    OrderRejected,
    OrderType,
    Side,
    SubmitOrder,
)
from tapeflow.model.codec import event_types
from tapeflow.model.orders import OrderCommand
from tapeflow.venues.sim.exchange import SimulatedExchange
from tapeflow.venues.sim.latency import FixedLatency
from tests.node.venues import FakeVenue

COMMON = {"ts_event": 1, "ts_init": 2, "strategy_id": "s", "client_order_id": "s-1", "symbol": "AAPL"}


def test_each_command_is_refused_with_the_reject_its_sender_expects_naming_the_reason() -> None:
    submit = SubmitOrder(**COMMON, side=Side.BUY, order_type=OrderType.LIMIT, quantity=100, price=1_000_000)
    cancel = CancelOrder(**COMMON)
    modify = ModifyOrder(**COMMON, quantity=200)
    answers = [refusal(c, "NET", "NET disconnected: socket closed", 7) for c in (submit, cancel, modify)]
    assert [type(a) for a in answers] == [OrderRejected, CancelRejected, ModifyRejected]
    for answer in answers:
        assert (answer.ts_event, answer.ts_init) == (7, 7)
        assert answer.client_order_id == "s-1" and answer.strategy_id == "s"  # type: ignore[attr-defined]
        assert answer.reason == "NET disconnected: socket closed"  # type: ignore[attr-defined]
        assert answer.venue == "NET"  # type: ignore[attr-defined]


def test_only_the_simulated_exchange_declares_it_is_always_connected() -> None:
    sim = SimulatedExchange(BookKeeper("L1"), FixedLatency())
    assert always_connected(sim)
    assert not always_connected(FakeVenue())


def test_command_union_is_every_order_command_type() -> None:
    assert set(typing.get_args(Command)) == {t for t in event_types() if issubclass(t, OrderCommand)}
