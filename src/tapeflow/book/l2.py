"""L2 (market-by-price) book: price -> aggregate size per side, from ``BookDelta`` events and snapshots.

The write path is ``update(side, price, size)`` (size 0 removes the level), the shape of every L2 feed;
``apply`` turns events into it after checking the feed sequence. An update costs one dict store when the level
exists, and a sorted-list insert or delete only when a level appears or goes (see ``ladder``).

Order counts from ``BookDelta.order_count`` are not kept: nothing in tapeflow reads them from an L2 book, and
the L3 book has the real ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from tapeflow.book.integrity import Emit
from tapeflow.book.view import BookBase
from tapeflow.model.book_events import DepthRevealed
from tapeflow.model.enums import BookAction, Side
from tapeflow.model.events import Event
from tapeflow.model.market import BookDelta, BookLevel, BookSnapshot

_BUY: Final = Side.BUY
_DELETE: Final = BookAction.DELETE
_CLEAR: Final = BookAction.CLEAR


class L2Book(BookBase):
    """Market-by-price book of one symbol. Read it through ``BookView``; feed it with ``update`` or
    ``apply``."""

    __slots__ = ()

    def __init__(self, symbol: str, emit: Emit | None = None) -> None:
        super().__init__(symbol, emit)

    def update(self, side: Side, price: int, size: int) -> None:
        """The level at ``price`` on ``side`` now holds ``size`` shares; 0 (or less) removes it."""
        ladder = self.bids if side is _BUY else self.asks
        sizes = ladder.sizes
        if price in sizes:
            if size > 0:
                sizes[price] = size
            elif ladder.remove(price) and self.integrity.crossed:
                self._check_uncross()
        elif size > 0 and ladder.insert(price, size):
            self._check_cross()

    set_level = update

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.integrity.uncross()

    def load(self, bids: Iterable[BookLevel], asks: Iterable[BookLevel]) -> None:
        """Replace the whole book with these levels (any order; zero sizes are skipped)."""
        self.clear()
        for level in bids:
            self.update(Side.BUY, level.price, level.size)
        for level in asks:
            self.update(Side.SELL, level.price, level.size)

    def apply(self, event: Event) -> None:
        """Apply a ``BookDelta``, ``BookSnapshot`` or ``DepthRevealed``; other events are not book updates."""
        if type(event) is BookDelta:
            integrity = self.integrity
            seq = event.sequence
            if seq and seq == integrity.sequence + 1:  # the common case, inline
                integrity.sequence = seq
                integrity.ts = event.ts_event
            elif not self._accept(seq, event.ts_event):
                return
            action = event.action
            if action is _CLEAR:
                self.clear()
                return
            # ``update`` inlined: a kernel-fed book pays one call per delta (tested equal to ``update``)
            ladder = self.bids if event.side is _BUY else self.asks
            sizes = ladder.sizes
            price = event.price
            size = 0 if action is _DELETE else event.size
            if price in sizes:
                if size > 0:
                    sizes[price] = size
                elif ladder.remove(price) and integrity.crossed:
                    self._check_uncross()
            elif size > 0 and ladder.insert(price, size):
                self._check_cross()
        elif isinstance(event, BookSnapshot):
            self.integrity.ts = event.ts_event  # before ``load``: a cross the snapshot ends, ends now
            self.load(event.bids, event.asks)
            self.integrity.on_snapshot(event.sequence, event.ts_event)
        elif isinstance(event, DepthRevealed):
            if self._accept(event.sequence, event.ts_event):
                levels = [(lv.price, lv.size) for lv in event.levels]
                self.reveal(event.side, event.after_price, levels, event.through_end, event.ts_event)
        else:
            raise TypeError(f"L2Book cannot apply {type(event).__name__}; feed it BookDelta or BookSnapshot")
