"""``DictOrders``: the reference store of an ``L3Book``'s resting orders and its levels' queues.

An order is a list ``[ladder, price, size, ts]`` under its id (the cheapest mutable record CPython has); a level's
queue is a dict of id -> that list in its ladder's ``queues`` (a dict keeps insertion order and deletes from the
middle in O(1): exactly a FIFO queue that orders can leave from anywhere).

``L3Book`` decides every rule (duplicates, overfills, levels emptied, discoveries) and reads and writes orders
only through these methods, so that the compiled core's C table (``L3Orders``, ``_l3_orders.pxi``), which has the
same methods, can hold the same book; the tests require both to read the same after every event.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from tapeflow.book.ladder import Ladder, SortedKeys
from tapeflow.model.enums import Side


class QueueLadder(Ladder):
    """A ladder whose levels also keep their orders in time priority (``queues``, written by ``DictOrders``).

    It lives beside the store that writes its queues, so that ``l3`` imports both and neither imports ``l3``."""

    __slots__ = ("queues",)

    def __init__(
        self, side: Side, sizes: MutableMapping[int, int] | None = None, keys: SortedKeys | None = None
    ) -> None:
        """``sizes``: the level sizes' table (the compiled core's ``L3Sizes``); None keeps the ladder's dict.
        ``keys``: the sorted keys' array (the compiled core's ``L3Keys``); None keeps the ladder's list."""
        super().__init__(side)
        if sizes is not None:
            self.sizes = sizes
        if keys is not None:
            self.keys = keys
        self.queues: dict[int, dict[int, list[Any]]] = {}

    def clear(self) -> None:
        super().clear()
        self.queues.clear()


class DictOrders(dict[int, list[Any]]):
    """order id -> ``[ladder, price, size, ts]``; each level's queue in ``ladder.queues[price]``."""

    __slots__ = ()

    def resize(self, order_id: int, size: int) -> None:
        """The order now holds ``size`` shares; it keeps its place."""
        self[order_id][2] = size

    def join(self, order_id: int, ladder: QueueLadder, price: int, size: int, ts: int) -> bool:
        """The order (not held) joins the back of its level's queue; False when the level had no queue (it is
        made, holding only this order)."""
        order = [ladder, price, size, ts]
        self[order_id] = order
        queue = ladder.queues.get(price)
        if queue is None:
            ladder.queues[price] = {order_id: order}
            return False
        queue[order_id] = order
        return True

    def join_front(self, order_id: int, ladder: QueueLadder, price: int, size: int) -> bool:
        """The order (not held, arrival time 0) joins the head of its level's queue; False (nothing done) when
        the level has no queue."""
        queue = ladder.queues.get(price)
        if queue is None:
            return False
        order = [ladder, price, size, 0]
        self[order_id] = order
        ladder.queues[price] = {order_id: order, **queue} if queue else {order_id: order}
        return True

    def leave(self, order_id: int) -> list[Any] | None:
        """The order leaves its queue and the book (its level's queue stays); its record, or None when it was not
        held (one call for ``L3Book.delete``'s test and removal)."""
        order = self.pop(order_id, None)
        if order is not None:
            del order[0].queues[order[1]][order_id]
        return order

    def open_level(self, ladder: QueueLadder, price: int) -> None:
        """An empty queue at ``price``, where the book keeps none."""
        ladder.queues[price] = {}

    def close_level(self, ladder: QueueLadder, price: int) -> int:
        """The level's queue and every order in it leave the book; how many orders (``KeyError``: no queue)."""
        queue = ladder.queues.pop(price)
        for order_id in queue:
            del self[order_id]
        return len(queue)

    def level(self, ladder: QueueLadder, price: int) -> list[tuple[int, int, int]] | None:
        """``(order id, size, ts)`` of the level's orders in time priority; None when it has no queue."""
        queue = ladder.queues.get(price)
        if queue is None:
            return None
        return [(order_id, o[2], o[3]) for order_id, o in queue.items()]

    def count(self, ladder: QueueLadder, price: int) -> int:
        """How many orders the level's queue holds (0 without one)."""
        queue = ladder.queues.get(price)
        return len(queue) if queue else 0
