"""Aggressor side of live trades: against the quote at arrival, the tick test otherwise.

Alpaca's trades do not say which side took liquidity. A trade at or above the last ask of its symbol was a buy,
at or below the last bid a sell (the quote rule against the quote in force when the trade arrived, which is what
a live consumer can know); inside the spread, with one side missing or a locked/crossed quote, the tick test of
``tapeflow.data.lee_ready`` decides (up-tick buy, down-tick sell, zero tick: the last non-zero tick). Unlike the
historical Lee-Ready rule this does not sign by the midpoint: inside the spread the quote says nothing certain,
and the tick test is the documented fallback.

The tick test's state advances with every trade, whichever rule signed it, so that it always compares with the
previous print.
"""

from __future__ import annotations

import msgspec

from tapeflow.data.lee_ready import LeeReady
from tapeflow.model.enums import Aggressor
from tapeflow.model.market import Quote, Trade


class SignerStats(msgspec.Struct, kw_only=True):
    by_quote: int = 0
    by_tick: int = 0
    unclassified: int = 0
    """Trades before any price change with no usable quote: neither rule can say."""


class AggressorSigner:
    """Per-symbol last quote and tick state; ``quote`` every quote and ``sign`` every trade, in arrival order."""

    __slots__ = ("_quotes", "_ticks", "stats")

    def __init__(self) -> None:
        self._quotes: dict[str, tuple[int, int]] = {}
        self._ticks: dict[str, LeeReady] = {}
        self.stats = SignerStats()

    def quote(self, quote: Quote) -> None:
        self._quotes[quote.symbol] = (quote.bid_price, quote.ask_price)

    def side(self, symbol: str, price: int) -> Aggressor:
        """The aggressor of a print of ``symbol`` at ``price`` now (advances the symbol's tick state)."""
        ticks = self._ticks.get(symbol)
        if ticks is None:
            ticks = self._ticks[symbol] = LeeReady()
        by_tick = ticks.classify(price, 0, 0)  # no quote given: the tick test, and its state moves on
        bid, ask = self._quotes.get(symbol, (0, 0))
        stats = self.stats
        if 0 < bid < ask:
            if price >= ask:
                stats.by_quote += 1
                return Aggressor.BUY
            if price <= bid:
                stats.by_quote += 1
                return Aggressor.SELL
        if by_tick is Aggressor.UNKNOWN:
            stats.unclassified += 1
        else:
            stats.by_tick += 1
        return by_tick

    def sign(self, trade: Trade) -> Trade:
        """``trade`` with its aggressor set (a trade the venue already signed keeps its side)."""
        side = self.side(trade.symbol, trade.price)
        if trade.aggressor is not Aggressor.UNKNOWN or side is Aggressor.UNKNOWN:
            return trade
        return msgspec.structs.replace(trade, aggressor=side)
