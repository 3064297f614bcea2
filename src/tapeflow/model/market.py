"""Market-data events: trades, quotes, L2 price-level deltas, L3 order-by-order messages, snapshots, bars.

L3 messages follow NASDAQ ITCH semantics (and LOBSTER, which is reconstructed from ITCH): ``order_id`` is the
exchange's order reference number. ITCH's partial "Order Cancel" is ``OrderReduced`` here, because
``OrderCancelled`` is the name of the confirmation a strategy receives for its own order.

``sequence`` is the feed's message sequence number where the feed has one (0 where it does not): books use it to
detect gaps and to say when they are stale.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from tapeflow.model.enums import Aggressor, BookAction, Side
from tapeflow.model.events import DurationNs, Event, NonNegQty, PriceUnits, Qty, Symbol
from tapeflow.model.prices import NO_PRICE

Sequence = Annotated[int, msgspec.Meta(ge=0)]


class Trade(Event, frozen=True, kw_only=True):
    """A print. ``aggressor`` is the side of the liquidity-taking order (BUY: buyer-initiated)."""

    symbol: Symbol
    price: PriceUnits
    size: Qty
    aggressor: Aggressor = Aggressor.UNKNOWN
    venue: str = ""
    trade_id: str = ""
    conditions: tuple[str, ...] = ()


class Quote(Event, frozen=True, kw_only=True):
    """Best bid and offer of one venue; an NBBO is a Quote with ``venue == "NBBO"``. Size 0 means an empty side."""

    symbol: Symbol
    bid_price: PriceUnits
    bid_size: NonNegQty
    ask_price: PriceUnits
    ask_size: NonNegQty
    venue: str = ""


class BookDelta(Event, frozen=True, kw_only=True):
    """An L2 (market-by-price) change: the level at ``price`` on ``side`` now holds ``size`` shares."""

    symbol: Symbol
    action: BookAction
    side: Side
    price: PriceUnits
    size: NonNegQty
    sequence: Sequence = 0
    order_count: NonNegQty = 0
    venue: str = ""


class BookLevel(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One price level in a snapshot: price, aggregate size, number of orders (0 where unknown)."""

    price: PriceUnits
    size: NonNegQty
    order_count: NonNegQty = 0


class BookOrder(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One resting order in an L3 snapshot, in queue order within its level."""

    order_id: int
    side: Side
    price: PriceUnits
    size: Qty


class BookSnapshot(Event, frozen=True, kw_only=True):
    """Full book state: levels best first; for L3 books also every order in priority order."""

    symbol: Symbol
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()
    orders: tuple[BookOrder, ...] = ()
    sequence: Sequence = 0
    venue: str = ""


class OrderAdded(Event, frozen=True, kw_only=True):
    """A visible limit order joined the book (ITCH A/F, LOBSTER 1)."""

    symbol: Symbol
    order_id: int
    side: Side
    price: PriceUnits
    size: Qty
    sequence: Sequence = 0
    mpid: str = ""


class OrderExecuted(Event, frozen=True, kw_only=True):
    """A resting order traded ``size`` shares (ITCH E/C, LOBSTER 4).

    ``price`` is ``NO_PRICE`` when the execution is at the order's own price (ITCH E), else the execution price
    (ITCH C). The aggressor is the opposite of the resting order's side.
    """

    symbol: Symbol
    order_id: int
    size: Qty
    price: PriceUnits = NO_PRICE
    trade_id: str = ""
    sequence: Sequence = 0
    printable: bool = True


class OrderReduced(Event, frozen=True, kw_only=True):
    """Part of a resting order was cancelled: ``size`` shares removed, the rest keeps its priority (ITCH X)."""

    symbol: Symbol
    order_id: int
    size: Qty
    sequence: Sequence = 0


class OrderDeleted(Event, frozen=True, kw_only=True):
    """A resting order left the book entirely (ITCH D, LOBSTER 3)."""

    symbol: Symbol
    order_id: int
    sequence: Sequence = 0
    size: NonNegQty = 0
    """Shares its level loses, when the feed says (LOBSTER does); 0: the order's remaining size. They differ when
    part of the order was cancelled while its level was out of a depth-limited feed's view: the level's size was
    already set from the orderbook file then, so only the order's last known shares may be taken from it."""


class OrderReplaced(Event, frozen=True, kw_only=True):
    """ITCH U: the order ``order_id`` is replaced by ``new_order_id`` at a new price and size, losing priority."""

    symbol: Symbol
    order_id: int
    new_order_id: int
    price: PriceUnits
    size: Qty
    sequence: Sequence = 0


class Bar(Event, frozen=True, kw_only=True):
    """OHLCV over ``interval_ns``. ``ts_event`` is the bar's close: nobody can know a bar before it ends."""

    symbol: Symbol
    open: PriceUnits
    high: PriceUnits
    low: PriceUnits
    close: PriceUnits
    volume: NonNegQty
    interval_ns: DurationNs = 60_000_000_000


class Dividend(Event, frozen=True, kw_only=True):
    """A cash dividend going ex: whoever holds ``symbol`` now (before the ex-date's bar) is paid ``amount`` per share.

    Emitted by a bar source read with ``adjust = "splits+dividends"`` just before the ex-date's bar, so that a
    position bought at that bar does not receive it. ``amount`` is per share in the prices the run sees (split-
    adjusted), 1/10,000 dollar rounded half-to-even; the portfolio credits it to cash on the ex-date (the pay date
    is weeks later, but a backtest that waits would show the price drop without the money).
    """

    symbol: Symbol
    amount: PriceUnits
