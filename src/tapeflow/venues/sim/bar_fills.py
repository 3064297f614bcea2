"""Fills against bars: the simulated exchange's answer when a symbol's data has no depth to walk.

Kept apart from depth matching because the two never meet: a symbol with bars has no book, so its orders wait
here for the next bar instead of resting in a queue, and nothing that moves queues ever touches them.

On a kernel (``attach``), the last bar of each symbol is kept by the kernel itself (``Kernel.keep_last``) and
``on_bar`` is called only while an order waits (``Kernel.subscribe_while`` on ``waiting``): the compiled kernel
does both without a Python call, and most bars of a bar backtest come while nothing waits. Unsubscribing
``on_bar`` when nothing waits and subscribing it again when an order parks (``Kernel.unsubscribe``) decided the
same but cost ~6.6 us an order for ~15 ns a bar: a loss at the bar benchmark's one order per 26 bars.
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

# enum members bound once: a read through the class costs ~0.05-0.1 us on CPython 3.11, several per filled order
_AT_THE_OPEN = (OrderType.MARKET, OrderType.STOP)
_BUY = Side.BUY
_TAKER = LiquiditySide.TAKER
_INSERT = OrderAction.INSERT
_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)

FillFn = Callable[[SimOrder, int, int, LiquiditySide, int, OrderAction], None]
"""``fill(order, price, quantity, liquidity, at, action)``: book a fill and report it (the exchange's)."""
CancelFn = Callable[[SimOrder, int, OrderAction, str], None]
"""``cancel(order, at, action, reason)``: close an order and report what was left of it (the exchange's)."""
FillRestFn = Callable[[SimOrder, int, int], None]
"""``fill_rest(order, price, at)``: ``fill(order, price, order.remaining, TAKER, at, INSERT)``, what a bar does to
an order it fills (the exchange's ``_fill_bar`` does it in one frame)."""


class BarFills:
    """Orders waiting for the next bar of their symbol, and the symbols seen with bars."""

    __slots__ = ("_cancel", "_fill", "_fill_rest", "_last", "waiting")

    listen_while_waiting: ClassVar[bool] = True
    """False: ``on_bar`` is called on every bar, as before ``attach`` gated it (tests compare the two)."""

    def __init__(self, fill: FillFn, cancel: CancelFn, fill_rest: FillRestFn | None = None) -> None:
        self._fill = fill
        self._cancel = cancel
        self._fill_rest = fill_rest if fill_rest is not None else self._fill_rest_by_fill
        self.waiting: dict[str, list[SimOrder]] = {}
        """By symbol, the orders waiting for its next bar; a symbol with none has no entry, so that a bar while
        nothing waits anywhere (most bars of a bar backtest) costs one truth test after its store in ``_last``, and
        an order closing while nothing waits (the exchange tests it first) costs no call here."""
        self._last: dict[str, Bar] = {}
        """By symbol, its last bar: the symbols seen with bars, and the portfolio's bar mark, read when a mark is
        asked for (``close_x2``) rather than stored by a handler of its own on every bar."""

    def attach(self, kernel: Kernel) -> None:
        """Hear bars on ``kernel``: the last bars kept by the kernel, ``on_bar`` called only while an order waits
        (both in this place among the bar subscribers, the keeper first, as ``on_bar`` stores before it fills)."""
        if not self.listen_while_waiting:
            kernel.subscribe(Bar, self.on_bar)
            return
        kernel.keep_last(Bar, "symbol", self._last)
        kernel.subscribe_while(Bar, self.on_bar, self.waiting)

    @property
    def _waiting(self) -> dict[str, list[SimOrder]]:
        """``waiting`` under its former private name (tests compare it with their reference)."""
        return self.waiting

    def close_x2(self, symbol: str) -> int | None:
        """Twice the close of ``symbol``'s last bar, or None before its first bar."""
        bar = self._last.get(symbol)
        return None if bar is None else 2 * bar.close

    @property
    def last(self) -> dict[str, Bar]:
        """The last bar of each symbol seen (the dict itself, kept up to date: readers look a symbol up in it)."""
        return self._last

    @property
    def symbols(self) -> set[str]:
        """The symbols seen with bars."""
        return set(self._last)

    def park(self, order: SimOrder) -> bool:
        """Keep ``order`` for its symbol's next bar if the symbol has bars; False if it has none."""
        symbol = order.symbol
        if symbol not in self._last:
            return False
        waiting = self.waiting.get(symbol)
        if waiting is None:
            self.waiting[symbol] = [order]
        else:
            waiting.append(order)
        return True

    def discard(self, order: SimOrder) -> None:
        waiting = self.waiting.get(order.symbol)
        if waiting and order in waiting:
            waiting.remove(order)
            if not waiting:
                del self.waiting[order.symbol]

    def _fill_rest_by_fill(self, order: SimOrder, price: int, at: int) -> None:
        self._fill(order, price, order.quantity - order.filled, _TAKER, at, _INSERT)  # the rest: ``order.remaining``

    def parked(self) -> set[int]:
        """``id()`` of every waiting order (a DAY order waiting here is decided by the next bar, not the close)."""
        return {id(o) for waiting in self.waiting.values() for o in waiting}

    def on_bar(self, bar: Bar) -> None:
        """Orders placed since the last bar fill against this one, as a bar-based backtester does.

        A market order fills at the bar's open (the first price anyone could trade at after the order was sent);
        a limit order fills at the open if the open is at or better than its limit, else at the limit if the bar's
        range reached it, else it waits for the next bar. Fills are stamped at the bar's time, when we learn of
        them. Volume is not modelled: a bar can fill any size (documented as a limitation of bar data).
        """
        symbol = bar.symbol
        self._last[symbol] = bar
        if not self.waiting:
            return
        waiting = self.waiting.get(symbol)
        if waiting is None:
            return
        at = bar.ts_event
        fill_rest = self._fill_rest
        still: list[SimOrder] = []
        self.waiting[symbol] = still
        for order in waiting:
            if order.order_type in _AT_THE_OPEN or order.crosses(bar.open):
                price = bar.open
            elif order.crosses(bar.low if order.side is _BUY else bar.high):
                price = order.price
            else:
                if order.time_in_force in _IMMEDIATE:
                    self._cancel(order, at, _INSERT, "IOC: the bar did not reach the limit")
                else:
                    still.append(order)
                continue
            fill_rest(order, price, at)
        if not still and self.waiting.get(symbol) is still:
            del self.waiting[symbol]  # nothing waits for this symbol now: the next bars return at once
