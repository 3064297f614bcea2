"""NASDAQ TotalView-ITCH 5.0 to tapeflow events: the reader the rest of tapeflow uses.

    reader = ItchReader("12302019.NASDAQ_ITCH50.gz", date=datetime.date(2019, 12, 30), symbols={"AAPL"})
    for event in reader.events():      # OrderAdded, OrderExecuted, ..., Trade, TradingStatus, in file order
        ...
    reader.stats                        # counts of messages, events, skipped and malformed input

Mapping: A/F -> ``OrderAdded`` (F keeps its MPID), E -> ``OrderExecuted`` at the order's price, C ->
``OrderExecuted`` with the execution price and the printable flag, X -> ``OrderReduced``, D ->
``OrderDeleted``, U -> ``OrderReplaced``, P (non-cross trade against a hidden order) and Q (cross, when it
matched shares) -> ``Trade``, H -> ``TradingStatus``. Other messages carry no book or trade information and
produce no event; ``messages()`` returns all of them as structs. ``sequence`` is the message's number in the
stream from 1 (the MoldUDP64 sequence number of a full-day file), so it has gaps per symbol; ``trade_id`` is
the match number.

Time: ITCH stamps ns since midnight New York time and leaves the date out, so the caller gives it. Midnight's
UTC offset is computed once per file: it holds for the whole session because US clocks change at 2:00 on a
Sunday, when Nasdaq is closed; a Sunday file spanning the change would be off by one hour after 2:00.

Speed: ``events()`` decodes the frequent order messages of length-prefixed files inline, one precompiled
``struct`` per type and no function call per message, and takes everything else (and anything irregular)
through the generic decoder, which is also the reference the tests hold the fast path to. See
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable, Iterator
from typing import Final
from zoneinfo import ZoneInfo

from tapeflow.model.enums import Aggressor, MarketStatus, Side
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event, TradingStatus
from tapeflow.model.market import (
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Trade,
)

from .itch_messages import (
    LAYOUTS,
    ItchAddOrder,
    ItchAddOrderMpid,
    ItchCrossTrade,
    ItchMessage,
    ItchOrderCancel,
    ItchOrderDelete,
    ItchOrderExecuted,
    ItchOrderExecutedWithPrice,
    ItchOrderReplace,
    ItchStockDirectory,
    ItchStockTradingAction,
    ItchTrade,
)
from .itch_parser import (
    CHUNK_SIZE,
    Frame,
    FramingChoice,
    ItchInput,
    ItchSource,
    ItchStats,
    check_frame,
    decode_message,
    detect_framing,
    iter_frames,
    report_truncated,
)

NEW_YORK: Final = ZoneInfo("America/New_York")
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_STATUS: Final = {
    "H": MarketStatus.HALTED,
    "P": MarketStatus.HALTED,
    "Q": MarketStatus.QUOTING,
    "T": MarketStatus.TRADING,
}
_LOCATES: Final = 1 << 16


def midnight_utc_ns(date: dt.date) -> int:
    """Midnight of ``date`` in New York as ns since the Unix epoch: add an ITCH timestamp to get UTC."""
    midnight = dt.datetime(date.year, date.month, date.day, tzinfo=NEW_YORK)
    return (midnight - _EPOCH) // dt.timedelta(microseconds=1) * 1000


class _Mapper:
    """Locate -> symbol directory, symbol filter, and the generic message -> event mapping.

    ``symbols[locate]`` is the symbol, or None when the locate is filtered out or not yet named;
    ``known[locate]`` tells the two apart. Both are flat arrays so that the fast path reads them with one
    index.
    """

    def __init__(self, *, base_ns: int, wanted: frozenset[str] | None, venue: str, stats: ItchStats) -> None:
        self.base_ns = base_ns
        self.wanted = wanted
        self.venue = venue
        self.stats = stats
        self.symbols: list[str | None] = [None] * _LOCATES
        self.known = bytearray(_LOCATES)
        self.directory: dict[int, str] = {}

    def learn(self, locate: int, stock: str) -> str | None:
        self.known[locate] = 1
        self.directory[locate] = stock
        symbol = stock if self.wanted is None or stock in self.wanted else None
        self.symbols[locate] = symbol
        return symbol

    def symbol_for(self, msg: ItchMessage, *, name: str, offset: int, strict: bool) -> str | None:
        """The message's symbol, None when filtered out; a message naming its stock teaches its locate."""
        locate = msg.stock_locate
        if self.known[locate]:
            symbol = self.symbols[locate]
            if symbol is None:
                self.stats.filtered += 1
            return symbol
        stock = getattr(msg, "stock", None)
        if stock:
            symbol = self.learn(locate, stock)
            if symbol is None:
                self.stats.filtered += 1
            return symbol
        self.stats.unknown_locate += 1
        if strict:
            raise DataError(
                f"ITCH {type(msg).__name__} refers to stock locate {locate}, which no stock directory (R) "
                "or add order message named; the file probably does not start at the beginning of the day",
                path=name,
                offset=offset,
            )
        return None

    def event_for(self, msg: ItchMessage, seq: int, *, name: str, offset: int, strict: bool) -> Event | None:
        """The tapeflow event for ``msg``; None when it has none, or is filtered out or unusable (counted)."""
        if isinstance(msg, ItchStockDirectory):
            self.learn(msg.stock_locate, msg.stock)
            return None
        if not isinstance(
            msg,
            ItchAddOrder
            | ItchAddOrderMpid
            | ItchOrderExecuted
            | ItchOrderExecutedWithPrice
            | ItchOrderCancel
            | ItchOrderDelete
            | ItchOrderReplace
            | ItchTrade
            | ItchCrossTrade
            | ItchStockTradingAction,
        ):
            return None
        if isinstance(msg, ItchCrossTrade) and msg.shares == 0:
            return None  # a cross that matched nothing: Nasdaq still reports its price
        symbol = self.symbol_for(msg, name=name, offset=offset, strict=strict)
        if symbol is None:
            return None
        ts = self.base_ns + msg.timestamp
        event: Event | None = None
        if isinstance(msg, ItchAddOrder | ItchAddOrderMpid):
            if msg.shares and msg.buy_sell_indicator in "BS":
                side = Side.BUY if msg.buy_sell_indicator == "B" else Side.SELL
                mpid = msg.attribution if isinstance(msg, ItchAddOrderMpid) else ""
                event = OrderAdded(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.order_reference_number,
                    side=side,
                    price=msg.price,
                    size=msg.shares,
                    sequence=seq,
                    mpid=mpid,
                )
        elif isinstance(msg, ItchOrderExecuted):
            if msg.executed_shares:
                event = OrderExecuted(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.order_reference_number,
                    size=msg.executed_shares,
                    trade_id=str(msg.match_number),
                    sequence=seq,
                )
        elif isinstance(msg, ItchOrderExecutedWithPrice):
            if msg.executed_shares:
                event = OrderExecuted(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.order_reference_number,
                    size=msg.executed_shares,
                    price=msg.execution_price,
                    trade_id=str(msg.match_number),
                    sequence=seq,
                    printable=msg.printable == "Y",
                )
        elif isinstance(msg, ItchOrderCancel):
            if msg.cancelled_shares:
                event = OrderReduced(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.order_reference_number,
                    size=msg.cancelled_shares,
                    sequence=seq,
                )
        elif isinstance(msg, ItchOrderDelete):
            event = OrderDeleted(
                ts_event=ts, ts_init=ts, symbol=symbol, order_id=msg.order_reference_number, sequence=seq
            )
        elif isinstance(msg, ItchOrderReplace):
            if msg.shares:
                event = OrderReplaced(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.original_order_reference_number,
                    new_order_id=msg.new_order_reference_number,
                    price=msg.price,
                    size=msg.shares,
                    sequence=seq,
                )
        elif isinstance(msg, ItchTrade):
            if msg.shares:
                event = Trade(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    price=msg.price,
                    size=msg.shares,
                    aggressor=Aggressor.UNKNOWN,
                    venue=self.venue,
                    trade_id=str(msg.match_number),
                )
        elif isinstance(msg, ItchCrossTrade):
            event = Trade(
                ts_event=ts,
                ts_init=ts,
                symbol=symbol,
                price=msg.cross_price,
                size=msg.shares,
                aggressor=Aggressor.UNKNOWN,
                venue=self.venue,
                trade_id=str(msg.match_number),
                conditions=("CROSS", msg.cross_type),
            )
        else:
            status = _STATUS.get(msg.trading_state)
            if status is not None:
                reason = msg.reason or ("PAUSED" if msg.trading_state == "P" else "")
                event = TradingStatus(
                    ts_event=ts, ts_init=ts, symbol=symbol, status=status, reason=reason, venue=self.venue
                )
        if event is None:
            self.stats.malformed += 1
            if strict:
                raise DataError(
                    f"ITCH message cannot be an event (zero shares or bad code): {msg!r}",
                    path=name,
                    offset=offset,
                )
        return event


