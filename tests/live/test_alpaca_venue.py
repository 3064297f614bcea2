"""The order adapter against the paper venue over loopback: sessions, round trips, refusals while down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from tapeflow.engine.inbox import Inbox
from tapeflow.live.node import LiveNode
from tapeflow.model.enums import OrderStatus
from tapeflow.model.events import Event
from tapeflow.model.orders import (
    CancelOrder,
    CancelSent,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
)
from tapeflow.model.venue_events import Reconciled, VenueConnected, VenueStatus
from tapeflow.strategy.base import Strategy

from .paper_harness import Paper, Recorded, adapter, submit, wait_for


def test_a_marketable_buy_is_accepted_and_filled_once_and_matches_the_venue(paper: Paper) -> None:
    inbox = Inbox()
    seen = Recorded(inbox)
    venue = adapter(paper, inbox)
    state = venue.start()
    assert state.open_orders == () and state.positions == ()
    venue.start_stream_thread()
    try:
        wait_for(lambda: venue.connected, "the stream to come up")
        _, ask = paper.best()
        venue.send(submit("s-run-1", ask))
        wait_for(lambda: seen.of(OrderAccepted), "the acceptance")
        for _ in range(40):
            paper.step()
            if seen.filled("s-run-1") == 100:
                break
        wait_for(lambda: seen.filled("s-run-1") == 100, "the fills")
    finally:
        venue.stop()
    assert len(seen.of(VenueConnected)) == 1
    assert [r.mismatches for r in seen.of(Reconciled)] == [0, 0]  # the start, then the first session
    assert len(seen.of(OrderAccepted)) == 1
    assert paper.filled() == {"s-run-1": 100}
    assert venue.ledger.positions == {"AAPL": 100} and paper.position() == 100


def test_a_resting_order_cancelled_ends_cancelled_with_its_unfilled_shares(paper: Paper) -> None:
    inbox = Inbox()
    seen = Recorded(inbox)
    venue = adapter(paper, inbox)
    venue.start()
    venue.start_stream_thread()
    try:
        wait_for(lambda: venue.connected, "the stream to come up")
        bid, _ = paper.best()
        venue.send(submit("s-run-1", bid - 10_000))
        venue.send(CancelOrder(ts_event=1, ts_init=1, strategy_id="s", client_order_id="s-run-1", symbol="AAPL"))
        wait_for(lambda: seen.of(OrderCancelled), "the cancel")
    finally:
        venue.stop()
    (cancelled,) = seen.of(OrderCancelled)
    assert cancelled.cancelled_quantity == 100
    # the sender says when the cancel leaves (the kill switch's wait for the answer starts there), before the answer
    assert [type(e).__name__ for e in seen.take() if e.__class__.__module__ == "tapeflow.model.orders"] == [
        "OrderAccepted",
        "CancelSent",
        "OrderCancelled",
    ]
    (handed,) = seen.of(CancelSent)
    assert (handed.client_order_id, handed.symbol, handed.venue) == ("s-run-1", "AAPL", venue.name)


def test_send_while_the_stream_is_down_is_refused_at_once_and_nothing_reaches_the_venue(paper: Paper) -> None:
    inbox = Inbox()
    seen = Recorded(inbox)
    venue = adapter(paper, inbox)
    venue.start()  # REST up, stream never started: not connected
    try:
        _, ask = paper.best()
        venue.send(submit("s-run-1", ask))
        (refused,) = seen.of(OrderRejected)
    finally:
        venue.stop()
    assert "disconnected" in refused.reason
    assert paper.venue.orders() == []
    assert not seen.of(OrderFilled)


class Trader(Strategy):
    """On the session: one marketable buy, one resting buy that it enlarges, then cancels once enlarged."""

    def __init__(self, bid: int, ask: int) -> None:
        super().__init__("s")
        self.bid, self.ask = bid, ask
        self.taker = self.rester = ""
        self.updated = False

    def on_venue_status(self, event: VenueStatus) -> None:
        if isinstance(event, VenueConnected) and not self.taker:
            self.taker = self.buy("AAPL", 100, self.ask, venue="alpaca")
            self.rester = self.buy("AAPL", 100, self.bid - 10_000, venue="alpaca")

    def on_order_accepted(self, event: OrderAccepted) -> None:
        if event.client_order_id == self.rester:
            self.modify(self.rester, "AAPL", 200, price=self.bid - 20_000)

    def on_order_updated(self, event: OrderUpdated) -> None:
        self.updated = True
        self.cancel(self.rester, "AAPL")


def test_a_live_node_submits_modifies_and_cancels_through_the_adapter_and_ends_equal_to_the_venue(
    paper: Paper,
) -> None:
    inbox = Inbox()
    venue = adapter(paper, inbox)
    bid, ask = paper.best()
    trader = Trader(bid, ask)
    node = LiveNode([trader], venues=[venue], inbox=inbox, run_id="r1")
    node.restore(venue.start())

    def done() -> bool:
        taker = node.node.execution.order(trader.taker)
        rester = node.node.execution.order(trader.rester)
        return (
            taker is not None
            and rester is not None
            and taker.status is OrderStatus.FILLED
            and rester.status is OrderStatus.CANCELLED
        )

    async def feed() -> AsyncIterator[Event]:
        deadline = time.monotonic() + 10
        while not done():
            assert time.monotonic() < deadline, "the round trips did not finish in time"
            await asyncio.to_thread(paper.step)
            await asyncio.sleep(0.02)
        return
        yield  # an async generator that only steps the venue: the node hears everything through its inbox

    async def main() -> None:
        stream = asyncio.create_task(venue.run_stream())  # on the node's own loop
        try:
            await node.run(feed(), realtime=True)
        finally:
            await venue.stop_stream()
            await asyncio.wait_for(stream, 5)

    try:
        asyncio.run(main())
    finally:
        venue.stop()
    assert trader.updated
    orders = {o.client_order_id: o for o in node.node.execution.orders()}
    assert {cid: o.filled_quantity for cid, o in orders.items()} == {
        trader.taker: paper.filled()[trader.taker],
        trader.rester: 0,
    }
    assert orders[trader.rester].quantity == 200 and orders[trader.rester].price == bid - 20_000
    statuses = {o.client_order_id: o.status for o in paper.venue.orders()}
    assert statuses == {trader.taker: "filled", trader.rester: "replaced", f"{trader.rester}.r1": "canceled"}
    assert node.node.portfolio.quantity("AAPL") == paper.position() == 100
    assert node.node.execution.refused_reports == 0
