"""The simulated exchange: our orders against the replayed market, with latency, queue position and fees.

Time. The exchange lives in exchange time; components live in the time they see things (``ts_init``). Market
data reaches strategies ``feed_delay`` after the exchange stamped it (``ts_init = ts_event + feed_delay``, stamped
by the assembly). An order that leaves the strategy at ``t`` reaches the exchange at ``A = t + entry_delay`` and is
handled when the kernel reaches ``A + feed_delay``: by then every market event stamped up to ``A`` has been
applied to the book, so the exchange sees the market as it was at ``A``. Its answers are stamped ``ts_event = A``
and reach the strategy at ``A + response_delay`` (which must not be shorter than ``feed_delay``: both are the
exchange-to-strategy path).

The coordinator: wires the parts, takes commands when they arrive, keeps the venue's record of each order, books
fills (fees) and reports. Parts: ``matching.py`` (depth walk, consumed liquidity, resting orders, prints, stops),
``queue.py`` (queue position behind the ``QueuePosition`` protocol: L2 modelled by ``QueueModel``, L3 exact by
order id), ``depth.py`` (book changes as queue and crossing updates), ``bar_fills.py`` (fills against bars),
``expiry.py`` (DAY expiry at the session's close; refusals for ticks off the Rule 612 grid, halts), ``auction.py``
(OPG/CLS orders held for the tape's opening/closing cross). Unknown or closed orders are refused here.

The bar order path (``send``, ``_on_submit``, ``_fill_bar``) also exists compiled (``_exchange_core.pyx``): an
exchange built with ``impl="compiled"`` (or ``"auto"``, the default, when the core was built and
``TAPEFLOW_PURE_PYTHON`` is not set) is a ``CompiledExchange``, whose three methods are the compiled functions,
on the same slots; everything else, and every case those functions do not compile, is this module's code. This
module's methods are the reference: ``tests/venues/test_exchange_order_path.py`` requires the same events from both.

Why this module is long: the order path of a bar backtest (acceptance, fill) is written out in one place rather
than spread over helper calls, each of which cost a Python call on every order (issue 19), and the choice of the
compiled path sits beside it, as the kernel's does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

import msgspec

from tapeflow.book.keeper import BookKeeper
from tapeflow.config import compiled_core_chosen
from tapeflow.execution.venue import Command
from tapeflow.model.enums import LiquiditySide, MarketStatus, OrderType, TimeInForce
from tapeflow.model.events import Event, TradingStatus
from tapeflow.model.market import Bar, Trade
from tapeflow.model.order_record import submitted_terms
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
from tapeflow.model.prices import NO_PRICE
from tapeflow.model.sessions import SessionCalendar, calendar_for
from tapeflow.venues.sim.auction import AUCTION_TIFS, Auctions, auction_refusal
from tapeflow.venues.sim.bar_fills import BarFills
from tapeflow.venues.sim.depth import DepthChanges
from tapeflow.venues.sim.expiry import DayExpiry, ny_date, price_refusal, session_refusal
from tapeflow.venues.sim.fees import FeeModel
from tapeflow.venues.sim.latency import FixedLatency, LatencyModel, OrderAction
from tapeflow.venues.sim.matching import Matcher
from tapeflow.venues.sim.orders import SimOrder
from tapeflow.venues.sim.queue import QueueModel, queue_for

try:  # the compiled bar order path (setup.py builds it); without it the Python methods run
    from tapeflow.venues.sim import _exchange_core

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel

Impl = Literal["auto", "compiled", "python"]

# enum members bound once: reading one through its class costs ~0.1 us on CPython 3.11, several per order (issue 19)
_INSERT: Final = OrderAction.INSERT
_CANCEL: Final = OrderAction.CANCEL
_MODIFY: Final = OrderAction.MODIFY
_DAY: Final = TimeInForce.DAY
_MARKET: Final = OrderType.MARKET
_LIMIT: Final = OrderType.LIMIT
_MAKER: Final = LiquiditySide.MAKER
_TAKER: Final = LiquiditySide.TAKER
_STOP_TYPES: Final = (OrderType.STOP, OrderType.STOP_LIMIT)


class SimExchangeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    venue: str = "XNAS"
    queue_model: QueueModel = QueueModel.PROPORTIONAL
    calendar: str = "XNYS"
    """Exchange calendar of the sessions (an exchange_calendars code, or "fixed" for 16:00 every weekday)."""
    close_hour: int | None = None
    """Override: the New York hour at which DAY orders expire. None: the session's close (13:00 on half days)."""


