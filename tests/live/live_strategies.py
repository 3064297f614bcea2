"""Strategies for the end-to-end live tests, named to the node as ``file.py:Class`` (in-process and by ``tapeflow
live`` alike): one that keeps orders resting and a position open, and one that never stops sending.
"""

from __future__ import annotations

from tapeflow.model.enums import Side
from tapeflow.model.market import Quote
from tapeflow.model.orders import CancelRejected, OrderFilled, RiskRejected
from tapeflow.model.venue_events import FeedStale, VenueConnected, VenueStatus
from tapeflow.strategy.base import Strategy

DOLLAR = 10_000


class Rester(Strategy):
    """Every ``every`` quotes: a market buy or sell (alternating, long only, within ``max_position``), and one
    buy resting ``away`` dollars under the bid (at most ``resting`` of them; the oldest is cancelled to make room).

    So at any moment it has fills behind it, a position, and orders open at the venue: what a restart must restore
    and a kill switch must cancel. On ``FeedStale`` it tries one more buy, which risk must refuse (``probes``)."""

    def __init__(
        self,
        strategy_id: str = "rester",
        *,
        every: int = 20,
        quantity: int = 100,
        max_position: int = 300,
        resting: int = 2,
        away: int = 1,
    ) -> None:
        super().__init__(strategy_id)
        self.every, self.quantity, self.max_position = every, quantity, max_position
        self.resting, self.away = resting, away
        self.quotes = 0
        self.rounds = 0
        self.last_ask = 0
        self.passive: list[str] = []
        """Our resting buys, oldest first."""
        self.probes: list[str] = []
        self.refusals: list[RiskRejected] = []
        self.fills: list[OrderFilled] = []

    def on_quote(self, quote: Quote) -> None:
        if not quote.bid_price or not quote.ask_price:
            return
        self.last_ask = quote.ask_price
        self.quotes += 1
        if self.quotes % self.every:
            return
        self.rounds += 1
        held = self.position_quantity(quote.symbol)
        if held >= self.quantity and (self.rounds % 2 == 0 or held >= self.max_position):
            self.sell(quote.symbol, self.quantity)  # a market order, never short: no locate needed
        elif self.position_after_pending(quote.symbol) < self.max_position:
            self.buy(quote.symbol, self.quantity)
        still_open = {o.client_order_id for o in self.open_orders(quote.symbol)}
        self.passive = [cid for cid in self.passive if cid in still_open]
        if len(self.passive) >= self.resting:
            self.cancel(self.passive.pop(0), quote.symbol)
        self.passive.append(self.buy(quote.symbol, self.quantity, quote.bid_price - self.away * DOLLAR))

    def on_venue_status(self, event: VenueStatus) -> None:
        super().on_venue_status(event)
        if isinstance(event, FeedStale) and self.last_ask:
            self.probes.append(self.submit("AAPL", Side.BUY, 1, price=self.last_ask))

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)

    def on_cancel_rejected(self, event: CancelRejected) -> None:
        if any(o.client_order_id == event.client_order_id for o in self.open_orders()):
            self.passive.insert(0, event.client_order_id)  # the venue was not ready for it: cancel it again later

    def on_risk_rejected(self, event: RiskRejected) -> None:
        self.refusals.append(event)


class Runaway(Strategy):
    """The bug of tests/risk/test_runaway.py, live: a buy on every quote, resting a dollar or more under the bid,
    and nothing that ever says "enough".

    It runs away from its venue's first up (``VenueConnected``) on: quotes come before the order stream is up, and
    on a loaded machine enough of them (the trip is 41 attempts in 1 s of tape, 50 ms of wall at 20x) that the
    kill switch engaged on attempts the connectivity rule had refused, before any order could reach the venue."""

    def __init__(self, strategy_id: str = "runaway") -> None:
        super().__init__(strategy_id)
        self.attempts = 0
        self.refusals: list[RiskRejected] = []
        self.up = False

    def on_venue_status(self, event: VenueStatus) -> None:
        super().on_venue_status(event)
        self.up = self.up or isinstance(event, VenueConnected)

    def on_quote(self, quote: Quote) -> None:
        if not self.up or not quote.bid_price or not quote.ask_price:
            return
        self.attempts += 1
        self.buy(quote.symbol, 100, quote.bid_price - (1 + self.attempts % 5) * DOLLAR)

    def on_risk_rejected(self, event: RiskRejected) -> None:
        self.refusals.append(event)
