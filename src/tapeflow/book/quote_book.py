"""A one-level book made of the last quote: what an L1 feed (quotes only) lets anyone know of the market.

With quote data the simulated exchange, the risk engine and strategies still ask a book for the best prices and
what can be taken there; this answers from the last ``Quote`` of the symbol, in four attribute stores per quote
(an L2 book would cost a sorted update per side). It has no sequence numbers, so it can never know it is stale.

It does know when the quote is crossed (bid above ask: a bad print, or a consolidated NBBO caught between two
exchanges' updates), and says so through ``crossed`` as the deeper books do, so the risk engine's
``crossed_book`` rule refuses orders on it and the run summary counts the episodes. A locked quote (bid equal to
ask) is not counted: it is a common, fleeting state of the consolidated NBBO (2% of BAC's updates on 2013-10-07),
not a sign of bad data.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Protocol

import numpy as np

from tapeflow.book.integrity import IntegrityTotals
from tapeflow.book.view import Depth, TopOfBook
from tapeflow.model.enums import Side
from tapeflow.model.market import BookLevel, BookSnapshot, Quote
from tapeflow.model.prices import NO_PRICE


class QuoteBook:
    __slots__ = (
        "ask_price",
        "ask_size",
        "bid_price",
        "bid_size",
        "crossed",
        "crossed_ns",
        "crossed_since",
        "crossings",
        "nbbo",
        "symbol",
        "ts",
        "version",
    )

    stale = False

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bid_price = NO_PRICE
        self.bid_size = 0
        self.ask_price = NO_PRICE
        self.ask_size = 0
        self.ts = 0
        self.version = 0
        """Quotes applied so far: tells a reader that the top level was refreshed, even at an equal ts."""
        self.nbbo = False
        """This symbol's feed has an NBBO: per-exchange quotes no longer move the book."""
        self.crossed = False
        self.crossings = 0
        """Episodes of bid above ask."""
        self.crossed_ns = 0
        """Time spent crossed in episodes that ended; see ``totals`` for one still open."""
        self.crossed_since = 0

    def apply(self, quote: Quote) -> None:
        bid = self.bid_price = quote.bid_price if quote.bid_size else NO_PRICE
        self.bid_size = quote.bid_size
        ask = self.ask_price = quote.ask_price if quote.ask_size else NO_PRICE
        self.ask_size = quote.ask_size
        ts = self.ts = quote.ts_event
        self.version += 1
        if bid > ask != NO_PRICE:  # NO_PRICE is 0: an empty ask never crosses
            if not self.crossed:
                self.crossed = True
                self.crossings += 1
                self.crossed_since = ts
        elif self.crossed:
            self.crossed = False
            self.crossed_ns += ts - self.crossed_since

    @property
    def trustworthy(self) -> bool:
        return not self.crossed

    def totals(self, end_ns: int) -> IntegrityTotals:
        """The run summary's row: crossing episodes and time crossed (one still open closes at ``end_ns``)."""
        open_ns = max(0, end_ns - self.crossed_since) if self.crossed else 0
        return IntegrityTotals(symbol=self.symbol, crossings=self.crossings, crossed_ns=self.crossed_ns + open_ns)

    @property
    def best_bid(self) -> int:
        return self.bid_price

    @property
    def best_ask(self) -> int:
        return self.ask_price

    def top(self) -> TopOfBook:
        return TopOfBook(
            bid_price=self.bid_price, bid_size=self.bid_size, ask_price=self.ask_price, ask_size=self.ask_size
        )

    def spread(self) -> int | None:
        if self.bid_price == NO_PRICE or self.ask_price == NO_PRICE:
            return None
        return self.ask_price - self.bid_price

    def mid(self) -> Fraction | None:
        if self.bid_price == NO_PRICE or self.ask_price == NO_PRICE:
            return None
        return Fraction(self.bid_price + self.ask_price, 2)

    def levels(self, side: Side, n: int | None = None) -> list[tuple[int, int]]:
        price, size = (self.bid_price, self.bid_size) if side is Side.BUY else (self.ask_price, self.ask_size)
        return [(price, size)] if price != NO_PRICE and size and (n is None or n > 0) else []

    def size_at(self, side: Side, price: int) -> int:
        best, size = (self.bid_price, self.bid_size) if side is Side.BUY else (self.ask_price, self.ask_size)
        return size if price == best else 0

    def depth(self, n: int) -> Depth:
        bids = self.levels(Side.BUY, n)
        asks = self.levels(Side.SELL, n)
        return Depth(
            bid_prices=np.array([p for p, _ in bids], dtype=np.int64),
            bid_sizes=np.array([s for _, s in bids], dtype=np.int64),
            ask_prices=np.array([p for p, _ in asks], dtype=np.int64),
            ask_sizes=np.array([s for _, s in asks], dtype=np.int64),
        )

    def snapshot(self, ts: int | None = None) -> BookSnapshot:
        t = self.ts if ts is None else ts
        return BookSnapshot(
            ts_event=t,
            ts_init=t,
            symbol=self.symbol,
            bids=tuple(BookLevel(p, s) for p, s in self.levels(Side.BUY)),
            asks=tuple(BookLevel(p, s) for p, s in self.levels(Side.SELL)),
        )


