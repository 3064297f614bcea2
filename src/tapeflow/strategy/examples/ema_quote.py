"""Per-quote EMA crossover: two EMAs of the mid updated on every quote; on each crossing, reverse.

The tick-level twin of the SMA example and the strategy of the quote benchmark against NautilusTrader: on each
sign change of (fast - slow) it closes the position with a market order and opens ``quantity`` the other way with
another. An EMA is "ready" after ``period`` quotes, as in Nautilus' ``ExponentialMovingAverage``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from tapeflow.model.enums import Side
from tapeflow.model.market import Quote
from tapeflow.model.orders import OrderFilled
from tapeflow.strategy.base import Strategy


class EmaQuoteCrossParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    fast: Annotated[int, msgspec.Meta(gt=0)] = 100
    slow: Annotated[int, msgspec.Meta(gt=0)] = 300
    quantity: Annotated[int, msgspec.Meta(gt=0)] = 100
    symbols: tuple[str, ...] | None = None
    quote_venue: str | None = None


class EmaQuoteCross(Strategy):
    Params = EmaQuoteCrossParams

    def __init__(
        self,
        strategy_id: str = "ema-quote-cross",
        *,
        fast: int = 100,
        slow: int = 300,
        quantity: int = 100,
        symbols: tuple[str, ...] | None = None,
        quote_venue: str | None = None,
    ) -> None:
        super().__init__(strategy_id, symbols=symbols)
        self.quote_venue = quote_venue
        """Only quotes from this venue (``"NBBO"`` with consolidated data); None: every quote."""
        self.fast, self.slow, self.quantity = fast, slow, quantity
        self._af = 2.0 / (fast + 1)
        self._as = 2.0 / (slow + 1)
        self._state: dict[str, list[float]] = {}
        """Per symbol: [fast ema, slow ema, quotes seen, last sign]."""
        self.held: dict[str, int] = {}
        self.crossings = 0

    def on_quote(self, q: Quote) -> None:
        if not q.bid_size or not q.ask_size or (self.quote_venue is not None and q.venue != self.quote_venue):
            return
        mid = (q.bid_price + q.ask_price) * 0.5
        st = self._state.get(q.symbol)
        if st is None:
            self._state[q.symbol] = [mid, mid, 1.0, 0.0]
            return
        f = st[0] + self._af * (mid - st[0])
        s = st[1] + self._as * (mid - st[1])
        st[0], st[1] = f, s
        st[2] += 1.0
        if st[2] < self.slow:
            return
        sign = 1.0 if f > s else -1.0 if f < s else 0.0
        if sign == 0.0 or sign == st[3]:
            return
        st[3] = sign
        self.crossings += 1
        held = self.held.get(q.symbol, 0)
        side = Side.BUY if sign > 0 else Side.SELL
        if held:
            self.submit(q.symbol, side, abs(held), reason="EMA crossing: close the position")
        self.submit(q.symbol, side, self.quantity, reason=f"EMA{self.fast} crossed {'above' if sign > 0 else 'below'}")

    def on_fill(self, fill: OrderFilled) -> None:
        self.held[fill.symbol] = self.held.get(fill.symbol, 0) + fill.side.sign * fill.quantity
