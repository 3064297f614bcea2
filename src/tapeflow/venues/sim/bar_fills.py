"""Fills against bars: the simulated exchange's answer when a symbol's data has no depth to walk.

Kept apart from depth matching because the two never meet: a symbol with bars has no book, so its orders wait
here for the next bar instead of resting in a queue, and nothing that moves queues ever touches them.

On a kernel (``attach``), the last bar of each symbol is kept by the kernel itself (``Kernel.keep_last``: a dict
store, no Python call, on the compiled kernel), and ``on_bar`` listens only while an order waits: it is subscribed
in its place at attach, unsubscribed at once, and resumed there when an order parks (the kernel keeps an
unsubscribed handler's place, so bars reach the subscribers in the same order as when it listened all the time).
Most bars of a bar backtest come while nothing waits; each then cost a Python call here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from tapeflow.model.enums import LiquiditySide, OrderType, Side, TimeInForce
from tapeflow.model.market import Bar
from tapeflow.venues.sim.latency import OrderAction
from tapeflow.venues.sim.orders import SimOrder

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel

FillFn = Callable[[SimOrder, int, int, LiquiditySide, int, OrderAction], None]
"""``fill(order, price, quantity, liquidity, at, action)``: book a fill and report it (the exchange's)."""
CancelFn = Callable[[SimOrder, int, OrderAction, str], None]
"""``cancel(order, at, action, reason)``: close an order and report what was left of it (the exchange's)."""


class BarFills:
    """Orders waiting for the next bar of their symbol, and the symbols seen with bars."""

    __slots__ = ("_cancel", "_fill", "_kernel", "_last", "_listen", "_waiting")

    listen_while_waiting: ClassVar[bool] = True
    """False: ``on_bar`` hears every bar, as before the kernel could unsubscribe (tests compare the two)."""

    def __init__(self, fill: FillFn, cancel: CancelFn) -> None:
        self._fill = fill
        self._cancel = cancel
        self._kernel: Kernel | None = None
        """Set by ``attach`` when ``on_bar`` listens only while an order waits."""
        self._listen = self.on_bar
        """The handler subscribed and unsubscribed: one bound method, compared at each toggle."""
        self._waiting: dict[str, list[SimOrder]] = {}
        """By symbol, the orders waiting for its next bar; a symbol with none has no entry, so that a bar while
        nothing waits anywhere (most bars of a bar backtest) costs one truth test after its store in ``_last``."""
        self._last: dict[str, Bar] = {}
        """By symbol, its last bar: the symbols seen with bars, and the portfolio's bar mark, read when a mark is
        asked for (``close_x2``) rather than stored by a handler of its own on every bar."""

    def attach(self, kernel: Kernel) -> None:
        """Hear bars on ``kernel``: the last bars kept by the kernel, ``on_bar`` only while an order waits."""
        if not self.listen_while_waiting:
            kernel.subscribe(Bar, self._listen)
            return
        kernel.keep_last(Bar, "symbol", self._last)
        kernel.subscribe(Bar, self._listen)  # its place among the bar subscribers, kept while unsubscribed
        if not self._waiting:
            kernel.unsubscribe(Bar, self._listen)
        self._kernel = kernel

    def close_x2(self, symbol: str) -> int | None:
        """Twice the close of ``symbol``'s last bar, or None before its first bar."""
        bar = self._last.get(symbol)
        return None if bar is None else 2 * bar.close

    @property
    def symbols(self) -> set[str]:
        """The symbols seen with bars."""
        return set(self._last)

    def park(self, order: SimOrder) -> bool:
        """Keep ``order`` for its symbol's next bar if the symbol has bars; False if it has none."""
        symbol = order.symbol
        if symbol not in self._last:
            return False
        if not self._waiting and self._kernel is not None:
            self._kernel.subscribe(Bar, self._listen)  # resumed in its place: the next bar decides
        waiting = self._waiting.get(symbol)
        if waiting is None:
            self._waiting[symbol] = [order]
        else:
            waiting.append(order)
        return True

    def discard(self, order: SimOrder) -> None:
        waiting = self._waiting.get(order.symbol)
        if waiting and order in waiting:
            waiting.remove(order)
            if not waiting:
                del self._waiting[order.symbol]
                self._quiet()

    def _quiet(self) -> None:
        """Nothing waits any more: stop hearing bars (their last ones are still kept)."""
        if not self._waiting and self._kernel is not None:
            self._kernel.unsubscribe(Bar, self._listen)

    def parked(self) -> set[int]:
        """``id()`` of every waiting order (a DAY order waiting here is decided by the next bar, not the close)."""
        return {id(o) for waiting in self._waiting.values() for o in waiting}

    def on_bar(self, bar: Bar) -> None:
        """Orders placed since the last bar fill against this one, as a bar-based backtester does.

        A market order fills at the bar's open (the first price anyone could trade at after the order was sent);
        a limit order fills at the open if the open is at or better than its limit, else at the limit if the bar's
        range reached it, else it waits for the next bar. Fills are stamped at the bar's time, when we learn of
        them. Volume is not modelled: a bar can fill any size (documented as a limitation of bar data).
        """
        symbol = bar.symbol
        self._last[symbol] = bar
        if not self._waiting:
            return
        waiting = self._waiting.get(symbol)
        if waiting is None:
            return
        at = bar.ts_event
        still: list[SimOrder] = []
        self._waiting[symbol] = still
        for order in waiting:
            if order.order_type in (OrderType.MARKET, OrderType.STOP) or order.crosses(bar.open):
                price = bar.open
            elif order.crosses(bar.low if order.side is Side.BUY else bar.high):
                price = order.price
            else:
                if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                    self._cancel(order, at, OrderAction.INSERT, "IOC: the bar did not reach the limit")
                else:
                    still.append(order)
                continue
            self._fill(order, price, order.remaining, LiquiditySide.TAKER, at, OrderAction.INSERT)
        if not still and self._waiting.get(symbol) is still:
            del self._waiting[symbol]  # nothing waits for this symbol now: the next bars return at once
            self._quiet()
