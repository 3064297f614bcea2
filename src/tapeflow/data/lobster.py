"""LOBSTER reader: a day of NASDAQ order-by-order messages, streamed straight from the zip LOBSTER ships.

A LOBSTER level-N zip holds a message file (one ITCH-derived message per row) and an orderbook file (the top N
levels after each message). The messages alone cannot rebuild the book, for two reasons, and the orderbook
file is read for exactly these and nothing else:

- the day starts with a non-empty book: the initial book is orderbook row 1 with message 1 undone, as levels
  whose orders nobody saw arrive; a message naming one of those orders first turns its shares into a known
  order (``discover``, ``OrderDiscovered``);
- messages only cover the top N levels: when a message removes a level, the level that comes into view from
  beyond N is read from the orderbook row (``reveal``, ``DepthRevealed``); levels the book still holds that
  the row shows are gone changed while out of view.

Everything else comes from the messages. Parsing is column-wise per block (``pyarrow.csv``, see
``lobster_parse``; no per-row ``Decimal`` or float); the orderbook rows stay bytes unless a message may have changed the
visible levels. ``LobsterDecoder`` pushes into a sink with the write methods of ``tapeflow.book.L3Book`` (the
book itself, for replay) and yields after each block; ``iter_events`` turns the same pushes into tapeflow
events. Which day and window a zip holds, from its member names, is ``lobster_file``.

Why this module is long: the decoder's block step exists twice, the Python reference and the compiled one
(``_block_compiled``: the loop in ``book._l3_core``, the parse in ``data._lobster_core``), and both share the
decoder's state and its reference methods (reveals, time checks, errors), which the compiled loop calls back.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Final, Literal, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from tapeflow.book.l3 import L3Book
from tapeflow.config import compiled_cores_wanted
from tapeflow.data.lobster_file import LobsterFile
from tapeflow.data.lobster_inflate import InflateThread
from tapeflow.data.lobster_parse import LineReader, bad_book_row, field_pattern, last_level_fields, parse_block
from tapeflow.data.lobster_rows import RowBlock, RowReader
from tapeflow.data.nytime import NS_PER_SECOND, day_base_ns, ny_to_utc_ns
from tapeflow.data.zip_isal import open_member
from tapeflow.model.enums import Aggressor, MarketStatus, Side
from tapeflow.model.errors import ConfigError, DataError
from tapeflow.model.market import BookLevel
from tapeflow.model.prices import NO_PRICE

try:  # the compiled cores (setup.py builds them); without them the Python reference runs
    from tapeflow.book import _l3_core
    from tapeflow.data import _lobster_core

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

Impl = Literal["auto", "compiled", "python"]

_EMPTY_ASK: Final = 9_999_999_999
_EMPTY_BID: Final = -9_999_999_999
_EMPTY_PRICES: Final = (b"9999999999", b"-9999999999")
_ASK_SENTINEL: Final = field_pattern(_EMPTY_PRICES[0])
_BID_SENTINEL: Final = field_pattern(_EMPTY_PRICES[1])
_SIDES: Final = {1: Side.BUY, -1: Side.SELL}
_AGGRESSOR: Final = {Side.SELL: Aggressor.BUY, Side.BUY: Aggressor.SELL}
"""The aggressor of an execution against a resting order of that side."""
_STATUS: Final = {-1: MarketStatus.HALTED, 0: MarketStatus.QUOTING, 1: MarketStatus.TRADING}
_EARLY_NS: Final = 3 * 3600 * NS_PER_SECOND
_NS_PER_MS: Final = 1_000_000

TradeSink = Callable[[int, int, int, Aggressor, int], None]
"""(ts, price, size, aggressor, message type 4/5/6): an execution, visible or not."""
StatusSink = Callable[[int, MarketStatus], None]
RowSink = Callable[[int, bytes], None]
"""(row number, 1-based; the orderbook row after that message, as bytes)."""


class LobsterSink(Protocol):
    """The book writes a LOBSTER day needs: ``tapeflow.book.L3Book`` has exactly these."""

    def load(self, bids: list[BookLevel], asks: list[BookLevel], orders: tuple[()] = (), ts: int = 0) -> None: ...
    def add(self, order_id: int, side: Side, price: int, size: int, ts: int = 0) -> None: ...
    def execute(self, order_id: int, size: int, ts: int = 0) -> bool: ...
    def cancel(self, order_id: int, size: int, ts: int = 0) -> bool: ...
    def delete(self, order_id: int, ts: int = 0, size: int = 0) -> bool: ...
    def discover(self, order_id: int, side: Side, price: int, size: int, ts: int = 0) -> None: ...
    def reveal(
        self, side: Side, after_price: int, levels: list[tuple[int, int]], through_end: bool, ts: int = 0
    ) -> int: ...


class LobsterCounts(msgspec.Struct, kw_only=True):
    rows: int = 0
    by_type: dict[int, int] = {}
    levels_from_file: int = 0
    """Levels taken from the orderbook file after the initial book (came into view from beyond level N)."""
    reveals: int = 0
    discovered: int = 0
    """Messages naming an order that was in the book before the file or arrived beyond level N."""
    duplicates: int = 0
    """Adds (type 1) of an order id already added that day: counted and not applied (the first order stays)."""
    first_problem: str = ""

    @property
    def trades(self) -> int:
        return sum(self.by_type.get(k, 0) for k in (4, 5, 6))


def _side_levels(fields: list[bytes], offset: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for j in range(offset, len(fields), 4):
        price = int(fields[j])
        if price not in (_EMPTY_ASK, _EMPTY_BID):
            out[price] = int(fields[j + 1])
    return out


class LobsterDecoder:
    """Pushes one LOBSTER day into a ``LobsterSink``; ``run()`` yields the rows done after each block."""

    def __init__(
        self,
        file: LobsterFile,
        sink: LobsterSink,
        *,
        on_trade: TradeSink | None = None,
        on_status: StatusSink | None = None,
        on_row: RowSink | None = None,
        check_row: RowSink | None = None,
        block_bytes: int = 1 << 20,
        impl: Impl = "auto",
        inflate_thread: bool = True,
    ) -> None:
        """``check_row``: a check of the book against each orderbook row. The Python path calls it for every
        row; the compiled one only for a row whose line is not exactly the book's top N printed as LOBSTER
        prints them (``tapeflow.report.book_replay``'s check, which finds the other rows equal the same way).

        ``impl``: "python" is the reference; "compiled" the compiled block apply (an ``L3Book`` sink only,
        ``ConfigError`` otherwise or when it was not built); "auto" the compiled one where it can run, unless
        the environment sets ``TAPEFLOW_PURE_PYTHON=1``. ``self.impl`` says which runs.

        ``inflate_thread``: the compiled path inflates the orderbook member in a thread (``lobster_inflate``:
        less wall time, the same CPU time); ``self.inflate_thread`` says whether it does. The reference reads
        in the caller's thread.
        """
        if check_row is not None and on_row is not None:
            raise ConfigError("give on_row or check_row, not both", field="check_row")
        compiled_fits = COMPILED_AVAILABLE and type(sink) is L3Book
        if impl == "compiled" and not compiled_fits:
            why = "was not built (make .venv/.installed)" if not COMPILED_AVAILABLE else "needs an L3Book sink"
            raise ConfigError(f"the compiled LOBSTER block apply {why}", field="impl")
        if impl == "auto":
            compiled_fits = compiled_fits and compiled_cores_wanted()
        self.impl: Literal["compiled", "python"] = "compiled" if impl != "python" and compiled_fits else "python"
        self.inflate_thread = inflate_thread and self.impl == "compiled"
        self._check_row = check_row
        self.file = file
        self.counts = LobsterCounts()
        self._sink = sink
        self._on_trade = on_trade
        self._on_status = on_status
        self._on_row = on_row
        self._block_bytes = block_bytes
        self._base = day_base_ns(file.day)
        self._known: set[int] | _l3_core.IdSet = _l3_core.IdSet() if self.impl == "compiled" else set()
        """The ids added so far: the compiled loop's own C table, or the reference's set (the same ids)."""
        self._prev_line = b""
        self._msg_where = f"{file.path}!{file.message_member}"
        self._book_where = f"{file.path}!{file.orderbook_member}"
        self._text = b""
        self._first_row = 1
        self._start_ts = self._base + file.start_ms * _NS_PER_MS
        self._last_ts = self._start_ts
        self._end_ts = self._base + file.end_ms * _NS_PER_MS

    def message_text(self, row: int) -> str:
        """The message row ``row`` (1-based) as text, while its block is the current one (for reports)."""
        i = row - self._first_row
        lines = self._text.split(b"\n")
        return lines[i].decode("utf-8", "replace") if 0 <= i < len(lines) - 1 else f"row {row}"

    def run(self) -> Iterator[int]:
        f = self.file
        row = 0
        try:
            # the compiled path inflates through ISA-L (``zip_isal``: zipfile's bytes and errors, less CPU)
            member = open_member if self.impl == "compiled" else zipfile.ZipFile.open
            with (
                zipfile.ZipFile(f.path) as zf,
                member(zf, f.message_member) as mf,
                member(zf, f.orderbook_member) as bf,
            ):
                messages = LineReader(mf, self._msg_where, self._block_bytes)
                if self.impl == "compiled":  # the orderbook rows as one buffer (see lobster_rows)
                    size = self._block_bytes * 3
                    inflater = InflateThread(bf, size) if self.inflate_thread else None
                    try:
                        rows = RowReader(inflater or bf, self._book_where, size, _lobster_core.row_ends)
                        while True:
                            block, n = messages.raw_block(row)
                            if not n:
                                break
                            self._block_compiled(block, n, rows.take(n, row), row + 1)
                            row += n
                            yield row
                        more = rows.more(row)
                    finally:  # also when the caller stops early or a row fails: no thread outlives the run
                        if inflater is not None:
                            inflater.close()
                else:
                    books = LineReader(bf, self._book_where, self._block_bytes * 3)
                    while True:
                        block, n = messages.raw_block(row)
                        if not n:
                            break
                        self._block(block, n, books.take(n, row), row + 1)
                        row += n
                        yield row
                    more = bool(books.block(row))
                if more:
                    raise DataError(
                        f"orderbook file has more rows than the {row} of the message file",
                        path=self._book_where,
                        line=row + 1,
                    )
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise DataError(f"truncated or corrupt zip after row {row}: {exc}", path=f.path, line=row) from exc
        if row == 0:
            raise DataError("the message file is empty", path=self._msg_where)

    def _initial_book(self, line: bytes, kind: int, side: Side, price: int, size: int, ts: int) -> None:
        """Orderbook row 1 with message 1 undone: the book as the day began."""
        fields = line.split(b",")
        if len(fields) != 4 * self.file.levels:
            raise DataError(
                f"orderbook row has {len(fields)} fields, expected {4 * self.file.levels}",
                path=self._book_where,
                line=1,
            )
        try:
            asks = _side_levels(fields, 0)
            bids = _side_levels(fields, 2)
        except ValueError:
            raise bad_book_row([line], self.file.levels, self._book_where, 1) from None
        levels = bids if side is Side.BUY else asks
        if kind == 1:
            levels[price] = levels.get(price, 0) - size
        elif kind in (2, 3, 4):
            levels[price] = levels.get(price, 0) + size
        self._sink.load(
            [BookLevel(p, s) for p, s in sorted(bids.items(), reverse=True) if s > 0],
            [BookLevel(p, s) for p, s in sorted(asks.items()) if s > 0],
            ts=ts,
        )
        self._prev_line = line

    def _block(self, block: bytes, n: int, book_lines: list[bytes], first_row: int) -> None:
        secs, kinds, ids, sizes, prices, dirs = parse_block(block, n, self._msg_where, first_row, self._base)
        self._text = block
        self._first_row = first_row
        if secs[0] < self._start_ts or secs[-1] > self._end_ts:  # with the order checked below: all in the window
            raise self._bad_time(secs, first_row)
        if min(secs) < self._base + _EARLY_NS:
            day = self.file.day
            secs = [ny_to_utc_ns(day, s - self._base) for s in secs]
        by_type = self.counts.by_type
        for k in set(kinds):
            by_type[k] = by_type.get(k, 0) + kinds.count(k)
        self.counts.rows += n
        sides = list(map(_SIDES.__getitem__, dirs))
        if first_row == 1:
            self._initial_book(book_lines[0], kinds[0], sides[0], prices[0], sizes[0], secs[0])
        flags = self._reveal_flags(book_lines, kinds, dirs, first_row)
        on_row = self._on_row if self._check_row is None else self._check_row
        sink = self._sink
        add, execute, cancel, delete = sink.add, sink.execute, sink.cancel, sink.delete
        discover = sink.discover
        known = self._known  # a set, or the compiled id table when a compiled store replay hands a batch here
        remember = known.add
        on_trade = self._on_trade
        last = self._last_ts
        row = first_row - 1
        counts = self.counts
        for k, oid, size, price, side, ts, flag in zip(kinds, ids, sizes, prices, sides, secs, flags, strict=True):
            row += 1
            if ts < last:
                raise self._bad_time(secs, first_row)
            last = ts
            if k == 1:
                if oid in known:
                    self._duplicate(oid, row)
                else:
                    add(oid, side, price, size, ts)
                    remember(oid)
            elif k <= 4:
                if oid not in known:
                    discover(oid, side, price, size, ts)
                    counts.discovered += 1  # now, not after the block: a later row may fail
                if k == 3:
                    delete(oid, ts, size)
                elif k == 4:
                    execute(oid, size, ts)
                    if on_trade is not None:
                        on_trade(ts, price, size, _AGGRESSOR[side], 4)
                else:
                    cancel(oid, size, ts)
                if flag:
                    self._reveal_row(book_lines, side, row - first_row, ts, row)
            else:
                self._other(k, price, size, side, ts)
            if on_row is not None:
                on_row(row, book_lines[row - first_row])
        self._prev_line = book_lines[-1]
        self._last_ts = last

    def _block_compiled(self, block: bytes, n: int, rows: RowBlock, first_row: int) -> None:
        """``_block`` with the message loop in ``book._l3_core`` and the parse in ``data._lobster_core``: the
        same checks in the same order, each unusual case decided by the reference code it calls back."""
        base = self._base
        fast = _lobster_core.parse_messages(block, n, base)
        if fast is None:  # an unusual block: the reference parser reads it or names its bad row
            ref = parse_block(block, n, self._msg_where, first_row, base)
            secs, kinds, ids, sizes, prices, dirs = (np.array(c, dtype=np.int64) for c in ref)
        else:
            secs, kinds, ids, sizes, prices, dirs = fast
        self._text = block
        self._first_row = first_row
        if secs[0] < self._start_ts or secs[-1] > self._end_ts:
            raise self._bad_time(secs.tolist(), first_row)
        if int(secs.min()) < base + _EARLY_NS:
            day = self.file.day
            secs = np.array([ny_to_utc_ns(day, s - base) for s in secs.tolist()], dtype=np.int64)
        by_type = self.counts.by_type
        counted: npt.NDArray[np.int64] = np.bincount(kinds, minlength=8)
        for k in np.flatnonzero(counted).tolist():
            by_type[k] = by_type.get(k, 0) + int(counted[k])
        self.counts.rows += n
        if first_row == 1:
            side = _SIDES[int(dirs[0])]
            self._initial_book(rows.line(0), int(kinds[0]), side, int(prices[0]), int(sizes[0]), int(secs[0]))
        ends = rows.ends
        levels = self.file.levels
        scanned = _lobster_core.reveal_flags(rows.text, ends, self._prev_line, levels, kinds, dirs, first_row == 1)
        # an unusual orderbook row: the reference names it (or flags the block after all)
        flags = scanned or bytes(self._reveal_flags(rows.lines(), kinds.tolist(), dirs.tolist(), first_row))

        # the reference applies the rows before a time that goes backwards, then fails on it: so do the same
        backwards = np.flatnonzero(np.diff(secs, prepend=self._last_ts) < 0)
        end = int(backwards[0]) if len(backwards) else n

        def reveal(side: Side, i: int, ts: int, row: int) -> None:
            self._reveal_row(rows.lines(), side, i, ts, row)

        check = self._check_row
        _l3_core.apply_lobster_block(
            self._sink,
            self._known,
            kinds[:end],
            ids[:end],
            sizes[:end],
            prices[:end],
            dirs[:end],
            secs[:end],
            memoryview(flags)[:end],
            rows.text,
            ends[: end + 1],
            self._prev_line,
            first_row,
            self.file.levels,
            Side.BUY,
            Side.SELL,
            self._duplicate,
            reveal,
            self._other if self._on_trade is not None or self._on_status is not None else None,
            self._trade if self._on_trade is not None else None,
            self._on_row if check is None else check,
            check is not None,
            self.counts,
        )
        if end < n:
            raise self._bad_time(secs.tolist(), first_row)
        self._prev_line = rows.line(n - 1)
        self._last_ts = int(secs[-1])

    def _trade(self, ts: int, price: int, size: int, side: Side) -> None:
        assert self._on_trade is not None
        self._on_trade(ts, price, size, _AGGRESSOR[side], 4)

    def _reveal_row(self, book_lines: list[bytes], side: Side, i: int, ts: int, row: int) -> None:
        try:
            self._reveal(side, book_lines[i - 1] if i else self._prev_line, book_lines[i], ts, row)
        except ValueError:
            lines = [book_lines[i - 1] if i else self._prev_line, book_lines[i]]
            raise bad_book_row(lines, self.file.levels, self._book_where, row - 1) from None

    def _duplicate(self, oid: int, row: int) -> None:
        counts = self.counts
        counts.duplicates += 1
        if not counts.first_problem:
            counts.first_problem = (
                f"{self._msg_where}, line {row}: order id {oid} added again (already added that day); not applied"
            )

    def _bad_time(self, secs: list[int], first_row: int) -> DataError:
        """The first message whose time goes backwards or leaves the window the file's name claims: fatal,
        because a message cannot be skipped without the orderbook file (one row per message) disagreeing."""
        f = self.file
        start = self._base + f.start_ms * _NS_PER_MS
        last = self._last_ts
        for i, ts in enumerate(secs):
            whole, frac = divmod(ts - self._base, NS_PER_SECOND)
            if not start <= ts <= self._end_ts:
                why = (
                    f"time {whole}.{frac:09d} s is outside the window {f.start_ms}-{f.end_ms} ms after midnight "
                    "that the file's name claims"
                )
            elif ts < last:
                why = f"time {whole}.{frac:09d} s is before the previous message's; LOBSTER messages are in time order"
            else:
                last = ts
                continue
            return DataError(f"{why}: {self.message_text(first_row + i)!r}", path=self._msg_where, line=first_row + i)
        return DataError("message times out of order", path=self._msg_where, line=first_row)

    def _reveal_flags(self, lines: list[bytes], kinds: list[int], dirs: list[int], first_row: int) -> list[bool]:
        """Per row: may this message have brought a level into view? (A type 2-4 message after which the
        price of the deepest level shown on its side changed, or that side was not full.)"""
        last = last_level_fields(lines, self.file.levels)
        if last is None:
            raise bad_book_row(lines, self.file.levels, self._book_where, first_row)
        ask, bid = last
        before = last_level_fields([self._prev_line], self.file.levels) if first_row > 1 else None
        last_ask, last_bid = before if before is not None else (ask[:1], bid[:1])
        prev_ask = np.concatenate((last_ask, ask[:-1]))
        prev_bid = np.concatenate((last_bid, bid[:-1]))
        k = np.array(kinds, dtype=np.int64)
        changed = np.where(
            np.array(dirs, dtype=np.int64) == -1,
            (ask != prev_ask).any(axis=1) | (prev_ask == _ASK_SENTINEL).all(axis=1),
            (bid != prev_bid).any(axis=1) | (prev_bid == _BID_SENTINEL).all(axis=1),
        )
        flags = (k >= 2) & (k <= 4) & changed
        if first_row == 1:
            flags[0] = False
        result: list[bool] = flags.tolist()
        return result

    def _other(self, kind: int, price: int, size: int, side: Side, ts: int) -> None:
        if kind == 7:
            status = _STATUS.get(price)
            if status is not None and self._on_status is not None:
                self._on_status(ts, status)
        elif self._on_trade is not None:  # 5: hidden execution, 6: cross (auction) trade
            aggressor = _AGGRESSOR[side] if kind == 5 else Aggressor.UNKNOWN
            self._on_trade(ts, price, size, aggressor, kind)

    def _reveal(self, side: Side, prev_line: bytes, line: bytes, ts: int, row: int) -> None:
        """After a message on ``side``: a level that came into view from beyond level N (see the module doc).

        Only a removal can bring a level into view, and a removal within the top N always changes the price at
        level N (the old level N+1 moves up), so comparing the last level of the two rows is the whole test; a
        side that was not full (an empty level N) needs the full comparison.
        """
        offset = -4 if side is Side.SELL else -2
        tail = line.rsplit(b",", 4)
        before = prev_line.rsplit(b",", 4)
        if len(tail) != len(before):
            raise DataError(
                f"orderbook row has {line.count(b',') + 1} fields, expected {prev_line.count(b',') + 1}",
                path=self._book_where,
                line=row,
            )
        new, old = tail[offset], before[offset]
        if new == old and old not in _EMPTY_PRICES:
            return
        counts = self.counts
        if old in _EMPTY_PRICES:
            self._reveal_all(side, prev_line.split(b","), line.split(b","), ts)
        elif new in _EMPTY_PRICES:
            self._sink.reveal(side, int(old), [], True, ts)
            counts.reveals += 1
        else:
            self._sink.reveal(side, int(old), [(int(new), int(tail[offset + 1]))], False, ts)
            counts.reveals += 1
            counts.levels_from_file += 1

    def _reveal_all(self, side: Side, prev: list[bytes], cur: list[bytes], ts: int) -> None:
        offset = 0 if side is Side.SELL else 2
        now = cur[offset::4]
        before = prev[offset::4]
        if now == before:
            return
        seen = set(before)
        revealed = [
            (int(p), int(cur[4 * j + offset + 1]))
            for j, p in enumerate(now)
            if p not in seen and p not in _EMPTY_PRICES
        ]
        visible = [p for p in before if p not in _EMPTY_PRICES]
        after = int(visible[-1]) if visible else NO_PRICE
        self._sink.reveal(side, after, revealed, now[-1] in _EMPTY_PRICES, ts)
        self.counts.reveals += 1
        self.counts.levels_from_file += len(revealed)
