"""The headline test: a Knight-Capital-like loop on real LOBSTER data, stopped by the throttle and the kill switch.

A broken strategy sends a limit buy on every book event of AAPL (2012-06-21, the first 20,000 events). The
throttle lets the burst through and refuses the rest, the runaway rule trips the kill switch, every open order is
cancelled, and no order beyond the configured limits ever reaches the simulated exchange.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tapeflow.backtest.engine import Backtest
from tapeflow.data.lobster_events import iter_events
from tapeflow.model import CancelOrder, Event, OrderCancelled, RiskRejected, SubmitOrder
from tapeflow.model.risk_events import KillSwitchChanged
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.config import AccountChecks, FlowChecks, KillSwitchConfig, OrderChecks, RiskConfig
from tapeflow.strategy.base import Strategy

RATE, BURST, RUNAWAY, WINDOW_MS, MAX_QTY = 10, 20, 100, 1_000, 500


class Broken(Strategy):
    """Sends an order on every book update: the bug is that nothing ever says "enough"."""

    def __init__(self) -> None:
        super().__init__("knight")
        self.attempts: list[int] = []
        self.rejections: list[RiskRejected] = []

    def on_book(self, event: Event) -> None:
        book = self.book(event.symbol)
        if book is None or not book.best_bid or not book.best_ask:
            return
        k = len(self.attempts)
        self.attempts.append(self.now)
        quantity = 100 if k % 7 else MAX_QTY + 100  # now and then a fat finger too
        self.buy(event.symbol, quantity, book.best_bid - (10 + k % 5) * 1_000)  # $1.00-$1.40 under the bid: resting

    def on_risk_rejected(self, event: RiskRejected) -> None:
        self.rejections.append(event)


@pytest.fixture(scope="module")
def run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    state = tmp_path_factory.mktemp("risk") / "kill.json"
    config = RiskConfig(
        order=OrderChecks(max_quantity=MAX_QTY, max_notional_usd=500_000),
        account=AccountChecks(max_position=10_000),
        flow=FlowChecks(strategy_orders_per_second=RATE, strategy_burst=BURST, max_open_orders=50),
        kill_switch=KillSwitchConfig(
            state_file=str(state), runaway_orders=RUNAWAY, runaway_window_ms=WINDOW_MS, max_rejects=None
        ),
    )
    strategy = Broken()
    bt = Backtest([strategy], level="L3", risk=config, portfolio=PortfolioConfig(starting_cash=100_000_000 * 10_000))
    arrived: list[Any] = []
    send = bt.exchange.send

    def counting_send(command: Any) -> None:
        arrived.append(command)
        send(command)

    bt.exchange.send = counting_send  # type: ignore[method-assign]
    seen: list[Event] = []
    bt.kernel.subscribe(KillSwitchChanged, seen.append)
    bt.kernel.subscribe(OrderCancelled, seen.append)
    bt.run([itertools.islice(iter_events(path), 20_000)])
    return {"bt": bt, "strategy": strategy, "arrived": arrived, "seen": seen, "state": state}


def expected_trip(attempts: list[int]) -> int:
    """The first attempt that makes more than RUNAWAY attempts within the window, computed independently."""
    window = WINDOW_MS * 1_000_000
    for i in range(RUNAWAY, len(attempts)):
        if attempts[i] - attempts[i - RUNAWAY] < window:
            return attempts[i]
    raise AssertionError("the loop never ran away")


def test_throttle_refuses_the_excess_and_the_runaway_rule_trips(run: dict[str, Any]) -> None:
    bt, strategy = run["bt"], run["strategy"]
    attempts = strategy.attempts
    assert len(attempts) > 10_000  # the loop really ran
    by_rule = bt.stats()["risk_rejections_by_rule"]
    assert by_rule["strategy_order_rate"] > 0
    assert by_rule["max_order_quantity"] > 0
    assert by_rule["kill_switch"] > 10_000
    assert sum(by_rule.values()) == len(strategy.rejections) == bt.risk.rejected

    [kill] = [e for e in run["seen"] if isinstance(e, KillSwitchChanged)]
    assert kill.engaged and kill.source == "rule" and kill.rule == "runaway"
    assert f"attempted {RUNAWAY + 1} orders within {WINDOW_MS} ms" in kill.reason
    assert kill.ts_event == expected_trip(attempts)
    assert bt.stats()["risk_kill_switch"]["engaged"] is True
    # before the switch, every attempt either reached the exchange or was refused by a named rule
    before = [r for r in strategy.rejections if r.ts_event <= kill.ts_event]
    tried = sum(1 for t in attempts if t <= kill.ts_event)
    passed = sum(1 for _ in bt.execution.orders())
    assert tried == len(before) + passed
    assert {r.rule for r in before} >= {"strategy_order_rate", "max_order_quantity"}
    after = [r.rule for r in strategy.rejections if r.ts_event > kill.ts_event]
    assert len(after) == sum(1 for t in attempts if t > kill.ts_event) > 0  # every later attempt, and there were some
    assert set(after) == {"kill_switch"}


def test_nothing_beyond_the_limits_reaches_the_exchange(run: dict[str, Any]) -> None:
    submits = [c for c in run["arrived"] if isinstance(c, SubmitOrder)]
    kill = next(e for e in run["seen"] if isinstance(e, KillSwitchChanged))
    first = submits[0].ts_init
    for n, cmd in enumerate(submits, start=1):
        assert cmd.quantity <= MAX_QTY
        assert cmd.ts_init <= kill.ts_event  # not one order after the switch
        assert n <= BURST + RATE * (cmd.ts_init - first) // 1_000_000_000  # the token bucket, checked from outside
    assert len(submits) == run["bt"].risk.passed - sum(isinstance(c, CancelOrder) for c in run["arrived"])
    assert len(submits) <= BURST + RATE * (kill.ts_event - first) // 1_000_000_000


def test_every_open_order_is_cancelled_and_the_switch_persists(run: dict[str, Any]) -> None:
    bt = run["bt"]
    kill = next(e for e in run["seen"] if isinstance(e, KillSwitchChanged))
    cancels = [c for c in run["arrived"] if isinstance(c, CancelOrder)]
    assert kill.cancelled_orders == len(cancels) > 0
    assert all(c.ts_init == kill.ts_event for c in cancels)
    assert list(bt.execution.open_orders()) == []
    cancelled = {e.client_order_id for e in run["seen"] if isinstance(e, OrderCancelled)}
    assert {c.client_order_id for c in cancels} <= cancelled | {o.client_order_id for o in bt.execution.orders()}
    assert '"engaged": true' in run["state"].read_text()
