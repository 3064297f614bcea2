"""The Parquet event store: any tapeflow event stream, partitioned by symbol and New York date, read back exactly.

Layout: ``DIR/symbol=<S>/date=<YYYY-MM-DD>/<EventType>.parquet`` and the manifest ``DIR/_tapeflow_store.json``
(``store_manifest``: partition names, file list with row counts, sizes and hashes). Columns per event type are
derived from the event struct (``store_schema``); a ``_seq`` column keeps each event's position in the original
stream, so reading back merges the partitions into the identical stream, ties included. The date partition is
the New York trading day of ``ts_init``. Writing: ``store_writer`` (re-exported here).

Reading trusts only the manifest: the folder must hold exactly its files, each of the listed size and SHA-256
and of the current schema, or a ``DataError`` names the file; every check runs before the first event is
returned, so a damaged store never yields a partial or different stream. Every open that reads a file checks on
its own handle that it holds the file hashed, unchanged (``store_manifest.check_same``), and each row group is
checked again after it is read: a file replaced or written after its hash check is refused, not read. Reading
is column-wise, to be the fastest input of the backtester: each record batch's columns become Python lists once,
events are built by a generated keyword call per type, and the per-type files are merged by ``_seq`` a block at
a time with numpy (see ``_merge``). Figures: docs/PERFORMANCE.md, ``## Parquet store``. ``read_table`` gives
one type's columns as an Arrow table without building events, through ``pyarrow.dataset``, which serves there
and not in ``read_store`` (docs/DATA.md, "Parquet event store", says why).
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.data.store_manifest import (
    TABLE_TYPES,
    FileEntry,
    FileId,
    check_listing,
    check_same,
    inside,
    load_manifest,
    verify_file,
)
from tapeflow.data.store_schema import EVENT_TYPES, same, schema
from tapeflow.data.store_writer import StoreWriter, write_store
from tapeflow.model.errors import ConfigError, DataError
from tapeflow.model.events import Event

__all__ = ["StoreWriter", "read_store", "read_table", "write_store"]

_READ_BATCH = 65_536  # rows converted at once; a module variable so that tests can force many small batches
_Batches = Iterator[tuple[npt.NDArray[np.int64], list[Event]]]


class _Opened:
    """A verified file open for reading: pyarrow reads through ``source``, the handle whose identity was checked."""

    __slots__ = ("pf", "source")

    def __init__(self, pf: pq.ParquetFile, source: pa.NativeFile) -> None:
        self.pf = pf
        self.source = source

    def close(self) -> None:
        self.pf.close()
        self.source.close()  # a ParquetFile does not close a file it was handed


def _open(path: Path, entry: FileEntry, hashed: FileId) -> tuple[_Opened, Any]:
    """Open a verified file, check it is the file hashed (``hashed``), unchanged, and that it holds the current
    schema and the listed rows."""
    cls = EVENT_TYPES[entry.type]
    sch = schema(cls)
    try:
        source = pa.OSFile(str(path))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read store file: {exc}; convert the source again", path=path) from exc
    try:
        check_same(source.fileno(), hashed, path)
        pf = pq.ParquetFile(source, read_dictionary=sch.dictionary)
        found = pf.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        source.close()
        raise DataError(f"not a readable Parquet file ({exc}); convert the source again", path=path) from exc
    except DataError:
        source.close()
        raise
    opened = _Opened(pf, source)
    expected = pa.schema([f.with_type(pa.dictionary(pa.int32(), f.type)) if f.name in sch.dictionary else f
                          for f in sch.arrow])  # fmt: skip
    if not found.equals(expected) or pf.metadata.num_rows != entry.rows:
        opened.close()
        raise DataError(
            f"store file does not hold {entry.rows} {entry.type} rows of this tapeflow's layout (written by "
            "another version?); convert the source again",
            path=path,
        )
    return opened, sch


def _read_file(path: Path, entry: FileEntry) -> _Batches:
    """(``_seq`` array, events) per record batch: columns are converted once per batch, not once per value.

    The file is verified when the merge first asks (every file is, before the first event is returned). It is
    open only while a row group is read: a store of 8,000 symbols has ~50,000 files, more than a process may
    hold open, and most of them are a single row group.
    """
    hashed = verify_file(path, entry)
    opened: _Opened | None
    opened, sch = _open(path, entry, hashed)
    build = sch.builder
    last = -1
    try:
        groups = opened.pf.num_row_groups
        for group in range(groups):
            if opened is None:
                opened, _ = _open(path, entry, hashed)
            table = opened.pf.read_row_group(group)
            check_same(opened.source.fileno(), hashed, path)  # not written while it was read
            opened.close()
            opened = None
            for batch in table.to_batches(max_chunksize=_READ_BATCH):
                seq = batch.column(0).to_numpy()
                if len(seq) and (seq[0] <= last or bool(np.any(seq[1:] <= seq[:-1]))):
                    raise DataError("store file's _seq column is not increasing; convert the source again", path=path)
                last = int(seq[-1]) if len(seq) else last
                cols = [
                    _column_values(batch.column(i + 1), conv, dec)
                    for i, (conv, dec) in enumerate(zip(sch.from_arrow, sch.batch_decoders, strict=True))
                ]
                yield seq, list(map(build, *cols))
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"store file unreadable ({exc}); convert the source again", path=path) from exc
    finally:
        if opened is not None:
            opened.close()


def _column_values(col: pa.Array, conv: Callable[[Any], Any], batch_decoder: Any = None) -> list[Any]:
    """One Arrow column as Python values; numpy's ``tolist`` is several times faster than ``to_pylist``."""
    if batch_decoder is not None and col.null_count == 0 and pa.types.is_binary(col.type):
        return _decode_binary(col, batch_decoder)
    if pa.types.is_dictionary(col.type) and col.null_count == 0:
        distinct: list[Any] = col.dictionary.to_pylist()
        if conv is not same:
            distinct = list(map(conv, distinct))
        if len(distinct) == 1:  # the symbol of a partition, a feed's venue: no per-row lookup at all
            return distinct * len(col)
        return list(map(distinct.__getitem__, col.indices.to_numpy().tolist()))
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if col.null_count == 0 and (pa.types.is_integer(col.type) or pa.types.is_boolean(col.type)):
        values: list[Any] = col.to_numpy(zero_copy_only=False).tolist()
    else:
        values = col.to_pylist()
    if conv is same:
        return values
    return list(map(conv, values))