class SimulatedExchange:
    """A venue client (``send``) and a kernel component in one. See the module docstring.

    Slotted: the compiled bar order path (``CompiledExchange``) reads and writes the state at the slots' offsets;
    ``__dict__`` stays, for what callers and tests put on an instance (a wrapped ``send``)."""

    __slots__ = (
        "__dict__",
        "_auctions",
        "_bar_last",
        "_bar_waiting",
        "_bars",
        "_books",
        "_closed",
        "_depth",
        "_expiry",
        "_feed_ns",
        "_fees",
        "_fixed",
        "_kernel",
        "_last_arrival",
        "_last_report",
        "_latency",
        "_matcher",
        "_orders",
        "_reply_ns",
        "_seq",
        "_states",
        "_trade_seq",
        "bar_close_x2",
        "config",
        "fills",
        "last_bars",
        "name",
        "rejects",
        "sessions",
    )

    always_connected = True  # in-process: no session to lose, never sends venue events (see execution/venue.py)
    impl: ClassVar[Literal["compiled", "python"]] = "python"
    """Which order path this exchange runs: its Python methods (the reference) or the compiled bar path."""

    def __new__(
        cls,
        books: BookKeeper,
        latency: LatencyModel,
        fees: FeeModel | None = None,
        config: SimExchangeConfig | None = None,
        impl: Impl = "auto",
    ) -> SimulatedExchange:
        """``impl``: "python" is this class's methods; "compiled" the compiled bar order path (``ConfigError`` when
        it was not built); "auto" the compiled one when built, unless the environment sets
        ``TAPEFLOW_PURE_PYTHON=1``. A subclass gets what it asks for (the tests' references)."""
        compiled = compiled_core_chosen(impl, COMPILED_AVAILABLE, "the compiled exchange order path")
        if cls is not SimulatedExchange:
            return super().__new__(cls)
        return super().__new__(CompiledExchange if compiled else cls)

    def __init__(
        self,
        books: BookKeeper,
        latency: LatencyModel,
        fees: FeeModel | None = None,
        config: SimExchangeConfig | None = None,
        impl: Impl = "auto",
    ) -> None:
        self.config = config or SimExchangeConfig()
        self.name = self.config.venue
        self._books = books
        self._latency = latency
        self._feed_ns = latency.feed_delay()
        """The feed delay, constant for a run (``LatencyModel``): read once, added to every arrival."""
        fixed = latency if type(latency) is FixedLatency else None
        self._fixed = fixed
        """The latency when every delay is a constant (``FixedLatency``): its delays are read as numbers, not asked
        for by a call per order message (a ``JitterLatency`` is asked, in the same order as always: its draws)."""
        self._reply_ns = (
            None
            if fixed is None
            else tuple(max(fixed.response_delay(a), fixed.feed_ns) for a in (_INSERT, _CANCEL, _MODIFY))
        )
        """``max(response_delay(a), feed_delay())`` of an insert, a cancel and a modify, for a ``FixedLatency``."""
        self._fees = fees
        self.sessions: SessionCalendar = calendar_for(self.config.calendar, "exchange.calendar")
        self._expiry = DayExpiry(self.sessions, self.config.close_hour)
        self._bars = BarFills(self._fill, self._cancel_rest, self._fill_bar)
        self._bar_last: Final = self._bars.last
        self._bar_waiting: Final = self._bars.waiting
        """``BarFills``' last bars and waiting orders (never rebound): ``_on_submit`` parks a bar order in them
        itself, ``BarFills.park`` without its frame on every order of a bar backtest."""
        self.bar_close_x2: Callable[[str], int | None] = self._bars.close_x2
        """``bar_close_x2(symbol)``: twice the close of the last bar of ``symbol`` this exchange saw (it reads every
        bar to fill the orders waiting for one), or None. The node's portfolio marks bar symbols with it instead of
        a bar handler of its own; the bound method itself, not a wrapper, because marks are read on every order."""
        self.last_bars: Mapping[str, Bar] = self._bars.last
        """The last bar of each symbol this exchange saw (kept by the kernel once attached): what ``bar_close_x2``
        reads, for a reader that looks it up itself rather than paying a call (the node's portfolio)."""
        self._auctions = Auctions(self._fill, self._cancel_rest)
        queue = queue_for(books.level, self.config.queue_model)
        self._matcher = Matcher(books, queue, self._fill, self._cancel_rest, self._bars)
        self._depth = DepthChanges(self._matcher)
        self._states: Final = self._matcher.states  # never rebound: ``_on_submit`` reads it without the matcher
        self._orders: dict[str, SimOrder] = {}
        self._closed: set[str] = set()
        self._kernel: Kernel | None = None
        self._last_report = 0
        self._last_arrival = 0
        self._seq = 0
        self._trade_seq = 0
        self.fills = 0
        self.rejects = 0

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(Trade, self._matcher.on_trade)
        kernel.subscribe(Trade, self._auctions.on_trade)
        kernel.subscribe(TradingStatus, self.on_status)
        self._bars.attach(kernel)  # the last bars kept, on_bar heard only while an order waits
        self._books.observe_before(self._depth.before_book)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    @property
    def kernel(self) -> Kernel:
        assert self._kernel is not None, "the simulated exchange must be added to a kernel before use"
        return self._kernel

    def on_status(self, event: TradingStatus) -> None:
        self._matcher.state(event.symbol).halted = event.status is not MarketStatus.TRADING

    # -- commands -----------------------------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        # one order-entry session takes commands in the order they were sent: a cancel sent right after its insert
        # never overtakes it, even where the latency model gives cancels a shorter entry delay than inserts
        kernel = self._kernel
        assert kernel is not None, "the simulated exchange must be added to a kernel before use"
        fixed = self._fixed
        arrive: Callable[[Any], None]
        if isinstance(command, SubmitOrder):
            arrive = self._on_submit  # each kind of command straight to its handler: no dispatch step on arrival
            entry = fixed.insert_entry_ns if fixed is not None else self._latency.entry_delay(_INSERT)
        elif isinstance(command, CancelOrder):
            arrive = self._on_cancel
            entry = fixed.cancel_entry_ns if fixed is not None else self._latency.entry_delay(_CANCEL)
        else:
            arrive = self._on_modify
            entry = fixed.modify_entry_ns if fixed is not None else self._latency.entry_delay(_MODIFY)
        arrival = command.ts_init + entry
        if arrival < self._last_arrival:
            arrival = self._last_arrival
        self._last_arrival = arrival
        kernel.call_at(arrival + self._feed_ns, arrive, (command, arrival))

    def _report(self, event_type: Callable[..., Event], at: int, action: OrderAction, **fields: Any) -> None:
        self.kernel.emit(event_type(ts_event=at, ts_init=self._stamp(at, action), venue=self.name, **fields))

    def _stamp(self, at: int, action: OrderAction) -> int:
        """``ts_init`` of a report the venue sends at ``at``; call it once per report, in the order they are sent.

        The acceptance and the fill, one each per order of a bar backtest, build their events with it directly
        rather than through ``_report``'s keyword dictionaries."""
        reply = self._reply_ns
        if reply is None:
            latency = self._latency
            delay = max(latency.response_delay(action), self._feed_ns)
        else:
            delay = reply[0] if action is _INSERT else reply[1] if action is _CANCEL else reply[2]
        # one order-entry session delivers its reports in the order the venue sent them: a cancel confirmation
        # sent after a fill never overtakes it, whatever the per-action latencies say
        kernel = self._kernel
        assert kernel is not None, "the simulated exchange must be added to a kernel before use"
        ts_init = at + delay  # max(at + delay, now, last report), in comparisons (a call of ``max`` costs more)
        now = kernel.now
        if now > ts_init:
            ts_init = now
        if self._last_report > ts_init:
            ts_init = self._last_report
        self._last_report = ts_init
        return ts_init

    def _on_submit(self, item: tuple[SubmitOrder, int]) -> None:
        """A new order reaches the venue at ``at``: refused, or accepted and matched, rested, held or parked. Each
        check is made only when it can refuse, and a bar symbol's order is parked directly (``Matcher.incoming``'s
        first step): the common case of a bar backtest, a market or limit DAY order, pays for nothing else."""
        cmd, at = item
        symbol = cmd.symbol
        matcher = self._matcher
        st = self._states.get(symbol)
        if st is None:
            st = matcher.state(symbol)
        cid = cmd.client_order_id
        tif = cmd.time_in_force
        order_type = cmd.order_type
        # a market order has no price to refuse (``price_refusal`` returns None for it)
        reason = None if order_type is _MARKET else price_refusal(cmd.price, order_type, cmd.stop_price)
        if reason is None and (cid in self._orders or cid in self._closed):
            reason = f"duplicate client order id {cid}"
        if reason is None:
            if st.halted:
                reason = session_refusal(cmd, True)
            elif tif in AUCTION_TIFS:
                reason = auction_refusal(cmd, at, self._expiry.session_for)
        if reason is not None:
            self.rejects += 1
            self._closed.add(cmd.client_order_id)
            ids = {"strategy_id": cmd.strategy_id, "client_order_id": cmd.client_order_id, "symbol": cmd.symbol}
            self._report(OrderRejected, at, OrderAction.INSERT, reason=reason, **ids)
            return
        kernel = self._kernel
        assert kernel is not None, "the simulated exchange must be added to a kernel before use"
        self._seq += 1
        name = self.name
        order = SimOrder(*submitted_terms(cmd), f"{name}-{self._seq}")  # ``SimOrder.of`` without its frame
        self._orders[cid] = order
        reply = self._reply_ns
        if reply is None:
            ts_init = self._stamp(at, _INSERT)
        else:  # ``_stamp(at, _INSERT)`` without its frame, for a fixed latency: the same steps
            ts_init = at + reply[0]
            now = kernel.now
            if now > ts_init:
                ts_init = now
            if self._last_report > ts_init:
                ts_init = self._last_report
            self._last_report = ts_init
        kernel.emit(
            OrderAccepted(
                ts_event=at,
                ts_init=ts_init,
                strategy_id=cmd.strategy_id,
                client_order_id=cid,
                symbol=symbol,
                venue_order_id=order.venue_order_id,
                venue=name,
            )
        )
        if tif is _DAY:
            expiry = self._expiry
            if not expiry.day_start <= at < expiry.day_end:  # the day looked up last schedules nothing more
                close_ns = expiry.close_to_schedule(at)
                if close_ns is not None:
                    kernel.call_at(close_ns + self._feed_ns, self._expire_day, close_ns)
        elif tif in AUCTION_TIFS:  # held off the book until the tape's cross (auction.py)
            deadline = self._auctions.hold(order, self._expiry.session_for(at))
            kernel.call_at(deadline + self._feed_ns, self._auctions.expire, deadline)
            return
        if order_type is _MARKET or order_type is _LIMIT:
            if self._books.book(symbol) is None and symbol in self._bar_last:
                # bar data: no depth to walk; the next bar decides (``Matcher.incoming``'s first step, ``park``'s
                # steps without its frame)
                waiting = self._bar_waiting.get(symbol)
                if waiting is None:
                    self._bar_waiting[symbol] = [order]
                else:
                    waiting.append(order)
                return
        elif order_type in _STOP_TYPES:
            st.stops.append(order)
            return
        matcher.incoming(order, st, at, _INSERT)

    def _on_cancel(self, item: tuple[CancelOrder, int]) -> None:
        cmd, at = item
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

    def _on_modify(self, item: tuple[ModifyOrder, int]) -> None:
        cmd, at = item
        ids = {"strategy_id": cmd.strategy_id, "client_order_id": cmd.client_order_id, "symbol": cmd.symbol}
        order = self._orders.get(cmd.client_order_id)
        reason = None
        if order is None:
            reason = "order is already closed" if cmd.client_order_id in self._closed else "unknown order"
        else:
            new_price = cmd.price if cmd.price != NO_PRICE else order.price
            new_stop = cmd.stop_price if cmd.stop_price != NO_PRICE else order.stop_price
            reason = price_refusal(new_price, order.order_type, new_stop)
            if reason is None and cmd.quantity <= order.filled:
                reason = f"new quantity {cmd.quantity} is not above the {order.filled} shares already filled"
        if reason is not None or order is None:
            self._report(ModifyRejected, at, OrderAction.MODIFY, reason=reason or "unknown order", **ids)
            return
        lose = new_price != order.price or cmd.quantity > order.quantity
        st = self._matcher.state(order.symbol)
        was_resting = order.resting
        if lose and was_resting:
            self._matcher.unrest(order, st)
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
            self._matcher.incoming(order, st, at, OrderAction.MODIFY)

    # -- the venue's record and its reports ---------------------------------------------------------------------

    def _close(self, order: SimOrder) -> None:
        # each place is asked only when it holds something (each answers False, or does nothing, when empty): an
        # order filled from a bar is in none of them by then (``BarFills.on_bar`` took it out of the waiting list)
        st = self._matcher.states.get(order.symbol)
        # (a bar fill's symbol has an empty list while ``on_bar`` runs: ``discard`` would find nothing in it)
        removed = st is not None and (order.resting or bool(st.stops)) and self._matcher.remove(order)
        waiting = self._bars.waiting
        held = self._auctions.held
        if not removed and not (held and self._auctions.discard(order)) and waiting and waiting.get(order.symbol):
            self._bars.discard(order)
        cid = order.client_order_id
        self._orders.pop(cid, None)
        self._closed.add(cid)

    def _cancel_rest(self, order: SimOrder, at: int, action: OrderAction, reason: str) -> None:
        self._close(order)
        self._report(OrderCancelled, at, action, cancelled_quantity=order.remaining, reason=reason, **_ids(order))

    def _fill(
        self, order: SimOrder, price: int, qty: int, liquidity: LiquiditySide, at: int, action: OrderAction
    ) -> None:
        fees = self._fees
        if fees is not None:
            breakdown = fees.fill_fees(
                trade_date=ny_date(at),
                venue=self.name,
                side=order.side,
                price=price,
                quantity=qty,
                liquidity=liquidity,
                order_quantity_filled_before=order.filled,
                order_commission_so_far=order.commission_so_far,
            )
            order.commission_so_far += breakdown.commission  # without fees it stays 0: no store (a Struct's is slow)
        order.filled += qty
        self._trade_seq += 1
        self.fills += 1
        leaves = order.quantity - order.filled  # ``order.remaining``
        if leaves == 0:
            self._close(order)
        kernel = self._kernel
        assert kernel is not None, "the simulated exchange must be added to a kernel before use"
        ts_init = self._stamp(at, action)
        name = self.name
        # at most 15 keywords: CPython 3.11 takes a slow path for a call with 16 or more (measured ~0.45 us against
        # ~0.1 for this event), so the fee fields, at their defaults without a fee model, are set apart when needed
        filled = OrderFilled(
            ts_event=at,
            ts_init=ts_init,
            strategy_id=order.strategy_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            quantity=qty,
            leaves_quantity=leaves,
            liquidity_side=liquidity,
            trade_id=f"{name}-T{self._trade_seq}",
            venue_order_id=order.venue_order_id,
            venue=name,
            queue_ahead_at_arrival=order.ahead_at_arrival if liquidity is _MAKER else -1,
        )
        if fees is not None:
            components = {k: v for k, v in msgspec.structs.asdict(breakdown).items() if v}
            filled = msgspec.structs.replace(filled, fee=breakdown.total, fee_components=components)
        kernel.emit(filled)

    def _fill_bar(self, order: SimOrder, price: int, at: int) -> None:
        """``_fill(order, price, order.remaining, TAKER, at, INSERT)``: what a bar does to an order waiting for it.

        Without a fee model, ``_fill``'s steps with what a bar's fill knows written in: it fills the whole rest, so
        the order closes, and it is in none of the places ``_close`` asks (``BarFills.on_bar`` took it out of the
        waiting list; a parked order never rests, is no stop and is not held for an auction), so closing it is
        forgetting its id; a taker has no queue place to report. One frame an order instead of three (``_close``
        and ``_stamp``), on every order of a bar backtest."""
        fees = self._fees
        qty = order.quantity - order.filled
        if fees is not None:
            self._fill(order, price, qty, _TAKER, at, _INSERT)
            return
        order.filled += qty
        self._trade_seq += 1
        self.fills += 1
        cid = order.client_order_id
        self._orders.pop(cid, None)
        self._closed.add(cid)
        kernel = self._kernel
        assert kernel is not None, "the simulated exchange must be added to a kernel before use"
        reply = self._reply_ns
        if reply is None:
            ts_init = self._stamp(at, _INSERT)
        else:  # ``_stamp(at, _INSERT)`` without its frame, as in ``_on_submit``
            ts_init = at + reply[0]
            now = kernel.now
            if now > ts_init:
                ts_init = now
            if self._last_report > ts_init:
                ts_init = self._last_report
            self._last_report = ts_init
        name = self.name
        kernel.emit(
            OrderFilled(
                ts_event=at,
                ts_init=ts_init,
                strategy_id=order.strategy_id,
                client_order_id=cid,
                symbol=order.symbol,
                side=order.side,
                price=price,
                quantity=qty,
                leaves_quantity=0,
                liquidity_side=_TAKER,
                trade_id=f"{name}-T{self._trade_seq}",
                venue_order_id=order.venue_order_id,
                venue=name,
            )  # ``queue_ahead_at_arrival`` at its default, -1: a taker
        )

    def _expire_day(self, close_ns: int) -> None:
        parked = self._bars.parked()  # bar data: the next bar decides
        for order in [o for o in self._orders.values() if o.time_in_force is TimeInForce.DAY and id(o) not in parked]:
            self._close(order)
            self._report(OrderExpired, close_ns, OrderAction.CANCEL, expired_quantity=order.remaining, **_ids(order))

    # -- read view (tests, reports) -----------------------------------------------------------------------------

    def resting(self, symbol: str) -> list[SimOrder]:
        st = self._matcher.states.get(symbol)
        return [] if st is None else [o for levels in st.resting.values() for level in levels.values() for o in level]


class CompiledExchange(SimulatedExchange):
    """A ``SimulatedExchange`` whose bar order path (``send``, ``_on_submit``, ``_fill_bar``) is compiled
    (``_exchange_core.pyx``): the same steps on the same slots, the Python methods above run for every case it
    does not compile; built by ``SimulatedExchange(impl="compiled"|"auto")``."""

    __slots__ = ()
    impl: ClassVar[Literal["compiled", "python"]] = "compiled"

    if COMPILED_AVAILABLE:
        send: Any = _exchange_core.send
        _on_submit: Any = _exchange_core.on_submit
        _fill_bar: Any = _exchange_core.fill_bar


if COMPILED_AVAILABLE:
    _exchange_core.bind(SimulatedExchange)  # the slots' offsets and the reference methods the core falls back to


def _ids(order: SimOrder) -> dict[str, str]:
    return {"strategy_id": order.strategy_id, "client_order_id": order.client_order_id, "symbol": order.symbol}
