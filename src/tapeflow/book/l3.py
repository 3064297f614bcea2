"""L3 (market-by-order) book: every resting order by id, each price level a FIFO queue, ITCH semantics.

Layout: per side a ``QueueLadder``, the ``Ladder`` of aggregate sizes (so the L2 view and the best price come
for free); ``_orders`` holds every known order and each level's time-priority queue. The reference store is a
``DictOrders`` (``l3_orders``: dicts and lists, fast in pure Python: a LOBSTER day replays at about a million
messages a second); the book reads and writes orders only through its methods.

A level's size is what the feed says it is; its queue holds the orders the book knows. The difference is
liquidity nobody saw arrive: the book started mid-day, or a depth-limited feed (LOBSTER level N) only showed
the level when it came into view. Those shares sit ahead of every known order (they are older) until a message
names one of their orders (``discover``). A reference to an order the book does not hold is counted and
reported, never raised.

Where the compiled L3 core is built (``_l3_core.pyx``), a book's ladders keep their level sizes in its
``L3Sizes`` (a C table of 64-bit prices and sizes that reads and writes like the dict, in the dict's insertion
order), their sorted price keys in its ``L3Keys`` (a C array that reads and writes like the list) and its orders
and queues in its ``L3Orders`` (C slots found by one probe, each queue a linked list through them, the methods of
``DictOrders``) instead of dicts: the compiled LOBSTER loop then applies a message without a dict probe or an
allocation. ``L3Book(..., impl="python")`` (or ``TAPEFLOW_PURE_PYTHON=1``) keeps the dicts and lists: the
reference.

Why this module is long: the book's write path, its read API and the event handlers work on one state (orders,
queues, ladders) whose layout the compiled core shares; apart, each would reach into the others' internals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal

import msgspec

from tapeflow.book.integrity import Emit
from tapeflow.book.l3_orders import DictOrders, QueueLadder
from tapeflow.book.ladder import Ladder
from tapeflow.book.view import BookBase
from tapeflow.config import compiled_core_chosen
from tapeflow.model.book_events import DepthRevealed, OrderDiscovered
from tapeflow.model.enums import Side
from tapeflow.model.events import Event
from tapeflow.model.market import (
    BookLevel,
    BookOrder,
    BookSnapshot,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
)

_BUY: Final = Side.BUY

try:  # the compiled core's tables (setup.py builds them); without them the book keeps dicts
    from tapeflow.book._l3_core import L3Keys, L3Orders, L3Sizes

    SIZES_TABLE_AVAILABLE = True
except ImportError:  # pragma: no cover - a source checkout without the build
    SIZES_TABLE_AVAILABLE = False

Impl = Literal["auto", "compiled", "python"]


class OrderView(msgspec.Struct, frozen=True, kw_only=True):
    order_id: int
    side: Side
    price: int
    size: int
    ts: int
    """Arrival time (ns UTC); 0 for an order discovered rather than seen arriving."""


class QueuePosition(msgspec.Struct, frozen=True, kw_only=True):
    """What stands ahead of an order at its level: ``shares_ahead`` includes ``unattributed_ahead``, the
    shares of orders nobody saw arrive (assumed older than every known order)."""

    order_id: int
    price: int
    orders_ahead: int
    shares_ahead: int
    unattributed_ahead: int
    level_size: int


class L3Book(BookBase):
    """Market-by-order book of one symbol. Read it through ``BookView`` plus ``order``/``queue_ahead``."""

    __slots__ = ("_orders", "discover_misses", "dropped_orders", "overfills")

    bids: QueueLadder
    asks: QueueLadder

    def __init__(self, symbol: str, emit: Emit | None = None, impl: Impl = "auto") -> None:
        """``impl``: where the book keeps its level sizes and orders: "python" in dicts (the reference),
        "compiled" in the compiled core's ``L3Sizes`` and ``L3Orders`` (``ConfigError`` when it was not built),
        "auto" in those when built, unless the environment sets ``TAPEFLOW_PURE_PYTHON=1``. Every reader sees
        the same book either way; only the compiled LOBSTER loop is faster over the tables."""
        super().__init__(symbol, emit)
        table = compiled_core_chosen(impl, SIZES_TABLE_AVAILABLE, "the compiled L3 core")
        self.bids = QueueLadder(Side.BUY, L3Sizes() if table else None, L3Keys() if table else None)
        self.asks = QueueLadder(Side.SELL, L3Sizes() if table else None, L3Keys() if table else None)
        self._orders: DictOrders | L3Orders = L3Orders(self.bids, self.asks) if table else DictOrders()
        self.overfills = 0
        """Executions or cancels larger than the order's remaining size (applied to the level as given)."""
        self.dropped_orders = 0
        """Known orders dropped because the feed said their level was empty (they had left unseen)."""
        self.discover_misses = 0
        """Discoveries at a price where the book has no level (the message that follows will be unknown)."""

    # --- write interface (feed handlers) ------------------------------------------------------------------

    def add(self, order_id: int, side: Side, price: int, size: int, ts: int = 0) -> None:
        """A new order joins the back of its level's queue (ITCH A/F, LOBSTER 1)."""
        orders = self._orders
        if order_id in orders:  # a reused id: its delete was missed; the new order wins, and that is counted
            self.integrity.duplicates += 1
            self.delete(order_id, ts)
        ladder = self.bids if side is _BUY else self.asks
        if orders.join(order_id, ladder, price, size, ts):
            ladder.sizes[price] += size
        elif ladder.insert(price, size):
            self.integrity.ts = ts
            self._check_cross()

    def execute(self, order_id: int, size: int, ts: int = 0) -> bool:
        """A resting order traded ``size`` shares (ITCH E/C, LOBSTER 4); False for an unknown order."""
        order = self._orders.get(order_id)
        if order is None:
            self.integrity.ts = ts
            return self.integrity.on_unknown(order_id, "execute")
        ladder = order[0]
        price = order[1]
        left = order[2] - size
        if left > 0:
            self._orders.resize(order_id, left)
        else:
            if left < 0:
                self.overfills += 1
            self._orders.leave(order_id)
        sizes = ladder.sizes
        rest = sizes[price] - size
        if rest > 0:
            sizes[price] = rest
        else:
            self._drop_level(ladder, price, ts)
        return True

    def cancel(self, order_id: int, size: int, ts: int = 0) -> bool:
        """Part of a resting order was cancelled; it keeps its priority (ITCH X, LOBSTER 2)."""
        order = self._orders.get(order_id)
        if order is None:
            self.integrity.ts = ts
            return self.integrity.on_unknown(order_id, "cancel")
        ladder = order[0]
        price = order[1]
        left = order[2] - size
        if left > 0:
            self._orders.resize(order_id, left)
        else:
            if left < 0:
                self.overfills += 1
            self._orders.leave(order_id)
        sizes = ladder.sizes
        rest = sizes[price] - size
        if rest > 0:
            sizes[price] = rest
        else:
            self._drop_level(ladder, price, ts)
        return True

    def delete(self, order_id: int, ts: int = 0, size: int = 0) -> bool:
        """A resting order left the book (ITCH D, LOBSTER 3).

        ``size``, when the feed gives it (LOBSTER does), is what the level loses: it differs from the order's
        remaining size when part of the order was cancelled while its level was out of a depth-limited feed's
        view.
        """
        order = self._orders.leave(order_id)
        if order is None:
            self.integrity.ts = ts
            return self.integrity.on_unknown(order_id, "delete")
        ladder = order[0]
        price = order[1]
        sizes = ladder.sizes
        rest = sizes[price] - (size or order[2])
        if rest > 0:
            sizes[price] = rest
        else:
            self._drop_level(ladder, price, ts)
        return True

    def replace(self, order_id: int, new_order_id: int, price: int, size: int, ts: int = 0) -> bool:
        """ITCH U: the order leaves and ``new_order_id`` joins the back of the queue at ``price``, same
        side."""
        order = self._orders.get(order_id)
        if order is None:
            self.integrity.ts = ts
            return self.integrity.on_unknown(order_id, "replace")
        side = order[0].side
        self.delete(order_id, ts)
        self.add(new_order_id, side, price, size, ts)
        return True

    def discover(self, order_id: int, side: Side, price: int, size: int, ts: int = 0) -> None:
        """``size`` unattributed shares at ``price`` belong to ``order_id``: make it a known order at the head
        of the queue (it is older than every order seen arriving). See ``OrderDiscovered``."""
        if order_id in self._orders:
            return
        if not self._orders.join_front(order_id, self.bids if side is _BUY else self.asks, price, size):
            self.discover_misses += 1

    def set_level(self, side: Side, price: int, size: int) -> None:
        """The feed says the level at ``price`` holds ``size`` shares (snapshot levels, a revealed level): the
        difference from the known orders is unattributed. 0 removes the level and any order still in it."""
        ladder = self.bids if side is _BUY else self.asks
        sizes = ladder.sizes
        if price in sizes:
            if size > 0:
                sizes[price] = size
            else:
                self._drop_level(ladder, price, self.integrity.ts)
        elif size > 0:
            self._orders.open_level(ladder, price)
            if ladder.insert(price, size):
                self._check_cross()

    def clear(self) -> None:
        self._orders.clear()
        self.bids.clear()
        self.asks.clear()
        self.integrity.uncross()

    def load(
        self,
        bids: Iterable[BookLevel],
        asks: Iterable[BookLevel],
        orders: Iterable[BookOrder] = (),
        ts: int = 0,
    ) -> None:
        """Replace the book: ``orders`` in priority order, then the levels' sizes (their excess
        unattributed)."""
        self.integrity.ts = ts  # before ``clear``: a cross the snapshot ends, ends now
        self.clear()
        for o in orders:
            self.add(o.order_id, o.side, o.price, o.size)
        for level in bids:
            self.set_level(Side.BUY, level.price, level.size)
        for level in asks:
            self.set_level(Side.SELL, level.price, level.size)

    def apply(self, event: Event) -> None:
        """Apply an L3 event (``OrderAdded`` ... ``OrderReplaced``, ``OrderDiscovered``, ``DepthRevealed``) or
        a ``BookSnapshot``; raises ``TypeError`` for anything else (a wiring bug, not bad data)."""
        handler = _APPLY.get(type(event))
        if handler is None:
            raise TypeError(f"L3Book cannot apply {type(event).__name__}")
        handler(self, event)

    def _drop_level(self, ladder: QueueLadder, price: int, ts: int) -> None:
        self.dropped_orders += self._orders.close_level(ladder, price)
        if ladder.remove(price) and self.integrity.crossed:
            self.integrity.ts = ts  # the time a cross may end (the raw write path keeps no time otherwise)
            self._check_uncross()

    # --- read interface -------------------------------------------------------------------------------

    def __contains__(self, order_id: int) -> bool:
        return order_id in self._orders

    def __len__(self) -> int:
        """Number of known resting orders."""
        return len(self._orders)

    def order(self, order_id: int) -> OrderView | None:
        o = self._orders.get(order_id)
        if o is None:
            return None
        return OrderView(order_id=order_id, side=o[0].side, price=o[1], size=o[2], ts=o[3])

    def orders_at(self, side: Side, price: int) -> list[OrderView]:
        """The known orders of a level in time priority."""
        queue = self._orders.level(self.bids if side is _BUY else self.asks, price) or ()
        return [OrderView(order_id=i, side=side, price=price, size=size, ts=ts) for i, size, ts in queue]

    def order_count(self, side: Side, price: int) -> int:
        """How many known orders the level holds (0 for a price without a level)."""
        return self._orders.count(self.bids if side is _BUY else self.asks, price)

    def side_queues(self, side: Side) -> dict[int, list[OrderView]]:
        """Every level of the side with its known orders in time priority (a copy: ``orders_at`` of each)."""
        ladder = self.bids if side is _BUY else self.asks
        return {price: self.orders_at(side, price) for price in ladder.sizes}

    def unattributed(self, side: Side, price: int) -> int:
        """Shares at the level that belong to no known order (negative if known orders left unseen)."""
        ladder = self.bids if side is _BUY else self.asks
        queue = self._orders.level(ladder, price)
        if queue is None:
            return 0
        known: int = sum(size for _, size, _ in queue)
        return ladder.sizes[price] - known

    def queue_ahead(self, order_id: int) -> QueuePosition | None:
        """Orders and shares ahead of ``order_id`` in its level's queue; None for an unknown order."""
        o = self._orders.get(order_id)
        if o is None:
            return None
        ladder, price = o[0], o[1]
        anon = max(0, self.unattributed(ladder.side, price))
        ahead_orders = 0
        ahead_shares = anon
        for oid, size, _ in self._orders.level(ladder, price) or ():
            if oid == order_id:
                break
            ahead_orders += 1
            ahead_shares += size
        return QueuePosition(
            order_id=order_id,
            price=price,
            orders_ahead=ahead_orders,
            shares_ahead=ahead_shares,
            unattributed_ahead=anon,
            level_size=ladder.sizes[price],
        )

    def snapshot(self, ts: int | None = None) -> BookSnapshot:
        """Levels best first with their known order counts, and every known order in priority order."""
        base = super().snapshot(ts)
        orders = [
            BookOrder(oid, ladder.side, price, size)
            for ladder in (self.bids, self.asks)
            for price in ladder.prices()
            for oid, size, _ in self._orders.level(ladder, price) or ()
        ]
        return msgspec.structs.replace(base, orders=tuple(orders))

    def _order_count(self, ladder: Ladder, price: int) -> int:
        assert isinstance(ladder, QueueLadder)
        return self._orders.count(ladder, price)


