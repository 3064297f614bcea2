"""Queue position of our own resting orders in a replayed market, behind one small protocol.

Our order is virtual: the replayed feed never shows it, so the exchange must estimate how many shares stand ahead
of it at its price and when the market would have reached it. How well that can be done depends on the feed, so
the estimate is a ``QueuePosition`` the exchange picks once from the book level and then only talks to through
four calls, each for the orders of ours resting at one price (``own``, oldest first):

- ``on_new_order(order, level_size)``: ours joins the back of a level of ``level_size`` market shares.
- ``on_trade(own, size, order_id)``: ``size`` shares traded at our price from the front of the queue. It returns
  the *filled amount* of each of ours the trade reached (the exchange books those as MAKER fills at our price).
- ``on_depth_change(own, before, after, order_id)``: the level went from ``before`` to ``after`` market shares
  other than by trading (what prints already explained is not counted again). More shares joined behind us;
  fewer left from somewhere in the queue.
- ``on_resync(own, level_size, there)``: a snapshot replaced the book (a gap we never saw the messages of).

``order_id`` and ``order_gone`` carry what a market-by-order feed adds: whose shares moved and whether that order
left the book. Both models accept every call; each uses what it can trust, so either can run on any feed.

- **L3 (market by order), exact** (``L3Queue``). At arrival, everything resting at our price is ahead of us.
  Orders that join the level later are behind us (we remember their ids). An execution, cancel or delete of an
  order that is not behind us reduces what is ahead; an execution of an order *behind* us means the incoming order
  went through our place in the queue first, so that many shares reach us instead, after whatever is still counted
  ahead (nothing, on a FIFO tape whose every departure we saw). A trade without an order id is taken from the
  front, as in L2 (the exchange does not pass an L3 tape's prints: they repeat its executions).
- **L2 (market by price), modelled** (``L2Queue``, parametrised by ``QueueModel``). At arrival, the level's size
  is ahead of us. A trade at our price takes from the front (ahead first, then us). A decrease of the level is a
  cancellation, and where in the queue it happened is unknown: ``QueueModel`` decides. ``FRONT`` takes it from
  ahead of us (optimistic), ``BACK`` from behind us (pessimistic: we move only when the shares behind us are
  exhausted), ``PROPORTIONAL`` from ahead in proportion to the shares ahead of us (the expected value when any
  share is equally likely to be cancelled), ``POWER2``/``POWER3`` by hftbacktest's power probability (``prob_queue``:
  more of a cancel comes from the longer side of us). An empty level leaves nothing ahead. Increases join behind
  us. Order ids are ignored.

``SimOrder.ahead`` is the one count of shares ahead in both models (``SimOrder.behind_ids`` the L3 model's ids of
orders behind it); the exchange's read view shows it. A resync bounds it: what is ahead only leaves, and only
orders known to be behind us are behind, so the count can stay too high (fills come late), never too low.
"""

from __future__ import annotations

import enum
from typing import Protocol

from tapeflow.venues.sim.orders import SimOrder
from tapeflow.venues.sim.prob_queue import power_ahead_after_cancel

Fill = tuple[SimOrder, int]
"""One of our resting orders and the shares of it a trade reached."""


class QueueModel(enum.Enum):
    FRONT = "FRONT"
    BACK = "BACK"
    PROPORTIONAL = "PROPORTIONAL"
    POWER2 = "POWER2"
    """hftbacktest's power probability model, n = 2: cancels come more likely from the longer side of us."""
    POWER3 = "POWER3"
    """The same with n = 3 (``prob_queue``)."""

    def ahead_after_cancel(self, ahead: int, level_before: int, cancelled: int) -> int:
        """Shares still ahead of us after ``cancelled`` shares left a level of ``level_before`` (ours excluded)."""
        if cancelled <= 0 or ahead <= 0:
            return max(ahead, 0)
        if cancelled >= level_before:
            return 0
        if self is QueueModel.FRONT:
            return max(0, ahead - cancelled)
        if self is QueueModel.BACK:
            behind = max(0, level_before - ahead)
            return max(0, ahead - max(0, cancelled - behind))
        if self is QueueModel.POWER2:
            return power_ahead_after_cancel(ahead, level_before, cancelled, 2)
        if self is QueueModel.POWER3:
            return power_ahead_after_cancel(ahead, level_before, cancelled, 3)
        # PROPORTIONAL: floor keeps it integer and deterministic; it never moves us past shares still there
        return ahead - (cancelled * ahead) // level_before


