"""The Strategy base class: handlers for what happens, and a context to act through.

A strategy reacts to events (trades, quotes, book updates, bars, timers, its own order reports) and acts only by
putting commands and signals on the kernel queue. It never touches a venue, the risk engine or another component
directly, which is why the same class runs unchanged in a backtest and live: both wire the same context.

Override only the handlers you need: the base class subscribes a handler only when a subclass overrides it, so
an unused handler costs nothing per event.

Why this module is long: it is one class, the whole surface a strategy author reads (every handler and every action,
with the in-flight bookkeeping they share); what the node provides lives in ``strategy/context.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import msgspec

from tapeflow.execution.contingent import Leg, LegState, OrderEmulator
from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event, ModelUpdated, Prediction, Signal, TimerFired
from tapeflow.model.market import (
    Bar,
    BookDelta,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Quote,
    Trade,
)
from tapeflow.model.orders import (
    CancelOrder,
    CancelRejected,
    ContingentUpdate,
    ModifyOrder,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    RiskRejected,
    SubmitOrder,
)
from tapeflow.model.prices import NO_PRICE
from tapeflow.model.venue_events import VenueStatus
from tapeflow.strategy.context import Pending, TradingContext

if TYPE_CHECKING:
    from tapeflow.book.keeper import AnyBook
    from tapeflow.engine.kernel import Kernel
    from tapeflow.engine.timers import Timer
    from tapeflow.execution.orders import Order


_PRUNE_FLOOR = 64
# enum members bound once (a read through the class costs ~0.1 us on CPython 3.11; every order reads two, issue 19)
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_BUY = Side.BUY
_SELL = Side.SELL

_BOOK_EVENTS = (BookDelta, OrderAdded, OrderExecuted, OrderReduced, OrderDeleted, OrderReplaced)
_ORDER_REPORTS: dict[type[Event], str] = {
    OrderAccepted: "on_order_accepted",
    OrderRejected: "on_order_rejected",
    OrderFilled: "on_fill",
    OrderCancelled: "on_order_cancelled",
    OrderExpired: "on_order_expired",
    OrderUpdated: "on_order_updated",
    CancelRejected: "on_cancel_rejected",
    ModifyRejected: "on_modify_rejected",
    RiskRejected: "on_risk_rejected",
    ContingentUpdate: "on_contingent",
}


class BracketIds(NamedTuple):
    """Client order ids of a bracket's orders ("" for a child not asked for)."""

    entry: str
    take_profit: str
    stop_loss: str


