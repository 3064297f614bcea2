"""A LOBSTER day kept in the Parquet store with its orderbook rows, and its verified L3 replay from there.

The store's events (``OrderAdded`` ...) cannot prove a book: the proof is LOBSTER's orderbook file, the top N
levels after every message. ``tapeflow data convert`` of a LOBSTER zip therefore also writes one
``LobsterBook`` table per day (a store of format version 3): the six message fields as int64 columns (the time
as ns after midnight, exactly as the file gives it), the orderbook row as 4 x N int64 columns, and two text
columns that are null for every row whose text is what the integers print (``%d``, commas; the time's decimals
without trailing zeros, as LOBSTER writes them). A row printed any other way (a leading zero, a plus, more
decimals) keeps its original text there, so that the replay of the store gives exactly the zip replay's
results, mismatches included.

``StoreDecoder`` is ``LobsterDecoder`` reading that table in batches (memory flat as days grow): for a batch
whose rows are all plain, the compiled loop (``book._l3_core.apply_lobster_columns``) applies the integer columns
to the book and checks every row against the book's top N, calling back the reference code for every unusual
case; any other batch, and ``impl="python"``, runs the decoder's Python reference on the rows' text rebuilt from
the columns: the very code the zip replay runs.

Why this module is long: it holds both ends of the table (written at conversion, read by the replay), and the
replay's batch step exists twice like the zip decoder's (compiled, and the Python reference on the rows' text).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.book.l3 import L3Book
from tapeflow.config import compiled_cores_wanted
from tapeflow.data.lobster import COMPILED_AVAILABLE, Impl, LobsterDecoder, LobsterSink, StatusSink, TradeSink
from tapeflow.data.lobster_file import LobsterFile, open_lobster
from tapeflow.data.lobster_parse import LineReader, parse_block
from tapeflow.data.nytime import NS_PER_SECOND, day_base_ns
from tapeflow.data.prefetch import Prefetch
from tapeflow.data.store_manifest import (
    TABLES_VERSION,
    FileEntry,
    FileId,
    check_digest,
    check_listing,
    check_same,
    check_size,
    file_id,
    inside,
    load_manifest,
)
from tapeflow.data.store_writer import StoreWriter
from tapeflow.model.enums import Side
from tapeflow.model.errors import ConfigError, DataError

if COMPILED_AVAILABLE:
    from tapeflow.book import _l3_core

TABLE: Final = "LobsterBook"
MESSAGE_COLUMNS: Final = ("time", "kind", "order_id", "size", "price", "direction")
_META_KEY: Final = b"tapeflow.lobster"
_INT64_MAX: Final = (1 << 63) - 1
BATCH_ROWS: Final = 65_536
DECODE_THREAD: Final = "tapeflow-store-decode"
WRITE_OPTIONS: Final[dict[str, Any]] = {"use_dictionary": False, "compression": "none"}
"""Delta-encoded int columns (``write_options``), uncompressed: read in ~460 instructions a message against ~1,260
for the store's default (dictionary pages, snappy), and 1.5x the default's size (5.6 MB for the 155,935 rows of
AMZN level 5): measured with callgrind. Round 10 timed the read and the SHA-256 together against PLAIN (plain,
LZ4, snappy, zstd), dictionary and BYTE_STREAM_SPLIT pages: each costs more CPU a message than these
(``benchmarks/bench_lobster_store_formats.py``, docs/PERFORMANCE.md "Parquet store")."""


def write_options(levels: int) -> dict[str, Any]:
    """The ``pq.ParquetWriter`` keywords of a ``LobsterBook`` table of ``levels`` levels."""
    ints = [*MESSAGE_COLUMNS, *book_columns(levels)]
    return WRITE_OPTIONS | {"column_encoding": dict.fromkeys(ints, "DELTA_BINARY_PACKED")}


class DayInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the zip's member names said about the day (``LobsterFile``), kept in the table's metadata."""

    source: str
    symbol: str
    day: str
    levels: int
    message_member: str
    orderbook_member: str
    start_ms: int
    end_ms: int


def book_columns(levels: int) -> list[str]:
    return [f"{name}_{j}" for j in range(1, levels + 1) for name in ("ask_price", "ask_size", "bid_price", "bid_size")]


def table_schema(info: DayInfo) -> pa.Schema:
    fields = [pa.field(n, pa.int64(), nullable=False) for n in (*MESSAGE_COLUMNS, *book_columns(info.levels))]
    fields += [pa.field("message_text", pa.string()), pa.field("book_text", pa.binary())]
    return pa.schema(fields, metadata={_META_KEY: msgspec.json.encode(info)})


