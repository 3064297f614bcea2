"""Order commands (strategy -> risk -> venue) and order reports (venue -> strategy).

Commands say what a strategy wants; reports say what a venue did with it. Every command extends ``OrderCommand``
and every venue report ``OrderReport``, so a component that wants all of one kind subscribes to the base (the
kernel resolves subscriptions by subclass once per event type, so this costs nothing per event) and a new command
or report reaches it without editing a list. Every command and report names the strategy, the client order id and
the symbol, so that the audit trail can tie each fill back to the decision that caused it. ``RiskRejected``,
``ContingentUpdate`` and ``CancelSent`` carry the same three fields but are neither: no venue sent them.

The three shared fields are declared on the bases, which puts them right after ``ts_event`` and ``ts_init``: the
position every member declared them at before the bases existed, so the array encoding of stored tapes and audit
trails is unchanged (``tests/model/test_orders.py`` pins the bytes). Members add fields after them, and a base
never gets another field: every member's later fields would move.
"""

from __future__ import annotations

from typing import ClassVar

from tapeflow.model.enums import LiquiditySide, OrderType, Side, TimeInForce
from tapeflow.model.events import Event, Money, NonNegQty, PriceUnits, Qty, Symbol
from tapeflow.model.prices import NO_PRICE


class OrderCommand(Event, frozen=True, kw_only=True):
    """What a strategy asks of a venue (through risk): subscribe here to see every submit, modify and cancel.

    A group of event types, never sent itself (``__event_group__``: the codec neither encodes nor decodes it)."""

    __event_group__: ClassVar[bool] = True
    strategy_id: str
    client_order_id: str
    symbol: Symbol


class OrderReport(Event, frozen=True, kw_only=True):
    """What a venue did with one of our orders or requests: subscribe here to see every report of every venue.

    A group of event types, never sent itself (``__event_group__``: the codec neither encodes nor decodes it)."""

    __event_group__: ClassVar[bool] = True
    strategy_id: str
    client_order_id: str
    symbol: Symbol


class SubmitOrder(OrderCommand, frozen=True, kw_only=True):
    """A new order. ``price`` is the limit (``NO_PRICE`` for MARKET and STOP), ``stop_price`` the trigger."""

    side: Side
    order_type: OrderType
    quantity: Qty
    price: PriceUnits = NO_PRICE
    stop_price: PriceUnits = NO_PRICE
    time_in_force: TimeInForce = TimeInForce.DAY
    venue: str = ""
    reason: str = ""
    """Why the strategy sent it, in words; the Signal that led to it is in the audit trail."""


class CancelOrder(OrderCommand, frozen=True, kw_only=True):
    """Stop a working order; whatever is unfilled is reported cancelled (or the cancel is rejected)."""


class CancelSent(Event, frozen=True, kw_only=True):
    """A venue adapter that only queues what ``send`` hands it (a network adapter's REST thread) says that the
    cancel of ``client_order_id`` is leaving for the venue now: until then the venue could not have answered it.

    Neither a command nor a report (the venue said nothing yet), so the execution engine's transition table never
    sees it; the kill switch's chase starts its wait for the venue's answer here (``tapeflow.risk.kill_cancels``)."""

    strategy_id: str
    client_order_id: str
    symbol: Symbol
    venue: str = ""


class ModifyOrder(OrderCommand, frozen=True, kw_only=True):
    """Change quantity or prices of a working order. Raising the size or changing the price loses priority."""

    quantity: Qty
    price: PriceUnits = NO_PRICE
    stop_price: PriceUnits = NO_PRICE


class OrderAccepted(OrderReport, frozen=True, kw_only=True):
    """The venue took the order; ``venue_order_id`` is its name for it there."""

    venue_order_id: str = ""
    venue: str = ""


class OrderRejected(OrderReport, frozen=True, kw_only=True):
    """The venue refused the order (bad tick, halted, unknown order); ``reason`` says which and why."""

    reason: str
    venue: str = ""


class OrderFilled(OrderReport, frozen=True, kw_only=True):
    """A (partial) fill. ``fee`` is the total of all fee components in 1/10,000 dollar; negative for a rebate."""

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
    queue_ahead_at_arrival: int = -1
    """Market shares ahead of the order in its price level's queue when it came to rest there, as the venue counted
    them (the simulated exchange's queue model, exact on L3 data; our own earlier orders there are not counted:
    they are not on the tape); -1 when unknown: a taker fill, a venue that does not say (a real broker), or no
    book to queue in (bar data). The tear sheet prefers it to its estimate from the displayed size."""


class OrderCancelled(OrderReport, frozen=True, kw_only=True):
    """The order is no longer working; ``cancelled_quantity`` shares were never filled."""

    cancelled_quantity: NonNegQty = 0
    reason: str = ""
    venue: str = ""


class OrderExpired(OrderReport, frozen=True, kw_only=True):
    """A DAY (or OPG/CLS) order reached the end of its life unfilled."""

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


class OrderUpdated(OrderReport, frozen=True, kw_only=True):
    """The venue applied a ``ModifyOrder``; ``quantity`` is the new total, ``priority_lost`` says whether the
    order went to the back of its queue (a price change or a size increase)."""

    quantity: Qty
    price: PriceUnits = NO_PRICE
    stop_price: PriceUnits = NO_PRICE
    priority_lost: bool = False
    venue: str = ""


class CancelRejected(OrderReport, frozen=True, kw_only=True):
    """A ``CancelOrder`` could not be applied (unknown order, already filled or cancelled); the order is unchanged."""

    reason: str
    venue: str = ""


class ModifyRejected(OrderReport, frozen=True, kw_only=True):
    """A ``ModifyOrder`` could not be applied; the order keeps working as it was."""

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
