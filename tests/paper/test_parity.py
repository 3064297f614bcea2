"""Parity: a scripted order sequence sent through alpaca-py to the stepped paper venue gets the same fills (price,
size, time, liquidity side, fee) as the same sequence in a backtest on the same tape, latency and fees.

The script acts at chosen times between tape events: the backtest's strategy on a timer, the test on the paper
venue after stepping to that time. Both read the book as it is then and send the same order, replace and cancel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, ReplaceOrderRequest

from tapeflow.backtest.engine import Backtest
from tapeflow.data.lobster_events import iter_events
from tapeflow.engine.kernel import Kernel
from tapeflow.model.enums import OrderType
from tapeflow.model.enums import TimeInForce as Tif
from tapeflow.model.events import Event, TimerFired
from tapeflow.model.orders import OrderFilled
from tapeflow.model.prices import price_to_decimal
from tapeflow.node import NodeConfig
from tapeflow.paper.venue import PaperVenue
from tapeflow.strategy.base import Strategy
from tapeflow.venues.sim.fees import FeeSchedule
from tapeflow.venues.sim.latency import FixedLatency

from .conftest import KEY, SECRET, Served

MS = 1_000_000
LATENCY = FixedLatency(
    feed_ns=200_000,
    insert_entry_ns=300_000,
    insert_response_ns=400_000,
    modify_entry_ns=300_000,
    modify_response_ns=400_000,
    cancel_entry_ns=300_000,
    cancel_response_ns=400_000,
)
STEPS = ("cross", "rest", "replace", "market_sell", "cancel", "sell_at_bid")
Fill = tuple[int, int, str, int, int, int, str, int]


class FillLog:
    """Every fill of the run, as the fields parity compares."""

    def __init__(self) -> None:
        self.fills: list[Fill] = []

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(OrderFilled, self._on_fill)

    def _on_fill(self, f: OrderFilled) -> None:
        row = (
            f.ts_event,
            f.ts_init,
            f.side.value,
            f.price,
            f.quantity,
            f.leaves_quantity,
            f.liquidity_side.value,
            f.fee,
        )
        self.fills.append(row)

    def on_start(self) -> None: ...

    def on_stop(self) -> None: ...


class Script(Strategy):
    """The backtest side: each step at its time, from the book as it is then (the resting bid starts ten cents
    under the best bid so that it is still open when it is replaced)."""

    def __init__(self, times: list[int]) -> None:
        super().__init__("script")
        self.times = times
        self.resting = ""

    def on_start(self) -> None:
        for name, at in zip(STEPS, self.times, strict=True):
            self.set_timer(name, at=at)

    def on_timer(self, event: TimerFired) -> None:
        book = self.book("AAPL")
        assert book is not None
        step = event.name.removeprefix("script.")
        if step == "cross":
            self.buy("AAPL", 100, book.best_ask)
        elif step == "rest":
            self.resting = self.buy("AAPL", 100, book.best_bid - 1_000, time_in_force=Tif.GTC)
        elif step == "replace":
            self.modify(self.resting, "AAPL", 200, price=book.best_bid)
        elif step == "market_sell":
            self.sell("AAPL", 100, order_type=OrderType.MARKET)
        elif step == "cancel":
            self.cancel(self.resting, "AAPL")
        else:
            self.sell("AAPL", 100, book.best_bid)


@pytest.fixture(scope="module")
def tape(aapl: Path) -> list[Event]:
    return list(itertools.islice(iter_events(aapl), 40_000))


def times_between_events(tape: list[Event]) -> list[int]:
    """One node time per step, 1 ns after the node sees a tape event and before it sees the next (so no tie
    between a tape event and the step decides the order)."""
    chosen = []
    for start in range(3_000, 3_000 + 6 * 200, 200):
        index = start
        while tape[index + 1].ts_event <= tape[index].ts_event + 1:
            index += 1
        chosen.append(tape[index].ts_event + LATENCY.feed_ns + 1)
    return chosen


def dollars(units: int) -> float:
    return float(price_to_decimal(units))


def test_alpaca_py_on_the_paper_venue_fills_as_the_backtest_does(
    tape: list[Event], serve: Callable[[PaperVenue], Served]
) -> None:
    times = times_between_events(tape)
    until = tape[-1].ts_event + 1_000 * MS
    config = NodeConfig(level="L3", latency=LATENCY, fees=FeeSchedule())

    backtest_log = FillLog()
    Backtest([Script(times)], level="L3", latency=LATENCY, fees=FeeSchedule(), extra=[backtest_log]).run(
        [tape], until=until
    )

    venue = PaperVenue(tape, config=config)
    paper_log = FillLog()
    paper_log.attach(venue.kernel)
    served = serve(venue)
    trading = TradingClient(KEY, SECRET, paper=True, url_override=served.url)
    resting = None
    for step, at in zip(STEPS, times, strict=True):
        venue.step(at)
        book = venue.node.books.book("AAPL")
        assert book is not None
        if step == "cross":
            trading.submit_order(
                LimitOrderRequest(
                    symbol="AAPL",
                    qty=100,
                    side=OrderSide.BUY,
                    time_in_force=TimeInForce.DAY,
                    limit_price=dollars(book.best_ask),
                )
            )
        elif step == "rest":
            resting = trading.submit_order(
                LimitOrderRequest(
                    symbol="AAPL",
                    qty=100,
                    side=OrderSide.BUY,
                    time_in_force=TimeInForce.GTC,
                    limit_price=dollars(book.best_bid - 1_000),
                )
            )
        elif step == "replace":
            assert resting is not None
            resting = trading.replace_order_by_id(
                resting.id, ReplaceOrderRequest(qty=200, limit_price=dollars(book.best_bid))
            )
        elif step == "market_sell":
            trading.submit_order(
                MarketOrderRequest(symbol="AAPL", qty=100, side=OrderSide.SELL, time_in_force=TimeInForce.DAY)
            )
        elif step == "cancel":
            assert resting is not None
            trading.cancel_order_by_id(resting.id)
        else:
            trading.submit_order(
                LimitOrderRequest(
                    symbol="AAPL",
                    qty=100,
                    side=OrderSide.SELL,
                    time_in_force=TimeInForce.DAY,
                    limit_price=dollars(book.best_bid),
                )
            )
    venue.step(until)

    liquidity = {fill[6] for fill in backtest_log.fills}
    sides = {fill[2] for fill in backtest_log.fills}
    assert liquidity == {"MAKER", "TAKER"} and sides == {"BUY", "SELL"}, "parity must cover both sides and both roles"
    assert paper_log.fills == backtest_log.fills
    assert [o.status for o in venue.orders()] == ["filled", "replaced", "canceled", "filled", "filled"]