def message_line(t: int, kind: int, oid: int, size: int, price: int, direction: int) -> bytes:
    """How the message prints when its text is plain: the time as LOBSTER writes it, without trailing zeros."""
    whole, frac = divmod(t, NS_PER_SECOND)
    decimals = (b"%09d" % frac).rstrip(b"0") or b"0"
    return b"%d.%s,%d,%d,%d,%d,%d" % (whole, decimals, kind, oid, size, price, direction)


def _book_values(line: bytes, levels: int) -> list[int] | None:
    """The row's integers when it prints back to exactly ``line``; None otherwise (its text is kept)."""
    fields = line.split(b",")
    if len(fields) != 4 * levels:
        return None
    try:
        values = [int(f) for f in fields]
    except ValueError:
        return None
    if any(not -_INT64_MAX <= v <= _INT64_MAX for v in values) or b",".join(b"%d" % v for v in values) != line:
        return None
    return values


def _batches(lf: LobsterFile, info: DayInfo, block_bytes: int) -> Iterator[pa.RecordBatch]:
    """The zip's rows as record batches of the table, framed as the zip replay frames them."""
    schema = table_schema(info)
    levels = lf.levels
    base = day_base_ns(lf.day)
    where = f"{lf.path}!{lf.message_member}"
    row = 0
    try:
        with zipfile.ZipFile(lf.path) as zf, zf.open(lf.message_member) as mf, zf.open(lf.orderbook_member) as bf:
            messages = LineReader(mf, where, block_bytes)
            books = LineReader(bf, f"{lf.path}!{lf.orderbook_member}", block_bytes * 3)
            while True:
                block, n = messages.raw_block(row)
                if not n:
                    break
                lines = books.take(n, row)
                secs, kinds, ids, sizes, prices, dirs = parse_block(block, n, where, row + 1, base)
                times = [s - base for s in secs]
                texts: list[str | None] = []
                for line, m in zip(
                    block.split(b"\n")[:n], zip(times, kinds, ids, sizes, prices, dirs, strict=True), strict=True
                ):
                    texts.append(None if message_line(*m) == line else line.decode("utf-8", "replace"))
                book: list[list[int]] = [[] for _ in range(4 * levels)]
                book_texts: list[bytes | None] = []
                zeros = [0] * (4 * levels)
                for line in lines:
                    values = _book_values(line, levels)
                    book_texts.append(None if values is not None else line)
                    for col, v in zip(book, values or zeros, strict=True):
                        col.append(v)
                arrays = [pa.array(c, pa.int64()) for c in (times, kinds, ids, sizes, prices, dirs, *book)]
                arrays += [pa.array(texts, pa.string()), pa.array(book_texts, pa.binary())]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
                row += n
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"truncated or corrupt zip after row {row}: {exc}", path=lf.path, line=row) from exc


def write_lobster_book(writer: StoreWriter, path: str | Path, *, block_bytes: int = 1 << 20) -> None:
    """Add the ``LobsterBook`` table of the LOBSTER zip at ``path`` to a store being written (``data convert``)."""
    lf = open_lobster(path)
    info = DayInfo(
        source=Path(lf.path).name, symbol=lf.symbol, day=lf.day.isoformat(), levels=lf.levels,
        message_member=lf.message_member, orderbook_member=lf.orderbook_member, start_ms=lf.start_ms,
        end_ms=lf.end_ms,
    )  # fmt: skip
    writer.write_table(lf.symbol, lf.day.isoformat(), TABLE, _batches(lf, info, block_bytes), write_options(lf.levels))


class StoreDay(msgspec.Struct, frozen=True, kw_only=True):
    """One ``LobsterBook`` table of a store, checked (manifest, listing, size, schema); its SHA-256 is checked by
    ``StoreDecoder.run`` before any row of it is used."""

    path: str
    entry: FileEntry
    info: DayInfo

    def lobster_file(self) -> LobsterFile:
        """The day as ``LobsterDecoder`` knows it; errors name the table and the original member."""
        i = self.info
        return LobsterFile(
            path=self.path, symbol=i.symbol, day=date.fromisoformat(i.day), levels=i.levels,
            message_member=i.message_member, orderbook_member=i.orderbook_member, start_ms=i.start_ms,
            end_ms=i.end_ms,
        )  # fmt: skip


