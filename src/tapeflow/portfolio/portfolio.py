"""The portfolio: cash, netting positions, fees and the equity curve, kept from events alone.

It is a kernel component: fills move positions and cash, quotes and bars move marks, and the equity curve is
sampled on the data's own clock (``on_batch``, called by the backtest driver with each batch of feed events) or,
where no driver does that, by a repeating kernel timer. Nothing calls into it to change state except ``mark`` (for
an integrator who marks from an order book) and ``sample``; strategies and the risk engine only read it.

Money is ``int`` 1/10,000 dollar throughout. Cash is exact: a buy of q at p costs ``q * p + fee``, a sell brings
``q * p - fee``. Realized PnL is gross of fees and fees are a separate total, so that the identity
``equity == starting_cash + realized - fees + unrealized + dividends`` holds to the unit (see ``position`` for
why rounding of half-unit marks cannot break it).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Mapping
from fractions import Fraction
from operator import attrgetter
from typing import TYPE_CHECKING, Literal, Protocol

import msgspec

from tapeflow.model.enums import Side
from tapeflow.model.errors import EngineError
from tapeflow.model.market import Bar, Dividend, Quote
from tapeflow.model.orders import OrderFilled
from tapeflow.model.venue_state import VenueState
from tapeflow.portfolio.position import Position, PositionView, mark_x2_of

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel
    from tapeflow.model.events import Event, TimerFired

_ts_init = attrgetter("ts_init")
_BUY = Side.BUY  # bound once: ``side.sign`` is a property reading ``Side.BUY`` through the class (issue 19)

DEFAULT_SAMPLE_INTERVAL_NS = 1_000_000_000
"""At most one equity sample per simulated second: fine enough for tick data, cheap enough for a full session."""


class EquityCurve:
    """Append-only int64 columns of equity samples: appending is all a run pays, 64 bytes a sample.

    ``array('q')`` rather than lists: a month of one-second samples is 2.6 million rows, which as Python ints
    would take most of a gigabyte. Money fits easily (int64 holds $922 trillion in 1/10,000 dollar).
    """

    __slots__ = ("cash", "equity", "fees", "gross", "net", "realized", "ts", "unrealized")
    COLUMNS = ("ts", "equity", "cash", "gross", "net", "realized", "unrealized", "fees")
    """Column order of ``columns()`` and of ``equity.parquet``; money in 1/10,000 dollar, ``ts`` in ns."""

    def __init__(self) -> None:
        self.ts: array[int] = array("q")
        self.equity: array[int] = array("q")
        self.cash: array[int] = array("q")
        self.gross: array[int] = array("q")
        self.net: array[int] = array("q")
        self.realized: array[int] = array("q")
        self.unrealized: array[int] = array("q")
        self.fees: array[int] = array("q")

    def __len__(self) -> int:
        return len(self.ts)

    def columns(self) -> dict[str, array[int]]:
        return {name: getattr(self, name) for name in self.COLUMNS}


class PortfolioConfig(msgspec.Struct, frozen=True, kw_only=True):
    """``starting_cash`` in 1/10,000 dollar; ``sample_interval_ns`` None samples only at start and stop."""

    starting_cash: int = 1_000_000 * 10_000
    sample_interval_ns: int | None = DEFAULT_SAMPLE_INTERVAL_NS
    sample_clock: Literal["data", "timer"] = "data"
    """``data``: after the last event of each interval that had events, from ``on_batch`` (the backtest driver
    calls it; nothing is sampled through nights and weekends, so memory follows the data, whatever the bar size).
    ``timer``: a repeating kernel timer every interval of event time, events or not (a kernel no driver feeds)."""
    strategy_id: str | None = None
    """Only fills of this strategy count (None: every fill, the whole account)."""


class BestPrices(Protocol):
    """What the portfolio reads of a local book for its mark: the best bid and ask (0 when a side is empty)."""

    @property
    def best_bid(self) -> int: ...
    @property
    def best_ask(self) -> int: ...


class Portfolio:
    """Cash, positions and the equity curve of one account (or one strategy, see ``PortfolioConfig``)."""

    def __init__(
        self,
        config: PortfolioConfig | None = None,
        *,
        book_marks: Callable[[str], int | None] | None = None,
        last_bars: Mapping[str, Bar] | None = None,
        books: Callable[[str], BestPrices | None] | None = None,
    ) -> None:
        """``book_marks(symbol)``: the doubled mid of the symbol's local book now, or None. ``books(symbol)``: the
        symbol's local book, or None (a node's ``BookKeeper.book``); its doubled mid, when both sides are there, is
        the mark, read here without a caller's function in between (the risk engine and the results read a mark on
        every order: issue 19). A book's mid outranks ``book_marks``.

        Given either, positions are valued at the book's mid when asked, and the portfolio no longer listens to every
        quote (a handler less on the hottest path); quotes still mark nothing when a book exists. Bars, ``mark``
        and fills remain the marks of symbols without a two-sided book.

        ``last_bars``: the last bar of each symbol, by symbol, a mapping a component that reads every bar anyway
        keeps (the simulated exchange's, filled by the kernel). Given it, the portfolio does not listen to bars: a
        bar mark is read with one lookup when a mark is asked for (three times an order in a bar backtest, issue
        19), not computed on each of a bar backtest's bars. A bar's close then outranks a ``mark`` call (without
        it, whichever came last wins); nothing in a node calls ``mark``.
        """
        self.config = config if config is not None else PortfolioConfig()
        self._strategy_id = self.config.strategy_id  # read on every fill (the config is frozen)
        self._book_marks = book_marks
        self._books = books
        self._last_bars = last_bars
        self._last_fraction: dict[str, tuple[int, Fraction]] = {}
        """By symbol, the last ``mark_price`` built and its doubled mark: the risk rules ask twice per order at the
        same mark, and a ``Fraction`` costs a gcd to build."""
        self.starting_cash = self.config.starting_cash
        self.cash = self.starting_cash
        self.fees = 0
        """Sum of ``OrderFilled.fee`` (negative components are rebates)."""
        self.traded_notional = 0
        """Sum of ``quantity * price`` over fills, for turnover."""
        self.fill_count = 0
        self.dividends = 0
        """Cash credited (short: debited) by ``Dividend`` events: equity also moves by this, beside PnL of trades."""
        self.curve = EquityCurve()
        self._positions: dict[str, Position] = {}
        self._marks_x2: dict[str, int] = {}
        """Doubled marks given by quotes, bars and ``mark``."""
        self._fill_marks_x2: dict[str, int] = {}
        """Doubled last fill prices: the mark of a symbol nothing else has marked yet."""
        self._kernel: Kernel | None = None
        self._origin = 0
        """Start of the sampling grid: intervals are ``[origin + k * interval, origin + (k + 1) * interval)``."""
        self._due = 0
        """End of the interval the last feed event seen belongs to: an event at or after it starts a new one."""
        self._open: int | None = None
        """Time of the last feed event seen in the current interval, not yet sampled (None: none seen)."""

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(OrderFilled, self.on_fill)
        if self._book_marks is None and self._books is None:
            kernel.subscribe(Quote, self.on_quote)
        if self._last_bars is None:
            kernel.subscribe(Bar, self.on_bar)
        kernel.subscribe(Dividend, self.on_dividend)

    def on_start(self) -> None:
        kernel = self._kernel
        if kernel is None:
            return
        self.sample(kernel.now)
        interval = self.config.sample_interval_ns
        if interval is None:
            return
        if self.config.sample_clock == "timer":
            kernel.set_timer("portfolio.sample", interval=interval, callback=self._on_timer)
        self._origin = kernel.now
        self._due = kernel.now + interval
        self._open = None

    def on_stop(self) -> None:
        if self._kernel is not None:
            self.sample(self._kernel.now)

    def _on_timer(self, event: TimerFired) -> None:
        self.sample(event.ts_init)

    @property
    def samples_on_data(self) -> bool:
        """True when a driver must call ``on_batch`` for the curve to have samples between start and stop."""
        return self.config.sample_clock == "data" and self.config.sample_interval_ns is not None

    def on_batch(self, batch: list[Event]) -> None:
        """Schedule the samples this batch of feed events (sorted, about to be dispatched) closes.

        An interval is sampled once, after its last event: the sample runs 1 ns after that event's time, when
        everything the event caused at that time (an order, a zero-latency fill) has been handled, and is stamped
        with the event's time. For bars that is one sample per bar, valued at its close; for ticks one per
        interval that had events. Cost: one comparison for a batch within one interval, else a bisection per
        sample, never a step per event; intervals without events cost nothing.
        """
        interval = self.config.sample_interval_ns
        kernel = self._kernel
        if interval is None or kernel is None or not batch or self.config.sample_clock != "data":
            return
        due = self._due
        if batch[-1].ts_init < due:  # the common case: the whole batch falls in the current interval
            self._open = batch[-1].ts_init
            return
        start, n = 0, len(batch)
        while True:
            j = bisect_left(batch, due, lo=start, key=_ts_init)
            last = batch[j - 1].ts_init if j > start else self._open
            if j == n:
                self._open = last
                self._due = due
                return
            if last is not None:
                kernel.call_at(last + 1, self.sample, last)
            first = batch[j].ts_init
            due = self._origin + ((first - self._origin) // interval + 1) * interval
            self._open = None
            start = j

    def restore(self, state: VenueState) -> None:
        """Take the venue's positions and cash as ours (a restarted node, before its run starts).

        PnL counts from the restart: ``starting_cash`` becomes the restored equity at cost (cash plus the cost
        basis of the positions), so ``equity == starting_cash + realized - fees + unrealized + dividends`` still
        holds to the unit. Only into a portfolio that has seen nothing yet (fails closed otherwise: adding a
        venue's positions to ones already held would count them twice).
        """
        if self.fill_count or self._positions or len(self.curve):
            raise EngineError("restore a portfolio before its run, once: this one already holds fills or samples")
        symbols = [p.symbol for p in state.positions]
        if len(set(symbols)) != len(symbols):
            raise EngineError(f"restored state of {state.venue} lists a symbol twice: {sorted(symbols)}")
        self.cash = state.cash
        for held in state.positions:
            position = self._positions[held.symbol] = Position(held.symbol)
            position.quantity = held.quantity
            position.cost_basis = held.cost_basis
        self.starting_cash = state.cash + sum(p.cost_basis for p in state.positions)

    # -- writes (events) ----------------------------------------------------------------------------------------

    def on_fill(self, event: OrderFilled) -> None:
        strategy = self._strategy_id
        if strategy is not None and event.strategy_id != strategy:
            return
        price, quantity, fee, symbol = event.price, event.quantity, event.fee, event.symbol
        notional = quantity * price
        if event.side is _BUY:  # ``Side.sign`` is 1
            self.cash -= notional + fee
            signed = quantity
        else:
            self.cash += notional - fee  # -(-notional + fee)
            signed = -quantity
        self.fees += fee
        self.traded_notional += notional
        self.fill_count += 1
        self._fill_marks_x2[symbol] = 2 * price
        position = self._positions.get(symbol)
        if position is None:
            position = self._positions[symbol] = Position(symbol)
        held = position.quantity
        if held == 0 or (held > 0) == (signed > 0):  # opening or adding: ``apply_fill``'s first branch, no frame
            position.fees += fee
            position.quantity = held + signed
            position.cost_basis += signed * price
        else:  # reducing, closing or reversing: realized PnL, in one place
            position.apply_fill(signed, price, fee)

    def on_dividend(self, event: Dividend) -> None:
        """Pay the holder (a short position pays it, as a borrower of the shares does)."""
        position = self._positions.get(event.symbol)
        if position is None or not position.quantity:
            return
        paid = position.quantity * event.amount
        self.cash += paid
        self.dividends += paid

    def on_quote(self, event: Quote) -> None:
        """Mark at the mid, only when both sides are present: a one-sided quote has no mid to trust.

        The hot path of the portfolio (every quote of every symbol): one test, one dict store. ``NO_PRICE`` is 0,
        so the truth tests below also refuse a side without a price.
        """
        if event.bid_size and event.ask_size and event.bid_price and event.ask_price:
            self._marks_x2[event.symbol] = event.bid_price + event.ask_price

    def on_bar(self, event: Bar) -> None:
        self._marks_x2[event.symbol] = 2 * event.close

    def mark(self, symbol: str, price: int | Fraction) -> None:
        """Mark ``symbol`` at ``price`` (price units; a Fraction must be a multiple of half a unit, e.g. a mid)."""
        self._marks_x2[symbol] = mark_x2_of(price)

    def sample(self, ts: int) -> None:
        """Append one equity sample at ``ts``; a second sample at the same ``ts`` replaces the first.

        Replacing keeps one row per time: the timer fires before feed events of its time, and the final sample
        at ``on_stop`` must see what those events did.
        """
        curve = self.curve
        gross = net = unrealized = 0
        for symbol, position in self._positions.items():
            value = position.market_value(self._mark_x2(symbol))
            gross += abs(value)
            net += value
            unrealized += value - position.cost_basis
        row = (ts, self.cash + net, self.cash, gross, net, self.realized_pnl(), unrealized, self.fees)
        replace = bool(curve.ts) and curve.ts[-1] == ts
        for name, value in zip(EquityCurve.COLUMNS, row, strict=True):
            column: array[int] = getattr(curve, name)
            if replace:
                column[-1] = value
            else:
                column.append(value)

    # -- reads --------------------------------------------------------------------------------------------------

    def position(self, symbol: str) -> PositionView:
        """The position in ``symbol`` (flat, never marked, when nothing was traded)."""
        position = self._positions.get(symbol)
        return (position if position is not None else Position(symbol)).view(self._mark_x2(symbol))

    def positions(self) -> list[PositionView]:
        """Every symbol ever traded, flat ones included, in symbol order (deterministic)."""
        return [self._positions[symbol].view(self._mark_x2(symbol)) for symbol in sorted(self._positions)]

    def quantity(self, symbol: str) -> int:
        """Signed shares held: the one number the risk engine asks for on every order, without building a view."""
        position = self._positions.get(symbol)
        return 0 if position is None else position.quantity

    def mark_x2(self, symbol: str) -> int | None:
        """Twice ``mark_price`` as an int (exact: marks are kept doubled), for readers on a per-order path.

        The book's mid, else the last bar's close or the given mark, else the last fill price (doubled), else
        None."""
        books = self._books
        if books is not None:
            book = books(symbol)
            if book is not None:
                bid, ask = book.best_bid, book.best_ask
                if bid and ask:
                    return bid + ask
        book_marks = self._book_marks
        if book_marks is not None:
            book_mark = book_marks(symbol)
            if book_mark is not None:
                return book_mark
        last_bars = self._last_bars
        if last_bars is not None:
            bar = last_bars.get(symbol)
            if bar is not None:
                return 2 * bar.close
        mark = self._marks_x2.get(symbol)
        return mark if mark is not None else self._fill_marks_x2.get(symbol)

    _mark_x2 = mark_x2  # the one implementation: the risk engine and the results read it on every order, and a
    # public wrapper calling a private method cost a call each time

    def mark_price(self, symbol: str) -> Fraction | None:
        """The price positions in ``symbol`` are valued at (see ``PositionView.mark``)."""
        mark_x2 = self._mark_x2(symbol)
        if mark_x2 is None:
            return None
        last = self._last_fraction.get(symbol)
        if last is not None and last[0] == mark_x2:
            return last[1]
        price = Fraction(mark_x2, 2)
        self._last_fraction[symbol] = (mark_x2, price)
        return price

    def equity(self) -> int:
        return self.cash + self.net_exposure()

    def gross_exposure(self) -> int:
        return sum(abs(p.market_value(self._mark_x2(s))) for s, p in self._positions.items())

    def net_exposure(self) -> int:
        return sum(p.market_value(self._mark_x2(s)) for s, p in self._positions.items())

    def exposures(self) -> tuple[int, int]:
        """``(gross_exposure(), net_exposure())`` in one pass over the positions, each mark read once: the risk
        engine reads both before every order, after every bar has moved a mark (issue 19)."""
        gross = net = 0
        mark_x2 = self.mark_x2
        for symbol, position in self._positions.items():
            mark = mark_x2(symbol)  # ``position.market_value(mark)`` without its call: rounded half up
            value = position.cost_basis if mark is None else (position.quantity * mark + 1) // 2
            if value < 0:
                gross -= value
            else:
                gross += value
            net += value
        return gross, net

    def realized_pnl(self) -> int:
        """Gross of fees; subtract ``fees`` for the net figure."""
        return sum(p.realized for p in self._positions.values())

    def unrealized_pnl(self) -> int:
        return sum(p.unrealized(self._mark_x2(s)) for s, p in self._positions.items())
