"""What the node has been told about each of its Alpaca orders, so that every report reaches it exactly once.

The same fact reaches the adapter by up to three roads: the ``trade_updates`` stream (possibly twice, possibly out
of order), the answer to our own REST request, and a reconciliation's ``GET /v2/orders``. Each road hands what it
saw here, as the venue's record of the order (``WireOrder``), and the ledger posts to the node only what the node
has not heard yet, under one lock, in the order it applied it:

- fills are keyed by the order's cumulative filled quantity: a record showing ``filled_qty`` no larger than what
  was already applied is a duplicate (counted, dropped); a larger one is the missing shares, applied once.
- a fill's price is the execution's own when the stream gives it for exactly the missing shares. Otherwise (a fill
  learned only from REST, or updates that overtook each other) the missing notional is derived from the
  cumulative quantity and ``filled_avg_price`` in ``Decimal``: ``avg x cum`` minus what was already applied. When
  that notional is a whole number of 1/10,000 dollar (always, unless the venue rounded its average) the fills
  posted carry it exactly, split in at most two fills at adjacent prices if it does not divide evenly by the
  shares. When the venue's average was rounded, the notional is rounded to the nearest unit and the fill's
  ``trade_id`` ends in ``~inexact``, the one case where our cost may differ from the venue's by under a unit.
- acceptance, cancels, expiries, rejects and replacements are posted once per order (replacements once per record).

Our orders are named by client order id (Alpaca's records by their own ids: a replace makes a new record); a record
whose client order id is not ours, nor a replacement of ours, is ``None`` to ``link``: the callers decide whether
that is a disagreement (the reconciliation says it is).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN
from typing import Final

from tapeflow.engine.inbox import InboxLike
from tapeflow.live.order_wire import FILL_EVENTS, WireOrder, WireUpdate, base_client_id
from tapeflow.model.enums import LiquiditySide, Side
from tapeflow.model.events import Event
from tapeflow.model.orders import (
    CancelRejected,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReport,
    OrderUpdated,
    SubmitOrder,
)
from tapeflow.model.prices import NO_PRICE, PRICE_SCALE
from tapeflow.model.venue_state import VenueOrder

INEXACT: Final = "~inexact"
_NOT_ACCEPTED: Final = frozenset({"pending_new", "rejected"})


def _says_accepted(wire: WireOrder) -> bool:
    """Whether the record shows the venue took the order. ``pending_cancel`` alone does not: a cancel asked before
    the venue's acknowledgement leaves the record ``pending_cancel`` too (Alpaca shows no earlier status), and such
    an order may still be rejected on arrival, a report the node refuses for an order it holds accepted (seen under
    load: a restarted node kept an earlier run's order open that the venue had rejected). With shares filled, it
    was taken. Alpaca's ``accepted`` (received, not yet routed) counts as taken, though Alpaca may still move it to
    ``rejected`` (asynchronously: alpacahq/Alpaca-API#107): the node's transition table closes an accepted order on
    that reject (``tapeflow.execution.orders``)."""
    if wire.status == "pending_cancel":
        return wire.filled_qty > 0
    return wire.status not in _NOT_ACCEPTED


@dataclass(slots=True)
class Tracked:
    """One of our orders as the node has been told: what was applied, so nothing is applied twice."""

    strategy_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: int
    venue_order_id: str = ""
    accepted: bool = False
    filled: int = 0
    notional: int = 0
    """Price units x shares applied so far: exact, the numerator of our average price."""
    done: bool = False
    replacements: int = 0
    records: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Applied:
    """What one observation changed (the reconciliation adds these up)."""

    fills: int = 0
    ends: int = 0
    duplicates: int = 0
    ask_venue: bool = False
    """The update named a change it does not describe (a "replaced" carrying the old record, not its
    replacement): only a reconciliation can read the new record."""


class OrderLedger:
    """The reports of one venue's orders, deduplicated, posted to ``inbox`` (the node's); ``clock`` stamps ts_init."""

    def __init__(self, venue: str, inbox: InboxLike, *, clock: Callable[[], int]) -> None:
        self.venue = venue
        self._inbox = inbox
        self._clock = clock
        self._lock = threading.RLock()
        self._orders: dict[str, Tracked] = {}
        self._by_record: dict[str, str] = {}
        self._answers: set[tuple[str, str, int]] = set()
        self.positions: dict[str, int] = {}
        """Net shares per symbol: the venue's at start plus every fill applied since (what fills explain)."""
        self.duplicates = 0
        """Observations that told the node nothing new (a duplicated update, a fill seen on both roads)."""
        self.inexact_fills = 0
        self.posted = 0
        """Reports posted to the node."""

    # -- what we sent or took over ------------------------------------------------------------------------------

    def sent(self, command: SubmitOrder) -> None:
        with self._lock:
            self._orders[command.client_order_id] = Tracked(
                command.strategy_id, command.client_order_id, command.symbol, command.side, command.quantity
            )

    def restored(self, order: VenueOrder) -> None:
        """An order of an earlier run still open at the venue, which the node takes over (``LiveNode.restore``)."""
        with self._lock:
            tracked = Tracked(
                order.strategy_id,
                order.client_order_id,
                order.symbol,
                order.side,
                order.quantity,
                venue_order_id=order.venue_order_id,
                accepted=order.accepted,
                filled=order.filled_quantity,
                notional=order.filled_notional,
            )
            tracked.records.add(order.venue_order_id)
            self._orders[order.client_order_id] = tracked
            self._by_record[order.venue_order_id] = order.client_order_id

    def set_position(self, symbol: str, quantity: int) -> None:
        with self._lock:
            self.positions[symbol] = quantity

    # -- lookups ----------------------------------------------------------------------------------------------

    def tracked(self, client_order_id: str) -> Tracked | None:
        with self._lock:
            return self._orders.get(client_order_id)

    def venue_order_id(self, client_order_id: str) -> str:
        """The Alpaca id of our order's current record ("" when the venue has not named it yet)."""
        with self._lock:
            tracked = self._orders.get(client_order_id)
            return tracked.venue_order_id if tracked is not None else ""

    def next_replacement(self, client_order_id: str) -> int:
        with self._lock:
            tracked = self._orders[client_order_id]
            tracked.replacements += 1
            return tracked.replacements

    def open_count(self) -> int:
        with self._lock:
            return sum(1 for t in self._orders.values() if not t.done)

    def link(self, wire: WireOrder) -> Tracked | None:
        """Our order behind the record ``wire`` (registering the record's id), or None when it is not ours."""
        with self._lock:
            cid = self._by_record.get(wire.id)
            if cid is None:
                cid = base_client_id(wire.client_order_id)
                if cid not in self._orders:
                    return None
                self._by_record[wire.id] = cid
            tracked = self._orders[cid]
            tracked.records.add(wire.id)
            if not tracked.venue_order_id and wire.replaces is None:
                tracked.venue_order_id = wire.id
            return tracked

    # -- observations -----------------------------------------------------------------------------------------

    def post(self, event: Event) -> None:
        """A report that needs no deduplication (the answer to our own request, a refusal); a reject ends it."""
        with self._lock:
            if isinstance(event, OrderRejected):
                tracked = self._orders.get(event.client_order_id)
                if tracked is not None:
                    if tracked.done:
                        return
                    tracked.done = True
            self._inbox.put(event)

    def apply_update(self, update: WireUpdate) -> Applied | None:
        """A ``trade_updates`` message; None when the order is not ours."""
        with self._lock:
            tracked = self.link(update.order)
            if tracked is None:
                return None
            applied = Applied()
            wire, ts = update.order, update.ts or self._clock()
            if update.event in ("order_replace_rejected", "order_cancel_rejected"):
                key = (update.event, wire.id, ts)
                if key in self._answers:
                    applied.duplicates += 1
                    self.duplicates += 1
                    return applied
                self._answers.add(key)
                kind = ModifyRejected if update.event == "order_replace_rejected" else CancelRejected
                self._inbox.put(
                    kind(
                        ts_event=ts,
                        ts_init=self._clock(),
                        strategy_id=tracked.strategy_id,
                        client_order_id=tracked.client_order_id,
                        symbol=tracked.symbol,
                        reason=f"the venue refused it ({update.event})",
                        venue=self.venue,
                    )
                )
                return applied
            if update.event == "replaced" and wire.status == "replaced":
                applied.ask_venue = True  # the old record: the replacement's terms are not in this update
                return applied
            if update.event in FILL_EVENTS:
                self._observe(
                    tracked, wire, ts, applied, price=update.price, qty=update.qty, exec_id=update.execution_id
                )
            else:
                self._observe(tracked, wire, ts, applied, replaced=update.event == "replaced")
            return applied

    def apply_record(self, wire: WireOrder, *, fills: bool = True) -> Applied | None:
        """A record read over REST (our request's answer, a reconciliation); ``fills`` False applies only its
        acceptance and id (an answer's fills are left to the stream, which prices each execution exactly)."""
        with self._lock:
            tracked = self.link(wire)
            if tracked is None:
                return None
            applied = Applied()
            ts = self._clock()
            if not fills:
                self._accept(tracked, wire, ts)
                return applied
            self._observe(tracked, wire, ts, applied, replaced=wire.replaces is not None)
            return applied

    def _observe(
        self,
        tracked: Tracked,
        wire: WireOrder,
        ts: int,
        applied: Applied,
        *,
        price: int = NO_PRICE,
        qty: int = 0,
        exec_id: str = "",
        replaced: bool = False,
    ) -> None:
        before = self.posted
        if wire.replaces is not None and wire.status == "rejected":
            return  # a replacement the venue refused: the original works on (its replace_rejected says so)
        self._accept(tracked, wire, ts)
        if replaced and wire.status not in _NOT_ACCEPTED and tracked.venue_order_id != wire.id:
            tracked.venue_order_id = wire.id
            tracked.quantity = wire.qty
            self._put(
                OrderUpdated,
                tracked,
                ts,
                quantity=wire.qty,
                price=wire.limit_price,
                stop_price=wire.stop_price,
                priority_lost=True,
            )
        if wire.filled_qty > tracked.filled:
            self._fill(tracked, wire, ts, applied, price, qty, exec_id)
        if not tracked.done and wire.id == tracked.venue_order_id:
            self._end(tracked, wire, ts, applied)
        if self.posted == before:
            applied.duplicates += 1
            self.duplicates += 1

    def _accept(self, tracked: Tracked, wire: WireOrder, ts: int) -> None:
        if tracked.accepted or not _says_accepted(wire) or wire.replaces is not None:
            return
        tracked.accepted = True
        tracked.venue_order_id = tracked.venue_order_id or wire.id
        self._put(OrderAccepted, tracked, ts, venue_order_id=wire.id)

    def _end(self, tracked: Tracked, wire: WireOrder, ts: int, applied: Applied) -> None:
        left = max(wire.qty - wire.filled_qty, 0)
        if wire.status == "canceled":
            self._put(OrderCancelled, tracked, ts, cancelled_quantity=left)
        elif wire.status == "expired":
            self._put(OrderExpired, tracked, ts, expired_quantity=left)
        elif wire.status == "rejected":
            self._put(OrderRejected, tracked, ts, reason="rejected by the venue")
        elif wire.status != "filled":
            return
        tracked.done = True
        if wire.status != "filled":
            applied.ends += 1

    def _fill(
        self, tracked: Tracked, wire: WireOrder, ts: int, applied: Applied, price: int, qty: int, exec_id: str
    ) -> None:
        missing = wire.filled_qty - tracked.filled
        if price != NO_PRICE and qty == missing:
            parts = [(missing, price)]
            tag = exec_id or f"{wire.id}:{wire.filled_qty}"
        else:
            avg = wire.filled_avg_price
            if avg is None:
                return  # shares without a price: nothing we could apply exactly; a later record will carry it
            total = avg * wire.filled_qty * PRICE_SCALE
            exact = total == total.to_integral_value()
            notional = int(total.to_integral_value(rounding=ROUND_HALF_EVEN)) - tracked.notional
            if notional <= 0:
                return
            low, extra = divmod(notional, missing)  # `extra` shares one unit dearer: the notional is exact
            parts = [(missing - extra, low), (extra, low + 1)] if extra else [(missing, low)]
            tag = f"{wire.id}:{wire.filled_qty}" + ("" if exact else INEXACT)
            if not exact:
                self.inexact_fills += 1
        sign = tracked.side.sign
        for shares, px in parts:
            if shares <= 0:
                continue
            tracked.filled += shares
            tracked.notional += shares * px
            self.positions[tracked.symbol] = self.positions.get(tracked.symbol, 0) + sign * shares
            self._put(
                OrderFilled,
                tracked,
                ts,
                side=tracked.side,
                price=px,
                quantity=shares,
                leaves_quantity=max(wire.qty - tracked.filled, 0),
                liquidity_side=LiquiditySide.TAKER,
                trade_id=tag,
                venue_order_id=wire.id,
            )
            applied.fills += 1

    def _put(self, kind: type[OrderReport], tracked: Tracked, ts: int, **fields: object) -> None:
        event = kind(
            ts_event=ts,
            ts_init=max(self._clock(), ts),
            strategy_id=tracked.strategy_id,
            client_order_id=tracked.client_order_id,
            symbol=tracked.symbol,
            **{"venue": self.venue, **fields},  # every report type here has a venue field
        )
        self._inbox.put(event)
        self.posted += 1


def venue_order(wire: WireOrder, strategy_id: str, client_order_id: str) -> VenueOrder:
    """A record still open at the venue as ``VenueState`` wants it (its filled notional as the ledger derives it:
    exact unless the venue rounded its average, then to the nearest unit)."""
    notional = 0
    if wire.filled_qty and wire.filled_avg_price is not None:
        total = wire.filled_avg_price * wire.filled_qty * PRICE_SCALE
        notional = int(total.to_integral_value(rounding=ROUND_HALF_EVEN))
    return VenueOrder(
        strategy_id=strategy_id,
        client_order_id=client_order_id,
        symbol=wire.symbol,
        side=wire.side,
        order_type=wire.order_type,
        quantity=wire.qty,
        filled_quantity=wire.filled_qty,
        filled_notional=notional,
        price=wire.limit_price,
        stop_price=wire.stop_price,
        time_in_force=wire.time_in_force,
        venue_order_id=wire.id,
        ts_submitted=wire.created_at,
        accepted=_says_accepted(wire),
    )