def open_store_day(store: str | Path, symbol: str | None = None, day: str | None = None) -> StoreDay:
    """The store's LOBSTER day (the only one, or the one of ``symbol`` and ``day``), checked before any row; the
    table's SHA-256 is left to ``StoreDecoder.run``, which overlaps it with decoding the first batch."""
    root = Path(store)
    manifest = load_manifest(root)
    check_listing(root, manifest)
    tables = [
        e for e in manifest.files
        if e.type == TABLE and (symbol is None or e.symbol == symbol) and (day is None or e.date == day)
    ]  # fmt: skip
    if not tables:
        if manifest.version < TABLES_VERSION:
            raise DataError(
                f"store version {manifest.version} keeps no LOBSTER orderbook rows (written before version "
                f"{TABLES_VERSION}); convert the LOBSTER zip again with `tapeflow data convert`",
                path=root,
            )
        raise DataError("store holds no LOBSTER day (LobsterBook table) for this symbol and date", path=root)
    if len(tables) > 1:
        days = ", ".join(f"{e.symbol} {e.date}" for e in tables)
        raise ConfigError(f"store holds several LOBSTER days ({days}); choose one by symbol and date", field="symbol")
    entry = tables[0]
    path = inside(root, entry.path)
    check_size(path, entry)  # the SHA-256 is the decoder's, before its first row (``StoreDecoder.run``)
    try:
        return StoreDay(path=str(path), entry=entry, info=_day_info(path))
    except DataError:
        check_digest(path, entry)  # a file changed since it was written says so, whatever else it broke
        raise


def _day_info(path: Path) -> DayInfo:
    """The day's description from the table's schema, which must be the one this tapeflow writes."""
    try:
        found = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc}); convert the source again", path=path) from exc
    try:
        info = msgspec.json.decode((found.metadata or {})[_META_KEY], type=DayInfo)
    except (KeyError, msgspec.DecodeError) as exc:
        raise DataError(f"LobsterBook table without its day description ({exc}); convert again", path=path) from exc
    expected = table_schema(info)
    for f in expected:
        i = found.get_field_index(f.name)
        if i < 0:
            raise DataError(f"LobsterBook table has no column {f.name!r}; convert the source again", path=path)
        if found.field(i).type != f.type:
            raise DataError(
                f"LobsterBook column {f.name!r} is {found.field(i).type}, expected {f.type}; convert the source again",
                path=path,
            )
    if list(found.names) != list(expected.names):
        raise DataError("LobsterBook table has other columns than this tapeflow writes; convert again", path=path)
    return info


_Columns = tuple[npt.NDArray[np.int64], ...]


