"""Node snapshots: taken mid-run from a live node on the real AAPL tape, they hold exactly the portfolio's and the
execution engine's figures; risk and feed health are the engines' own; the whole thing round-trips through JSON.

The expected figures are computed here from the node's objects with ``Decimal`` (not with the snapshot's own
formatting helpers), so a formatting bug cannot hide behind itself.
"""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.data.lobster_events import iter_events
from tapeflow.engine import Kernel
from tapeflow.live import LiveNode, replay
from tapeflow.live.feed_health import RECENT, FeedHealth
from tapeflow.live.snapshot import AVG_PLACES, NodeSnapshot, SnapshotBuilder, dollars, money
from tapeflow.live.tick_to_trade import AckLatency, LatencyMeter
from tapeflow.model import Event
from tapeflow.model.enums import Side
from tapeflow.model.market import OrderAdded
from tapeflow.model.risk_events import SetKillSwitch
from tapeflow.model.venue_events import (
    FeedBackfillDone,
    FeedResumed,
    FeedStale,
    VenueConnected,
    VenueDisconnected,
    VenueReconnected,
    VenueStatus,
)
from tapeflow.node import NodeConfig
from tapeflow.node.assembly import TradingNode
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.config import AccountChecks, FlowChecks, OrderChecks, RiskConfig
from tapeflow.strategy.base import Strategy
from tapeflow.strategy.examples.imbalance_quoter import ImbalanceQuoter
from tapeflow.venues.sim.latency import FixedLatency

EVENTS = 12_000
EVERY = 600
"""Added orders (about a third of the feed) between two snapshots taken mid-run."""
SCALE = Decimal(10_000)


# -- exact decimal strings -----------------------------------------------------------------------------------------


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_is_the_exact_dollar_amount(units: int) -> None:
    assert Decimal(money(units)) == Decimal(units) / SCALE


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from([1, 2, 4, 5, 8, 16, 25, 3, 7, 229]))
def test_dollars_is_exact_when_the_ratio_terminates_and_rounded_to_its_places_otherwise(num: int, den: int) -> None:
    value = Fraction(num, den)
    text = dollars(value)
    truth = value / 10_000
    got = Fraction(Decimal(text))
    places = len(text.split(".")[1])
    if den in (1, 2, 4, 5, 8, 16, 25):
        assert got == truth
    else:
        assert places <= AVG_PLACES
        assert abs(got - truth) <= Fraction(1, 2 * 10**AVG_PLACES)
    assert places >= 2


# -- feed health ---------------------------------------------------------------------------------------------------


def test_feed_health_follows_connection_and_staleness_events() -> None:
    health = FeedHealth()
    kernel = Kernel()
    kernel.add(health)
    kernel.start(at=1_000)
    t = itertools.count(1_000)

    def at() -> dict[str, int]:
        ts = next(t)
        return {"ts_event": ts, "ts_init": ts}

    kernel.run([VenueConnected(**at(), venue="alpaca"), VenueConnected(**at(), venue="paper")])
    assert health.connected == {"alpaca", "paper"}
    kernel.run([VenueDisconnected(**at(), venue="alpaca", reason="socket closed")])
    assert health.connected == {"paper"} and health.down == {"alpaca": "socket closed"}
    kernel.run([FeedStale(**at(), venue="alpaca", symbol="AAPL", reason="silent 5 s"), FeedStale(**at(), venue="iex")])
    assert health.stale() == ["alpaca:AAPL", "iex"]
    kernel.run([VenueReconnected(**at(), venue="alpaca", down_ns=5), FeedResumed(**at(), venue="alpaca")])
    assert health.connected == {"alpaca", "paper"} and health.down == {}
    assert health.stale() == ["iex"]  # the whole alpaca feed resumed: its symbols with it
    # an adapter's own status events (reconciliations, backfills: other parts add them) are counted by type; the
    # base class stands for them here (a test must not define an event type: the codec's registry is global)
    kernel.run([VenueStatus(**at())])
    assert (health.disconnects, health.reconnects, health.other) == (1, 1, {"VenueStatus": 1})
    assert list(health.recent)[-3:] == ["alpaca reconnected", "alpaca feed resumed", "VenueStatus"]
    kernel.run([VenueConnected(**at(), venue="x") for _ in range(2 * RECENT)])
    assert len(health.recent) == RECENT  # bounded