def _decode_binary(col: pa.Array, decoder: Any) -> list[Any]:
    """Decode a column of msgpack values with one call: a msgpack array header before the column's data buffer.

    The values of an Arrow binary column lie back to back in one buffer, so that buffer is exactly the body of
    a msgpack array of them; one ``decode`` is about 10x faster than one per value (DepthRevealed levels).
    """
    n = len(col)
    if n == 0:
        return []
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * col.offset)
    body = memoryview(col.buffers()[2])[int(offsets[0]) : int(offsets[-1])]
    return typing.cast(list[Any], decoder.decode(b"".join((b"\xdd", n.to_bytes(4, "big"), body))))


class _Cursor:
    """One file's current batch, how far into it the merge has got, and how many rows are still to load."""

    __slots__ = ("batches", "events", "left", "pos", "seq")

    def __init__(self, batches: _Batches, rows: int) -> None:
        self.batches = batches
        self.seq: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self.events: list[Event] = []
        self.pos = 0
        self.left = rows  # the manifest's count, checked against the file's metadata before the first batch

    def advance(self) -> bool:
        """Load the next non-empty batch once the current one is drained; False when the file is exhausted."""
        if self.pos < len(self.events):
            return True
        for seq, evs in self.batches:
            self.left -= len(evs)
            if evs:
                self.seq, self.events, self.pos = seq, evs, 0
                return True
        return False


def _merge(files: list[tuple[_Batches, int]]) -> Iterator[list[Event]]:
    """Merge per-type batches by ``_seq`` into ordered blocks, instead of one ``heapq`` step per event.

    Each round, everything up to the smallest last ``_seq`` among the current batches of files with rows still
    to load is complete (every file is sorted by ``_seq``; a file whose last batch is loaded constrains
    nothing), so it is ordered with one numpy argsort and yielded as one list; the file that set that bound is
    drained, so each round consumes at least one batch and memory stays one batch per file. Without the
    "rows still to load" rule a store of thousands of one-batch files took one round per file, each over all
    files (quadratic); now it is one round. Blocks rather than events: ``read_store`` flattens them with
    ``chain``, so no Python frame runs per event. The first round opens (and verifies) every file before
    anything is yielded.
    """
    cursors = [_Cursor(f, rows) for f, rows in files]
    while True:
        cursors = [c for c in cursors if c.advance()]
        if not cursors:
            return
        if len(cursors) == 1:
            c = cursors[0]
            yield c.events[c.pos :] if c.pos else c.events
            for _, evs in c.batches:
                yield evs
            return
        limits = [int(c.seq[-1]) for c in cursors if c.left > 0]
        bound = min(limits) if limits else None
        seqs = []
        chunk: list[Event] = []
        for c in cursors:
            end = len(c.seq) if bound is None else int(np.searchsorted(c.seq, bound, side="right"))
            seqs.append(c.seq[c.pos : end])
            chunk.extend(c.events[c.pos : end])
            c.pos = end
        order = np.argsort(np.concatenate(seqs), kind="stable").tolist()
        yield list(map(chunk.__getitem__, order))


