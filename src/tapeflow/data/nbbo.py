"""Per-exchange best quotes combined into the NBBO, with locked and crossed time measured.

Consolidated quote feeds (AlgoSeek TAQ, the SIP) send each exchange's own best bid or offer; the NBBO is not on
the wire, so it is rebuilt here: the highest bid and lowest offer over every exchange that has one, with the
size summed over the exchanges at that price (what a router could reach at the touch). A side an exchange
withdraws (price or size 0, or a quote that is not firm) stops counting at once.

An NBBO is *locked* when bid == ask and *crossed* when bid > ask. Both happen in real data (exchanges update
independently, and a locking quote lives for microseconds); they are reported, never "fixed", because a reader
that silently repairs the data hides exactly what a strategy must be robust to.
"""

from __future__ import annotations

from typing import Final

import msgspec

_SLOTS: Final = 64
"""Exchange codes are one ASCII letter; index by ``ord(code) - 64``."""


class NbboState(msgspec.Struct, frozen=True, kw_only=True):
    """The NBBO at one moment; price 0 and size 0 for an empty side."""

    bid_price: int
    bid_size: int
    ask_price: int
    ask_size: int

    @property
    def locked(self) -> bool:
        return 0 < self.ask_price == self.bid_price

    @property
    def crossed(self) -> bool:
        return self.bid_price > self.ask_price > 0


class NbboStats(msgspec.Struct, kw_only=True):
    """How the NBBO behaved: updates, and how many of them (and how much time) were locked or crossed."""

    updates: int = 0
    locked_updates: int = 0
    crossed_updates: int = 0
    locked_ns: int = 0
    crossed_ns: int = 0
    two_sided_ns: int = 0
    """Time with both sides present: the denominator of the locked and crossed shares."""


class NbboBuilder:
    """Holds each exchange's best bid and offer and the NBBO they make.

    ``set_bid``/``set_ask`` return True when the NBBO (price or size) changed; ``nbbo`` is then the new state.
    Recomputing a side is a scan of at most a few dozen exchanges, done only for the side that changed.
    """

    def __init__(self) -> None:
        self._bid_px = [0] * _SLOTS
        self._bid_sz = [0] * _SLOTS
        self._ask_px = [0] * _SLOTS
        self._ask_sz = [0] * _SLOTS
        self._seen: list[int] = []
        self.bid_price = 0
        self.bid_size = 0
        self.ask_price = 0
        self.ask_size = 0
        self.stats = NbboStats()
        self._since = -1
        self._state = (0, 0)

    @staticmethod
    def slot(exchange: str) -> int:
        code = ord(exchange) - 64 if len(exchange) == 1 else -1
        if not 0 < code < _SLOTS:
            raise ValueError(f"exchange code {exchange!r} is not one letter")
        return code

    def exchange_quote(self, exchange: str) -> tuple[int, int, int, int]:
        """(bid price, bid size, ask price, ask size) of one exchange."""
        i = self.slot(exchange)
        return self._bid_px[i], self._bid_sz[i], self._ask_px[i], self._ask_sz[i]

    def _note(self, i: int) -> None:
        if i not in self._seen:
            self._seen.append(i)

    def set_bid(self, exchange: str, price: int, size: int) -> bool:
        i = self.slot(exchange)
        if price <= 0 or size <= 0:
            price = size = 0
        self._note(i)
        self._bid_px[i] = price
        self._bid_sz[i] = size
        pxs = self._bid_px
        best = max(pxs[j] for j in self._seen)
        total = sum(self._bid_sz[j] for j in self._seen if pxs[j] == best) if best else 0
        if best == self.bid_price and total == self.bid_size:
            return False
        self.bid_price = best
        self.bid_size = total
        return True

    def set_ask(self, exchange: str, price: int, size: int) -> bool:
        i = self.slot(exchange)
        if price <= 0 or size <= 0:
            price = size = 0
        self._note(i)
        self._ask_px[i] = price
        self._ask_sz[i] = size
        pxs = self._ask_px
        live = [pxs[j] for j in self._seen if pxs[j] > 0]
        best = min(live) if live else 0
        total = sum(self._ask_sz[j] for j in self._seen if pxs[j] == best) if best else 0
        if best == self.ask_price and total == self.ask_size:
            return False
        self.ask_price = best
        self.ask_size = total
        return True

    def set_top_bid(self, exchange: str, price: int, size: int) -> bool:
        """``exchange`` is at the best bid with ``price``/``size`` (a consolidated feed's BBO row).

        Such feeds name only the exchange at the top, so every other exchange's bid that claims to be better is
        out of date and is dropped: an exchange's quote is known while it is at the best price.
        """
        if price <= 0 or size <= 0:
            price = size = 0
        i = self.slot(exchange)
        self._note(i)
        pxs, szs = self._bid_px, self._bid_sz
        for j in self._seen:
            if pxs[j] > price or price == 0:
                pxs[j] = szs[j] = 0
        pxs[i], szs[i] = price, size
        if price == self.bid_price and size == self.bid_size:
            return False
        self.bid_price, self.bid_size = price, size
        return True

    def set_top_ask(self, exchange: str, price: int, size: int) -> bool:
        """The offer side of ``set_top_bid``."""
        if price <= 0 or size <= 0:
            price = size = 0
        i = self.slot(exchange)
        self._note(i)
        pxs, szs = self._ask_px, self._ask_sz
        for j in self._seen:
            if 0 < pxs[j] < price or price == 0:
                pxs[j] = szs[j] = 0
        pxs[i], szs[i] = price, size
        if price == self.ask_price and size == self.ask_size:
            return False
        self.ask_price, self.ask_size = price, size
        return True

    @property
    def nbbo(self) -> NbboState:
        return NbboState(
            bid_price=self.bid_price, bid_size=self.bid_size, ask_price=self.ask_price, ask_size=self.ask_size
        )

    def record(self, ts: int) -> None:
        """Account the time since the previous NBBO change to its state, then count this change."""
        self._close_interval(ts)
        st = self.stats
        st.updates += 1
        if self.bid_price > 0 and self.ask_price > 0:
            if self.bid_price == self.ask_price:
                st.locked_updates += 1
            elif self.bid_price > self.ask_price:
                st.crossed_updates += 1
        self._since = ts
        self._state = (self.bid_price, self.ask_price)

    def _close_interval(self, ts: int) -> None:
        if self._since < 0:
            return
        bid, ask = self._state
        span = ts - self._since
        if bid > 0 and ask > 0:
            self.stats.two_sided_ns += span
            if bid == ask:
                self.stats.locked_ns += span
            elif bid > ask:
                self.stats.crossed_ns += span

    def finish(self, ts: int) -> NbboStats:
        """Close the last interval at ``ts`` (the end of the data) and return the statistics."""
        self._close_interval(ts)
        self._since = ts
        return self.stats
