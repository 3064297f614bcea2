"""Account (stage 2) and flow (stage 3) rules at, just below and just above each limit."""

from __future__ import annotations

import pytest

from tapeflow.model import RiskRejected, Side
from tapeflow.model.risk_events import RiskLimitsChanged, UpdateRiskLimit
from tapeflow.risk.config import AccountChecks, FlowChecks, OrderChecks
from tests.risk.helpers import ASK, BID, MS, SYM, FakePortfolio, Rig
from tests.risk.test_rules import OFF_ACCOUNT, OFF_FLOW, OFF_ORDER, cfg, one

pytestmark = pytest.mark.usefixtures("risk_path")  # every test through both paths (conftest.py)

LOCATED = OrderChecks(max_quantity=None, max_notional_usd=None, collar_bps=None, locates={SYM: 1_000_000})


def acct(**kw: object) -> AccountChecks:
    return AccountChecks(**{"max_position": None, "initial_margin_bps": None, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("qty", "rule"), [(399, None), (400, None), (401, "max_position")])
def test_position_limit_counts_position_and_open_orders(qty: int, rule: str | None) -> None:
    rig = Rig(cfg(account=acct(max_position=1_000)), portfolio=FakePortfolio(positions={SYM: 400}))
    assert one(rig, quantity=200) is None  # open: 400 + 200 = 600
    assert one(rig, quantity=qty) == rule  # 600 + 400 = 1,000 at the limit


def test_position_limit_lets_a_reduction_through() -> None:
    rig = Rig(cfg(order=LOCATED, account=acct(max_position=100)), portfolio=FakePortfolio(positions={SYM: 500}))
    assert one(rig, quantity=500, side=Side.SELL, price=ASK) is None  # back to flat: reducing
    assert one(rig, quantity=100, side=Side.SELL, price=ASK) is None  # with the open sell: 100 short, at the limit
    assert one(rig, quantity=1, side=Side.SELL, price=ASK) == "max_position"  # 101 short
    assert one(rig, quantity=1, side=Side.BUY) == "max_position"  # 500 + 1 long


# $100.00 x shares; limit $50,000
@pytest.mark.parametrize(("qty", "rule"), [(499, None), (500, None), (501, "max_symbol_net_exposure")])
def test_symbol_net_exposure(qty: int, rule: str | None) -> None:
    assert one(Rig(cfg(account=acct(max_symbol_net_usd=50_000))), quantity=qty) == rule


@pytest.mark.parametrize(("qty", "rule"), [(299, None), (300, None), (301, "max_symbol_gross_exposure")])
def test_symbol_gross_exposure_counts_both_sides_of_open_orders(qty: int, rule: str | None) -> None:
    rig = Rig(cfg(order=LOCATED, account=acct(max_symbol_gross_usd=50_000)))
    assert one(rig, quantity=200, side=Side.SELL, price=BID) is None  # $20,000 open
    assert one(rig, quantity=qty) == rule  # + $30,000 = $50,000


@pytest.mark.parametrize(("qty", "rule"), [(299, None), (300, None), (301, "max_gross_exposure")])
def test_gross_exposure_total(qty: int, rule: str | None) -> None:
    rig = Rig(cfg(account=acct(max_gross_usd=70_000)), portfolio=FakePortfolio(positions={"MSFT": 0, SYM: 200}))
    # position 200 x mark 100.005 = $20,001; plus qty x $100.00; limit $70,000 -> 499 at most? keep it exact:
    rig.portfolio.mark = BID  # type: ignore[assignment]
    assert one(rig, quantity=200) is None  # $20,000 held + $20,000 open
    assert one(rig, quantity=qty) == rule  # + $30,000 = $70,000


@pytest.mark.parametrize(("qty", "rule"), [(499, None), (500, None), (501, "max_net_exposure")])
def test_net_exposure_total(qty: int, rule: str | None) -> None:
    rig = Rig(cfg(order=LOCATED, account=acct(max_net_usd=50_000)))
    assert one(rig, quantity=300, side=Side.SELL, price=BID) is None  # a short-side open order does not offset
    assert one(rig, quantity=qty) == rule


# equity $100,000, 50% initial: projected gross may reach $200,000 = 2,000 shares at $100
@pytest.mark.parametrize(("qty", "rule"), [(1_999, None), (2_000, None), (2_001, "buying_power")])
def test_reg_t_initial_margin(qty: int, rule: str | None) -> None:
    rig = Rig(cfg(account=acct(initial_margin_bps=5_000)), portfolio=FakePortfolio(cash=100_000 * 10_000))
    assert one(rig, quantity=qty) == rule


def test_reg_t_maintenance_margin_call_allows_only_reductions() -> None:
    # long 4,000 at mark $100 = $400,000 with cash -$300,000: equity $100,000 = 25% of gross (at the line)
    portfolio = FakePortfolio(cash=-300_000 * 10_000, positions={SYM: 4_000})
    portfolio.mark = BID  # type: ignore[assignment]
    config = cfg(order=LOCATED, account=acct(initial_margin_bps=5_000, maintenance_margin_bps=2_500))
    rig = Rig(config, portfolio=portfolio)
    assert one(rig, quantity=1) == "buying_power"  # at maintenance, but initial needs $200,005
    portfolio.cash -= 1  # one unit below maintenance
    assert one(rig, quantity=1) == "buying_power"
    reject = [e for e in rig.seen if isinstance(e, RiskRejected)][-1]
    assert "maintenance" in reject.reason
    assert one(rig, quantity=1_000, side=Side.SELL, price=ASK) is None  # reducing


@pytest.mark.parametrize(("cash", "rule"), [(49_999, "net_liquidation_floor"), (50_000, None), (50_001, None)])
def test_net_liquidation_floor(cash: int, rule: str | None) -> None:
    rig = Rig(cfg(account=acct(min_net_liquidation_usd=50_000)), portfolio=FakePortfolio(cash=cash * 10_000))
    assert one(rig) == rule


@pytest.mark.parametrize(("loss", "rule"), [(9_999, None), (10_000, None), (10_001, "max_daily_loss")])
def test_daily_loss_blocks_new_risk_not_reductions(loss: int, rule: str | None) -> None:
    portfolio = FakePortfolio(cash=1_000_000 * 10_000, positions={SYM: 100})
    rig = Rig(cfg(order=LOCATED, account=acct(max_daily_loss_usd=10_000)), portfolio=portfolio)
    portfolio.cash -= loss * 10_000
    assert one(rig) == rule
    assert one(rig, quantity=100, side=Side.SELL, price=ASK) is None


def test_daily_loss_counts_from_the_new_days_first_command_not_from_yesterdays() -> None:
    """The fast path keeps the day's baseline with the day's bounds: a new day must not reuse yesterday's."""
    portfolio = FakePortfolio(cash=1_000_000 * 10_000)
    rig = Rig(cfg(order=LOCATED, account=acct(max_daily_loss_usd=10_000)), portfolio=portfolio)
    assert one(rig) is None
    assert one(rig, quantity=101) is None
    portfolio.cash += 50_000 * 10_000  # a good Friday
    monday = rig.kernel.now + 3 * 24 * 3_600 * 1_000 * MS
    assert one(rig, at=monday) is None  # Monday's baseline: the equity after Friday's gain
    portfolio.cash -= 10_001 * 10_000  # within Friday's baseline, beyond Monday's
    assert one(rig, at=monday + MS, quantity=102) == "max_daily_loss"


def flow(**kw: object) -> FlowChecks:
    return FlowChecks(**{**{f: getattr(OFF_FLOW, f) for f in OFF_FLOW.__struct_fields__}, **kw})  # type: ignore[arg-type]


def test_strategy_throttle_burst_then_rate() -> None:
    rig = Rig(cfg(flow=flow(strategy_orders_per_second=10, strategy_burst=5)))
    t = rig.kernel.now
    results = [one(rig, quantity=100 + i, at=t) for i in range(6)]
    assert results == [None] * 5 + ["strategy_order_rate"]  # burst of 5, the 6th refused
    assert one(rig, quantity=200, at=t + 100 * MS - 1) == "strategy_order_rate"  # one token needs 100 ms
    assert one(rig, quantity=201, at=t + 100 * MS) is None
    assert one(rig, quantity=202, at=t + 100 * MS) == "strategy_order_rate"


def test_symbol_throttle_is_per_symbol_and_rejected_orders_spend_nothing() -> None:
    from tests.risk.helpers import FakeBook, FakeBooks

    rig = Rig(
        cfg(
            order=OrderChecks(max_quantity=150, max_notional_usd=None, collar_bps=None),
            flow=flow(symbol_orders_per_second=1, symbol_burst=2),
        ),
        books=FakeBooks(AAPL=FakeBook(), MSFT=FakeBook()),
    )
    assert one(rig, quantity=1_000) == "max_order_quantity"
    assert [one(rig, quantity=100 + i) for i in range(3)] == [None, None, "symbol_order_rate"]
    assert one(rig, quantity=100, symbol="MSFT") is None


def test_message_rate_counts_cancels_but_never_refuses_them() -> None:
    rig = Rig(cfg(flow=flow(messages_per_second=1, message_burst=2)))
    first = rig.submit(quantity=100)
    for _ in range(3):
        rig.cancel(first.client_order_id)
    cancels = [c for c in rig.venue.sent if type(c).__name__ == "CancelOrder"]
    assert len(cancels) == 3
    assert one(rig, quantity=101) == "message_rate"


THROTTLES = {
    "message_rate": {"messages_per_second": 1, "message_burst": 2},
    "strategy_order_rate": {"strategy_orders_per_second": 1, "strategy_burst": 2},
    "symbol_order_rate": {"symbol_orders_per_second": 1, "symbol_burst": 2},
}


@pytest.mark.parametrize("throttle", sorted(THROTTLES))
def test_throttle_refills_to_its_burst_not_past_it_after_idle(throttle: str) -> None:
    """Rate 1/s, burst 2: one order, 10 s idle, then three orders at once: the bucket holds 2, the third is refused."""
    rig = Rig(cfg(flow=flow(**THROTTLES[throttle])))
    t = rig.kernel.now
    assert one(rig, quantity=100, at=t) is None
    later = t + 10_000 * MS
    assert [one(rig, quantity=101 + i, at=later) for i in range(3)] == [None, None, throttle]


def test_message_rate_cancel_after_idle_spends_a_refilled_token() -> None:
    """A cancel is counted at its own time: after 10 s idle the bucket is full (2), the cancel spends one, so only
    one order passes at that instant (the cancel must not spend from the bucket as it was before the pause)."""
    rig = Rig(cfg(flow=flow(messages_per_second=1, message_burst=2)))
    t = rig.kernel.now
    first = rig.submit(quantity=100, at=t)
    later = t + 10_000 * MS
    rig.cancel(first.client_order_id, at=later)
    assert [one(rig, quantity=101 + i, at=later) for i in range(2)] == [None, "message_rate"]


@pytest.mark.parametrize(("gap_ms", "rule"), [(99, "duplicate_order"), (100, None), (101, None)])
def test_duplicate_window(gap_ms: int, rule: str | None) -> None:
    rig = Rig(cfg(flow=flow(duplicate_window_ms=100)))
    t = rig.kernel.now
    assert one(rig, at=t) is None
    assert one(rig, at=t + gap_ms * MS) == rule


def test_duplicate_differs_by_price_or_size() -> None:
    rig = Rig(cfg(flow=flow(duplicate_window_ms=100)))
    assert [one(rig), one(rig, price=BID - 100), one(rig, quantity=101), one(rig)] == [
        None,
        None,
        None,
        "duplicate_order",
    ]


@pytest.mark.parametrize(("limit", "rule"), [(4, "max_open_orders"), (5, None), (6, None)])
def test_max_open_orders(limit: int, rule: str | None) -> None:
    rig = Rig(cfg(flow=flow(max_open_orders=limit)))
    for i in range(4):
        assert one(rig, quantity=100 + i) is None
    assert one(rig, quantity=200) == (rule if limit == 4 else None)
    if limit == 5:
        assert one(rig, quantity=201) == "max_open_orders"


@pytest.mark.parametrize(("total", "rule"), [(3, "max_open_orders"), (4, None)])
def test_max_open_orders_in_all_counts_every_strategys_orders(total: int, rule: str | None) -> None:
    rig = Rig(cfg(flow=flow(max_open_orders=10, max_open_orders_total=total)))
    for i, strategy in enumerate(("s", "t", "s")):
        assert rig.passed(rig.submit(quantity=100 + i, strategy=strategy))
    assert one(rig, quantity=200) == rule


def test_limits_change_only_through_an_event_and_are_recorded() -> None:
    rig = Rig(cfg(order=OrderChecks(max_quantity=100, max_notional_usd=None, collar_bps=None)))
    assert one(rig, quantity=150) == "max_order_quantity"
    now = rig.kernel.now
    rig.kernel.run([UpdateRiskLimit(ts_event=now, ts_init=now, rule="max_order_quantity", field="limit", value=200)])
    assert one(rig, quantity=150) is None
    rig.kernel.run([UpdateRiskLimit(ts_event=now, ts_init=now, rule="max_order_quantity", field="limit", value=-5)])
    rig.kernel.run([UpdateRiskLimit(ts_event=now, ts_init=now, rule="nope", field="limit", value=5)])
    changes = [e for e in rig.seen if isinstance(e, RiskLimitsChanged)]
    assert [(c.accepted, c.old, c.new) for c in changes] == [(True, 100, 200), (False, None, None), (False, None, None)]
    assert "positive integer" in changes[1].reason and "nope" in changes[2].reason
    assert rig.config.order.max_quantity == 100  # the configuration object is never touched


def test_modify_is_checked_as_the_order_it_becomes() -> None:
    rig = Rig(cfg(order=OrderChecks(max_quantity=300, max_notional_usd=None, collar_bps=500), account=OFF_ACCOUNT))
    cmd = rig.submit(quantity=100)
    rig.modify(cmd.client_order_id, 301)
    rig.modify(cmd.client_order_id, 300, price=1_060_000)  # 6% through the mid
    rig.modify(cmd.client_order_id, 300)
    rules = [e.rule for e in rig.seen if isinstance(e, RiskRejected)]
    assert rules == ["max_order_quantity", "price_collar"]
    assert [type(c).__name__ for c in rig.venue.sent] == ["SubmitOrder", "ModifyOrder"]


def test_defaults_alone_pass_an_ordinary_order() -> None:
    from tapeflow.risk.config import RiskConfig

    assert one(Rig(RiskConfig())) is None
    assert OFF_ORDER.max_quantity is None
