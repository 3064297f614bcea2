"""Events of the compliance layer: self-trade prevention decisions and market context for surveillance.

They are recorded in the audit trail like every order event, so that a reviewer sees why an order was refused or
a resting order cancelled by the firm rather than by the strategy that owned it.
"""

from __future__ import annotations

from tapeflow.model.enums import Side
from tapeflow.model.events import Event, NonNegQty, PriceUnits, Qty, Symbol, TimestampNs


class SelfTradePrevented(Event, frozen=True, kw_only=True):
    """An incoming order would have executed against one of the firm's own resting orders.

    ``action`` says what the gate did to each side under ``mode`` (cancel newest, cancel oldest, cancel both,
    decrement): ``incoming_quantity_after`` is what went on to the venue (0: the incoming order was refused) and
    ``resting_quantity_after`` what the resting order kept (0: it was cancelled).
    """

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    side: Side
    mode: str
    action: str
    resting_strategy_id: str
    resting_order_id: str
    resting_price: PriceUnits
    incoming_price: PriceUnits
    incoming_quantity_before: Qty
    incoming_quantity_after: NonNegQty
    resting_quantity_before: Qty
    resting_quantity_after: NonNegQty
    reason: str


class CloseWindowVolume(Event, frozen=True, kw_only=True):
    """Market prints of one symbol in the last minutes before one day's close, for marking-the-close review.

    ``reference_price`` is the last print before the window (``NO_PRICE`` if none), ``last_price`` the last print
    in it: how far the closing price moved, and against ``volume``, how much trading it took.
    """

    symbol: Symbol
    session_date: str
    window_start: TimestampNs
    close: TimestampNs
    volume: NonNegQty
    trades: NonNegQty
    reference_price: PriceUnits
    last_price: PriceUnits
