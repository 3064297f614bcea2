"""The simulated exchange: our orders against the replayed market, with latency, queue position and fees.

Time. The exchange lives in exchange time; components live in the time they see things (``ts_init``). Market
data reaches strategies ``feed_delay`` after the exchange stamped it (``ts_init = ts_event + feed_delay``, stamped
by the assembly). An order that leaves the strategy at ``t`` reaches the exchange at ``A = t + entry_delay`` and is
handled when the kernel reaches ``A + feed_delay``: by then every market event stamped up to ``A`` has been
applied to the book, so the exchange sees the market as it was at ``A``. Its answers are stamped ``ts_event = A``
and reach the strategy at ``A + response_delay`` (which must not be shorter than ``feed_delay``: both are the
exchange-to-strategy path).

Matching. A marketable order walks the visible depth on the other side (``book.levels``), best price first, up
to its limit, at each level's price (TAKER). What it takes stays *consumed*: later orders see the level smaller
until the replayed feed changes that level. A remainder rests at its limit with a queue position
(``queue.py``), and fills (MAKER, at its own price) when the market trades at its price with the queue ahead used
up, trades through its price, or shows a contra order crossing it. Stops trigger on prints. DAY orders expire
at the session's close from the exchange calendar (13:00 on half days). Orders are rejected, with a reason, for
invalid ticks (Rule 612), halts, auction time-in-force, unknown or closed orders.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import msgspec

from tapeflow.book.keeper import AnyBook, BookKeeper
from tapeflow.book.l2 import L2Book
from tapeflow.book.l3 import L3Book
from tapeflow.book.quote_book import QuoteBook
from tapeflow.execution.venue import Command
from tapeflow.model.book_events import OrderDiscovered
from tapeflow.model.enums import BookAction, LiquiditySide, MarketStatus, OrderType, Side, TimeInForce
from tapeflow.model.events import Event, TradingStatus
from tapeflow.model.instruments import RULE_612
from tapeflow.model.market import (
    Bar,
    BookDelta,
    BookSnapshot,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Trade,
)
from tapeflow.model.orders import (
    CancelOrder,
    CancelRejected,
    ModifyOrder,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    SubmitOrder,
)
from tapeflow.model.prices import NO_PRICE, price_to_str
from tapeflow.model.sessions import SessionCalendar, calendar_for
from tapeflow.venues.sim.fees import FeeBreakdown, FeeModel
from tapeflow.venues.sim.latency import LatencyModel, OrderAction
from tapeflow.venues.sim.orders import SimOrder
from tapeflow.venues.sim.queue import QueueModel

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel

NEW_YORK: Final = ZoneInfo("America/New_York")
_ZERO_FEES: Final = FeeBreakdown()


class SimExchangeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    venue: str = "XNAS"
    queue_model: QueueModel = QueueModel.PROPORTIONAL
    calendar: str = "XNYS"
    """Exchange calendar of the sessions (an exchange_calendars code, or "fixed" for 16:00 every weekday)."""
    close_hour: int | None = None
    """Override: the New York hour at which DAY orders expire. None: the session's close (13:00 on half days)."""


class _SymbolState:
    __slots__ = ("bar_orders", "consumed", "consumed_at", "halted", "resting", "stops", "traded")

    def __init__(self) -> None:
        self.resting: dict[Side, dict[int, list[SimOrder]]] = {Side.BUY: {}, Side.SELL: {}}
        self.stops: list[SimOrder] = []
        self.consumed: dict[tuple[Side, int], int] = {}
        """Shares our marketable orders took from a market level, until the feed changes that level."""
        self.traded: dict[tuple[Side, int], int] = {}
        """L2: shares printed at a level since its last delta (a decrease they explain is not a cancellation)."""
        self.halted = False
        self.consumed_at = 0
        """L1: the quote (``QuoteBook.version``) that ``consumed`` refers to."""
        self.bar_orders: list[SimOrder] = []
        """Bar data only: orders waiting for the next bar of their symbol."""

    def own(self, side: Side, price: int) -> list[SimOrder] | None:
        return self.resting[side].get(price)


