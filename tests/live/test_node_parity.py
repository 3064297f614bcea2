"""The trading node with orders: one real LOBSTER tape through the backtest driver and through the live driver in
replay mode gives byte-identical event logs and audit trails.

Everything a node has is on: a strategy that quotes, moves its quote (modify), cancels it, crosses the spread and
now and then sends an order risk refuses; a configured risk pipeline; the simulated exchange with latency; the
portfolio; the audit trail. The two runs share nothing but the tape and the configuration.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from pathlib import Path

import pytest

from tapeflow.backtest.engine import Backtest
from tapeflow.compliance.audit import AuditTrail
from tapeflow.compliance.audit_store import SqliteAuditStore
from tapeflow.data.lobster_events import iter_events
from tapeflow.engine.inbox import InboxLike
from tapeflow.engine.kernel import Kernel
from tapeflow.engine.recorder import EventLog
from tapeflow.live import LiveNode, replay
from tapeflow.model import Event, LiquiditySide, ModelUpdated, from_msgpack
from tapeflow.model.market import BookDelta, OrderAdded
from tapeflow.model.orders import OrderCancelled, OrderFilled, RiskRejected
from tapeflow.node import NodeConfig
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.config import AccountChecks, FlowChecks, OrderChecks, RiskConfig
from tapeflow.strategy.base import Strategy
from tapeflow.venues.sim.latency import FixedLatency

EVENTS = 30_000
KEY = b"parity-key"
TICK = 100
"""One cent in price units."""


class Quoter(Strategy):
    """Every 40th book event: keep one bid two cents under the best bid, move it when the bid moves, cancel it
    every 7th time, cross the spread every 11th (alternating sides, to stay near flat) and send an order over the
    size limit every 13th (risk refuses it)."""

    def __init__(self) -> None:
        super().__init__("quoter")
        self.seen = 0
        self.bid: str | None = None

    def on_book(self, event: Event) -> None:
        self.seen += 1
        if self.seen % 40:
            return
        symbol: str = event.symbol  # type: ignore[attr-defined]
        book = self.book(symbol)
        if book is None or not book.best_bid or not book.best_ask:
            return
        k = self.seen // 40
        if k % 13 == 0:
            self.buy(symbol, 5_000, book.best_bid - 10 * TICK, reason="too big")
        if k % 11 == 0:
            if self.position_after_pending(symbol) > 0:
                self.sell(symbol, 100, book.best_bid, reason="cross down")
            else:
                self.buy(symbol, 100, book.best_ask, reason="cross up")
        target = book.best_bid - 2 * TICK
        order = self.ctx.orders.order(self.bid) if self.bid is not None and self.ctx.orders is not None else None
        if self.bid is None or (order is not None and not order.is_open):
            self.bid = self.buy(symbol, 100, target, reason="quote")
        elif order is not None and order.status.value == "ACCEPTED":
            if k % 7 == 0:
                self.cancel(self.bid, symbol)
            elif order.price != target:
                self.modify(self.bid, symbol, 100, price=target)

    def on_risk_rejected(self, event: RiskRejected) -> None:
        if event.client_order_id == self.bid:
            self.bid = None


def _config() -> NodeConfig:
    latency = FixedLatency(
        feed_ns=200_000,
        insert_entry_ns=300_000,
        modify_entry_ns=250_000,
        cancel_entry_ns=250_000,
        insert_response_ns=300_000,
        modify_response_ns=250_000,
        cancel_response_ns=250_000,
        compute_ns=10_000,
    )
    risk = RiskConfig(
        order=OrderChecks(max_quantity=1_000, max_notional_usd=2_000_000, collar_bps=None, max_spread_bps=None),
        account=AccountChecks(max_position=1_000),
        flow=FlowChecks(duplicate_window_ms=None),
    )
    return NodeConfig(
        level="L3", latency=latency, risk=risk, portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000)
    )


def _audit(path: Path) -> AuditTrail:
    return AuditTrail.open(path, key=KEY, announce=None)


def _rows(path: Path) -> list[tuple[int, bytes, bytes, bytes]]:
    store = SqliteAuditStore(path)
    try:
        return [(r.seq, r.body, r.cause, r.hash) for r in store.rows()]
    finally:
        store.close()


@pytest.fixture(scope="module")
def tape(data_dir: Path) -> list[Event]:
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    return list(itertools.islice(iter_events(path), EVENTS))


def test_backtest_and_live_replay_of_a_node_with_orders_give_identical_logs_and_audit(
    tape: list[Event], tmp_path: Path
) -> None:
    cfg = _config()
    until = tape[-1].ts_init + 1_000_000_000

    log_bt = EventLog()
    bt = Backtest(
        [Quoter()],
        level=cfg.level,
        latency=cfg.latency,
        risk=cfg.risk,
        portfolio=cfg.portfolio,
        extra=[log_bt],
        audit=_audit(tmp_path / "bt.db"),
    )
    bt.run([tape], until=until)

    log_live = EventLog()
    live = LiveNode([Quoter()], config=cfg, run_id="", extra=[log_live], audit=_audit(tmp_path / "live.db"))
    asyncio.run(live.run(replay(tape), until=until))

    assert log_bt.count == log_live.count
    assert log_bt.records == log_live.records
    assert log_bt.digest() == log_live.digest()
    audit_bt, audit_live = _rows(tmp_path / "bt.db"), _rows(tmp_path / "live.db")
    assert audit_bt == audit_live
    assert len(audit_bt) > 100

    # the comparison is meaningful: every kind of order traffic is in the log
    kinds = Counter(type(from_msgpack(r)).__name__ for r in log_bt.records)
    for kind in ("SubmitOrder", "ModifyOrder", "CancelOrder", "OrderAccepted", "OrderUpdated", "OrderFilled"):
        assert kinds[kind] > 0, kind
    assert kinds["OrderCancelled"] > 0 and kinds["RiskRejected"] > 0
    assert {k for k in kinds if k.startswith("Risk")} == {"RiskRejected"}
    assert bt.stats() == live.stats()
    assert bt.stats()["risk_rejected"] > 0 and bt.stats()["exchange_fills"] > 0
    assert bt.portfolio.fill_count == live.node.portfolio.fill_count > 0
    assert bt.portfolio.cash == live.node.portfolio.cash
    assert list(bt.portfolio.curve.equity) == list(live.node.portfolio.curve.equity)
    assert len(bt.portfolio.curve) > 2
    fills = [e for e in map(from_msgpack, log_bt.records) if isinstance(e, OrderFilled)]
    assert any(f.liquidity_side is LiquiditySide.MAKER for f in fills)
    cancels = [e for e in map(from_msgpack, log_bt.records) if isinstance(e, OrderCancelled)]
    assert all(c.strategy_id == "quoter" for c in cancels)


class Retrainer:
    """Stands for a process pool: every 500th book event it "finishes training" and posts the new model through the
    node's inbox, dated 5 ms later (the modelled training time). It never touches the kernel queue itself."""

    def __init__(self) -> None:
        self.inbox: InboxLike | None = None
        self.seen = 0
        self.version = 0

    def attach(self, kernel: Kernel) -> None:
        self.kernel = kernel
        kernel.subscribe(OrderAdded, self._on_book)
        kernel.subscribe(BookDelta, self._on_book)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def _on_book(self, event: Event) -> None:
        self.seen += 1
        if self.seen % 500 or self.inbox is None:
            return
        self.version += 1
        now = self.kernel.now
        done = now + 5_000_000
        self.inbox.put(
            ModelUpdated(
                ts_event=done, ts_init=done, model_id="m", version=self.version, train_start=now - 10**9, train_end=now
            )
        )


def test_events_posted_to_the_inbox_reach_both_drivers_at_the_same_point_of_the_run(
    tape: list[Event], tmp_path: Path
) -> None:
    cfg = _config()
    until = tape[-1].ts_init + 1_000_000_000

    log_bt, post_bt = EventLog(), Retrainer()
    bt = Backtest([Quoter()], level=cfg.level, latency=cfg.latency, risk=cfg.risk, extra=[post_bt, log_bt])
    post_bt.inbox = bt.inbox
    bt.run([tape], until=until)

    log_live, post_live = EventLog(), Retrainer()
    live = LiveNode([Quoter()], config=cfg, run_id="", extra=[post_live, log_live])
    post_live.inbox = live.inbox
    asyncio.run(live.run(replay(tape), until=until))

    models = [e for e in map(from_msgpack, log_bt.records) if isinstance(e, ModelUpdated)]
    assert len(models) == post_bt.version > 10 and bt.inbox.received == live.inbox.received == post_bt.version
    assert log_bt.records == log_live.records
