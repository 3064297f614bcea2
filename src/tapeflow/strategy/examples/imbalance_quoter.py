"""A passive quoter that leans on order book imbalance.

When the top of the book is heavier on the bid (buyers queue, the price tends to tick up), it joins the best bid;
when heavier on the ask, it joins the best ask; inventory is capped, and a quote whose price is no longer the
touch is cancelled and replaced. It rests in queues and so exercises queue position, cancels and maker fees.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from tapeflow.book.signals import imbalance
from tapeflow.book.view import BookBase
from tapeflow.model.enums import Side
from tapeflow.model.market import Quote
from tapeflow.model.orders import OrderCancelled, OrderFilled, OrderRejected
from tapeflow.strategy.base import Strategy


class ImbalanceQuoterParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    levels: Annotated[int, msgspec.Meta(gt=0)] = 3
    threshold: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.3
    """Imbalance lies in [-1, 1]: a threshold above 1 would never quote."""
    quantity: Annotated[int, msgspec.Meta(gt=0)] = 100
    max_position: Annotated[int, msgspec.Meta(ge=0)] = 500
    symbols: tuple[str, ...] | None = None


class ImbalanceQuoter(Strategy):
    Params = ImbalanceQuoterParams

    def __init__(
        self,
        strategy_id: str = "imbalance-quoter",
        *,
        levels: int = 3,
        threshold: float = 0.3,
        quantity: int = 100,
        max_position: int = 500,
        symbols: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(strategy_id, symbols=symbols)
        self.levels, self.threshold, self.quantity, self.max_position = levels, threshold, quantity, max_position
        self._working: dict[tuple[str, Side], tuple[str, int]] = {}
        self._inventory: dict[str, int] = {}

    def on_quote(self, q: Quote) -> None:
        book = self.book(q.symbol)
        if not isinstance(book, BookBase) or not q.bid_size or not q.ask_size or not book.trustworthy:
            return  # needs depth beyond the top level, and a book known to be in sync
        imb = imbalance(book, self.levels)
        if imb is None:
            return
        pos = self._inventory.get(q.symbol, 0)
        want_bid = q.bid_price if imb > self.threshold and pos < self.max_position else None
        want_ask = q.ask_price if imb < -self.threshold and pos > -self.max_position else None
        self._quote(q.symbol, Side.BUY, want_bid, imb)
        self._quote(q.symbol, Side.SELL, want_ask, imb)

    def _quote(self, symbol: str, side: Side, price: int | None, imb: float) -> None:
        working = self._working.get((symbol, side))
        if working is not None and working[1] == price:
            return
        if working is not None:
            self.cancel(working[0], symbol)
            del self._working[(symbol, side)]
        if price is not None:
            why = f"top-{self.levels} imbalance {imb:+.2f} leans {'bid' if side is Side.BUY else 'ask'}"
            self.signal(symbol, "book_imbalance", imb, why, {"imbalance": imb})
            cid = self.submit(symbol, side, self.quantity, price=price, reason=why)
            self._working[(symbol, side)] = (cid, price)

    def on_fill(self, fill: OrderFilled) -> None:
        self._inventory[fill.symbol] = self._inventory.get(fill.symbol, 0) + fill.side.sign * fill.quantity
        if fill.leaves_quantity == 0:
            self._forget(fill.symbol, fill.side, fill.client_order_id)

    def on_order_cancelled(self, event: OrderCancelled) -> None:
        for side in (Side.BUY, Side.SELL):
            self._forget(event.symbol, side, event.client_order_id)

    def on_order_rejected(self, event: OrderRejected) -> None:
        for side in (Side.BUY, Side.SELL):
            self._forget(event.symbol, side, event.client_order_id)

    def _forget(self, symbol: str, side: Side, client_order_id: str) -> None:
        working = self._working.get((symbol, side))
        if working is not None and working[0] == client_order_id:
            del self._working[(symbol, side)]
