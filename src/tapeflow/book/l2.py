"""L2 (market-by-price) book: price -> aggregate size per side, from ``BookDelta`` events and snapshots.

The write path is ``update(side, price, size)`` (size 0 removes the level), the shape of every L2 feed;
``apply`` turns events into it after checking the feed sequence. An update costs one dict store when the level
exists, and a sorted-list insert or delete only when a level appears or goes (see ``ladder``).

The hot path is shaped by what a feed does most: three updates in four change the size of a level that is
already there, and every reader asks for the best prices after each one. So ``apply`` handles an in-sequence
``UPDATE`` of an existing level inline (sequence check, timestamp, one dict store) and sends everything else
(new levels, deletes, zero sizes, gaps, duplicates, clears) to ``_write``; and ``best_bid``/``best_ask`` are
plain attributes, refreshed from the ladders whenever a level appears or goes, because a property costs a
Python call per read (a third of the per-update time when two are read per update). Measured against
NautilusTrader in benchmarks/bench_book.py.

The same ``apply`` exists compiled (``_l2_core.pyx``, the profile in docs/PERFORMANCE.md says why): the Python
method is the reference, the compiled one runs the same steps on the same state (a book built with
``impl="compiled"`` is a ``CompiledL2Book``, whose ``apply`` is the compiled function; everything else, and
every input the compiled steps do not take, is this module's code). A compiled book's ladders keep their sizes
in the core's ``LevelSizes`` (a C table of 64-bit prices that reads and writes like the dict), because two dict
lookups per size update were the largest cost left in the compiled ``apply``; every reader (this module, the
``Ladder``, ``BookView``, depth walks) goes through it, so there is no second copy to keep in sync. Tests
require identical books, events, errors and reads from both.

Order counts from ``BookDelta.order_count`` are not kept: nothing in tapeflow reads them from an L2 book, and
the L3 book has the real ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Final, Literal

from tapeflow.book.integrity import Emit
from tapeflow.book.view import BookBase
from tapeflow.config import compiled_core_chosen
from tapeflow.model.book_events import DepthRevealed
from tapeflow.model.enums import BookAction, Side
from tapeflow.model.events import Event
from tapeflow.model.market import BookDelta, BookLevel, BookSnapshot
from tapeflow.model.prices import NO_PRICE

_BUY: Final = Side.BUY
_UPDATE: Final = BookAction.UPDATE
_DELETE: Final = BookAction.DELETE
_CLEAR: Final = BookAction.CLEAR

try:  # the compiled apply (setup.py builds it); without it the Python reference runs
    from tapeflow.book._l2_core import LevelSizes
    from tapeflow.book._l2_core import apply as _compiled_apply
    from tapeflow.book._l2_core import bind as _bind_compiled

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

Impl = Literal["auto", "compiled", "python"]


class L2Book(BookBase):
    """Market-by-price book of one symbol. Read it through ``BookView``; feed it with ``update`` or
    ``apply``."""

    __slots__ = ("_ask_sizes", "_bid_sizes", "best_ask", "best_bid")

    impl: ClassVar[Literal["compiled", "python"]] = "python"
    """Which ``apply`` this book runs."""

    def __new__(cls, symbol: str = "", emit: Emit | None = None, impl: Impl = "auto") -> L2Book:
        """``impl``: "python" is the reference ``apply``; "compiled" the compiled one (``ConfigError`` when it was
        not built); "auto" the compiled one when built, unless the environment sets ``TAPEFLOW_PURE_PYTHON=1``.
        A subclass gets what it asks for."""
        if cls is not L2Book:
            return super().__new__(cls)
        compiled = compiled_core_chosen(impl, COMPILED_AVAILABLE, "the compiled L2 apply")
        return super().__new__(CompiledL2Book if compiled else cls)

    def __init__(self, symbol: str, emit: Emit | None = None, impl: Impl = "auto") -> None:
        super().__init__(symbol, emit)
        self._bid_sizes = self.bids.sizes
        """``bids.sizes`` (the same mapping, never replaced), one attribute load nearer the hot path."""
        self._ask_sizes = self.asks.sizes
        self.best_bid: int = NO_PRICE
        """Best bid price (``NO_PRICE`` when the side is empty): ``bids.best``, kept as an attribute."""
        self.best_ask: int = NO_PRICE
        """Best ask price (``NO_PRICE`` when the side is empty): ``asks.best``, kept as an attribute."""

    def update(self, side: Side, price: int, size: int) -> None:
        """The level at ``price`` on ``side`` now holds ``size`` shares; 0 (or less) removes it."""
        if side is _BUY:
            sizes = self._bid_sizes
            if size > 0 and price in sizes:
                sizes[price] = size
            elif self.bids.set(price, size):
                self._best_moved()
        else:
            sizes = self._ask_sizes
            if size > 0 and price in sizes:
                sizes[price] = size
            elif self.asks.set(price, size):
                self._best_moved()

    set_level = update

    def _best_moved(self) -> None:
        """A best level appeared or went: refresh the best prices, and the book's crossed state with them."""
        bid = self.best_bid = self.bids.best
        ask = self.best_ask = self.asks.best
        if bid != NO_PRICE and ask != NO_PRICE and bid >= ask:
            self.integrity.on_crossed(bid, ask)  # nothing new when it already was crossed
        elif self.integrity.crossed:
            self.integrity.uncross()

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.best_bid = NO_PRICE
        self.best_ask = NO_PRICE
        self.integrity.uncross()

    def load(self, bids: Iterable[BookLevel], asks: Iterable[BookLevel]) -> None:
        """Replace the whole book with these levels (any order; zero sizes are skipped)."""
        self.clear()
        for level in bids:
            self.update(Side.BUY, level.price, level.size)
        for level in asks:
            self.update(Side.SELL, level.price, level.size)

    def apply(self, event: Event) -> None:
        """Apply a ``BookDelta``, ``BookSnapshot`` or ``DepthRevealed``; other events are not book updates."""
        if type(event) is BookDelta:
            integrity = self.integrity
            seq = event.sequence
            # the common case inline: next in sequence (0, "no sequence", never equals last + 1 >= 1) ...
            if seq == integrity.sequence + 1:
                integrity.sequence = seq
                integrity.ts = event.ts_event
                if event.action is _UPDATE:  # ... and a new size for a level that is there
                    sizes = self._bid_sizes if event.side is _BUY else self._ask_sizes
                    price = event.price
                    size = event.size
                    if size > 0 and price in sizes:
                        sizes[price] = size
                        return
            elif not self._accept(seq, event.ts_event):
                return
            self._write(event)
        elif isinstance(event, BookSnapshot):
            self.integrity.ts = event.ts_event  # before ``load``: a cross the snapshot ends, ends now
            self.load(event.bids, event.asks)
            self.integrity.on_snapshot(event.sequence, event.ts_event)
        elif isinstance(event, DepthRevealed):
            if self._accept(event.sequence, event.ts_event):
                levels = [(lv.price, lv.size) for lv in event.levels]
                self.reveal(event.side, event.after_price, levels, event.through_end, event.ts_event)
        else:
            raise TypeError(f"L2Book cannot apply {type(event).__name__}; feed it BookDelta or BookSnapshot")

    _reference_apply = apply
    """The Python ``apply`` under a name the compiled one calls for what it does not take itself."""

    def _write(self, delta: BookDelta) -> None:
        """A delta whose sequence was accepted and that is not the inline case of ``apply``."""
        action = delta.action
        if action is _CLEAR:
            self.clear()
        elif (self.bids if delta.side is _BUY else self.asks).set(delta.price, 0 if action is _DELETE else delta.size):
            self._best_moved()


class CompiledL2Book(L2Book):
    """An ``L2Book`` whose ``apply`` is the compiled one; built by ``L2Book(..., impl="compiled"|"auto")``."""

    __slots__ = ()

    impl: ClassVar[Literal["compiled", "python"]] = "compiled"

    def __init__(self, symbol: str, emit: Emit | None = None, impl: Impl = "auto") -> None:
        """The ladders keep their sizes in the core's ``LevelSizes`` tables instead of dicts: one C probe per size
        update instead of two dict lookups, and the only copy of the state (every reader goes through them)."""
        super().__init__(symbol, emit, impl)
        self.bids.sizes = self._bid_sizes = LevelSizes()
        self.asks.sizes = self._ask_sizes = LevelSizes()

    if COMPILED_AVAILABLE:
        apply: Any = _compiled_apply


if COMPILED_AVAILABLE:
    _bind_compiled(CompiledL2Book)
