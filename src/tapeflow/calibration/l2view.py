"""What a market-by-price feed of the same venue would have shown, derived from a market-by-order tape.

The L2 queue models must be scored on exactly the information L2 data carries, from the same day as the truth:
the size of each price level after every message, and the prints. ``L2View`` is asked, just before the L3 book
applies an event, which levels the event can change and whether it is a print; after the book applied it, it
compares those levels with the L2 book it feeds and returns the ``BookDelta``\\ s that bring that book level with
the truth (nothing when the message changed no visible size, as an ``OrderDiscovered`` never does).

The order a real L2 feed uses is kept: an execution's print first, then the level's new size (the simulated
exchange's L2 path counts the printed shares so that the shrinking of the level they explain is not read as a
cancellation). Order ids, the one thing L2 lacks, never leave this module.
"""

from __future__ import annotations

from tapeflow.book.l2 import L2Book
from tapeflow.book.l3 import L3Book
from tapeflow.model.book_events import DepthRevealed, OrderDiscovered
from tapeflow.model.enums import Aggressor, BookAction, Side
from tapeflow.model.events import Event
from tapeflow.model.market import (
    BookDelta,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Trade,
)
from tapeflow.model.prices import NO_PRICE

Touched = list[tuple[Side, int]] | None
"""Levels an event can change; None: a whole side or book may have changed (a reveal)."""


class L2View:
    """See the module docstring; one per symbol."""

    __slots__ = ("symbol", "venue")

    def __init__(self, symbol: str, venue: str = "") -> None:
        self.symbol = symbol
        self.venue = venue

    def before(self, event: Event, book: L3Book) -> tuple[Touched, Trade | None]:
        """The levels ``event`` can change and the print it is, read from the book before it applies."""
        if isinstance(event, OrderAdded | OrderDiscovered):
            return [(event.side, event.price)], None
        if isinstance(event, OrderExecuted | OrderReduced | OrderDeleted | OrderReplaced):
            view = book.order(event.order_id)
            if view is None:
                return [], None
            touched = [(view.side, view.price)]
            if isinstance(event, OrderReplaced):
                touched.append((view.side, event.price))
                return touched, None
            if isinstance(event, OrderExecuted):
                price = view.price if event.price == NO_PRICE else event.price
                aggressor = Aggressor.BUY if view.side is Side.SELL else Aggressor.SELL
                trade = Trade(
                    ts_event=event.ts_event,
                    ts_init=event.ts_init,
                    symbol=self.symbol,
                    price=price,
                    size=event.size,
                    aggressor=aggressor,
                    venue=self.venue,
                )
                return touched, trade
            return touched, None
        if isinstance(event, DepthRevealed):
            return None, None
        return [], None

    def after(self, event: Event, touched: Touched, book: L3Book, l2: L2Book) -> list[BookDelta]:
        """The deltas that make ``l2`` show what ``book`` shows at the touched levels (every level if None)."""
        if touched is None:
            touched = [
                (side, price)
                for side in (Side.BUY, Side.SELL)
                for price in sorted({p for p, _ in book.levels(side)} | {p for p, _ in l2.levels(side)})
            ]
        out: list[BookDelta] = []
        for side, price in touched:
            now = book.size_at(side, price)
            was = l2.size_at(side, price)
            if now == was:
                continue
            action = BookAction.DELETE if now <= 0 else BookAction.ADD if was <= 0 else BookAction.UPDATE
            out.append(
                BookDelta(
                    ts_event=event.ts_event,
                    ts_init=event.ts_init,
                    symbol=self.symbol,
                    action=action,
                    side=side,
                    price=price,
                    size=max(0, now),
                    venue=self.venue,
                )
            )
        return out
