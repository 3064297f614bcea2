"""Order commands (strategy -> risk -> venue) and order events (venue -> strategy).

Commands say what a strategy wants; events say what happened. Every command and event names the strategy and the
client order id, so that the audit trail can tie each fill back to the decision that caused it.
"""

from __future__ import annotations

from tapeflow.model.enums import LiquiditySide, OrderType, Side, TimeInForce
from tapeflow.model.events import Event, Money, NonNegQty, PriceUnits, Qty, Symbol
from tapeflow.model.prices import NO_PRICE


class SubmitOrder(Event, frozen=True, kw_only=True):
    """A new order. ``price`` is the limit (``NO_PRICE`` for MARKET and STOP), ``stop_price`` the trigger."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    side: Side
    order_type: OrderType
    quantity: Qty
    price: PriceUnits = NO_PRICE
    stop_price: PriceUnits = NO_PRICE
    time_in_force: TimeInForce = TimeInForce.DAY
    venue: str = ""
    reason: str = ""
    """Why the strategy sent it, in words; the Signal that led to it is in the audit trail."""


class CancelOrder(Event, frozen=True, kw_only=True):
    strategy_id: str
    client_order_id: str
    symbol: Symbol


class ModifyOrder(Event, frozen=True, kw_only=True):
    """Change quantity or prices of a working order. Raising the size or changing the price loses priority."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    quantity: Qty
    price: PriceUnits = NO_PRICE
    stop_price: PriceUnits = NO_PRICE


class OrderAccepted(Event, frozen=True, kw_only=True):
    strategy_id: str
    client_order_id: str
    symbol: Symbol
    venue_order_id: str = ""
    venue: str = ""


class OrderRejected(Event, frozen=True, kw_only=True):
    """The venue refused the order (bad tick, halted, unknown order); ``reason`` says which and why."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    reason: str
    venue: str = ""


class OrderFilled(Event, frozen=True, kw_only=True):
    """A (partial) fill. ``fee`` is the total of all fee components in 1/10,000 dollar; negative for a rebate."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    side: Side
    price: PriceUnits
    quantity: Qty
    leaves_quantity: NonNegQty
    liquidity_side: LiquiditySide
    fee: Money = 0
    trade_id: str = ""
    venue_order_id: str = ""
    venue: str = ""
    fee_components: dict[str, int] = {}  # noqa: RUF012 - msgspec gives each instance its own empty dict
    """The parts of ``fee`` by name (sec_fee, finra_taf, exchange, commission); zero parts are left out."""


class OrderCancelled(Event, frozen=True, kw_only=True):
    """The order is no longer working; ``cancelled_quantity`` shares were never filled."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    cancelled_quantity: NonNegQty = 0
    reason: str = ""
    venue: str = ""


class OrderExpired(Event, frozen=True, kw_only=True):
    """A DAY (or OPG/CLS) order reached the end of its life unfilled."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    expired_quantity: NonNegQty = 0
    venue: str = ""


class RiskRejected(Event, frozen=True, kw_only=True):
    """The risk engine stopped an order before it reached a venue.

    ``limit`` and ``value`` are what was configured and what the order would have made it: the pair a compliance
    officer asks for first.
    """

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    stage: str
    rule: str
    reason: str
    limit: int | float | str | None = None
    value: int | float | str | None = None


class OrderUpdated(Event, frozen=True, kw_only=True):
    """The venue applied a ``ModifyOrder``; ``quantity`` is the new total, ``priority_lost`` says whether the
    order went to the back of its queue (a price change or a size increase)."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    quantity: Qty
    price: PriceUnits = NO_PRICE
    stop_price: PriceUnits = NO_PRICE
    priority_lost: bool = False
    venue: str = ""


class CancelRejected(Event, frozen=True, kw_only=True):
    """A ``CancelOrder`` could not be applied (unknown order, already filled or cancelled); the order is unchanged."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    reason: str
    venue: str = ""


class ModifyRejected(Event, frozen=True, kw_only=True):
    """A ``ModifyOrder`` could not be applied; the order keeps working as it was."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    reason: str
    venue: str = ""


class ContingentUpdate(Event, frozen=True, kw_only=True):
    """An order held by the strategy-side order emulator (a stop-loss, a trailing stop) changed state.

    Such an order is not at a venue until it triggers, so no venue reports on it: this event does, for the
    strategy and the audit trail. ``status`` is ``ARMED`` (held, watching the market), ``UPDATED`` (the strategy
    changed its size or stop), ``TRIGGERED`` (its stop was reached; a market order follows through risk, after the
    sibling's cancel when there is one) or ``CANCELLED`` (``reason`` says why: the sibling filled, the entry ended
    unfilled, the strategy cancelled it).
    ``group_id`` is the client order id that ties a bracket or OCO together (the entry, or the first leg).
    """

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    status: str
    quantity: NonNegQty = 0
    stop_price: PriceUnits = NO_PRICE
    group_id: str = ""
    reason: str = ""
