"""NASDAQ TotalView-ITCH 5.0 to tapeflow events: the reader the rest of tapeflow uses.

    reader = ItchReader("12302019.NASDAQ_ITCH50.gz", date=datetime.date(2019, 12, 30), symbols={"AAPL"})
    for event in reader.events():      # OrderAdded, OrderExecuted, ..., Trade, TradingStatus, in file order
        ...
    reader.stats                        # counts of messages, events, skipped and malformed input

Mapping: A/F -> ``OrderAdded`` (F keeps its MPID), E -> ``OrderExecuted`` at the order's price, C ->
``OrderExecuted`` with the execution price and the printable flag, X -> ``OrderReduced``, D ->
``OrderDeleted``, U -> ``OrderReplaced``, P (non-cross trade against a hidden order) and Q (cross, when it
matched shares) -> ``Trade``, H -> ``TradingStatus``. Other messages carry no book or trade information and
produce no event; ``messages()`` returns all of them as structs. ``sequence`` is 0: historical files carry no feed
sequence numbers (MoldUDP64 keeps them in packet headers, which the files drop), and a message count would
look like a gap to every per-symbol book whenever another symbol's message came between; ``trade_id`` is
the match number.

Time: ITCH stamps ns since midnight New York time and leaves the date out, so the caller gives it. Midnight's
UTC offset is computed once per file: it holds for the whole session because US clocks change at 2:00 on a
Sunday, when Nasdaq is closed; a Sunday file spanning the change would be off by one hour after 2:00.

Speed: ``events()`` decodes the frequent order messages of length-prefixed files inline, in the compiled core
when it is built (``_itch_core.pyx``) or one precompiled ``struct`` per type in Python, and takes everything else
(and anything irregular) through the generic decoder, which is also the reference the tests hold the fast path
to. See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

from tapeflow.data.quality import SourceQuality
from tapeflow.model.events import Event
from tapeflow.model.market import OrderAdded, OrderDeleted, OrderExecuted, OrderReduced, OrderReplaced

from .itch_fast import Implementation, fast_batches, resolve_implementation
from .itch_mapping import EventMapper, midnight_utc_ns, slow_event
from .itch_messages import ItchMessage, ItchStockDirectory
from .itch_parser import (
    CHUNK_SIZE,
    HEAD_BYTES,
    FramingChoice,
    ItchInput,
    ItchSource,
    ItchStats,
    check_frame,
    decode_message,
    detect_framing,
    iter_frames,
    source_name,
)

__all__ = ["ItchReader", "ItchStats", "L3EventSink", "books_by_symbol", "midnight_utc_ns", "read_itch_events"]

L3_EVENTS = (OrderAdded, OrderExecuted, OrderReduced, OrderDeleted, OrderReplaced)
"""The events that change an order-by-order book; ``Trade`` (P, Q) and ``TradingStatus`` (H) do not."""


class ItchReader:
    """Reads one ITCH 5.0 file (or bytes, or an open binary stream) as messages or as tapeflow events.

    ``symbols`` keeps only those symbols' order-book and trade events (and their messages); ``strict`` turns
    every irregularity (unknown type, bad length, truncated tail, unknown locate, time going back within a
    stock, an order reference past int64) into a ``DataError`` instead of a count in ``stats``.
    ``track_orders`` also keeps the open order references, to count adds of a live reference (skipped) and
    executes/cancels/deletes of one that is not live (passed on); it costs about 30% of the read's speed,
    which ``tapeflow data info`` pays and a backtest need not (its book holds the same orders and counts
    unknown references). ``implementation`` picks the hot loop (``"auto"``: the compiled core when built; the
    Python loop is the reference, see ``itch_fast``). Each call to ``messages()`` / ``events()`` reads the source again
    from the start (a stream can be read once) and resets ``stats`` in place: an object taken from ``stats``
    before reading shows the counts of the pass.
    """

    def __init__(
        self,
        source: ItchSource,
        *,
        date: dt.date,
        symbols: Iterable[str] | None = None,
        framing: FramingChoice = "auto",
        strict: bool = False,
        venue: str = "XNAS",
        chunk_size: int = CHUNK_SIZE,
        track_orders: bool = False,
        implementation: Implementation = "auto",
    ) -> None:
        self.source = source
        self.date = date
        self.symbols = frozenset(symbols) if symbols is not None else None
        self.framing: FramingChoice = framing
        self.strict = strict
        self.venue = venue
        self.chunk_size = chunk_size
        self.track_orders = track_orders
        self.implementation = resolve_implementation(implementation)
        """Which hot loop ``event_batches`` runs on length-prefixed input: ``"compiled"`` or ``"python"``."""
        self.stats = ItchStats()
        self.directory: dict[int, str] = {}
        """Stock locate -> symbol, every symbol the stream named (filtered or not)."""

    def _start(self) -> tuple[ItchInput, EventMapper]:
        self.stats.reset()
        mapper = EventMapper(
            base_ns=midnight_utc_ns(self.date),
            wanted=self.symbols,
            venue=self.venue,
            stats=self.stats,
            track_orders=self.track_orders,
        )
        self.directory = mapper.directory
        return ItchInput(self.source, chunk_size=self.chunk_size, strict=self.strict, stats=self.stats), mapper

    def messages(self) -> Iterator[ItchMessage]:
        """Every message as its struct, in order; ``symbols`` drops stock messages of other symbols."""
        source, mapper = self._start()
        stats = self.stats
        for frame in iter_frames(source.chunks(), self.framing, stats, strict=self.strict, name=source.name):
            stats.messages += 1
            layout = check_frame(frame, stats, strict=self.strict, name=source.name)
            if layout is None:
                continue
            stats.by_type[layout.type_char] = stats.by_type.get(layout.type_char, 0) + 1
            msg = decode_message(layout, frame.buf, frame.start)
            if isinstance(msg, ItchStockDirectory):
                mapper.learn(msg.stock_locate, msg.stock)
            if self.symbols is not None and msg.stock_locate != 0:
                stock = getattr(msg, "stock", None)
                symbol = mapper.symbols[msg.stock_locate] if mapper.known[msg.stock_locate] else stock
                if symbol is None or symbol not in self.symbols:
                    stats.filtered += 1
                    continue
            yield msg

    def events(self) -> Iterator[Event]:
        """Tapeflow events in stream order (see the module docstring for the mapping)."""
        for batch in self.event_batches():
            yield from batch

    def event_batches(self) -> Iterator[list[Event]]:
        """Events one input chunk at a time: the cheapest way to consume a file, and memory stays bounded."""
        source, mapper = self._start()
        chunks = source.chunks()
        framing = self.framing
        if framing == "auto":
            first = next(chunks, b"")
            framing = detect_framing(first[:HEAD_BYTES], source.name)
            chunks = _prepend(first, chunks)
        self.stats.framing = framing
        if framing == "raw":
            yield from self._generic_batches(chunks, mapper, source.name, framing)
        else:
            yield from fast_batches(
                chunks, mapper, self.stats, strict=self.strict, name=source.name, implementation=self.implementation
            )

    def quality(self) -> SourceQuality:
        """The counts of the last pass in the shape every reader shares (see ``tapeflow.data.quality``)."""
        return self.stats.quality(source_name(self.source))

    def _generic_batches(
        self, chunks: Iterator[bytes], mapper: EventMapper, name: str, framing: FramingChoice
    ) -> Iterator[list[Event]]:
        stats = self.stats
        batch: list[Event] = []
        for frame in iter_frames(chunks, framing, stats, strict=self.strict, name=name):
            stats.messages += 1
            event = slow_event(frame, mapper, strict=self.strict, name=name)
            if event is not None:
                batch.append(event)
                if len(batch) >= 4096:
                    stats.events += len(batch)
                    yield batch
                    batch = []
        if batch:
            stats.events += len(batch)
            yield batch


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def read_itch_events(
    source: ItchSource, *, date: dt.date, symbols: Iterable[str] | None = None, strict: bool = False
) -> Iterator[Event]:
    """Tapeflow events of an ITCH 5.0 file, for callers that need no statistics."""
    return ItchReader(source, date=date, symbols=symbols, strict=strict).events()


class L3EventSink(Protocol):
    """What ``books_by_symbol`` feeds: ``tapeflow.book.L3Book`` is one (data does not import book)."""

    def apply(self, event: Event) -> None: ...


BookT = TypeVar("BookT", bound=L3EventSink)


def books_by_symbol(events: Iterable[Event], factory: Callable[[str], BookT]) -> dict[str, BookT]:
    """Feed every symbol's L3 events to its own book, made by ``factory(symbol)`` when the symbol first appears.

    ITCH interleaves all symbols in one stream, so one book per symbol is the natural unit; pair with
    ``ItchReader(..., symbols=...)`` to build only the books you need, e.g. ``books_by_symbol(reader.events(),
    L3Book)``.
    """
    books: dict[str, BookT] = {}
    l3 = L3_EVENTS
    for event in events:
        if isinstance(event, l3):
            book = books.get(event.symbol)
            if book is None:
                book = books[event.symbol] = factory(event.symbol)
            book.apply(event)
    return books
