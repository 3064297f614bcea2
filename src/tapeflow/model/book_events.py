"""Events about the local order book: its integrity, what a feed reveals about it, the signals read from it.

Three groups, all emitted or consumed by ``tapeflow.book``:

- integrity (``BookGap``, ``BookResynced``, ``BookCrossed``, ``UnknownOrderRef``): the book says when it can
  no longer be trusted instead of silently drifting, so that a strategy or the risk collar can stand aside;
- what a feed reveals that its messages cannot (``OrderDiscovered``, ``DepthRevealed``): a feed that starts
  with a non-empty book, or that only reports the top N levels (LOBSTER), shows liquidity nobody saw arrive;
- microstructure signals (``LargeOrderPulled``, ``BookImbalance``, ``Microprice``, ``OrderFlowImbalance``):
  floats are allowed in the signals, as model inputs; prices and sizes stay integers.

Trades with an aggressor and best bid/offer changes reuse ``Trade`` and ``Quote`` from ``market``.
"""

from __future__ import annotations

from tapeflow.model.enums import Side
from tapeflow.model.events import DurationNs, Event, NonNegQty, PriceUnits, Qty, Symbol
from tapeflow.model.market import BookLevel, Sequence


class BookGap(Event, frozen=True, kw_only=True):
    """A feed sequence number was skipped: the book missed messages and is stale until a snapshot arrives."""

    symbol: Symbol
    expected_sequence: Sequence
    received_sequence: Sequence


class BookResynced(Event, frozen=True, kw_only=True):
    """A snapshot rebuilt a stale or crossed book; ``stale_for_ns`` is how long it could not be trusted."""

    symbol: Symbol
    sequence: Sequence
    stale_for_ns: DurationNs = 0


class BookCrossed(Event, frozen=True, kw_only=True):
    """After an update the best bid is at or above the best ask: some message was missed or misapplied."""

    symbol: Symbol
    bid_price: PriceUnits
    ask_price: PriceUnits
    sequence: Sequence = 0


class UnknownOrderRef(Event, frozen=True, kw_only=True):
    """A message referred to an order id the L3 book does not hold; ``count`` is the running total so far."""

    symbol: Symbol
    order_id: int
    operation: str
    count: NonNegQty


class OrderDiscovered(Event, frozen=True, kw_only=True):
    """An order that rested before the feed began (or beyond the levels it covers) is referenced at last.

    ``size`` shares of the level at ``price`` that nobody saw arrive belong to ``order_id``; the L3 book turns
    them into a known order at the head of the queue (it is older than every order the feed added) so that the
    message that follows (delete, cancel, execution) applies to it like to any other order.
    """

    symbol: Symbol
    order_id: int
    side: Side
    price: PriceUnits
    size: Qty
    sequence: Sequence = 0


class DepthRevealed(Event, frozen=True, kw_only=True):
    """A depth-limited feed shows levels that came into view from beyond its last level.

    On ``side``, the levels strictly worse than ``after_price`` and up to the last one listed are exactly
    ``levels``; with ``through_end`` the side has no level beyond them either. ``after_price`` is ``NO_PRICE``
    when the side was empty before.
    """

    symbol: Symbol
    side: Side
    after_price: PriceUnits
    levels: tuple[BookLevel, ...] = ()
    through_end: bool = False
    sequence: Sequence = 0


class LargeOrderPulled(Event, frozen=True, kw_only=True):
    """A large resting order was cancelled soon after it arrived, unfilled: the raw input of spoofing review.

    ``distance`` is how far (price units) it rested from the best price of its side when pulled (0 at the
    touch); ``level_average`` the average order size of the level it joined; ``pulled_size`` the shares
    cancelled.
    """

    symbol: Symbol
    order_id: int
    side: Side
    price: PriceUnits
    size: Qty
    pulled_size: Qty
    distance: NonNegQty
    lifetime_ns: DurationNs
    level_average: float = 0.0


class BookImbalance(Event, frozen=True, kw_only=True):
    """(bid - ask) / (bid + ask) shares over the top ``levels`` levels: +1 all bids, -1 all asks."""

    symbol: Symbol
    levels: Qty
    bid_size: NonNegQty
    ask_size: NonNegQty
    imbalance: float


class Microprice(Event, frozen=True, kw_only=True):
    """The size-weighted mid ``(bid * ask_size + ask * bid_size) / (bid_size + ask_size)``, in price units."""

    symbol: Symbol
    microprice: float
    bid_price: PriceUnits
    ask_price: PriceUnits


class OrderFlowImbalance(Event, frozen=True, kw_only=True):
    """Cont-Kukanov-Stoikov order flow imbalance of one best bid/offer change (shares) and its sum."""

    symbol: Symbol
    ofi: int
    cumulative: int