def test_feed_health_says_which_backfill_left_a_gap() -> None:
    health = FeedHealth()
    kernel = Kernel()
    kernel.add(health)
    kernel.start(at=1_000)
    kernel.run(
        [
            FeedBackfillDone(ts_event=1_001, ts_init=1_001, venue="alpaca", count=12),
            FeedBackfillDone(ts_event=1_002, ts_init=1_002, venue="alpaca", count=3, complete=False),
        ]
    )
    assert list(health.recent) == ["alpaca backfilled 12", "alpaca backfilled 3, incomplete: a gap may remain"]
    assert health.incomplete_backfills == 1 and health.other == {"FeedBackfillDone": 2}


def test_feed_health_times_the_last_market_event_by_its_arrival_stamp() -> None:
    health = FeedHealth()
    kernel = Kernel()
    kernel.add(health)
    kernel.start(at=0)
    assert health.last_market_age(10) is None
    kernel.run([OrderAdded(ts_event=5, ts_init=7, symbol="AAPL", order_id=1, side=Side.BUY, price=1_000_000, size=1)])
    assert (health.market_events, health.last_market_ns, health.last_market_age(20)) == (1, 7, 13)


# -- a snapshot is the node's state --------------------------------------------------------------------------------


def _config(risk: RiskConfig | None = None) -> NodeConfig:
    latency = FixedLatency(
        feed_ns=200_000, insert_entry_ns=300_000, modify_entry_ns=250_000, cancel_entry_ns=250_000,
        insert_response_ns=300_000, modify_response_ns=250_000, cancel_response_ns=250_000, compute_ns=10_000,
    )  # fmt: skip
    return NodeConfig(
        level="L3", latency=latency, risk=risk, portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000)
    )


@pytest.fixture(scope="module")
def tape(data_dir: Path) -> list[Event]:
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    return list(itertools.islice(iter_events(path), EVENTS))


class _Sampler:
    """Every ``EVERY`` feed events, on the kernel's thread as the console's timer would be: a snapshot and,
    beside it, the truth read straight from the node's portfolio and execution engine."""

    def __init__(self) -> None:
        self.builder: SnapshotBuilder | None = None
        self.node: TradingNode | None = None
        self.taken: list[tuple[NodeSnapshot, dict[str, Any]]] = []
        self.seen = 0

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(OrderAdded, self.on_event)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_event(self, event: Event) -> None:
        self.seen += 1
        if self.seen % EVERY == 0:
            assert self.builder is not None and self.node is not None
            self.taken.append((self.builder.take(), _truth(self.node)))


def _truth(node: TradingNode) -> dict[str, Any]:
    p = node.portfolio
    return {
        "positions": [
            (
                v.symbol,
                v.quantity,
                Decimal(v.cost_basis) / SCALE,
                Decimal(v.market_value) / SCALE,
                Decimal(v.unrealized) / SCALE,
                Decimal(v.realized) / SCALE,
            )
            for v in p.positions()
        ],
        "cash": Decimal(p.cash) / SCALE,
        "equity": Decimal(p.equity()) / SCALE,
        "realized": Decimal(p.realized_pnl()) / SCALE,
        "unrealized": Decimal(p.unrealized_pnl()) / SCALE,
        "fees": Decimal(p.fees) / SCALE,
        "orders": [
            (
                o.client_order_id,
                o.symbol,
                o.side.value,
                o.quantity,
                o.filled_quantity,
                Decimal(o.price) / SCALE,
                o.status.value,
            )
            for o in node.execution.open_orders()
        ],
        "feed_events": node.kernel.feed_events,
    }


def _seen(s: NodeSnapshot) -> dict[str, Any]:
    return {
        "positions": [
            (
                r.symbol,
                r.quantity,
                Decimal(r.cost_basis),
                Decimal(r.market_value),
                Decimal(r.unrealized),
                Decimal(r.realized),
            )
            for r in s.positions
        ],
        "cash": Decimal(s.pnl.cash),
        "equity": Decimal(s.pnl.equity),
        "realized": Decimal(s.pnl.realized),
        "unrealized": Decimal(s.pnl.unrealized),
        "fees": Decimal(s.pnl.fees),
        "orders": [
            (o.client_order_id, o.symbol, o.side, o.quantity, o.filled, Decimal(o.price or "0"), o.status)
            for o in s.open_orders
        ],
        "feed_events": s.feed_events,
    }


