"""Lee-Ready trade classification: who initiated a print that the tape does not sign.

Consolidated trade feeds do not say which side took liquidity. Lee and Ready (1991) infer it: a trade above the
midpoint of the prevailing NBBO was buyer-initiated, below it seller-initiated (the *quote rule*); at the
midpoint, or with no usable NBBO (a side missing, or crossed), the *tick test* decides: a price above the last
different price is a buy, below it a sell. With millisecond timestamps the prevailing quote is the NBBO in force
before the trade's timestamp (quotes stamped in the same millisecond are usually the trade's consequence), which
is why the TAQ reader hands trades of a millisecond to the classifier before that millisecond's quotes; the
original paper's five-second delay corrected for 1980s reporting lags and is not applied.

The classifier keeps the count of trades each rule decided, because the share decided by the tick test is a
measure of how much the signing can be trusted.
"""

from __future__ import annotations

import msgspec

from tapeflow.model.enums import Aggressor


class LeeReadyStats(msgspec.Struct, kw_only=True):
    by_quote: int = 0
    by_tick: int = 0
    unclassified: int = 0
    """The first trades, before any price change: neither rule can say."""

    @property
    def total(self) -> int:
        return self.by_quote + self.by_tick + self.unclassified

    def shares(self) -> dict[str, float]:
        """Fraction of trades decided by each rule (0.0 for all when there were none)."""
        n = self.total or 1
        return {
            "quote_rule": self.by_quote / n,
            "tick_test": self.by_tick / n,
            "unclassified": self.unclassified / n,
        }


class LeeReady:
    """Signs trades one at a time; feed it every trade in time order (``last_price`` drives the tick test).

    Excluded trades (suspicious prints) should be signed with ``update_tick=False`` so that an erroneous price
    does not become the reference of the next trade's tick test.
    """

    def __init__(self) -> None:
        self.stats = LeeReadyStats()
        self._last_price = 0
        self._last_sign = Aggressor.UNKNOWN

    def tick_test(self, price: int) -> Aggressor:
        """Up- or zero-uptick: BUY; down- or zero-downtick: SELL; UNKNOWN before the first price change."""
        last = self._last_price
        if last == 0:
            return Aggressor.UNKNOWN
        if price > last:
            return Aggressor.BUY
        if price < last:
            return Aggressor.SELL
        return self._last_sign

    def classify(self, price: int, bid: int, ask: int, *, update_tick: bool = True) -> Aggressor:
        """The aggressor of a trade at ``price`` when the NBBO before it was ``bid``/``ask`` (0: side empty)."""
        stats = self.stats
        if 0 < bid < ask:
            twice_mid = bid + ask
            if 2 * price > twice_mid:
                side = Aggressor.BUY
                stats.by_quote += 1
                self._advance(price, update_tick)
                return side
            if 2 * price < twice_mid:
                side = Aggressor.SELL
                stats.by_quote += 1
                self._advance(price, update_tick)
                return side
        side = self.tick_test(price)
        if side is Aggressor.UNKNOWN:
            stats.unclassified += 1
        else:
            stats.by_tick += 1
        self._advance(price, update_tick)
        return side

    def _advance(self, price: int, update_tick: bool) -> None:
        if not update_tick:
            return
        last = self._last_price
        if price > last and last:
            self._last_sign = Aggressor.BUY
        elif price < last:
            self._last_sign = Aggressor.SELL
        self._last_price = price