class QueuePosition(Protocol):
    """Shares ahead of our resting orders at one price, and what of a trade reaches them (see the module)."""

    def on_new_order(self, order: SimOrder, level_size: int) -> None: ...

    def on_trade(
        self, own: list[SimOrder], size: int, order_id: int | None = None, order_gone: bool = False
    ) -> list[Fill]: ...

    def on_depth_change(
        self, own: list[SimOrder], before: int, after: int, order_id: int | None = None, order_gone: bool = False
    ) -> None: ...

    def on_resync(self, own: list[SimOrder], level_size: int, there: dict[int, int]) -> None: ...


def queue_for(level: str, model: QueueModel) -> QueuePosition:
    """The exact model where the feed names orders (L3), else the L2 estimate under ``model``."""
    return L3Queue() if level == "L3" else L2Queue(model)


def from_front(own: list[SimOrder], size: int) -> list[Fill]:
    """``size`` shares trade from the front: market shares ahead go first, then ours (one budget, FIFO)."""
    fills: list[Fill] = []
    market_taken = 0
    budget = size
    for order in own:
        take_market = min(max(0, order.ahead - market_taken), budget)
        market_taken += take_market
        budget -= take_market
        if budget <= 0:
            break
        take = min(order.remaining, budget)
        budget -= take
        fills.append((order, take))
    for order in own:
        order.ahead = max(0, order.ahead - market_taken)
    return fills


class L2Queue:
    """The level's size and a cancellation model: the estimate a market-by-price feed allows."""

    __slots__ = ("model",)

    def __init__(self, model: QueueModel) -> None:
        self.model = model

    def on_new_order(self, order: SimOrder, level_size: int) -> None:
        order.ahead = level_size
        order.behind_ids = set()

    def on_trade(
        self, own: list[SimOrder], size: int, order_id: int | None = None, order_gone: bool = False
    ) -> list[Fill]:
        return from_front(own, size)

    def on_depth_change(
        self, own: list[SimOrder], before: int, after: int, order_id: int | None = None, order_gone: bool = False
    ) -> None:
        if after == 0:
            for order in own:
                order.ahead = 0
            return
        if after >= before:
            return
        cancelled = before - after
        for order in own:
            order.ahead = self.model.ahead_after_cancel(order.ahead, before, cancelled)

    def on_resync(self, own: list[SimOrder], level_size: int, there: dict[int, int]) -> None:
        for order in own:  # no ids: nothing is known to be behind us
            order.ahead = max(0, min(order.ahead, level_size))


class L3Queue:
    """Order ids: who joined after us is behind us, everyone else still counted ahead is ahead."""

    __slots__ = ()

    def on_new_order(self, order: SimOrder, level_size: int) -> None:
        order.ahead = level_size
        order.behind_ids = set()

    def on_trade(
        self, own: list[SimOrder], size: int, order_id: int | None = None, order_gone: bool = False
    ) -> list[Fill]:
        if order_id is None:
            return from_front(own, size)
        # the seller reached an order that queued after these of ours: it met them first, each after the shares
        # still counted ahead of it (none, on a FIFO tape whose every departure we saw), as a print does in L2
        behind = [o for o in own if order_id in o.behind_ids]
        for order in own:
            if order_id not in order.behind_ids:
                order.ahead = max(0, order.ahead - size)
            elif order_gone:
                order.behind_ids.discard(order_id)  # traded out: it cannot come back
        return from_front(behind, size) if behind else []

    def on_depth_change(
        self, own: list[SimOrder], before: int, after: int, order_id: int | None = None, order_gone: bool = False
    ) -> None:
        if after > before:
            if order_id is not None:
                for order in own:
                    order.behind_ids.add(order_id)
            return
        gone = before - after
        for order in own:
            if order_id is not None and order_id in order.behind_ids:
                if order_gone:
                    order.behind_ids.discard(order_id)
            else:
                order.ahead = max(0, order.ahead - gone)

    def on_resync(self, own: list[SimOrder], level_size: int, there: dict[int, int]) -> None:
        # nothing at the level but the orders we know joined behind us can be behind us
        for order in own:
            behind = {oid: size for oid, size in there.items() if oid in order.behind_ids}
            order.behind_ids = set(behind)
            order.ahead = max(0, min(order.ahead, level_size - sum(behind.values())))