class StoreDecoder(LobsterDecoder):
    """``LobsterDecoder`` over a store's ``LobsterBook`` table instead of the zip: same sink, hooks and reports."""

    def __init__(
        self,
        day: StoreDay,
        sink: LobsterSink,
        *,
        on_trade: TradeSink | None = None,
        on_status: StatusSink | None = None,
        check_row: Any = None,
        batch_rows: int = BATCH_ROWS,
        impl: Impl = "auto",
        decode_thread: bool = True,
    ) -> None:
        """``decode_thread``: the compiled replay decodes the table's batches in a thread (``run``: less wall
        time where a core is free, the same instructions; on a host with no core free it cost CPU time, round
        11); ``self.decode_thread`` says whether it does. The reference reads in the caller's thread."""
        super().__init__(day.lobster_file(), sink, on_trade=on_trade, on_status=on_status, check_row=check_row,
                         impl="python")  # fmt: skip
        compiled_fits = COMPILED_AVAILABLE and type(sink) is L3Book
        if impl == "compiled" and not compiled_fits:
            why = "was not built (make .venv/.installed)" if not COMPILED_AVAILABLE else "needs an L3Book sink"
            raise ConfigError(f"the compiled LOBSTER store replay {why}", field="impl")
        if impl == "auto":
            compiled_fits = compiled_fits and compiled_cores_wanted()
        self.impl = "compiled" if impl != "python" and compiled_fits else "python"
        self.decode_thread = decode_thread and self.impl == "compiled"
        if self.impl == "compiled":  # the zip decoder's compiled id table, not the reference's set (~5% of a replay),
            self._known = _l3_core.IdSet(day.entry.rows)  # sized for the day: its adds are at most its rows
        self.day = day
        self._batch_rows = batch_rows
        self._where = day.path
        self._cols: _Columns | None = None
        self._texts: pa.Array | None = None
        self._book: list[npt.NDArray[np.int64]] | None = None
        self._prev_row: npt.NDArray[np.int64] = np.zeros(4 * day.info.levels, dtype=np.int64)
        self._prev_plain = False
        self._read_id: FileId | None = None
        """The identity of the file ``_batches`` reads, from its own handle as it opened it."""
        self.compiled_rows = 0
        """Rows the compiled loop applied (the rest went through the reference: unusual text, or ``python``)."""

    def message_text(self, row: int) -> str:
        cols = self._cols
        if cols is None:
            return super().message_text(row)
        i = row - self._first_row
        if not 0 <= i < len(cols[0]):
            return f"row {row}"
        text = self._texts[i].as_py() if self._texts is not None else None
        return text if text is not None else message_line(*(int(c[i]) for c in cols)).decode()

    def _line(self, i: int) -> bytes:
        """Orderbook row ``i`` of the current (plain) batch as LOBSTER printed it; -1: the row before it."""
        if i < 0:
            return self._prev_line
        assert self._book is not None
        return b",".join(b"%d" % c[i] for c in self._book)

    def run(self) -> Iterator[int]:
        """The table's rows applied a batch at a time, fail-closed: its SHA-256 is checked against the manifest
        before any row reaches the book, a hook or a report. With ``decode_thread`` a thread opens the file and
        decodes batches meanwhile, at most one waiting ahead of the loop (``prefetch.Prefetch``): pyarrow and
        hashlib release the GIL while they work, so the hash and the first batch's decode overlap, and so do
        each later batch's decode and the loop over the one before it. The file read is the file hashed: the
        reading handle's identity must be the hashed file's before the first row is used (``check_same``), and
        again after the last batch is read."""
        levels = self.file.levels
        row = 0
        ahead = Prefetch(self._batches, depth=1, name=DECODE_THREAD) if self.decode_thread else None
        batches = ahead if ahead is not None else self._batches()
        where = Path(self._where)
        try:
            hashed: FileId | None = check_digest(where, self.day.entry)
            for batch in batches:
                if hashed is not None:
                    self._same_file(hashed)  # the first batch: the reading side has opened the file by now
                    hashed = None
                n = batch.num_rows
                if not n:
                    continue
                try:
                    cols = tuple(batch.column(i).to_numpy() for i in range(6))
                    book = [batch.column(6 + j).to_numpy() for j in range(4 * levels)]
                except (pa.ArrowException, ValueError) as exc:
                    raise DataError(f"LobsterBook rows unreadable ({exc}); convert the source again",
                                    path=self._where, line=row + 1) from exc  # fmt: skip
                texts, book_texts = batch.column(6 + 4 * levels), batch.column(7 + 4 * levels)
                plain = book_texts.null_count == n  # a message's own text matters only to reports
                if self.impl == "compiled" and plain and (self._prev_plain or row == 0):
                    self._texts = texts if texts.null_count < n else None
                    self._block_columns(cols, book, n, row + 1)
                    self.compiled_rows += n if self._cols is not None else 0
                else:
                    self._block_reference(cols, book, texts, book_texts, n, row + 1)
                self._prev_plain = book_texts[n - 1].as_py() is None
                self._prev_row = np.array([c[n - 1] for c in book], dtype=np.int64)
                row += n
                yield row
            if hashed is not None:  # no batch at all: still the file hashed (its row count is refused below)
                self._same_file(hashed)
        except (OSError, pa.ArrowException) as exc:  # a damaged page that still hashes as listed (relisted by hand)
            raise DataError(f"store file unreadable after row {row}: {exc}", path=self._where, line=row) from exc
        finally:  # also when the caller stops early or a row or hook fails: no thread outlives the run
            if ahead is not None:
                ahead.close()
            else:
                batches.close()  # type: ignore[attr-defined]  # the generator: its file closed now
        if row != self.day.entry.rows:
            raise DataError(f"LobsterBook table holds {row} rows, its manifest {self.day.entry.rows}", path=self._where)
        if row == 0:
            raise DataError("the message file is empty", path=self._msg_where)

    def _same_file(self, hashed: FileId) -> None:
        if self._read_id != hashed:
            raise DataError(
                "store file was replaced or written between its SHA-256 check and its read; read the store again "
                "once nothing writes to it",
                path=self._where,
            )

    def _batches(self) -> Iterator[pa.RecordBatch]:
        """The table's record batches, read on one thread: a 65,536-row batch's decode is too short for
        pyarrow's pool to pay for its hand-offs in CPU time (~6% of the read, alternated; round 8). pyarrow reads
        through a handle opened here, whose identity ``run`` compares with the file hashed; after the last batch
        it must still be that (not written during the read)."""
        source = None
        try:
            source = pa.OSFile(self._where)
            self._read_id = opened = file_id(source.fileno())
            pf = pq.ParquetFile(source)
        except (pa.ArrowException, OSError) as exc:
            if source is not None:
                source.close()
            raise DataError(f"not a readable Parquet file ({exc}); convert the source again", path=self._where) from exc
        try:
            yield from pf.iter_batches(batch_size=self._batch_rows, use_threads=False)
            check_same(source.fileno(), opened, Path(self._where))
        finally:
            pf.close()
            source.close()  # a ParquetFile does not close a file it was handed

    def _block_reference(
        self,
        cols: _Columns,
        book: list[npt.NDArray[np.int64]],
        texts: pa.Array,
        book_texts: pa.Array,
        n: int,
        first: int,
    ) -> None:
        """The zip replay's Python reference (``LobsterDecoder._block``) on the rows' text."""
        self._cols = None
        message_texts = texts.to_pylist()
        row_texts = book_texts.to_pylist()
        values = [c.tolist() for c in cols]
        lines = [
            t.encode() if t is not None else message_line(*m)
            for t, m in zip(message_texts, zip(*values, strict=True), strict=True)
        ]
        rows = zip(*(c.tolist() for c in book), strict=True)
        book_lines = [
            t if t is not None else b",".join(b"%d" % v for v in r) for t, r in zip(row_texts, rows, strict=True)
        ]
        self._block(b"\n".join(lines) + b"\n", n, book_lines, first)

    def _block_columns(self, cols: _Columns, book: list[npt.NDArray[np.int64]], n: int, first_row: int) -> None:
        """``_block_compiled`` over the table's integer columns: the same checks, in the same order."""
        times, kinds, ids, sizes, prices, dirs = cols
        self._cols = cols
        self._book = book
        self._first_row = first_row
        base = self._base
        secs = times + base
        if secs[0] < self._start_ts or secs[-1] > self._end_ts or int(times.min()) < 0:
            raise self._bad_time(secs.tolist(), first_row)
        if int(secs.min()) < base + 3 * 3600 * NS_PER_SECOND:
            self._cols = None
            texts = self._texts if self._texts is not None else pa.nulls(n, pa.string())
            self._block_reference(cols, book, texts, pa.nulls(n, pa.binary()), n, first_row)
            return
        by_type = self.counts.by_type
        if int(kinds.min()) < 1 or int(kinds.max()) > 7 or not bool(np.all(np.abs(dirs) == 1)):
            raise DataError("LobsterBook row with a message type outside 1-7 or a direction not 1 or -1; convert "
                            "the source again", path=self._where, line=first_row)  # fmt: skip
        counted: npt.NDArray[np.int64] = np.bincount(kinds, minlength=8)
        for k in np.flatnonzero(counted).tolist():
            by_type[k] = by_type.get(k, 0) + int(counted[k])
        self.counts.rows += n
        if first_row == 1:
            side = Side.BUY if int(dirs[0]) == 1 else Side.SELL
            self._initial_book(self._line(0), int(kinds[0]), side, int(prices[0]), int(sizes[0]), int(secs[0]))
        backwards = np.flatnonzero(np.diff(secs, prepend=self._last_ts) < 0)
        end = int(backwards[0]) if len(backwards) else n

        def reveal(side: Side, i: int, ts: int, row: int) -> None:
            self._reveal_row([self._line(i - 1), self._line(i)], side, 1, ts, row)

        check = self._check_row

        def on_row(row: int, i: int) -> None:
            assert check is not None
            check(row, self._line(i))

        _l3_core.apply_lobster_columns(
            self._sink,
            self._known,
            kinds[:end],
            ids[:end],
            sizes[:end],
            prices[:end],
            dirs[:end],
            secs[:end],
            book,
            self._prev_row,
            first_row,
            self.file.levels,
            Side.BUY,
            Side.SELL,
            self._duplicate,
            reveal,
            self._other if self._on_trade is not None or self._on_status is not None else None,
            self._trade if self._on_trade is not None else None,
            on_row if check is not None else None,
            self.counts,
        )
        if end < n:
            raise self._bad_time(secs.tolist(), first_row)
        self._prev_line = self._line(n - 1)
        self._last_ts = int(secs[-1])