class Strategy:
    """Subclass and override handlers. ``symbols`` limits market data to those symbols (None: all)."""

    Params: ClassVar[type[msgspec.Struct] | None] = None
    """The typed parameters a run configuration may pass (``[strategy] params``), as a msgspec Struct whose fields
    are constructor keywords: a configuration's table is converted into it, so a wrong type or an unknown name is
    refused naming the field before the strategy is built. Declare one with ``forbid_unknown_fields=True``."""

    def __init__(self, strategy_id: str, *, symbols: tuple[str, ...] | None = None) -> None:
        self.strategy_id = strategy_id
        self.symbols = frozenset(symbols) if symbols is not None else None
        self._ctx: TradingContext | None = None
        self._next_order = 0
        self._in_flight: dict[str, tuple[str, Side, int]] = {}
        """Orders sent but not yet seen by the order source (still on the queue or in risk): cid -> what."""
        self._prune_at = _PRUNE_FLOOR
        self.emulator = OrderEmulator(strategy_id, self.book)
        """Holds this strategy's bracket, OCO and trailing-stop orders (``tapeflow.execution.contingent``)."""
        self.last_signal: Signal | None = None
        self.quote_delivery = "push"
        """"push": ``on_quote`` for every quote; "pull": a ``QuotePoller`` hands it the latest quote every N ms."""

    # -- wiring (called by the assembly) ------------------------------------------------------------------------

    def bind(self, ctx: TradingContext) -> None:
        self._ctx = ctx

    @property
    def ctx(self) -> TradingContext:
        if self._ctx is None:
            raise RuntimeError(f"strategy {self.strategy_id!r} is not bound to a context; add it through an assembly")
        return self._ctx

    def attach(self, kernel: Kernel) -> None:
        if self._ctx is None:
            self._ctx = TradingContext(kernel)
        self.emulator.attach(kernel)  # before the report handlers below: children leave before the strategy hears
        market: list[tuple[tuple[type[Event], ...], str]] = [
            ((Trade,), "on_trade"),
            ((Quote,), "on_quote"),
            (_BOOK_EVENTS, "on_book"),
            ((Bar,), "on_bar"),
            ((Prediction,), "on_prediction"),
        ]
        for types, name in market:
            if name == "on_quote" and self.quote_delivery == "pull":
                continue
            if self._overrides(name):
                handler = getattr(self, name)
                if self.symbols is not None:
                    handler = self._only_my_symbols(handler)
                for t in types:
                    kernel.subscribe(t, handler)
        if self._overrides("on_timer"):
            prefix = f"{self.strategy_id}."
            on_timer = self.on_timer

            def my_timers(event: TimerFired) -> None:
                if event.name.startswith(prefix):
                    on_timer(event)

            kernel.subscribe(TimerFired, my_timers)
        if self._overrides("on_venue_status"):
            kernel.subscribe(VenueStatus, self.on_venue_status)
        if self._overrides("on_model_updated"):
            kernel.subscribe(ModelUpdated, self.on_model_updated)
        for report, name in _ORDER_REPORTS.items():
            if self._overrides(name) or self._overrides("on_order_event"):
                kernel.subscribe(report, self._mine(getattr(self, name)))
        sid = self.strategy_id
        in_flight = self._in_flight

        def forget_refused(event: RiskRejected) -> None:  # refused before any venue: it will never be an order
            if event.strategy_id == sid:
                in_flight.pop(event.client_order_id, None)

        kernel.subscribe(RiskRejected, forget_refused)

    def _overrides(self, name: str) -> bool:
        return getattr(type(self), name) is not getattr(Strategy, name)

    def _only_my_symbols(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        symbols = self.symbols
        assert symbols is not None

        def filtered(event: Any) -> None:
            if event.symbol in symbols:
                handler(event)

        return filtered

    def _mine(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        sid = self.strategy_id
        generic = self.on_order_event

        def route(event: Any) -> None:
            if event.strategy_id == sid:
                generic(event)
                handler(event)

        return route

    # -- handlers to override -----------------------------------------------------------------------------------

    def on_start(self) -> None:
        """Set timers and read the initial state here."""

    def on_stop(self) -> None:
        """Last chance to look at positions; orders can no longer be sent."""

    def on_trade(self, trade: Trade) -> None: ...

    def on_quote(self, quote: Quote) -> None: ...

    def on_book(self, event: Event) -> None:
        """A book update (L2 delta or L3 message) was applied: ``self.book(event.symbol)`` includes it."""

    def on_bar(self, bar: Bar) -> None: ...

    def on_timer(self, event: TimerFired) -> None: ...

    def on_prediction(self, p: Prediction) -> None:
        """The model in force predicted ``p.symbol``'s forward return (``tapeflow.ml.predictor``); ``p`` names the
        model, so a signal or order reason can say which one decided."""

    def on_model_updated(self, e: ModelUpdated) -> None:
        """A retrained model took effect (every model id: ``e.model_id`` says which); predictions from now on use
        it."""

    def on_order_event(self, event: Event) -> None:
        """Every report about this strategy's orders, before the specific handler."""

    def on_order_accepted(self, event: OrderAccepted) -> None: ...

    def on_order_rejected(self, event: OrderRejected) -> None: ...

    def on_fill(self, fill: OrderFilled) -> None: ...

    def on_order_cancelled(self, event: OrderCancelled) -> None: ...

    def on_order_expired(self, event: OrderExpired) -> None: ...

    def on_order_updated(self, event: OrderUpdated) -> None: ...

    def on_cancel_rejected(self, event: CancelRejected) -> None: ...

    def on_modify_rejected(self, event: ModifyRejected) -> None: ...

    def on_risk_rejected(self, event: RiskRejected) -> None: ...

    def on_contingent(self, event: ContingentUpdate) -> None:
        """An emulated stop (bracket stop-loss, OCO stop leg, trailing stop) was armed, triggered or cancelled."""

    def on_venue_status(self, event: VenueStatus) -> None:
        """A venue connected, disconnected, reconnected, or its feed went stale or resumed (every strategy hears
        of every venue: ``event.venue`` says which). Orders to a disconnected venue are refused by risk."""

    # -- reading ------------------------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        return self.ctx.kernel.clock.now()

    def book(self, symbol: str) -> AnyBook | None:
        books = self.ctx.books
        return books.book(symbol) if books is not None else None

    def position(self, symbol: str) -> Any:
        """The account's position view (``PositionView``: quantity, cost, PnL), or None without a portfolio.

        Fills only: an order that has not filled yet is not in it. Decide "am I flat?" with
        ``position_after_pending`` instead, or a strategy that buys when flat buys again on every bar until the
        first order fills.
        """
        portfolio = self.ctx.portfolio
        return portfolio.position(symbol) if portfolio is not None else None

    def position_quantity(self, symbol: str) -> int:
        """Signed shares the account holds in ``symbol`` from fills (0 without a portfolio)."""
        view = self.position(symbol)
        return int(view.quantity) if view is not None else 0

    def pending(self, symbol: str) -> Pending:
        """Shares this strategy's own open orders in ``symbol`` may still buy and sell.

        Counts what is not filled yet of every open order, from the moment ``submit`` returns: orders still on
        the queue or in the risk engine (sent, not yet known to the execution engine), orders the venue has not
        acknowledged, and resting or partly filled ones. An order leaves it when it fills, is cancelled, expires
        or is rejected (by risk or by the venue). A cancel or modify in flight changes nothing until the venue
        confirms it: until then the order may still fill in full, so it is counted in full (the safe side).
        """
        buy = sell = 0
        source = self.ctx.orders
        if source is not None:
            for order in source.open_orders(symbol, self.strategy_id):
                if order.side is Side.BUY:
                    buy += order.leaves_quantity
                else:
                    sell += order.leaves_quantity
        for cid, (sym, side, quantity) in list(self._in_flight.items()):
            if sym != symbol:
                continue
            if source is not None and source.order(cid) is not None:
                del self._in_flight[cid]  # known to the order source now: counted above while open
            elif side is Side.BUY:
                buy += quantity
            else:
                sell += quantity
        return Pending(buy=buy, sell=sell)

    def position_after_pending(self, symbol: str) -> int:
        """Signed shares held if every pending order of this strategy filled: what "am I flat?" should ask."""
        return self.position_quantity(symbol) + self.pending(symbol).net

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        orders = self.ctx.orders
        return list(orders.open_orders(symbol, self.strategy_id)) if orders is not None else []

    def _prune_in_flight(self) -> None:
        """Drop sent orders the order source knows now; amortized O(1) per submit (the table at most doubles)."""
        source = self.ctx.orders
        if source is not None:
            for cid in [c for c in self._in_flight if source.order(c) is not None]:
                del self._in_flight[cid]
        self._prune_at = max(_PRUNE_FLOOR, 2 * len(self._in_flight))

    # -- acting -------------------------------------------------------------------------------------------------

    def submit(
        self,
        symbol: str,
        side: Side,
        quantity: int,
        *,
        price: int = NO_PRICE,
        order_type: OrderType | None = None,
        stop_price: int = NO_PRICE,
        time_in_force: TimeInForce = TimeInForce.DAY,
        reason: str = "",
        venue: str = "",
    ) -> str:
        """Send an order (through risk). Returns its client order id. A price makes it a LIMIT by default."""
        if order_type is None:
            order_type = _LIMIT if price != NO_PRICE else _MARKET
        ctx = self._ctx  # read once (the property's check only when unbound): every order reads it
        if ctx is None:
            ctx = self.ctx
        ids = ctx.order_ids  # ``_new_id`` without its frame when the context hands out ids (a node always does)
        cid = ids.next(self.strategy_id) if ids is not None else self._new_id()
        in_flight = self._in_flight
        if len(in_flight) >= self._prune_at:
            self._prune_in_flight()
        in_flight[cid] = (symbol, side, quantity)
        kernel = ctx.kernel
        decided = kernel.clock.now()  # what ``self.now`` reads
        kernel.emit(
            SubmitOrder(
                ts_event=decided,
                ts_init=decided + ctx.compute_delay_ns,
                strategy_id=self.strategy_id,
                client_order_id=cid,
                symbol=symbol,
                side=side,
                order_type=order_type,
                quantity=quantity,
                price=price,
                stop_price=stop_price,
                time_in_force=time_in_force,
                venue=venue,
                reason=reason,
            )
        )
        return cid

    def buy(
        self,
        symbol: str,
        quantity: int,
        price: int = NO_PRICE,
        *,
        order_type: OrderType | None = None,
        stop_price: int = NO_PRICE,
        time_in_force: TimeInForce = TimeInForce.DAY,
        reason: str = "",
        venue: str = "",
    ) -> str:
        """``submit`` a buy. Through ``submit`` itself, so a subclass that overrides it (to tag or log each order)
        sees the orders of ``buy`` and ``sell`` too; the fields are named, not passed on as a keyword dictionary."""
        return self.submit(
            symbol,
            _BUY,
            quantity,
            price=price,
            order_type=order_type,
            stop_price=stop_price,
            time_in_force=time_in_force,
            reason=reason,
            venue=venue,
        )

    def sell(
        self,
        symbol: str,
        quantity: int,
        price: int = NO_PRICE,
        *,
        order_type: OrderType | None = None,
        stop_price: int = NO_PRICE,
        time_in_force: TimeInForce = TimeInForce.DAY,
        reason: str = "",
        venue: str = "",
    ) -> str:
        return self.submit(
            symbol,
            _SELL,
            quantity,
            price=price,
            order_type=order_type,
            stop_price=stop_price,
            time_in_force=time_in_force,
            reason=reason,
            venue=venue,
        )

    def _new_id(self) -> str:
        ctx = self._ctx
        ids = (ctx if ctx is not None else self.ctx).order_ids
        if ids is not None:
            return ids.next(self.strategy_id)
        self._next_order += 1
        return f"{self.strategy_id}-{self._next_order}"

    def bracket(
        self,
        symbol: str,
        side: Side,
        quantity: int,
        *,
        price: int = NO_PRICE,
        take_profit: int = NO_PRICE,
        stop_loss: int = NO_PRICE,
        trail_offset: int = 0,
        trail_bps: int = 0,
        time_in_force: TimeInForce = TimeInForce.DAY,
        exit_time_in_force: TimeInForce = TimeInForce.GTC,
        reason: str = "",
    ) -> BracketIds:
        """An entry (limit at ``price``, else market) with a take-profit limit and a stop-loss (fixed at
        ``stop_loss``, or trailing by ``trail_offset`` price units / ``trail_bps``) that close what it filled.

        The children activate when the entry is done, sized to its filled quantity; the stop is held by the order
        emulator until it triggers (rules: ``tapeflow.execution.contingent``). Every order passes risk.
        """
        exit_side = side.opposite
        children: list[tuple[str, Leg]] = []
        ids = ["", ""]
        tp = Leg(side=exit_side, quantity=quantity, price=take_profit, time_in_force=exit_time_in_force)
        sl = Leg(
            side=exit_side,
            quantity=quantity,
            stop_price=stop_loss,
            trail_offset=trail_offset,
            trail_bps=trail_bps,
            time_in_force=exit_time_in_force,
        )
        if take_profit == NO_PRICE and not sl.emulated:
            raise ConfigError("a bracket needs a take_profit, a stop_loss or a trail", field="take_profit")
        if NO_PRICE not in (take_profit, stop_loss) and (take_profit - stop_loss) * side.sign <= 0:
            raise ConfigError(
                f"bracket take_profit {take_profit} is not on the profit side of stop_loss {stop_loss} "
                f"for a {side.value} entry",
                field="take_profit",
            )
        wanted = [leg for leg, asked in ((tp, take_profit != NO_PRICE), (sl, sl.emulated)) if asked]
        for leg in wanted:
            leg.check("bracket")
        entry = self.submit(symbol, side, quantity, price=price, time_in_force=time_in_force, reason=reason)
        for leg in wanted:
            ids[0 if leg is tp else 1] = cid = self._new_id()
            children.append((cid, leg))
        self.emulator.bracket(entry, symbol, children)
        return BracketIds(entry, ids[0], ids[1])

    def oco(self, symbol: str, first: Leg, second: Leg) -> tuple[str, str]:
        """Two orders on one symbol where the first fill of either, even partial, cancels the other. Limit legs
        go to the venue at once; stop and trailing legs are held by the order emulator until they trigger."""
        first.check("oco first leg")
        second.check("oco second leg")
        ids = (self._new_id(), self._new_id())
        self.emulator.oco(symbol, [(ids[0], first), (ids[1], second)])
        return ids

    def trailing_stop(
        self,
        symbol: str,
        side: Side,
        quantity: int,
        *,
        offset: int = 0,
        bps: int = 0,
        stop_price: int = NO_PRICE,
    ) -> str:
        """A stop ``offset`` price units (or ``bps`` basis points) behind the best bid (sell) or ask (buy), which
        only moves in the favourable direction and goes out as a market order when reached."""
        leg = Leg(side=side, quantity=quantity, stop_price=stop_price, trail_offset=offset, trail_bps=bps)
        if not leg.trailing:
            raise ConfigError("a trailing stop needs offset (price units) or bps, positive", field="offset")
        leg.check("trailing stop")
        cid = self._new_id()
        self.emulator.hold(symbol, cid, leg)
        return cid

    def contingent(self, client_order_id: str) -> LegState | None:
        """What the order emulator knows about a bracket child, OCO leg or trailing stop (its current stop)."""
        return self.emulator.leg(client_order_id)

    def cancel(self, client_order_id: str, symbol: str) -> None:
        """Cancel an order; an emulated stop not yet sent ends here (``on_contingent`` says so), others at the
        venue."""
        if self.emulator.cancel(client_order_id):
            return
        decided = self.now
        self.ctx.kernel.emit(
            CancelOrder(
                ts_event=decided,
                ts_init=decided + self.ctx.compute_delay_ns,
                strategy_id=self.strategy_id,
                client_order_id=client_order_id,
                symbol=symbol,
            )
        )

    def cancel_all(self, symbol: str | None = None) -> int:
        """Cancel every open order and every emulated stop held for this strategy (on ``symbol``, or all)."""
        orders = self.open_orders(symbol)
        for order in orders:
            self.cancel(order.client_order_id, order.symbol)
        held = self.emulator.held(symbol)
        for cid in held:
            self.emulator.cancel(cid)
        return len(orders) + len(held)

    def modify(
        self, client_order_id: str, symbol: str, quantity: int, *, price: int = NO_PRICE, stop_price: int = NO_PRICE
    ) -> None:
        """Change an order's size or prices; an emulated stop not yet sent changes here (``on_contingent``)."""
        if self.emulator.modify(client_order_id, quantity, stop_price):
            return
        decided = self.now
        self.ctx.kernel.emit(
            ModifyOrder(
                ts_event=decided,
                ts_init=decided + self.ctx.compute_delay_ns,
                strategy_id=self.strategy_id,
                client_order_id=client_order_id,
                symbol=symbol,
                quantity=quantity,
                price=price,
                stop_price=stop_price,
            )
        )

    def signal(
        self, symbol: str, name: str, value: float, reason: str, features: dict[str, float] | None = None
    ) -> Signal:
        """Record why: the signal goes on the queue (and into the audit trail) before any order it causes."""
        ctx = self._ctx  # the context once, not through the property twice (``now``, then the kernel)
        if ctx is None:
            ctx = self.ctx
        kernel = ctx.kernel
        now = kernel.clock.now()  # what ``self.now`` reads
        sig = Signal(
            ts_event=now,
            ts_init=now,
            strategy_id=self.strategy_id,
            symbol=symbol,
            name=name,
            value=value,
            reason=reason,
            features=features or {},
        )
        self.last_signal = sig
        kernel.emit(sig)
        return sig

    def set_timer(self, name: str, *, at: int | None = None, interval: int | None = None) -> Timer:
        return self.ctx.kernel.set_timer(f"{self.strategy_id}.{name}", at=at, interval=interval)
