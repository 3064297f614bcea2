"""The read view every book offers: what a strategy, the simulated exchange and the risk collar may ask.

Readers get this view; feed handlers get the write methods of ``L2Book`` and ``L3Book``. The split follows
hftbacktest's depth traits: reading is cheap and side-effect free, writing is where integrity is checked.
Prices are int price units (1/10,000 dollar), sizes int shares; the mid is an exact ``Fraction`` of price
units because half a unit is a real value.
"""

from __future__ import annotations

from bisect import bisect_left
from fractions import Fraction
from typing import Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from tapeflow.book.integrity import BookHealth, Emit, Integrity
from tapeflow.book.ladder import Ladder
from tapeflow.model.enums import Side
from tapeflow.model.market import BookLevel, BookSnapshot
from tapeflow.model.prices import NO_PRICE

_BUY = Side.BUY


class TopOfBook(msgspec.Struct, frozen=True, kw_only=True):
    """Best bid and ask with their sizes; a price of ``NO_PRICE`` (size 0) means that side is empty."""

    bid_price: int
    bid_size: int
    ask_price: int
    ask_size: int


class Depth(msgspec.Struct, frozen=True, kw_only=True):
    """The best ``n`` levels of each side as int64 arrays, best first (shorter when a side has fewer
    levels)."""

    bid_prices: npt.NDArray[np.int64]
    bid_sizes: npt.NDArray[np.int64]
    ask_prices: npt.NDArray[np.int64]
    ask_sizes: npt.NDArray[np.int64]


class BookView(Protocol):
    """What a consumer may read from any book (L2 or L3)."""

    @property
    def symbol(self) -> str: ...
    @property
    def best_bid(self) -> int: ...
    @property
    def best_ask(self) -> int: ...
    @property
    def stale(self) -> bool: ...
    @property
    def trustworthy(self) -> bool: ...
    def top(self) -> TopOfBook: ...
    def spread(self) -> int | None: ...
    def mid(self) -> Fraction | None: ...
    def depth(self, n: int) -> Depth: ...
    def levels(self, side: Side, n: int | None = None) -> list[tuple[int, int]]: ...
    def size_at(self, side: Side, price: int) -> int: ...
    def health(self) -> BookHealth: ...
    def snapshot(self, ts: int | None = None) -> BookSnapshot: ...


def _array(values: list[int]) -> npt.NDArray[np.int64]:
    return np.array(values, dtype=np.int64)


