"""What a change of the replayed book means for our resting orders, told to the queue model and the matcher.

Runs just before the book applies each feed event (``BookKeeper.observe_before``), because the meaning is in the
difference: the size a level had before an L2 delta, the order an L3 execution or delete refers to. For each
event it bounds the liquidity our orders consumed at the level the feed just changed by what the level still shows
(what we took stays taken: the feed does not know we took it), turns the change into the queue protocol's terms
(``queue.py``: a trade, or a depth change net of the prints already seen), and fills our orders that *new* contra
liquidity crosses: an L2 level's growth, an L3 order's added shares, never the shares the level showed before,
which were offered to our crossing orders already. Only symbols we have orders for get past the first dictionary
lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tapeflow.book.l2 import L2Book
from tapeflow.book.l3 import L3Book
from tapeflow.model.enums import BookAction, Side
from tapeflow.model.events import Event
from tapeflow.model.market import (
    BookDelta,
    BookSnapshot,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
)
from tapeflow.venues.sim.matching import Matcher, SymbolState


class DepthChanges:
    """The book observer of the simulated exchange: see the module docstring."""

    __slots__ = ("_handlers", "_matcher", "_queue", "_states")

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._queue = matcher.queue
        self._states = matcher.states
        self._handlers: dict[type[Event], Callable[[SymbolState, Any, L2Book | L3Book], None]] = {
            BookDelta: self._delta,
            OrderAdded: self._added,
            OrderExecuted: self._executed,
            OrderReduced: self._reduced,
            OrderDeleted: self._deleted,
            OrderReplaced: self._replaced,
            BookSnapshot: self._snapshot,
        }

    def before_book(self, event: Event, book: L2Book | L3Book) -> None:
        """Runs before the book applies ``event`` (see ``BookKeeper.observe_before``)."""
        st = self._states.get(event.symbol)  # type: ignore[attr-defined]
        if st is None:
            return
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(st, event, book)

    # -- L2: market by price ------------------------------------------------------------------------------------

    def _delta(self, st: SymbolState, d: BookDelta, book: L2Book | L3Book) -> None:
        if d.action is BookAction.CLEAR:
            st.consumed.clear()
            st.traded.clear()
            for side in (Side.BUY, Side.SELL):
                for price, level in st.resting[side].items():
                    self._queue.on_depth_change(level, book.size_at(side, price), 0)
            return
        key = (d.side, d.price)
        old = book.size_at(d.side, d.price)
        new = 0 if d.action is BookAction.DELETE else d.size
        _level_now(st, d.side, d.price, new)
        traded = st.traded.pop(key, 0)
        own = st.own(d.side, d.price)
        if own and new < old:
            explained = min(old - new, traded)  # the prints already moved the queue for these
            self._queue.on_depth_change(own, old - explained, new)
        if new > old:
            # only the growth is new: the ``old`` shares were offered to our crossing orders before (taken then)
            self._matcher.cross(st, d.side, d.price, new - old, d.ts_event)

    # -- L3: market by order ------------------------------------------------------------------------------------

    def _added(self, st: SymbolState, e: OrderAdded, book: L2Book | L3Book) -> None:
        own = st.own(e.side, e.price)
        if own:
            level = book.size_at(e.side, e.price)
            self._queue.on_depth_change(own, level, level + e.size, e.order_id)
        self._matcher.cross(st, e.side, e.price, e.size, e.ts_event)

    def _left(
        self, st: SymbolState, order_id: int, size: int | None, book: L2Book | L3Book, level_loses: int = 0
    ) -> None:
        """``size`` shares of market order ``order_id`` left its level (None: all of it), not by trading.

        ``level_loses``: what a whole deletion takes from the level when the feed says so (LOBSTER: less than the
        order's last known size when part of it left out of view); only that many can still have been ahead."""
        if not isinstance(book, L3Book):
            return
        view = book.order(order_id)
        if view is None:
            return
        gone = view.size if size is None else min(size, view.size)
        if level_loses:
            gone = min(gone, level_loses)
        level = book.size_at(view.side, view.price)
        _level_now(st, view.side, view.price, level - gone)
        own = st.own(view.side, view.price)
        if not own:
            return
        self._queue.on_depth_change(own, level, level - gone, order_id, order_gone=size is None)

    def _executed(self, st: SymbolState, e: OrderExecuted, book: L2Book | L3Book) -> None:
        if not isinstance(book, L3Book):
            return
        view = book.order(e.order_id)
        if view is None:
            return
        _level_now(st, view.side, view.price, book.size_at(view.side, view.price) - e.size)
        own = st.own(view.side, view.price)
        if not own:
            return
        fills = self._queue.on_trade(own, e.size, e.order_id, order_gone=e.size >= view.size)
        if fills:
            self._matcher.fill_reached(fills, e.ts_event)

    def _reduced(self, st: SymbolState, e: OrderReduced, book: L2Book | L3Book) -> None:
        self._left(st, e.order_id, e.size, book)

    def _deleted(self, st: SymbolState, e: OrderDeleted, book: L2Book | L3Book) -> None:
        self._left(st, e.order_id, None, book, level_loses=e.size)

    def _replaced(self, st: SymbolState, e: OrderReplaced, book: L2Book | L3Book) -> None:
        if not isinstance(book, L3Book):
            return
        view = book.order(e.order_id)
        self._left(st, e.order_id, None, book)
        if view is not None:
            added = OrderAdded(
                ts_event=e.ts_event,
                ts_init=e.ts_init,
                symbol=e.symbol,
                order_id=e.new_order_id,
                side=view.side,
                price=e.price,
                size=e.size,
            )
            self._added(st, added, book)

    # -- both ---------------------------------------------------------------------------------------------------

    def _snapshot(self, st: SymbolState, e: BookSnapshot, book: L2Book | L3Book) -> None:
        """A snapshot replaced the book (a resync after a gap, whose messages we never saw): bound what is ahead."""
        st.consumed.clear()
        st.traded.clear()
        for side, levels in ((Side.BUY, e.bids), (Side.SELL, e.asks)):
            mine = st.resting[side]
            if not mine:
                continue
            sizes = {level.price: level.size for level in levels}
            for price, own in mine.items():
                there = {o.order_id: o.size for o in e.orders if o.side is side and o.price == price}
                self._queue.on_resync(own, sizes.get(price, 0), there)


def _level_now(st: SymbolState, side: Side, price: int, size: int) -> None:
    """The feed says the level at ``price`` now shows ``size`` shares: what our orders took there stays taken.

    Forgetting it would let the next order of ours take the same shares again. The feed cannot tell which shares
    left a shrinking level (other traders executed the ones we took first, or cancelled ones behind them), so we
    assume the least in our favour: as many of ours as the level still shows remain taken (fail closed)."""
    key = (side, price)
    taken = st.consumed.get(key)
    if taken is None:
        return
    if size <= 0:
        del st.consumed[key]
    elif taken > size:
        st.consumed[key] = size
