"""The one new order an engaged kill switch lets through: a marked market order closing a position exactly."""

from __future__ import annotations

import pytest

from tapeflow.model import OrderType, Side, SubmitOrder
from tapeflow.model.risk_events import FLATTEN_STRATEGY
from tests.risk.helpers import FakePortfolio, Rig
from tests.risk.test_rules import cfg

pytestmark = pytest.mark.usefixtures("risk_path")  # through both paths (conftest.py)


def _send(
    rig: Rig, side: Side, quantity: int, *, strategy: str = FLATTEN_STRATEGY, kind: OrderType = OrderType.MARKET
) -> bool:
    """Submit one order; True when it reached the venue."""
    rig.n += 1
    now = rig.kernel.now
    order = SubmitOrder(
        ts_event=now,
        ts_init=now,
        strategy_id=strategy,
        client_order_id=f"f{rig.n}",
        symbol="AAPL",
        side=side,
        order_type=kind,
        quantity=quantity,
        price=0 if kind is OrderType.MARKET else 1_000_000,
    )
    rig.kernel.run([order])
    return rig.passed(order)


def test_with_the_switch_engaged_only_the_exact_closing_flatten_order_passes() -> None:
    rig = Rig(cfg(), portfolio=FakePortfolio(positions={"AAPL": 300}))
    assert rig.engine.kill("operator")
    assert not _send(rig, Side.BUY, 300)  # adds exposure
    assert not _send(rig, Side.SELL, 200)  # leaves some
    assert not _send(rig, Side.SELL, 400)  # goes through zero to short
    assert not _send(rig, Side.SELL, 300, strategy="quoter")  # a normal strategy's order
    assert not _send(rig, Side.SELL, 300, kind=OrderType.LIMIT)  # could rest
    assert _send(rig, Side.SELL, 300)
    assert not _send(rig, Side.SELL, 300)  # one already in flight for the symbol
    assert rig.last_rule() == "kill_switch"


def test_a_short_position_is_closed_by_a_buy_and_a_flat_one_by_nothing() -> None:
    rig = Rig(cfg(), portfolio=FakePortfolio(positions={"AAPL": -100, "MSFT": 0}))
    rig.engine.kill("operator")
    assert _send(rig, Side.BUY, 100)
    flat = Rig(cfg(), portfolio=FakePortfolio(positions={}))
    flat.engine.kill("operator")
    assert not _send(flat, Side.SELL, 100)


def test_without_the_switch_a_flatten_order_is_an_order_like_any_other() -> None:
    rig = Rig(cfg(), portfolio=FakePortfolio(positions={"AAPL": 300}))
    assert _send(rig, Side.BUY, 100)  # normal rules, no exactness asked
