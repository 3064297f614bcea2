"""Keeps one local book per symbol up to date from the feed, for everyone on the kernel to read.

It must be added to the kernel before the components that read books (strategies, the simulated exchange, the
risk engine's price collar), because handlers run in subscription order: when a strategy's ``on_book`` runs, the
book already includes the event. Integrity events (gap, resync, crossed, unknown order) and, when enabled, the
microstructure signals go back onto the kernel queue through ``emit``.

This module does not import the engine: it needs only something with ``subscribe`` and ``emit``.

On L1 the quote handler exists compiled (``_quote_core.pyx``; the profile in docs/PERFORMANCE.md, "Quotes", says
why), and so does the handler of a keeper tracking flow for a feature recorder: ``on_quote`` and
``on_quote_flow`` stay the references, and take whatever the compiled handlers do not take whole. ``impl`` says
which kind a keeper subscribed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

import msgspec

from tapeflow.book.integrity import IntegrityTotals
from tapeflow.book.l2 import L2Book
from tapeflow.book.l3 import L3Book
from tapeflow.book.quote_book import FlowQuoteBook, QuoteBook, ofi_base_after
from tapeflow.book.signals import BookSignals, SignalConfig
from tapeflow.config import compiled_core_chosen
from tapeflow.model.book_events import DepthRevealed, OrderDiscovered
from tapeflow.model.errors import EngineError
from tapeflow.model.events import Event
from tapeflow.model.market import (
    BookDelta,
    BookSnapshot,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Quote,
)
from tapeflow.model.prices import NO_PRICE

try:  # the compiled quote handler (setup.py builds it); without it the Python reference runs
    from tapeflow.book._quote_core import FlowQuoteHandler, QuoteHandler

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

Impl = Literal["auto", "compiled", "python"]

AnyBook = L2Book | L3Book | QuoteBook
"""What ``BookKeeper.book`` returns: every kind answers the read methods the exchange and strategies use."""

L2_EVENTS: tuple[type[Event], ...] = (BookDelta, BookSnapshot)
L3_EVENTS: tuple[type[Event], ...] = (
    BookSnapshot,
    OrderAdded,
    OrderExecuted,
    OrderReduced,
    OrderDeleted,
    OrderReplaced,
    OrderDiscovered,
    DepthRevealed,
)


class _Bus(Protocol):
    def subscribe(self, event_type: Any, handler: Callable[[Any], None]) -> None: ...

    def emit(self, event: Event) -> None: ...


class BookKeeper:
    """Books by symbol, built on first sight of a symbol. ``level`` says which kind the feed carries.

    ``L1``: quotes only; each symbol's book is its last quote (``QuoteBook``). ``impl``: "python" subscribes the
    reference ``on_quote``; "compiled" the compiled handler (``ConfigError`` when it was not built); "auto" the
    compiled one when built, unless the environment sets ``TAPEFLOW_PURE_PYTHON=1``.
    """

    impl: Literal["compiled", "python"]
    """Which kind of quote handler this keeper subscribes on L1 (plain, or tracking flow)."""

    def __init__(
        self,
        level: Literal["L1", "L2", "L3"] = "L2",
        *,
        signals: SignalConfig | None = None,
        impl: Impl = "auto",
    ) -> None:
        compiled = compiled_core_chosen(impl, COMPILED_AVAILABLE, "the compiled quote handler")
        self.impl = "compiled" if compiled else "python"
        self.quote_handler: Callable[[Quote], None] | None = None
        """What ``attach`` subscribed for quotes on L1: ``on_quote``, ``on_quote_flow``, or a compiled form."""
        self.level = level
        self.signals = signals
        self._books: dict[str, L2Book | L3Book | QuoteBook] = {}
        self.book: Callable[[str], AnyBook | None] = self._books.get
        """``book(symbol)``: the symbol's book, or None. The registry's own ``get``, not a method calling it: risk,
        the exchange and the portfolio's mark ask it several times an order (issue 19: a Python frame less each)."""
        self._apply: dict[str, Callable[[Event], None]] = {}
        self._bus: _Bus | None = None
        self._before: list[Callable[[Event, L2Book | L3Book], None]] = []
        self._seen = 0
        self._quote_books: dict[str, QuoteBook] = {}
        self._flow_readers: list[Callable[[FlowQuoteBook], None]] = []
        self._flow_books: dict[str, FlowQuoteBook] = {}

    def track_flow(self, on_new_book: Callable[[FlowQuoteBook], None]) -> bool:
        """Asked by a feature recorder before the keeper is attached: on L1, build ``FlowQuoteBook``s (the raw last
        quote and the cumulative order flow imbalance kept as each quote is applied; ``on_new_book`` hears of each
        new one) so the recorder needs no handler of its own per quote. False (nothing changes) on L2/L3, where the
        quotes the recorder reads are the book's own emitted events."""
        if self._bus is not None:
            raise EngineError("track_flow must be asked before the keeper is attached to the kernel")
        if self.level != "L1":
            return False
        self._flow_readers.append(on_new_book)
        return True

    def attach(self, kernel: _Bus) -> None:
        self._bus = kernel
        if self.level == "L1":
            if self._flow_readers:
                self.quote_handler = (
                    FlowQuoteHandler(self._flow_books, self.on_quote_flow).on_quote
                    if self.impl == "compiled"
                    else self.on_quote_flow
                )
            elif self.impl == "compiled":
                self.quote_handler = QuoteHandler(self._quote_books, self.on_quote).on_quote
            else:
                self.quote_handler = self.on_quote
            kernel.subscribe(Quote, self.quote_handler)
            return
        for event_type in L3_EVENTS if self.level == "L3" else L2_EVENTS:
            kernel.subscribe(event_type, self.on_event)

    def on_quote(self, quote: Quote) -> None:
        """Consolidated data carries each exchange's quote and the NBBO: once a symbol has an NBBO, only the
        NBBO moves its book.

        ``QuoteBook.apply`` written out here: every quote of an L1 run comes through, and the second Python call
        was a quarter of this handler's time (~0.1 us a quote, ~8% of the tick benchmark's run). ``apply`` stays
        the reference: ``tests/book/test_quote_book.py`` runs both over hypothesis streams and requires the same
        books."""
        book = self._quote_books.get(quote.symbol)
        if book is None:
            book = self._quote_books[quote.symbol] = QuoteBook(quote.symbol)
            self._books[quote.symbol] = book
        if quote.venue == "NBBO":
            book.nbbo = True
        elif book.nbbo:
            return
        bid = book.bid_price = quote.bid_price if quote.bid_size else NO_PRICE
        book.bid_size = quote.bid_size
        ask = book.ask_price = quote.ask_price if quote.ask_size else NO_PRICE
        book.ask_size = quote.ask_size
        ts = book.ts = quote.ts_event
        book.version += 1
        if bid > ask != NO_PRICE:  # NO_PRICE is 0: an empty ask never crosses
            if not book.crossed:
                book.crossed = True
                book.crossings += 1
                book.crossed_since = ts
        elif book.crossed:
            book.crossed = False
            book.crossed_ns += ts - book.crossed_since

    def on_quote_flow(self, quote: Quote) -> None:
        """``on_quote`` for a keeper asked to ``track_flow``: the same book, plus ``FlowQuoteBook.apply``'s flow
        written out (the last quote kept; the order flow base moved only when a price moved). A separate handler,
        so a run without a recorder keeps ``on_quote`` as it was."""
        book = self._flow_books.get(quote.symbol)
        if book is None:
            book = self._new_flow_book(quote.symbol)
        if quote.venue == "NBBO":
            book.nbbo = True
        elif book.nbbo:
            return
        prev = book.quote
        book.quote = quote
        b = quote.bid_price
        a = quote.ask_price
        if prev is None or b != prev.bid_price or a != prev.ask_price:
            book.ofi_base = ofi_base_after(book.ofi_base, prev, quote)
        bid = book.bid_price = b if quote.bid_size else NO_PRICE
        book.bid_size = quote.bid_size
        ask = book.ask_price = a if quote.ask_size else NO_PRICE
        book.ask_size = quote.ask_size
        ts = book.ts = quote.ts_event
        book.version += 1
        if bid > ask != NO_PRICE:  # NO_PRICE is 0: an empty ask never crosses
            if not book.crossed:
                book.crossed = True
                book.crossings += 1
                book.crossed_since = ts
        elif book.crossed:
            book.crossed = False
            book.crossed_ns += ts - book.crossed_since

    def _new_flow_book(self, symbol: str) -> FlowQuoteBook:
        book = FlowQuoteBook(symbol)
        self._flow_books[symbol] = self._quote_books[symbol] = self._books[symbol] = book
        for reader in self._flow_readers:
            reader(book)
        return book

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def _emit(self, event: Event) -> None:
        """Events a book derives from a feed event are seen when that feed event is seen: same ``ts_init``.

        (Books stamp what they derive with the exchange time ``ts_event``; with a modelled feed delay the feed
        event itself reached us later, and a derived event cannot be seen before its cause.)
        """
        assert self._bus is not None
        if event.ts_init != self._seen:
            event = msgspec.structs.replace(event, ts_init=self._seen)
        self._bus.emit(event)

    def _create(self, symbol: str) -> Callable[[Event], None]:
        book: L2Book | L3Book | QuoteBook = (
            L3Book(symbol, self._emit) if self.level == "L3" else L2Book(symbol, self._emit)
        )
        self._books[symbol] = book
        assert not isinstance(book, QuoteBook)
        apply = BookSignals(book, self._emit, self.signals).on_event if self.signals is not None else book.apply
        self._apply[symbol] = apply
        return apply

    def observe_before(self, callback: Callable[[Event, L2Book | L3Book], None]) -> None:
        """Call ``callback(event, book)`` before each book event is applied.

        For whoever must compare the book before and after an update without depending on the order in which
        components were added: the simulated exchange reads the size of the order an L3 execution refers to, and
        the size a level had before an L2 delta, to move its own orders up their queues.
        """
        self._before.append(callback)

    def on_event(self, event: Event) -> None:
        symbol: str = event.symbol  # type: ignore[attr-defined]
        apply = self._apply.get(symbol)
        if apply is None:
            apply = self._create(symbol)
        self._seen = event.ts_init
        if self._before:
            book = self._books[symbol]
            assert not isinstance(book, QuoteBook)
            for callback in self._before:
                callback(event, book)
        apply(event)

    def symbols(self) -> list[str]:
        return sorted(self._books)

    def totals(self, end_ns: int | None = None) -> list[IntegrityTotals]:
        """Per symbol, what went wrong with its book over the run, in symbol order (for the run summary).

        An episode still open (a book crossed or stale at the end) is closed at ``end_ns``, by default the last
        time any book saw, the end of the run as the books know it. Quote books (L1) count crossings only: they
        have no sequence to lose or orders to miss.
        """
        books = [b for _, b in sorted(self._books.items()) if not isinstance(b, QuoteBook)]
        quotes = sorted(self._quote_books.items())
        end = max((b.integrity.ts for b in books), default=self._seen) if end_ns is None else end_ns
        end = max(end, self._seen, *(q.ts for _, q in quotes))
        rows = [b.integrity.totals(end) for b in books] + [q.totals(end) for _, q in quotes]
        return sorted(rows, key=lambda row: row.symbol)
