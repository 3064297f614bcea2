"""Microstructure signals, pushed as events as the book changes.

``BookSignals`` sits in front of a book: each market-data event goes through ``on_event``, which looks at the
book before the change where a signal needs it (the side and price of an order about to trade or leave),
applies the event, and then emits what changed:

- ``Trade`` with its aggressor for every execution of a resting order (an execution of a resting sell is a
  buyer-initiated trade);
- ``Quote`` when the best bid or ask price or size changed;
- ``LargeOrderPulled`` when a resting order at or above the configured size (absolute, or a multiple of the
  average order of the level it joined) is cancelled within the configured time of its arrival without having
  traded: the input of spoofing surveillance;
- ``Microprice`` and ``OrderFlowImbalance`` (Cont, Kukanov and Stoikov 2014) on every best bid/offer change,
  ``BookImbalance`` whenever the shares of the top n levels change.

The same quantities are plain functions (``imbalance``, ``microprice``, ``ofi``) for a strategy that pulls.
Each emitted event carries the ``ts_event`` of the message that caused it.
"""

from __future__ import annotations

import msgspec

from tapeflow.book.integrity import Emit
from tapeflow.book.l2 import L2Book
from tapeflow.book.l3 import L3Book
from tapeflow.book.view import BookBase, TopOfBook
from tapeflow.model.book_events import BookImbalance, LargeOrderPulled, Microprice, OrderFlowImbalance
from tapeflow.model.enums import Aggressor, Side
from tapeflow.model.events import Event
from tapeflow.model.market import (
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Quote,
    Trade,
)
from tapeflow.model.prices import NO_PRICE


class SignalConfig(msgspec.Struct, frozen=True, kw_only=True):
    quotes: bool = True
    trades: bool = True
    imbalance_levels: int = 5
    """Levels per side in ``BookImbalance``; 0 turns it off."""
    microprice: bool = True
    ofi: bool = True
    large_order_size: int = 0
    """Shares at or above which an order is large; 0 turns the absolute test off."""
    large_order_level_multiple: float = 0.0
    """An order is large at this multiple of the average order of the level it joins; 0 turns it off."""
    large_order_window_ns: int = 1_000_000_000
    """A large order pulled later than this after its arrival is not reported."""


def imbalance(book: BookBase, levels: int = 5) -> float | None:
    """(bid - ask) / (bid + ask) shares over the top ``levels`` of each side; None for an empty book."""
    bid = sum(s for _, s in book.bids.levels(levels))
    ask = sum(s for _, s in book.asks.levels(levels))
    return (bid - ask) / (bid + ask) if bid + ask else None


def microprice(top: TopOfBook) -> float | None:
    """Size-weighted mid in price units: leans toward the side with less size, where the price is going."""
    if top.bid_price == NO_PRICE or top.ask_price == NO_PRICE:
        return None
    total = top.bid_size + top.ask_size
    return (top.bid_price * top.ask_size + top.ask_price * top.bid_size) / total


def ofi(prev: TopOfBook, cur: TopOfBook) -> int:
    """Order flow imbalance of one best bid/offer change in shares (positive: buying pressure).

    e = 1{Pb >= Pb'} qb - 1{Pb <= Pb'} qb' - 1{Pa <= Pa'} qa + 1{Pa >= Pa'} qa', primes for the previous
    quote; 0 when either quote has an empty side.
    """
    if NO_PRICE in (prev.bid_price, prev.ask_price, cur.bid_price, cur.ask_price):
        return 0
    e = 0
    if cur.bid_price >= prev.bid_price:
        e += cur.bid_size
    if cur.bid_price <= prev.bid_price:
        e -= prev.bid_size
    if cur.ask_price <= prev.ask_price:
        e -= cur.ask_size
    if cur.ask_price >= prev.ask_price:
        e += prev.ask_size
    return e


class _Watched(msgspec.Struct, gc=False):
    ts: int
    size: int
    level_average: float


_AGGRESSOR = {Side.SELL: Aggressor.BUY, Side.BUY: Aggressor.SELL}