def ofi_base_after(base: int, prev: Quote | None, quote: Quote) -> int:
    """The new ``ofi_base`` of a flow whose quote ``prev`` (None: the first, at base 0) is replaced by ``quote``.

    The cumulative order flow imbalance of a symbol is kept as ``ofi_base`` plus (bid size - ask size) of the
    quote in force when both its prices are set (``ofi_total``), since a step between two quotes with the same
    prices adds exactly the change of that difference; so only a step that moves a price (about 7% of the quote
    benchmark's quotes) comes here. The step is ``book.signals.ofi`` on the quotes' raw prices (any price 0: no
    flow), as the feature recorder computed it per quote (``tests/book/test_quote_flow.py`` holds them equal over
    hypothesis streams and a TAQ day). Written as what the base gains: ``ofi`` of the step plus the old difference
    minus the new, which leaves one size per side that moved.
    """
    b, a = quote.bid_price, quote.ask_price
    if prev is None:
        return base - quote.bid_size + quote.ask_size if b and a else base
    pb, pa = prev.bid_price, prev.ask_price
    if pb and pa:
        if b and a:
            if b > pb:
                base += prev.bid_size
            elif b < pb:
                base -= quote.bid_size
            if a < pa:
                base -= prev.ask_size
            elif a > pa:
                base += quote.ask_size
            return base
        return base + prev.bid_size - prev.ask_size  # no flow on a step to an empty side
    return base - quote.bid_size + quote.ask_size if b and a else base


def ofi_total(base: int, quote: Quote | None) -> int:
    """Order flow imbalance summed since a flow book's first quote (see ``ofi_base_after``)."""
    if quote is None or not (quote.bid_price and quote.ask_price):
        return base
    return base + quote.bid_size - quote.ask_size


class QuoteFlow:
    """What a feature recorder needs of a symbol's quotes beyond the book: the raw last quote (its prices before
    an empty side is cleared, its ``ts_init``) and the base of the cumulative order flow imbalance."""

    __slots__ = ("ofi_base", "quote")

    def __init__(self) -> None:
        self.quote: Quote | None = None
        self.ofi_base = 0

    def apply(self, quote: Quote) -> None:
        _advance_flow(self, quote)


class _HoldsFlow(Protocol):
    quote: Quote | None
    ofi_base: int


def _advance_flow(flow: _HoldsFlow, quote: Quote) -> None:
    """The last quote kept, the order flow base moved only when a price moved: ``QuoteFlow`` and
    ``FlowQuoteBook`` (whose keeper handler writes this out)."""
    prev = flow.quote
    flow.quote = quote
    if prev is None or quote.bid_price != prev.bid_price or quote.ask_price != prev.ask_price:
        flow.ofi_base = ofi_base_after(flow.ofi_base, prev, quote)


class FlowQuoteBook(QuoteBook):
    """A ``QuoteBook`` that also keeps its ``QuoteFlow``: built by a ``BookKeeper`` asked to (``track_flow``) by a
    feature recorder, so the recorder reads the flow at sample time instead of handling every quote itself (that
    handler was about 29% of the quote backtest). A keeper no one asks builds plain ``QuoteBook``s and pays nothing.
    """

    __slots__ = ("ofi_base", "quote")

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.quote: Quote | None = None
        self.ofi_base = 0

    def apply(self, quote: Quote) -> None:
        """The reference of ``BookKeeper.on_quote_flow``, which writes this out."""
        _advance_flow(self, quote)
        super().apply(quote)
