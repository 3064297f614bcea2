"""The runaway strategy of tests/risk/test_runaway.py, live against a ``tapeflow paper`` venue: a buy on every
quote, halted by the throttle and then the kill switch; the orders that reached the venue are counted on both
sides (the venue's REST and the node's counters) and none reached it after the kill switch engaged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapeflow.backtest.config import StrategyConfig
from tapeflow.live.session import LiveSession
from tapeflow.model.risk_events import KillSwitchChanged
from tapeflow.risk.config import AccountChecks, FlowChecks, KillSwitchConfig, OrderChecks, RiskConfig
from tests.live.live_rig import (
    KEYS,
    STRATEGIES,
    PaperProcess,
    assert_node_equals_venue,
    live_config,
    node_of,
    run_session,
    serve_paper,
    until,
    watch,
)

RATE, BURST, RUNAWAY, WINDOW_MS = 5, 10, 40, 1_000


@pytest.fixture
def paper(tmp_path: Path, data_dir: Path) -> Iterator[PaperProcess]:
    yield from serve_paper(tmp_path, data_dir)


def test_a_runaway_strategy_live_is_throttled_then_killed_and_nothing_reaches_the_venue_after_the_kill(
    paper: PaperProcess, tmp_path: Path
) -> None:
    risk = RiskConfig(
        order=OrderChecks(max_quantity=500, max_notional_usd=500_000),
        account=AccountChecks(max_position=10_000),
        flow=FlowChecks(strategy_orders_per_second=RATE, strategy_burst=BURST, max_open_orders=50),
        kill_switch=KillSwitchConfig(
            state_file=str(tmp_path / "kill.json"),
            runaway_orders=RUNAWAY,
            runaway_window_ms=WINDOW_MS,
            max_rejects=None,
        ),
    )
    cfg = live_config(paper, tmp_path, strategy=StrategyConfig(name=f"{STRATEGIES}:Runaway"), risk=risk)
    session = LiveSession(cfg, KEYS, console=False)
    kills = watch(session, KillSwitchChanged)
    strategy = session.strategy

    async def script(s: LiveSession) -> None:
        await until(lambda: kills, "the kill switch")
        attempts = strategy.attempts  # type: ignore[attr-defined]
        await until(lambda: strategy.attempts >= attempts + 50, "attempts after the kill")  # type: ignore[attr-defined]
        # the kill's cancels answered: none open at the venue, none open in the node (a fixed pause raced them)
        node, deadline = node_of(s), time.monotonic() + 30
        while await asyncio.to_thread(paper.open_orders) or any(True for _ in node.execution.open_orders()):
            assert time.monotonic() < deadline, "the kill's cancels were not all answered"
            await asyncio.sleep(0.1)

    result = run_session(session, script)
    node = node_of(session)
    (kill,) = kills
    assert isinstance(kill, KillSwitchChanged) and kill.engaged and "runaway" in f"{kill.source} {kill.reason}"
    prefix = f"runaway-{session.run_id}-"
    venue_ids = [o["client_order_id"] for o in paper.orders() if o["client_order_id"].startswith(prefix)]
    sent = list(node.execution.orders())
    # the count, stated three ways: the venue's REST, the node's orders, the strategy's attempts less refusals
    reached = len(venue_ids)
    assert reached == len(sent) == strategy.attempts - len(strategy.refusals)  # type: ignore[attr-defined]
    # the throttle's bound on tape time: the burst, then RATE a second from the first order to the kill
    span_ns = kill.ts_event - min(o.ts_submitted for o in sent)
    assert BURST <= reached <= BURST + RATE * span_ns // 1_000_000_000 + 1, (reached, span_ns)
    assert result.engine["risk_kill_switch"]["engaged"] is True
    assert all(o.ts_submitted <= kill.ts_event for o in sent), "an order was sent after the kill switch engaged"
    rules = {r.rule for r in strategy.refusals}  # type: ignore[attr-defined]
    after = [r for r in strategy.refusals if r.ts_event > kill.ts_event]  # type: ignore[attr-defined]
    assert after and {r.rule for r in after} == {"kill_switch"}, {r.rule for r in after}
    assert len(rules - {"kill_switch"}) >= 1, rules  # the throttle refused before the kill
    assert paper.open_orders() == [], "the kill switch cancelled every open order"
    assert_node_equals_venue(node, paper, prefix=prefix)
    print(f"runaway: {strategy.attempts} attempts, {reached} reached the venue, refusals by rule {rules}")  # type: ignore[attr-defined]