def test_snapshots_taken_mid_run_equal_the_portfolio_and_the_execution_engine(tape: list[Event]) -> None:
    sampler = _Sampler()
    health = FeedHealth()
    ack = AckLatency()
    live = LiveNode([ImbalanceQuoter()], config=_config(), run_id="", extra=[health, ack, sampler])
    sampler.node = live.node
    sampler.builder = SnapshotBuilder(live.node, health=health, ack=ack.meter, tick_to_trade=LatencyMeter())
    asyncio.run(live.run(replay(tape)))

    assert len(sampler.taken) >= 4
    for snapshot, truth in sampler.taken:
        assert _seen(snapshot) == truth
        assert snapshot.open_order_count == len(truth["orders"])
        assert Decimal(snapshot.pnl.total) == truth["equity"] - Decimal(10_000_000)
        assert snapshot.ts == snapshot.event_ts  # no wall clock given (a replay): the kernel's time
    # the comparison is meaningful: the run traded, held a position and had orders resting when sampled
    assert any(s.positions and s.positions[0].quantity for s, _ in sampler.taken)
    assert any(s.open_orders for s, _ in sampler.taken)
    assert any(s.pnl.fills for s, _ in sampler.taken)
    last = sampler.taken[-1][0]
    assert last.feed is not None and last.feed.market_events > 0 and last.feed.last_market_age_ns == 0
    assert last.ack is not None and last.ack.count > 10
    assert last.ack.min == last.ack.max == 300_000 + 300_000  # the simulated exchange's entry + response latency
    assert last.events_per_s > 0  # event time: feed events per second of tape between two snapshots

    # one JSON line each, read back to the same snapshot
    for snapshot, _ in sampler.taken:
        assert msgspec.json.decode(msgspec.json.encode(snapshot), type=NodeSnapshot) == snapshot


class _TooBig(Strategy):
    """Every 500th book event: an order over the size limit (refused by risk)."""

    def __init__(self) -> None:
        super().__init__("too-big")
        self.seen = 0

    def on_book(self, event: Event) -> None:
        self.seen += 1
        if self.seen % 500 == 0:
            self.buy("AAPL", 5_000, 500_000)


def test_risk_state_shows_rejections_by_rule_throttles_and_the_kill_switch(tape: list[Event]) -> None:
    risk = RiskConfig(
        order=OrderChecks(max_quantity=1_000, max_notional_usd=2_000_000, collar_bps=None, max_spread_bps=None),
        account=AccountChecks(max_position=1_000),
        flow=FlowChecks(duplicate_window_ms=None, strategy_orders_per_second=7, strategy_burst=3),
    )
    live = LiveNode([_TooBig()], config=_config(risk), run_id="")
    builder = SnapshotBuilder(live.node)

    async def feed() -> Any:
        for i, event in enumerate(tape[:4_000]):
            if i == 3_000:
                live.inbox.put(SetKillSwitch(ts_event=event.ts_init, ts_init=event.ts_init, engaged=True, reason="op"))
            yield event

    asyncio.run(live.run(feed()))
    s = builder.take()
    stats = live.node.risk.stats()
    assert s.risk.rejections_by_rule == stats["rejections_by_rule"] and s.risk.rejected == stats["rejected"] > 0
    assert s.risk.kill_switch and s.risk.kill_reason == "op" and s.risk.kill_source == "manual"
    throttles = {t.rule: t for t in s.risk.throttles}
    assert throttles["strategy_order_rate"].limit == 7 and throttles["strategy_order_rate"].burst == 3
    assert s.risk.venues_down == {}  # the simulated exchange cannot disconnect
    assert s.feed is None and s.tick_to_trade is None  # not asked for
    chase = live.node.risk.kill_cancels
    chase.resent, chase.alarms = 4, 1  # what a venue refusing the kill's cancels would have left (tests/risk)
    chase.unanswered, live.node.risk.persist_failures = 2, 3  # one never answering them, a state file not written
    s = builder.take()
    assert (s.risk.kill_cancels_resent, s.risk.kill_cancel_alarms) == (4, 1)
    assert (s.risk.kill_cancels_unanswered, s.risk.kill_persist_failures) == (2, 3)
    assert (stats["kill_switch"]["cancels_resent"], stats["kill_switch"]["cancel_alarms"]) == (0, 0)
