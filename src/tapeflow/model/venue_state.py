"""What a venue says we hold there: open orders, positions and cash, for a node that starts again.

A node that restarts in the middle of a session does not replay the day: it asks each venue for its state and
hands it to ``ExecutionEngine.restore`` (the open orders become known again, so a cancel routes to the venue and a
later fill applies) and ``Portfolio.restore`` (positions and cash match the venue's). Values follow the model's
conventions: prices int 1/10,000 dollar, quantities int shares, money int 1/10,000 dollar.
"""

from __future__ import annotations

import msgspec

from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.events import Money, NonNegQty, PriceUnits, Qty, Symbol, TimestampNs
from tapeflow.model.prices import NO_PRICE


class VenueOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One of our orders still working at the venue, as the venue reports it."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    side: Side
    order_type: OrderType
    quantity: Qty
    """The order's total size (filled part included)."""
    filled_quantity: NonNegQty = 0
    filled_notional: int = 0
    """Sum of price x quantity over its fills so far (price units x shares), 0 when nothing filled."""
    price: PriceUnits = NO_PRICE
    stop_price: PriceUnits = NO_PRICE
    time_in_force: TimeInForce = TimeInForce.DAY
    venue_order_id: str = ""
    ts_submitted: TimestampNs = 0
    accepted: bool = True
    """False while the venue holds the order without having accepted it (Alpaca's ``pending_new``): it may still
    be rejected, so a restored node must not take it for accepted (its reject would be refused as impossible)."""


class VenuePosition(msgspec.Struct, frozen=True, kw_only=True):
    """A netting position: signed shares and the exact total cost of the open shares (``quantity * avg price``)."""

    symbol: Symbol
    quantity: int
    cost_basis: Money
    """Signed sum of quantity x price of the open shares (negative for a short), exact: never an average."""


class VenueState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a venue knows about our account at ``ts``."""

    venue: str
    ts: TimestampNs
    cash: Money
    positions: tuple[VenuePosition, ...] = ()
    open_orders: tuple[VenueOrder, ...] = ()