class ItchReader:
    """Reads one ITCH 5.0 file (or bytes, or an open binary stream) as messages or as tapeflow events.

    ``symbols`` keeps only those symbols' order-book and trade events (and their messages); ``strict`` turns
    every irregularity (unknown type, bad length, truncated tail, unknown locate) into a ``DataError`` instead
    of a count in ``stats``. Each call to ``messages()`` / ``events()`` reads the source again from the start
    (a stream can be read once) and resets ``stats``.
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
    ) -> None:
        self.source = source
        self.date = date
        self.symbols = frozenset(symbols) if symbols is not None else None
        self.framing: FramingChoice = framing
        self.strict = strict
        self.venue = venue
        self.chunk_size = chunk_size
        self.stats = ItchStats()
        self.directory: dict[int, str] = {}
        """Stock locate -> symbol, every symbol the stream named (filtered or not)."""

    def _start(self) -> tuple[ItchInput, _Mapper]:
        self.stats = ItchStats()
        mapper = _Mapper(
            base_ns=midnight_utc_ns(self.date), wanted=self.symbols, venue=self.venue, stats=self.stats
        )
        self.directory = mapper.directory
        return ItchInput(self.source, chunk_size=self.chunk_size, strict=self.strict), mapper

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
            framing = detect_framing(first[:1024])
            chunks = _prepend(first, chunks)
        self.stats.framing = framing
        if framing == "raw":
            yield from self._generic_batches(chunks, mapper, source.name)
        else:
            yield from _fast_batches(chunks, mapper, self.stats, strict=self.strict, name=source.name)

    def _generic_batches(self, chunks: Iterator[bytes], mapper: _Mapper, name: str) -> Iterator[list[Event]]:
        stats = self.stats
        batch: list[Event] = []
        for frame in iter_frames(chunks, "raw", stats, strict=self.strict, name=name):
            stats.messages += 1
            event = _slow_event(frame, stats.messages, mapper, strict=self.strict, name=name)
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


def _slow_event(frame: Frame, seq: int, mapper: _Mapper, *, strict: bool, name: str) -> Event | None:
    layout = check_frame(frame, mapper.stats, strict=strict, name=name)
    if layout is None:
        return None
    msg = decode_message(layout, frame.buf, frame.start)
    return mapper.event_for(msg, seq, name=name, offset=frame.offset, strict=strict)


_MAX_FRAME: Final = 2 + max(layout.length for layout in LAYOUTS.values())
_MASK48: Final = (1 << 48) - 1
# Fast-path layouts include the 2-byte length prefix; ``Q`` at byte 5 spans tracking number and timestamp.
_A = struct.Struct(">HBHQQBI8xI").unpack_from
_F = struct.Struct(">HBHQQBI8xI4s").unpack_from
_D = struct.Struct(">HBHQQ").unpack_from
_U = struct.Struct(">HBHQQQII").unpack_from
_E = struct.Struct(">HBHQQIQ").unpack_from
_X = struct.Struct(">HBHQQI").unpack_from
_C = struct.Struct(">HBHQQIQBI").unpack_from
# The hot loop spells lengths as literals (a local constant is the cheapest operand); they must match the
# spec.
assert [LAYOUTS[ord(c)].length for c in "ADUEXFC"] == [36, 19, 35, 31, 23, 40, 36]


def _fast_batches(
    chunks: Iterator[bytes], mapper: _Mapper, stats: ItchStats, *, strict: bool, name: str
) -> Iterator[list[Event]]:
    """The hot loop for length-prefixed streams; anything it does not expect goes to ``_slow_event``.

    One ``if`` per message type in order of frequency, locals for everything, and ``continue`` only after a
    message fully passed its checks (length prefix equal to the spec, known locate, non-zero shares), so that
    the generic path decides, counts and reports every irregular case exactly as ``messages()`` would.
    """
    syms = mapper.symbols
    known = mapper.known
    base = mapper.base_ns
    mask = _MASK48
    sides: list[Side | None] = [None] * 256
    sides[ord("B")], sides[ord("S")] = Side.BUY, Side.SELL
    added, deleted, replaced, executed, reduced = (
        OrderAdded,
        OrderDeleted,
        OrderReplaced,
        OrderExecuted,
        OrderReduced,
    )
    unpack_a, unpack_f, unpack_d, unpack_u, unpack_e, unpack_x, unpack_c = _A, _F, _D, _U, _E, _X, _C
    carry = b""
    offset = 0  # stream offset of data[0]
    seq = 0
    filtered = 0
    for chunk in chunks:
        data = carry + chunk if carry else chunk
        n = len(data)
        limit = n - _MAX_FRAME  # every known message starting before this is complete
        pos = 0
        out: list[Event] = []
        app = out.append
        while pos < limit:
            t = data[pos + 2]
            seq += 1
            if t == 65:  # A: Add Order
                ln, _, loc, tt, ref, side, sh, px = unpack_a(data, pos)
                if ln == 36 and sh and (sd := sides[side]) is not None:
                    sym = syms[loc]
                    if sym is not None:
                        ts = base + (tt & mask)
                        app(
                            added(
                                ts_event=ts,
                                ts_init=ts,
                                symbol=sym,
                                order_id=ref,
                                side=sd,
                                price=px,
                                size=sh,
                                sequence=seq,
                            )
                        )
                        pos += 38
                        continue
                    if known[loc]:
                        filtered += 1
                        pos += 38
                        continue
            elif t == 68:  # D: Order Delete
                ln, _, loc, tt, ref = unpack_d(data, pos)
                if ln == 19:
                    sym = syms[loc]
                    if sym is not None:
                        ts = base + (tt & mask)
                        app(deleted(ts_event=ts, ts_init=ts, symbol=sym, order_id=ref, sequence=seq))
                        pos += 21
                        continue
                    if known[loc]:
                        filtered += 1
                        pos += 21
                        continue
            elif t == 85:  # U: Order Replace
                ln, _, loc, tt, ref, new, sh, px = unpack_u(data, pos)
                if ln == 35 and sh:
                    sym = syms[loc]
                    if sym is not None:
                        ts = base + (tt & mask)
                        app(
                            replaced(
                                ts_event=ts,
                                ts_init=ts,
                                symbol=sym,
                                order_id=ref,
                                new_order_id=new,
                                price=px,
                                size=sh,
                                sequence=seq,
                            )
                        )
                        pos += 37
                        continue
                    if known[loc]:
                        filtered += 1
                        pos += 37
                        continue
            elif t == 69:  # E: Order Executed
                ln, _, loc, tt, ref, sh, match = unpack_e(data, pos)
                if ln == 31 and sh:
                    sym = syms[loc]
                    if sym is not None:
                        ts = base + (tt & mask)
                        app(
                            executed(
                                ts_event=ts,
                                ts_init=ts,
                                symbol=sym,
                                order_id=ref,
                                size=sh,
                                trade_id=str(match),
                                sequence=seq,
                            )
                        )
                        pos += 33
                        continue
                    if known[loc]:
                        filtered += 1
                        pos += 33
                        continue
            elif t == 88:  # X: Order Cancel (partial)
                ln, _, loc, tt, ref, sh = unpack_x(data, pos)
                if ln == 23 and sh:
                    sym = syms[loc]
                    if sym is not None:
                        ts = base + (tt & mask)
                        app(reduced(ts_event=ts, ts_init=ts, symbol=sym, order_id=ref, size=sh, sequence=seq))
                        pos += 25
                        continue
                    if known[loc]:
                        filtered += 1
                        pos += 25
                        continue
            elif t == 70:  # F: Add Order with MPID
                ln, _, loc, tt, ref, side, sh, px, mpid = unpack_f(data, pos)
                if ln == 40 and sh and (sd := sides[side]) is not None:
                    sym = syms[loc]
                    if sym is not None:
                        ts = base + (tt & mask)
                        app(
                            added(
                                ts_event=ts,
                                ts_init=ts,
                                symbol=sym,
                                order_id=ref,
                                side=sd,
                                price=px,
                                size=sh,
                                sequence=seq,
                                mpid=mpid.decode("latin-1").rstrip(" "),
                            )
                        )
                        pos += 42
                        continue
                    if known[loc]:
                        filtered += 1
                        pos += 42
                        continue
            elif t == 67:  # C: Order Executed With Price
                ln, _, loc, tt, ref, sh, match, printable, px = unpack_c(data, pos)
                if ln == 36 and sh:
                    sym = syms[loc]
                    if sym is not None:
                        ts = base + (tt & mask)
                        app(
                            executed(
                                ts_event=ts,
                                ts_init=ts,
                                symbol=sym,
                                order_id=ref,
                                size=sh,
                                price=px,
                                trade_id=str(match),
                                sequence=seq,
                                printable=printable == 89,
                            )
                        )
                        pos += 38
                        continue
                    if known[loc]:
                        filtered += 1
                        pos += 38
                        continue
            size = data[pos] << 8 | data[pos + 1]
            if pos + 2 + size > n:  # a long unknown message runs past the chunk: finish it next time
                seq -= 1
                break
            frame = Frame(data, pos + 2, size, offset + pos)
            event = _slow_event(frame, seq, mapper, strict=strict, name=name)
            if event is not None:
                app(event)
            pos += 2 + size
        stats.filtered += filtered
        filtered = 0
        # The tail of the chunk: complete messages go the generic way, the rest waits for the next chunk.
        while pos + 3 <= n:
            size = data[pos] << 8 | data[pos + 1]
            if pos + 2 + size > n:
                break
            seq += 1
            event = _slow_event(
                Frame(data, pos + 2, size, offset + pos), seq, mapper, strict=strict, name=name
            )
            if event is not None:
                app(event)
            pos += 2 + size
        carry = data[pos:]
        offset += pos
        stats.messages = seq
        stats.bytes = offset
        if out:
            stats.events += len(out)
            yield out
    if carry:
        report_truncated(stats, offset, len(carry), strict=strict, name=name)


def read_itch_events(
    source: ItchSource, *, date: dt.date, symbols: Iterable[str] | None = None, strict: bool = False
) -> Iterator[Event]:
    """Tapeflow events of an ITCH 5.0 file, for callers that need no statistics."""
    return ItchReader(source, date=date, symbols=symbols, strict=strict).events()