class BookBase:
    """Sides, integrity and the read view shared by the L2 and L3 books."""

    __slots__ = ("_symbol", "asks", "bids", "integrity")

    def __init__(self, symbol: str, emit: Emit | None = None) -> None:
        self._symbol = symbol
        self.bids = Ladder(Side.BUY)
        self.asks = Ladder(Side.SELL)
        self.integrity = Integrity(symbol, emit)

    @property
    def symbol(self) -> str:
        return self._symbol

    @property
    def best_bid(self) -> int:
        return self.bids.best

    @property
    def best_ask(self) -> int:
        return self.asks.best

    @property
    def stale(self) -> bool:
        """True from a sequence gap until a snapshot rebuilds the book; never anything else."""
        return self.integrity.stale

    @property
    def crossed(self) -> bool:
        return self.integrity.crossed

    @property
    def trustworthy(self) -> bool:
        """Safe to act on now: no unrepaired gap and not crossed."""
        return self.integrity.trustworthy

    @property
    def unknown_order_refs(self) -> int:
        return self.integrity.unknown_order_refs

    def health(self) -> BookHealth:
        return self.integrity.health()

    def top(self) -> TopOfBook:
        bid = self.bids.best
        ask = self.asks.best
        return TopOfBook(
            bid_price=bid,
            bid_size=self.bids.sizes[bid] if bid != NO_PRICE else 0,
            ask_price=ask,
            ask_size=self.asks.sizes[ask] if ask != NO_PRICE else 0,
        )

    def spread(self) -> int | None:
        """Best ask minus best bid in price units; None when a side is empty (negative when crossed)."""
        bid = self.bids.best
        ask = self.asks.best
        if bid == NO_PRICE or ask == NO_PRICE:
            return None
        return ask - bid

    def mid(self) -> Fraction | None:
        """Exact mid in price units; None when a side is empty."""
        bid = self.bids.best
        ask = self.asks.best
        if bid == NO_PRICE or ask == NO_PRICE:
            return None
        return Fraction(bid + ask, 2)

    def side(self, side: Side) -> Ladder:
        return self.bids if side is Side.BUY else self.asks

    def levels(self, side: Side, n: int | None = None) -> list[tuple[int, int]]:
        """(price, size) of the best ``n`` levels of ``side`` (all when None), best first."""
        return self.side(side).levels(n)

    def depth(self, n: int) -> Depth:
        bids = self.bids.levels(n)
        asks = self.asks.levels(n)
        return Depth(
            bid_prices=_array([p for p, _ in bids]),
            bid_sizes=_array([s for _, s in bids]),
            ask_prices=_array([p for p, _ in asks]),
            ask_sizes=_array([s for _, s in asks]),
        )

    def size_at(self, side: Side, price: int) -> int:
        return self.side(side).sizes.get(price, 0)

    def level_count(self, side: Side) -> int:
        return len(self.side(side))

    def snapshot(self, ts: int | None = None) -> BookSnapshot:
        """The whole book as a ``BookSnapshot`` (levels only; ``L3Book`` adds its orders)."""
        t = self.integrity.ts if ts is None else ts
        return BookSnapshot(
            ts_event=t,
            ts_init=t,
            symbol=self._symbol,
            bids=tuple(BookLevel(p, s, self._order_count(self.bids, p)) for p, s in self.bids.levels()),
            asks=tuple(BookLevel(p, s, self._order_count(self.asks, p)) for p, s in self.asks.levels()),
            sequence=self.integrity.sequence,
        )

    def _order_count(self, ladder: Ladder, price: int) -> int:
        return 0

    def _check_cross(self) -> None:
        """Called when a side got a new best price: the only moment a book can become crossed."""
        bid = self.bids.best
        ask = self.asks.best
        if bid != NO_PRICE and ask != NO_PRICE and bid >= ask:
            self.integrity.on_crossed(bid, ask)

    def _check_uncross(self) -> None:
        """Called when a best level went away while crossed: the cross may have resolved."""
        bid = self.bids.best
        ask = self.asks.best
        if bid == NO_PRICE or ask == NO_PRICE or bid < ask:
            self.integrity.uncross()

    def _accept(self, sequence: int, ts: int) -> bool:
        """Sequence bookkeeping for an event-driven write; False when the message must be dropped."""
        integrity = self.integrity
        if sequence:
            return integrity.check_sequence(sequence, ts)
        integrity.ts = ts
        return True

    def set_level(self, side: Side, price: int, size: int) -> None:
        """Make the level at ``price`` hold exactly ``size`` shares (0 removes it)."""
        raise NotImplementedError

    def reveal(
        self, side: Side, after_price: int, levels: list[tuple[int, int]], through_end: bool, ts: int = 0
    ) -> int:
        """Apply what a depth-limited feed shows beyond what it showed before (``DepthRevealed``).

        Levels strictly worse than ``after_price`` and up to the last revealed one (to the end of the side
        with ``through_end``) that are not revealed are gone: they changed while out of view. Returns how many
        levels were removed that way.
        """
        self.integrity.ts = ts
        ladder = self.bids if side is _BUY else self.asks
        if len(levels) == 1 and not through_end:  # the usual case: one level moved up into view
            price, size = levels[0]
            keys = ladder.keys
            sign = ladder.sign
            hi = len(keys) if after_price == NO_PRICE else bisect_left(keys, after_price * sign)
            if not hi or keys[hi - 1] <= price * sign:  # no level strictly between: nothing went stale
                self.set_level(side, price, size)
                return 0
        listed = {p for p, _ in levels}
        last = NO_PRICE if through_end or not levels else levels[-1][0]
        gone = [p for p in ladder.between(after_price, last) if p not in listed]
        for price in gone:
            self.set_level(side, price, 0)
        for price, size in levels:
            self.set_level(side, price, size)
        return len(gone)
