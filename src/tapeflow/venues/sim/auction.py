"""Opening and closing auction orders (OPG, CLS): held off the book and filled at the tape's own auction print.

We do not simulate the auction's price discovery (we have no imbalance feed); we take the cross the tape
printed and let our held orders join it. The model, and why:

- The **opening cross** is the first ``Trade`` of the symbol carrying ``OPENING_PRINT``, the **closing cross** the
  first carrying ``CLOSING_PRINT`` (AlgoSeek/TAQ sale conditions). ``OFFICIAL_OPEN``/``OFFICIAL_CLOSE`` are not
  used: on the tape they are later re-reports of a price (often a few hundred shares on another exchange), not
  the cross itself. The first such print may be another exchange's smaller cross before the listing exchange's;
  we take it anyway, because a streaming venue cannot wait to see which one was largest. LOBSTER/ITCH crosses
  (condition ``"cross"``) are not treated as auctions yet: their time decides open vs close, not their flags.
- At the cross, held orders of that kind fill oldest first at the print price, a market order always, a limit
  only if it allows the price, for at most the printed size in total; what the print cannot cover is cancelled.
  The fee model has no auction rate, so auction fills are TAKER (they removed liquidity from the cross).
- OPG orders must reach the exchange before the session opens (a later one is refused as too late); one still
  held 15 minutes after the open is cancelled (no opening cross on the tape). CLS orders must arrive before the
  close; one still held 5 minutes after it is cancelled (TAQ stamps the closing prints a few seconds *after*
  16:00, so the deadline cannot be the close itself).

Hot path: a print of a symbol with no held auction order costs one dictionary miss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from tapeflow.model.enums import LiquiditySide, OrderType, TimeInForce
from tapeflow.model.market import Trade
from tapeflow.model.orders import SubmitOrder
from tapeflow.model.sessions import Session
from tapeflow.venues.sim.bar_fills import CancelFn, FillFn
from tapeflow.venues.sim.latency import OrderAction
from tapeflow.venues.sim.orders import SimOrder

OPENING: Final = frozenset({"OPENING_PRINT"})
CLOSING: Final = frozenset({"CLOSING_PRINT"})
AUCTION_TIFS: Final = (TimeInForce.OPG, TimeInForce.CLS)
OPEN_GRACE_NS: Final = 15 * 60 * 1_000_000_000
CLOSE_GRACE_NS: Final = 5 * 60 * 1_000_000_000
_NO_CROSS: Final = {TimeInForce.OPG: "no opening cross on the tape", TimeInForce.CLS: "no closing cross on the tape"}


def auction_refusal(command: SubmitOrder, at: int, session_for: Callable[[int], Session]) -> str | None:
    """Why the exchange cannot take ``command`` (arriving at ``at``) as an auction order, or None (also for any
    other time in force)."""
    if command.time_in_force not in AUCTION_TIFS:
        return None
    session = session_for(at)
    if command.order_type not in (OrderType.MARKET, OrderType.LIMIT):
        return f"{command.time_in_force.value} orders must be market or limit, not {command.order_type.value}"
    if command.time_in_force is TimeInForce.OPG and at >= session.open:
        return "OPG order arrived after the open: too late for the opening auction"
    if command.time_in_force is TimeInForce.CLS and at >= session.close:
        return "CLS order arrived after the close: too late for the closing auction"
    return None


def auction_deadline(tif: TimeInForce, session: Session) -> int:
    """When a still-held order of ``tif`` is given up (ns): see the module docstring."""
    return session.open + OPEN_GRACE_NS if tif is TimeInForce.OPG else session.close + CLOSE_GRACE_NS


class Auctions:
    """The held auction orders by symbol (a symbol is absent when none is held) and their deadlines."""

    __slots__ = ("_cancel", "_deadlines", "_fill", "held")

    def __init__(self, fill: FillFn, cancel: CancelFn) -> None:
        self._fill = fill
        self._cancel = cancel
        self.held: dict[str, list[SimOrder]] = {}
        self._deadlines: dict[str, int] = {}

    def hold(self, order: SimOrder, session: Session) -> int:
        """Holds ``order`` for its cross in ``session``; returns the deadline (ns) the exchange must wake up for."""
        deadline = auction_deadline(order.time_in_force, session)
        self.held.setdefault(order.symbol, []).append(order)
        self._deadlines[order.client_order_id] = deadline
        return deadline

    def discard(self, order: SimOrder) -> bool:
        """Take a closing order out; False if it was not held."""
        held = self.held.get(order.symbol)
        if not held or order not in held:
            return False
        self._drop(held, order)
        return True

    def _drop(self, held: list[SimOrder], order: SimOrder) -> None:
        held.remove(order)
        self._deadlines.pop(order.client_order_id, None)
        if not held:
            del self.held[order.symbol]

    def on_trade(self, trade: Trade) -> None:
        """A print: if it is the cross an auction order of its symbol waits for, the orders join it."""
        held = self.held.get(trade.symbol)
        if held is None:
            return
        if not OPENING.isdisjoint(trade.conditions):
            self._cross(held, TimeInForce.OPG, trade)
        elif not CLOSING.isdisjoint(trade.conditions):
            self._cross(held, TimeInForce.CLS, trade)

    def _cross(self, held: list[SimOrder], tif: TimeInForce, trade: Trade) -> None:
        budget = trade.size
        at = trade.ts_event
        for order in [o for o in held if o.time_in_force is tif]:
            self._drop(held, order)
            if order.order_type is OrderType.LIMIT and not order.crosses(trade.price):
                self._cancel(order, at, OrderAction.INSERT, f"limit does not allow the {tif.value} cross price")
                continue
            qty = min(order.remaining, budget)
            if qty > 0:
                budget -= qty
                self._fill(order, trade.price, qty, LiquiditySide.TAKER, at, OrderAction.INSERT)
            if order.remaining > 0:
                self._cancel(order, at, OrderAction.INSERT, f"the {tif.value} cross printed too few shares")

    def expire(self, deadline: int) -> None:
        """The deadline passed: every order still held for it is cancelled (its cross never printed)."""
        due = [o for held in self.held.values() for o in held if self._deadlines.get(o.client_order_id) == deadline]
        for order in due:
            self._drop(self.held[order.symbol], order)
            self._cancel(order, deadline, OrderAction.CANCEL, _NO_CROSS[order.time_in_force])