class SimulatedExchange:
    """A venue client (``send``) and a kernel component in one. See the module docstring."""

    always_connected = True  # in-process: no session to lose, never sends venue events (see execution/venue.py)

    def __init__(
        self,
        books: BookKeeper,
        latency: LatencyModel,
        fees: FeeModel | None = None,
        config: SimExchangeConfig | None = None,
    ) -> None:
        self.config = config or SimExchangeConfig()
        self.name = self.config.venue
        self._books = books
        self._latency = latency
        self._fees = fees
        self._queue = self.config.queue_model
        self._states: dict[str, _SymbolState] = {}
        self._orders: dict[str, SimOrder] = {}
        self._closed: set[str] = set()
        self._expiry_days: set[datetime.date] = set()
        self._expiry_closes: set[int] = set()
        self.sessions: SessionCalendar = calendar_for(self.config.calendar, "exchange.calendar")
        self._kernel: Kernel | None = None
        self._bar_symbols: set[str] = set()
        self._last_report = 0
        self._seq = 0
        self._trade_seq = 0
        self.fills = 0
        self.rejects = 0

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(Trade, self.on_trade)
        kernel.subscribe(TradingStatus, self.on_status)
        kernel.subscribe(Bar, self.on_bar)
        self._books.observe_before(self._before_book)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    @property
    def kernel(self) -> Kernel:
        assert self._kernel is not None, "the simulated exchange must be added to a kernel before use"
        return self._kernel

    # -- commands -----------------------------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        action = (
            OrderAction.INSERT
            if isinstance(command, SubmitOrder)
            else OrderAction.CANCEL
            if isinstance(command, CancelOrder)
            else OrderAction.MODIFY
        )
        arrival = command.ts_init + self._latency.entry_delay(action)
        self.kernel.call_at(arrival + self._latency.feed_delay(), self._arrive, (command, arrival))

    def _arrive(self, item: tuple[Command, int]) -> None:
        command, at = item
        if isinstance(command, SubmitOrder):
            self._on_submit(command, at)
        elif isinstance(command, CancelOrder):
            self._on_cancel(command, at)
        else:
            self._on_modify(command, at)

    def _state(self, symbol: str) -> _SymbolState:
        st = self._states.get(symbol)
        if st is None:
            st = self._states[symbol] = _SymbolState()
        return st

    def _report(self, event_type: Callable[..., Event], at: int, action: OrderAction, **fields: Any) -> None:
        delay = max(self._latency.response_delay(action), self._latency.feed_delay())
        # one order-entry session delivers its reports in the order the venue sent them: a cancel confirmation
        # sent after a fill never overtakes it, whatever the per-action latencies say
        ts_init = max(at + delay, self.kernel.now, self._last_report)
        self._last_report = ts_init
        self.kernel.emit(event_type(ts_event=at, ts_init=ts_init, venue=self.name, **fields))

    def _check(self, side_price: int, order_type: OrderType, stop_price: int) -> str | None:
        if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            if side_price == NO_PRICE:
                return f"{order_type.value} order without a limit price"
            if not RULE_612.is_valid(side_price):
                return f"limit price {price_to_str(side_price)} is not on the Rule 612 tick grid"
        if order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
            if stop_price == NO_PRICE:
                return f"{order_type.value} order without a stop price"
            if not RULE_612.is_valid(stop_price):
                return f"stop price {price_to_str(stop_price)} is not on the Rule 612 tick grid"
        return None

    def _on_submit(self, cmd: SubmitOrder, at: int) -> None:
        ids = {"strategy_id": cmd.strategy_id, "client_order_id": cmd.client_order_id, "symbol": cmd.symbol}
        st = self._state(cmd.symbol)
        reason = self._check(cmd.price, cmd.order_type, cmd.stop_price)
        if reason is None and (cmd.client_order_id in self._orders or cmd.client_order_id in self._closed):
            reason = f"duplicate client order id {cmd.client_order_id}"
        if reason is None and st.halted:
            reason = f"{cmd.symbol} is halted"
        if reason is None and cmd.time_in_force in (TimeInForce.OPG, TimeInForce.CLS):
            reason = f"{cmd.time_in_force.value} (auction) orders are not simulated"
        if reason is not None:
            self.rejects += 1
            self._closed.add(cmd.client_order_id)
            self._report(OrderRejected, at, OrderAction.INSERT, reason=reason, **ids)
            return
        self._seq += 1
        order = SimOrder(cmd, f"{self.name}-{self._seq}")
        self._orders[cmd.client_order_id] = order
        self._report(OrderAccepted, at, OrderAction.INSERT, venue_order_id=order.venue_order_id, **ids)
        if cmd.time_in_force is TimeInForce.DAY:
            self._schedule_expiry(at)
        if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
            st.stops.append(order)
            return
        self._match_incoming(order, st, at, OrderAction.INSERT)

    def _on_cancel(self, cmd: CancelOrder, at: int) -> None:
        ids = {"strategy_id": cmd.strategy_id, "client_order_id": cmd.client_order_id, "symbol": cmd.symbol}
        order = self._orders.get(cmd.client_order_id)
        if order is None:
            why = "order is already closed" if cmd.client_order_id in self._closed else "unknown order"
            self._report(CancelRejected, at, OrderAction.CANCEL, reason=why, **ids)
            return
        self._close(order)
        self._report(
            OrderCancelled, at, OrderAction.CANCEL, cancelled_quantity=order.remaining, reason="cancel request", **ids
        )

    def _on_modify(self, cmd: ModifyOrder, at: int) -> None:
        ids = {"strategy_id": cmd.strategy_id, "client_order_id": cmd.client_order_id, "symbol": cmd.symbol}
        order = self._orders.get(cmd.client_order_id)
        reason = None
        if order is None:
            reason = "order is already closed" if cmd.client_order_id in self._closed else "unknown order"
        else:
            new_price = cmd.price if cmd.price != NO_PRICE else order.price
            new_stop = cmd.stop_price if cmd.stop_price != NO_PRICE else order.stop_price
            reason = self._check(new_price, order.order_type, new_stop)
            if reason is None and cmd.quantity <= order.filled:
                reason = f"new quantity {cmd.quantity} is not above the {order.filled} shares already filled"
        if reason is not None or order is None:
            self._report(ModifyRejected, at, OrderAction.MODIFY, reason=reason or "unknown order", **ids)
            return
        lose = new_price != order.price or cmd.quantity > order.quantity
        st = self._state(order.symbol)
        was_resting = order.resting
        if lose and was_resting:
            self._unrest(order, st)
        order.quantity = cmd.quantity
        order.price = new_price
        order.stop_price = new_stop
        self._report(
            OrderUpdated,
            at,
            OrderAction.MODIFY,
            quantity=order.quantity,
            price=order.price,
            stop_price=order.stop_price,
            priority_lost=lose,
            **ids,
        )
        if lose and was_resting:
            self._match_incoming(order, st, at, OrderAction.MODIFY)

    # -- matching -----------------------------------------------------------------------------------------------

    def _book(self, symbol: str) -> AnyBook | None:
        return self._books.book(symbol)

    def _match_incoming(self, order: SimOrder, st: _SymbolState, at: int, action: OrderAction) -> None:
        """Walk the other side's visible depth up to the limit; the rest rests, or is cancelled (IOC/FOK/market)."""
        book = self._book(order.symbol)
        if book is None and order.symbol in self._bar_symbols:
            st.bar_orders.append(order)  # bar data: no depth to walk; the next bar decides (``on_bar``)
            return
        if isinstance(book, QuoteBook) and st.consumed_at != book.version:
            st.consumed.clear()  # L1: a newer quote refreshed the top level; what we took is no longer taken
            st.consumed_at = book.version
        market = order.order_type in (OrderType.MARKET, OrderType.STOP)
        opp = order.side.opposite
        levels = book.levels(opp) if book is not None else []
        crossing = [(p, s - st.consumed.get((opp, p), 0)) for p, s in levels if market or order.crosses(p)]
        if order.time_in_force is TimeInForce.FOK:
            available = sum(max(0, s) for _, s in crossing)
            if available < order.remaining:
                self._cancel_rest(order, at, action, f"FOK: only {available} of {order.remaining} shares available")
                return
        for price, available in crossing:
            if available <= 0:
                continue
            take = min(available, order.remaining)
            st.consumed[(opp, price)] = st.consumed.get((opp, price), 0) + take
            self._fill(order, price, take, LiquiditySide.TAKER, at, action)
            if order.remaining == 0:
                return
        if market or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            why = "no more liquidity for a market order" if market else "IOC remainder"
            self._cancel_rest(order, at, action, why)
            return
        self._rest(order, st, book)

    def _rest(self, order: SimOrder, st: _SymbolState, book: AnyBook | None) -> None:
        order.resting = True
        order.ahead = book.size_at(order.side, order.price) if book is not None else 0
        order.behind_ids = set()
        st.resting[order.side].setdefault(order.price, []).append(order)

    def _unrest(self, order: SimOrder, st: _SymbolState) -> None:
        level = st.resting[order.side].get(order.price)
        if level is not None and order in level:
            level.remove(order)
            if not level:
                del st.resting[order.side][order.price]
        order.resting = False

    def _close(self, order: SimOrder) -> None:
        st = self._state(order.symbol)
        if order.resting:
            self._unrest(order, st)
        elif order in st.stops:
            st.stops.remove(order)
        elif order in st.bar_orders:
            st.bar_orders.remove(order)
        self._orders.pop(order.client_order_id, None)
        self._closed.add(order.client_order_id)

    def _cancel_rest(self, order: SimOrder, at: int, action: OrderAction, reason: str) -> None:
        left = order.remaining
        self._close(order)
        self._report(
            OrderCancelled,
            at,
            action,
            strategy_id=order.strategy_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            cancelled_quantity=left,
            reason=reason,
        )

    def _fill(
        self, order: SimOrder, price: int, qty: int, liquidity: LiquiditySide, at: int, action: OrderAction
    ) -> None:
        fees = _ZERO_FEES
        if self._fees is not None:
            fees = self._fees.fill_fees(
                trade_date=_ny_date(at),
                venue=self.name,
                side=order.side,
                price=price,
                quantity=qty,
                liquidity=liquidity,
                order_quantity_filled_before=order.filled,
                order_commission_so_far=order.commission_so_far,
            )
        order.filled += qty
        order.commission_so_far += fees.commission
        self._trade_seq += 1
        self.fills += 1
        if order.remaining == 0:
            self._close(order)
        self._report(
            OrderFilled,
            at,
            action,
            strategy_id=order.strategy_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            quantity=qty,
            leaves_quantity=order.remaining,
            liquidity_side=liquidity,
            fee=fees.total,
            fee_components=_components(fees),
            trade_id=f"{self.name}-T{self._trade_seq}",
            venue_order_id=order.venue_order_id,
        )

    def _fill_queue(self, own: list[SimOrder], budget: int, at: int) -> int:
        """A print of ``budget`` shares reached our orders at one level (FIFO among them); returns what is left."""
        for order in list(own):
            if budget <= 0:
                break
            take = min(order.remaining, budget)
            budget -= take
            self._fill(order, order.price, take, LiquiditySide.MAKER, at, OrderAction.INSERT)
        return budget

    # -- market events ------------------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """Bar data: orders placed since the last bar fill against this one, as a bar-based backtester does.

        A market order fills at the bar's open (the first price anyone could trade at after the order was sent);
        a limit order fills at the open if the open is at or better than its limit, else at the limit if the bar's
        range reached it, else it waits for the next bar. Fills are stamped at the bar's time, when we learn of
        them. Volume is not modelled: a bar can fill any size (documented as a limitation of bar data).
        """
        self._bar_symbols.add(bar.symbol)
        st = self._states.get(bar.symbol)
        if st is None or not st.bar_orders:
            return
        at = bar.ts_event
        waiting = st.bar_orders
        st.bar_orders = []
        for order in waiting:
            if order.order_type in (OrderType.MARKET, OrderType.STOP) or order.crosses(bar.open):
                price = bar.open
            elif order.crosses(bar.low if order.side is Side.BUY else bar.high):
                price = order.price
            else:
                if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                    self._cancel_rest(order, at, OrderAction.INSERT, "IOC: the bar did not reach the limit")
                else:
                    st.bar_orders.append(order)
                continue
            self._fill(order, price, order.remaining, LiquiditySide.TAKER, at, OrderAction.INSERT)

    def on_status(self, event: TradingStatus) -> None:
        self._state(event.symbol).halted = event.status is not MarketStatus.TRADING

    def on_trade(self, trade: Trade) -> None:
        """A print: stops may trigger; resting orders it traded through or reached in the queue fill."""
        st = self._states.get(trade.symbol)
        if st is None:
            return
        at = trade.ts_event
        if st.stops:
            self._trigger_stops(st, trade.price, at)
        passive = Side.SELL if trade.aggressor.value == "BUY" else Side.BUY if trade.aggressor.value == "SELL" else None
        if passive is None:
            return
        l2 = self._books.level != "L3"  # L3 moves queues from executions; L1/L2 from prints
        if l2:
            key = (passive, trade.price)
            st.traded[key] = st.traded.get(key, 0) + trade.size
        resting = st.resting[passive]
        if not resting:
            return
        budget = trade.size
        # best own price first: a buy print at p reaches our sells below p before anyone at p
        for price in sorted(resting, reverse=passive is Side.BUY):
            own = resting.get(price)
            if not own or budget <= 0:
                continue
            better = price < trade.price if passive is Side.SELL else price > trade.price
            if better:
                budget = self._fill_queue(own, budget, at)
            elif price == trade.price and l2:
                budget = self._queue_print(own, budget, at)

    def _queue_print(self, own: list[SimOrder], budget: int, at: int) -> int:
        """A print at our price: market shares ahead go first, then ours (shared budget, FIFO)."""
        market_taken = 0
        for order in list(own):
            gap = max(0, order.ahead - market_taken)
            take_market = min(gap, budget)
            market_taken += take_market
            budget -= take_market
            if budget <= 0:
                break
            take = min(order.remaining, budget)
            budget -= take
            self._fill(order, order.price, take, LiquiditySide.MAKER, at, OrderAction.INSERT)
        for order in own:
            order.ahead = max(0, order.ahead - market_taken)
        return budget

    def _trigger_stops(self, st: _SymbolState, price: int, at: int) -> None:
        fired = [o for o in st.stops if (price >= o.stop_price if o.side is Side.BUY else price <= o.stop_price)]
        for order in fired:
            st.stops.remove(order)
            order.order_type = OrderType.MARKET if order.order_type is OrderType.STOP else OrderType.LIMIT
            self._match_incoming(order, st, at, OrderAction.INSERT)

    def _before_book(self, event: Event, book: L2Book | L3Book) -> None:
        """Runs before the book applies ``event`` (see ``BookKeeper.observe_before``)."""
        st = self._states.get(event.symbol)  # type: ignore[attr-defined]
        if st is None:
            return
        handler = _BEFORE.get(type(event))
        if handler is not None:
            handler(self, st, event, book)

    def _delta(self, st: _SymbolState, d: BookDelta, book: L2Book | L3Book) -> None:
        if d.action is BookAction.CLEAR:
            st.consumed.clear()
            st.traded.clear()
            for level in (*st.resting[Side.BUY].values(), *st.resting[Side.SELL].values()):
                for order in level:
                    order.ahead = 0
            return
        key = (d.side, d.price)
        st.consumed.pop(key, None)
        old = book.size_at(d.side, d.price)
        new = 0 if d.action is BookAction.DELETE else d.size
        traded = st.traded.pop(key, 0)
        own = st.own(d.side, d.price)
        if own and new < old:
            explained = min(old - new, traded)
            cancelled = old - new - explained
            level_before = old - explained
            for order in own:
                order.ahead = 0 if new == 0 else self._queue.ahead_after_cancel(order.ahead, level_before, cancelled)
        if new:
            self._cross(st, d.side, d.price, new, d.ts_event)  # consumption was reset: the whole level is fresh

    def _cross(self, st: _SymbolState, market_side: Side, price: int, size: int, at: int) -> None:
        """Contra liquidity appeared at a price our resting orders cross: they would have traded first."""
        mine = st.resting[market_side.opposite]
        if not mine:
            return
        if (market_side is Side.SELL and max(mine) < price) or (market_side is Side.BUY and min(mine) > price):
            return  # the common case: our orders are not crossed
        budget = size
        for own_price in sorted(mine, reverse=market_side is Side.SELL):
            crosses = own_price >= price if market_side is Side.SELL else own_price <= price
            if not crosses or budget <= 0:
                break
            before = budget
            budget = self._fill_queue(mine[own_price], budget, at)
            key = (market_side, price)
            st.consumed[key] = st.consumed.get(key, 0) + before - budget

    def _l3_added(self, st: _SymbolState, e: OrderAdded, book: L2Book | L3Book) -> None:
        st.consumed.pop((e.side, e.price), None)
        own = st.own(e.side, e.price)
        if own:
            for order in own:
                order.behind_ids.add(e.order_id)
        self._cross(st, e.side, e.price, e.size, e.ts_event)

    def _l3_left(
        self, st: _SymbolState, order_id: int, size: int | None, book: L2Book | L3Book, at: int, level_loses: int = 0
    ) -> None:
        """``size`` shares of market order ``order_id`` left its level (None: all of it), not by trading.

        ``level_loses``: what a whole deletion takes from the level when the feed says so (LOBSTER: less than the
        order's last known size when part of it left out of view); only that many can still have been ahead."""
        if not isinstance(book, L3Book):
            return
        view = book.order(order_id)
        if view is None:
            return
        st.consumed.pop((view.side, view.price), None)
        own = st.own(view.side, view.price)
        if not own:
            return
        gone = view.size if size is None else min(size, view.size)
        if level_loses:
            gone = min(gone, level_loses)
        for order in own:
            if order_id in order.behind_ids:
                if size is None:
                    order.behind_ids.discard(order_id)
            else:
                order.ahead = max(0, order.ahead - gone)

    def _l3_executed(self, st: _SymbolState, e: OrderExecuted, book: L2Book | L3Book) -> None:
        if not isinstance(book, L3Book):
            return
        view = book.order(e.order_id)
        if view is None:
            return
        st.consumed.pop((view.side, view.price), None)
        own = st.own(view.side, view.price)
        if not own:
            return
        # the seller reached an order that queued after these of ours: it met them first, each after the shares
        # still counted ahead of it (none, on a FIFO tape whose every departure we saw), as a print does in L2
        behind = [o for o in own if e.order_id in o.behind_ids]
        for order in own:
            if e.order_id not in order.behind_ids:
                order.ahead = max(0, order.ahead - e.size)
            elif e.size >= view.size:
                order.behind_ids.discard(e.order_id)  # traded out: it cannot come back
        if behind:
            self._queue_print(behind, e.size, e.ts_event)

    def _l3_reduced(self, st: _SymbolState, e: OrderReduced, book: L2Book | L3Book) -> None:
        self._l3_left(st, e.order_id, e.size, book, e.ts_event)

    def _l3_deleted(self, st: _SymbolState, e: OrderDeleted, book: L2Book | L3Book) -> None:
        self._l3_left(st, e.order_id, None, book, e.ts_event, level_loses=e.size)

    def _l3_replaced(self, st: _SymbolState, e: OrderReplaced, book: L2Book | L3Book) -> None:
        if not isinstance(book, L3Book):
            return
        view = book.order(e.order_id)
        self._l3_left(st, e.order_id, None, book, e.ts_event)
        if view is not None:
            self._l3_added(
                st,
                OrderAdded(
                    ts_event=e.ts_event,
                    ts_init=e.ts_init,
                    symbol=e.symbol,
                    order_id=e.new_order_id,
                    side=view.side,
                    price=e.price,
                    size=e.size,
                ),
                book,
            )

    def _snapshot(self, st: _SymbolState, e: Event, book: L2Book | L3Book) -> None:
        st.consumed.clear()
        st.traded.clear()
        if isinstance(e, BookSnapshot):
            _recount_ahead(st, e)

    # -- session ------------------------------------------------------------------------------------------------

    def _schedule_expiry(self, at: int) -> None:
        day = _ny_date(at)
        if day in self._expiry_days:
            return
        self._expiry_days.add(day)
        # The session's own close (13:00 on half days); an order sent on a holiday or weekend is for the next one.
        session = self.sessions.session(day) or self.sessions.next_session(day)
        close_ns = session.close
        if self.config.close_hour is not None:
            d = session.day
            close_ns = int(
                datetime.datetime(d.year, d.month, d.day, self.config.close_hour, tzinfo=NEW_YORK).timestamp()
            )
            close_ns *= 1_000_000_000
        if close_ns > at and close_ns not in self._expiry_closes:
            self._expiry_closes.add(close_ns)
            self.kernel.call_at(close_ns + self._latency.feed_delay(), self._expire_day, close_ns)

    def _expire_day(self, close_ns: int) -> None:
        parked = {id(o) for st in self._states.values() for o in st.bar_orders}  # bar data: the next bar decides
        for order in [o for o in self._orders.values() if o.time_in_force is TimeInForce.DAY and id(o) not in parked]:
            left = order.remaining
            self._close(order)
            self._report(
                OrderExpired,
                close_ns,
                OrderAction.CANCEL,
                strategy_id=order.strategy_id,
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                expired_quantity=left,
            )

    # -- read view (tests, reports) -----------------------------------------------------------------------------

    def resting(self, symbol: str) -> list[SimOrder]:
        st = self._states.get(symbol)
        if st is None:
            return []
        return [o for side in (Side.BUY, Side.SELL) for level in st.resting[side].values() for o in level]


def _recount_ahead(st: _SymbolState, snap: BookSnapshot) -> None:
    """A snapshot replaced the book (a resync after a gap, whose messages we never saw): bound what is ahead.

    Shares ahead of an order only ever leave, and nothing at its level but the orders we know joined behind it can
    be behind it; so what is ahead is at most both the old count and the level's size less those orders still
    there. Taking the smaller bound can leave us counting too much ahead, never too little: fills come late,
    never early.
    """
    for side, levels in ((Side.BUY, snap.bids), (Side.SELL, snap.asks)):
        mine = st.resting[side]
        if not mine:
            continue
        sizes = {level.price: level.size for level in levels}
        for price, own in mine.items():
            there = {o.order_id: o.size for o in snap.orders if o.side is side and o.price == price}
            for order in own:
                behind = {oid: size for oid, size in there.items() if oid in order.behind_ids}
                order.behind_ids = set(behind)
                order.ahead = max(0, min(order.ahead, sizes.get(price, 0) - sum(behind.values())))


def _components(fees: FeeBreakdown) -> dict[str, int]:
    return {k: v for k, v in msgspec.structs.asdict(fees).items() if v}


def _ny_date(ts_ns: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ts_ns // 1_000_000_000, NEW_YORK).date()


_Before = Callable[[SimulatedExchange, _SymbolState, Any, "L2Book | L3Book"], None]
_BEFORE: Final[dict[type[Event], _Before]] = {
    BookDelta: SimulatedExchange._delta,
    OrderAdded: SimulatedExchange._l3_added,
    OrderExecuted: SimulatedExchange._l3_executed,
    OrderReduced: SimulatedExchange._l3_reduced,
    OrderDeleted: SimulatedExchange._l3_deleted,
    OrderReplaced: SimulatedExchange._l3_replaced,
    BookSnapshot: SimulatedExchange._snapshot,
    OrderDiscovered: lambda self, st, e, book: None,
}