class BookSignals:
    """Applies market-data events to ``book`` and pushes the signals they cause to ``emit``."""

    def __init__(self, book: L3Book | L2Book, emit: Emit, config: SignalConfig | None = None) -> None:
        self.book = book
        self.config = config or SignalConfig()
        self._emit = emit
        self._top = book.top()
        self._ofi_sum = 0
        self._depth_sums = (0, 0)
        self._watched: dict[int, _Watched] = {}
        self._large = self.config.large_order_size > 0 or self.config.large_order_level_multiple > 0

    def on_event(self, event: Event) -> None:
        book = self.book
        ts = event.ts_event
        if isinstance(book, L3Book):
            self._before_l3(book, event, ts)
        book.apply(event)
        self._after(book, ts)

    def _before_l3(self, book: L3Book, event: Event, ts: int) -> None:
        if isinstance(event, OrderExecuted):
            order = book.order(event.order_id)
            self._watched.pop(event.order_id, None)  # it traded: not a pulled order whatever happens next
            if order is not None and self.config.trades:
                price = event.price or order.price
                self._emit(
                    Trade(
                        ts_event=ts,
                        ts_init=event.ts_init,
                        symbol=book.symbol,
                        price=price,
                        size=event.size,
                        aggressor=_AGGRESSOR[order.side],
                        trade_id=event.trade_id,
                    )
                )
        elif isinstance(event, OrderAdded) and self._large:
            self._maybe_watch(book, event.order_id, event.side, event.price, event.size, ts)
        elif isinstance(event, OrderReduced | OrderDeleted | OrderReplaced) and self._watched:
            watched = self._watched.get(event.order_id)
            order = book.order(event.order_id)
            if watched is None or order is None:
                return
            pulled = event.size if isinstance(event, OrderReduced) else order.size
            if pulled >= order.size:
                del self._watched[event.order_id]
            lifetime = ts - watched.ts
            if lifetime <= self.config.large_order_window_ns:
                best = book.side(order.side).best
                self._emit(
                    LargeOrderPulled(
                        ts_event=ts,
                        ts_init=event.ts_init,
                        symbol=book.symbol,
                        order_id=order.order_id,
                        side=order.side,
                        price=order.price,
                        size=watched.size,
                        pulled_size=min(pulled, order.size),
                        distance=abs(best - order.price),
                        lifetime_ns=lifetime,
                        level_average=watched.level_average,
                    )
                )
        if isinstance(event, OrderReplaced) and self._large:
            order = book.order(event.order_id)
            if order is not None:
                self._maybe_watch(book, event.new_order_id, order.side, event.price, event.size, ts)

    def _maybe_watch(self, book: L3Book, order_id: int, side: Side, price: int, size: int, ts: int) -> None:
        """Remember an arriving order if it is large against the configured size or the level it joins."""
        cfg = self.config
        level_size = book.size_at(side, price)
        count = book.order_count(side, price)
        if count:
            average = level_size / count
        else:  # a new level: compare with the average order over the side's top levels
            levels = book.side(side).prices(5)
            counts = sum(book.order_count(side, p) for p in levels)
            average = sum(book.size_at(side, p) for p in levels) / counts if counts else 0.0
        large = (cfg.large_order_size > 0 and size >= cfg.large_order_size) or (
            cfg.large_order_level_multiple > 0 and average > 0 and size >= cfg.large_order_level_multiple * average
        )
        if large:
            self._watched[order_id] = _Watched(ts, size, average)

    def _after(self, book: BookBase, ts: int) -> None:
        cfg = self.config
        if cfg.imbalance_levels > 0:
            self._imbalance(book, ts)
        top = book.top()
        prev = self._top
        if top == prev:
            return
        self._top = top
        symbol = book.symbol
        if cfg.quotes:
            self._emit(
                Quote(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    bid_price=top.bid_price,
                    bid_size=top.bid_size,
                    ask_price=top.ask_price,
                    ask_size=top.ask_size,
                )
            )
        if cfg.ofi:
            e = ofi(prev, top)
            self._ofi_sum += e
            self._emit(OrderFlowImbalance(ts_event=ts, ts_init=ts, symbol=symbol, ofi=e, cumulative=self._ofi_sum))
        if cfg.microprice:
            mp = microprice(top)
            if mp is not None:
                self._emit(
                    Microprice(
                        ts_event=ts,
                        ts_init=ts,
                        symbol=symbol,
                        microprice=mp,
                        bid_price=top.bid_price,
                        ask_price=top.ask_price,
                    )
                )

    def _imbalance(self, book: BookBase, ts: int) -> None:
        """Emitted whenever the shares in the top n levels of either side changed, not only at the touch."""
        n = self.config.imbalance_levels
        bid = sum(s for _, s in book.bids.levels(n))
        ask = sum(s for _, s in book.asks.levels(n))
        if (bid, ask) == self._depth_sums or not bid + ask:
            return
        self._depth_sums = (bid, ask)
        self._emit(
            BookImbalance(
                ts_event=ts,
                ts_init=ts,
                symbol=book.symbol,
                levels=n,
                bid_size=bid,
                ask_size=ask,
                imbalance=(bid - ask) / (bid + ask),
            )
        )