def _added(book: L3Book, e: OrderAdded) -> None:
    if not e.sequence or book._accept(e.sequence, e.ts_event):
        book.add(e.order_id, e.side, e.price, e.size, e.ts_event)


def _executed(book: L3Book, e: OrderExecuted) -> None:
    if not e.sequence or book._accept(e.sequence, e.ts_event):
        book.execute(e.order_id, e.size, e.ts_event)


def _reduced(book: L3Book, e: OrderReduced) -> None:
    if not e.sequence or book._accept(e.sequence, e.ts_event):
        book.cancel(e.order_id, e.size, e.ts_event)


def _deleted(book: L3Book, e: OrderDeleted) -> None:
    if not e.sequence or book._accept(e.sequence, e.ts_event):
        book.delete(e.order_id, e.ts_event, e.size)


def _replaced(book: L3Book, e: OrderReplaced) -> None:
    if not e.sequence or book._accept(e.sequence, e.ts_event):
        book.replace(e.order_id, e.new_order_id, e.price, e.size, e.ts_event)


def _discovered(book: L3Book, e: OrderDiscovered) -> None:
    if not e.sequence or book._accept(e.sequence, e.ts_event):
        book.discover(e.order_id, e.side, e.price, e.size, e.ts_event)


def _revealed(book: L3Book, e: DepthRevealed) -> None:
    if not e.sequence or book._accept(e.sequence, e.ts_event):
        levels = [(lv.price, lv.size) for lv in e.levels]
        book.reveal(e.side, e.after_price, levels, e.through_end, e.ts_event)


def _snapshot(book: L3Book, e: BookSnapshot) -> None:
    book.load(e.bids, e.asks, e.orders, e.ts_event)
    book.integrity.on_snapshot(e.sequence, e.ts_event)


_APPLY: dict[type[Any], Any] = {
    OrderAdded: _added,
    OrderExecuted: _executed,
    OrderReduced: _reduced,
    OrderDeleted: _deleted,
    OrderReplaced: _replaced,
    OrderDiscovered: _discovered,
    DepthRevealed: _revealed,
    BookSnapshot: _snapshot,
}