def read_store(
    path: str | Path, *, symbols: Iterable[str] | None = None, dates: Iterable[str] | None = None
) -> Iterator[Event]:
    """The stored events in their original order (optionally only some symbols, some ``YYYY-MM-DD`` days).

    The manifest and the folder listing are checked here; each file's size, hash and schema when the first
    event is asked for. Either way a damaged store is a ``DataError`` naming the file, before any event.
    """
    root, chosen = _chosen(path, symbols, dates)
    return itertools.chain.from_iterable(_merge([(_read_file(inside(root, e.path), e), e.rows) for e in chosen]))


def _chosen(
    path: str | Path, symbols: Iterable[str] | None, dates: Iterable[str] | None
) -> tuple[Path, list[FileEntry]]:
    """The checked manifest's entries for these symbols and days: the file list never comes from the folder.

    Filtering is a comprehension over the manifest rather than a ``pyarrow.dataset`` partition filter: 0.5 ms
    against 57 ms on an 8,000-file store (docs/DATA.md, "Parquet event store").
    """
    root = Path(path)
    manifest = load_manifest(root)
    check_listing(root, manifest)
    wanted = set(symbols) if symbols is not None else None
    days = set(dates) if dates is not None else None
    chosen = [
        e
        for e in manifest.files
        if (wanted is None or e.symbol in wanted) and (days is None or e.date in days) and e.type not in TABLE_TYPES
    ]
    return root, chosen


_PARQUET = ds.ParquetFileFormat()
_SCAN_FILES = 256
"""Files one scan holds open at once: a many-symbol store has more files than a process may open."""


def read_table(
    path: str | Path,
    event_type: str,
    *,
    columns: Iterable[str] | None = None,
    symbols: Iterable[str] | None = None,
    dates: Iterable[str] | None = None,
) -> pa.Table:
    """One event type's rows as an Arrow table in stream order: ``_seq``, ``columns`` (all if None), then ``date``.

    For analysis that needs a few columns, not events: only the projected columns are decoded, by a
    ``pyarrow.dataset`` scan over the chosen files, ``_SCAN_FILES`` at a time (``date`` is the partition's New
    York day, from the manifest). The trust is ``read_store``'s: the manifest, the folder listing and every chosen
    file's size, SHA-256 and schema are checked before the scan, and the scan reads exactly those files, through
    handles checked to hold the files hashed.
    """
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise ConfigError(
            f"unknown event type {event_type!r}; one of {', '.join(sorted(EVENT_TYPES))}", field="event_type"
        )
    sch = schema(cls)
    names = sch.arrow.names
    cols = names[1:] if columns is None else [c for c in dict.fromkeys(columns) if c not in ("_seq", "date")]
    for c in cols:
        if c not in names:
            raise ConfigError(f"{event_type} has no column {c!r}; its columns are {', '.join(names)}", field="columns")
    root, chosen = _chosen(path, symbols, dates)
    entries = [(inside(root, e.path), e) for e in chosen if e.type == event_type]
    hashed = [verify_file(file, e) for file, e in entries]
    full = pa.schema([*sch.arrow, pa.field("date", pa.string())])
    parts = [pa.schema([full.field(n) for n in ["_seq", *cols, "date"]]).empty_table()]
    parts += [
        _scan(entries[at : at + _SCAN_FILES], hashed[at : at + _SCAN_FILES], full, cols, root)
        for at in range(0, len(entries), _SCAN_FILES)
    ]
    return pa.concat_tables(parts).sort_by("_seq")


def _scan(
    entries: list[tuple[Path, FileEntry]], hashed: list[FileId], full: pa.Schema, cols: list[str], root: Path
) -> pa.Table:
    """One ``pyarrow.dataset`` scan over files opened here and checked to be the files hashed: each fragment reads
    the handle checked, never the path again; ``date`` is its manifest entry's New York day."""
    opened: list[_Opened] = []
    try:
        for (file, e), ident in zip(entries, hashed, strict=True):
            opened.append(_open(file, e, ident)[0])
        fragments = [
            _PARQUET.make_fragment(o.source, partition_expression=ds.field("date") == e.date)
            for o, (_, e) in zip(opened, entries, strict=True)
        ]
        try:
            table = ds.FileSystemDataset(fragments, full, _PARQUET).to_table(columns=["_seq", *cols, "date"])
        except (pa.ArrowException, OSError) as exc:  # a page that does not decode (a file relisted by hand)
            raise DataError(f"store unreadable ({exc}); convert the source again", path=root) from exc
        for o, (file, _), ident in zip(opened, entries, hashed, strict=True):
            check_same(o.source.fileno(), ident, file)  # not written while it was read
        return table
    finally:
        for o in opened:
            o.close()
