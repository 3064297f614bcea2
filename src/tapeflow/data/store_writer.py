"""Writing the Parquet event store with bounded memory and open files, whatever the number of symbols.

A real ITCH day has 8,000+ symbols and ~7 event types each. Holding an open Parquet writer per (symbol, date,
type) exhausted file descriptors, and buffering every partition until it filled a row group held the whole day
in memory. Instead, events are buffered per partition up to ``buffer_rows`` rows in all; past that, the largest
buffers are appended (msgpack, the exact values) to one spill file until half the budget is free. ``close()``
then writes the Parquet files one at a time from the spill and the buffers, in row groups of exactly
``ROW_GROUP`` rows: at most two files are open at once (the spill and one Parquet file), and the bytes written do
not depend on ``buffer_rows``, so a bounded conversion is identical to an unbounded one.

Everything goes to a fresh ``.<name>.<random>.partial`` folder beside the output, which is swapped into place
after the manifest is written; any failure removes it and leaves an existing store untouched.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from array import array
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.data.nytime import NEW_YORK
from tapeflow.data.store_manifest import (
    FORMAT,
    TABLE_TYPES,
    TABLES_VERSION,
    VERSION,
    FileEntry,
    Manifest,
    check_output,
    file_path,
    inside,
    partition_name,
    symbol_problem,
    write_manifest,
)
from tapeflow.data.store_schema import schema
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event

ROW_GROUP: Final = 65_536
BUFFER_ROWS: Final = 262_144  # ~100-150 MB of buffered Python values; see docs/PERFORMANCE.md, "Store conversion"
_Key = tuple[str, str, type[Event]]  # (symbol, New York date, event type)


def _ny_date(ts: int) -> str:
    return datetime.fromtimestamp(ts // 1_000_000_000, NEW_YORK).date().isoformat()


class _HashingFile(io.RawIOBase):
    """A file that hashes what is written to it: the manifest's SHA-256 and size without reading the file back."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._fh = path.open("wb")
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def tell(self) -> int:
        return self.size

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()


class StoreWriter:
    """Buffers events per partition, spills the largest buffers past ``buffer_rows``; ``close()`` writes the store."""

    def __init__(self, out: str | Path, *, overwrite: bool = False, buffer_rows: int = BUFFER_ROWS) -> None:
        if buffer_rows < 1:
            raise ValueError("buffer_rows must be positive")
        self.out = Path(out)
        self.overwrite = overwrite
        check_output(self.out, overwrite=overwrite)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".partial", dir=self.out.parent))
        self.buffer_rows = buffer_rows
        self.count = 0
        self._buf: dict[_Key, list[list[Any]]] = {}
        self._buffered = 0
        self._spilled: dict[_Key, array[int]] = {}  # offset, length pairs of each key's spilled chunks, in order
        self._spill: IO[bytes] | None = None  # appended through a 1 MiB buffer, read back with ``os.pread``
        self._spill_end = 0
        self._encode = msgspec.msgpack.Encoder().encode
        self._symbols: dict[str, None] = {}
        self._folders: dict[str, Path] = {}
        self._day_cache: tuple[int, int, str] = (0, -1, "")
        self._tables: list[FileEntry] = []

    def write(self, ev: Event) -> None:
        cls = type(ev)
        symbol = getattr(ev, "symbol", "")
        if symbol not in self._symbols:
            self._check_symbol(ev, symbol)
        ts = ev.ts_init
        lo, hi, day = self._day_cache
        if not lo <= ts < hi:
            day = _ny_date(ts)
            start = ts - ts % 3_600_000_000_000
            self._day_cache = (start, start + 3_600_000_000_000, day)
        key = (symbol, day, cls)
        names = schema(cls).names
        cols = self._buf.get(key)
        if cols is None:
            cols = self._buf[key] = [[] for _ in range(len(names) + 1)]
        cols[0].append(self.count)
        for i, name in enumerate(names, 1):
            cols[i].append(getattr(ev, name))
        self.count += 1
        self._buffered += 1
        if self._buffered > self.buffer_rows:
            self._spill_largest()

    def _check_symbol(self, ev: Event, symbol: object) -> None:
        problem = symbol_problem(symbol)
        if problem is not None:
            raise DataError(
                f"event #{self.count + 1} ({type(ev).__name__} at ts_init={ev.ts_init}): {problem}; a store "
                "partition needs 1-32 printable ASCII characters: fix or filter the input",
                path=self.out,
            )
        self._symbols[str(symbol)] = None

    def _spill_largest(self) -> None:
        """Append the largest buffers to the spill file until at most half the budget is held in memory."""
        if self._spill is None:
            self._spill = (self.tmp / "_spill.msgpack").open("w+b", buffering=1 << 20)
        for key in sorted(self._buf, key=lambda k: len(self._buf[k][0]), reverse=True):
            if self._buffered <= self.buffer_rows // 2:
                break
            cols = self._buf.pop(key)
            data = self._encode(cols)
            self._spill.write(data)
            self._spilled.setdefault(key, array("q")).extend((self._spill_end, len(data)))
            self._spill_end += len(data)
            self._buffered -= len(cols[0])

    def _chunks(self, key: _Key) -> Iterable[list[list[Any]]]:
        """The key's rows in stream order: its spilled chunks, then what is still buffered."""
        pairs = self._spilled.pop(key, array("q"))
        if pairs:
            assert self._spill is not None
            dec = schema(key[2]).spill_decoder
            fd = self._spill.fileno()
            for i in range(0, len(pairs), 2):
                yield list(dec.decode(os.pread(fd, pairs[i + 1], pairs[i])))
        cols = self._buf.pop(key, None)
        if cols is not None:
            yield cols

    def _write_file(self, key: _Key) -> FileEntry:
        symbol, day, cls = key
        sch = schema(cls)
        rel = file_path(symbol, day, cls.__name__)
        path = self._inside(rel)
        pending: list[list[Any]] = [[] for _ in range(len(sch.names) + 1)]
        rows = 0
        out = _HashingFile(path)
        with out, pq.ParquetWriter(out, sch.arrow) as writer:
            for chunk in self._chunks(key):
                for dst, src in zip(pending, chunk, strict=True):
                    dst.extend(src)
                while len(pending[0]) >= ROW_GROUP:
                    writer.write_table(sch.table([c[:ROW_GROUP] for c in pending]), row_group_size=ROW_GROUP)
                    pending = [c[ROW_GROUP:] for c in pending]
                    rows += ROW_GROUP
            if pending[0]:
                writer.write_table(sch.table(pending), row_group_size=ROW_GROUP)
                rows += len(pending[0])
        return FileEntry(
            path=rel, symbol=symbol, date=day, type=cls.__name__, rows=rows, bytes=out.size,
            sha256=out.sha256.hexdigest(),
        )  # fmt: skip

    def write_table(
        self,
        symbol: str,
        day: str,
        type_name: str,
        batches: Iterable[pa.RecordBatch],
        options: dict[str, Any] | None = None,
    ) -> None:
        """A file that is not events (one of ``TABLE_TYPES``), written now from ``batches`` (one schema) in row
        groups of at most ``ROW_GROUP`` rows, and listed in the manifest like the event files. ``options``: the
        ``pq.ParquetWriter`` keywords (encodings, compression) the table's reader is fastest with."""
        if type_name not in TABLE_TYPES:
            raise ValueError(f"{type_name!r} is not a store table type")
        problem = symbol_problem(symbol)
        if problem is not None:
            raise DataError(f"table {type_name}: {problem}", path=self.out)
        rel = file_path(symbol, day, type_name)
        path = self._inside(rel)
        rows = 0
        out = _HashingFile(path)
        writer: pq.ParquetWriter | None = None
        with out:
            try:
                for batch in batches:
                    if writer is None:
                        writer = pq.ParquetWriter(out, batch.schema, **(options or {}))
                    writer.write_batch(batch, row_group_size=ROW_GROUP)
                    rows += batch.num_rows
            finally:
                if writer is not None:
                    writer.close()
        self._tables.append(
            FileEntry(path=rel, symbol=symbol, date=day, type=type_name, rows=rows, bytes=out.size,
                      sha256=out.sha256.hexdigest())
        )  # fmt: skip

    def _inside(self, rel: str) -> Path:
        """The file's path, its folder created and checked to lie inside the store (resolved once per folder)."""
        folder, _, name = rel.rpartition("/")
        if folder not in self._folders:
            checked = inside(self.tmp, folder)
            checked.mkdir(parents=True, exist_ok=True)
            self._folders[folder] = inside(self.tmp, folder)  # again: resolved now that it exists
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise DataError(f"file name {name!r} is not a plain name; refused", path=self.tmp)
        return self._folders[folder] / name

    def close(self) -> int:
        """Write every file, then the manifest, then swap the folder into place; returns the event count."""
        if self._spill is not None:
            self._spill.flush()
        keys = sorted({*self._buf, *self._spilled}, key=lambda k: (partition_name(k[0]), k[1], k[2].__name__))
        entries = [self._write_file(key) for key in keys]
        if self._spill is not None:
            self._spill.close()
            self._spill = None
            (self.tmp / "_spill.msgpack").unlink()
        entries += sorted(self._tables, key=lambda e: e.path)
        version = TABLES_VERSION if self._tables else VERSION  # a store without tables stays readable by older tapeflow
        write_manifest(self.tmp, Manifest(format=FORMAT, version=version, events=self.count, files=entries))
        self._swap()
        return self.count

    def _swap(self) -> None:
        """Put the finished folder at ``out``; an old store is renamed aside first and removed only afterwards."""
        check_output(self.out, overwrite=self.overwrite)  # the folder may have changed during a long conversion
        if not self.out.exists():
            self.tmp.rename(self.out)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".old", dir=self.out.parent))
        old.rmdir()
        self.out.rename(old)
        try:
            self.tmp.rename(self.out)
        except BaseException:
            old.rename(self.out)
            raise
        shutil.rmtree(old)

    def abort(self) -> None:
        """Remove everything written so far; the output and anything beside it stay as they were."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_store(
    stream: Iterable[Event],
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    buffer_rows: int = BUFFER_ROWS,
    tables: Callable[[StoreWriter], None] | None = None,
) -> int:
    """Write every event of ``stream``; nothing is left at ``out`` (or beside it) if anything fails.

    ``tables(writer)``: called after the events to add files that are not events (``StoreWriter.write_table``)."""
    writer = StoreWriter(out, overwrite=overwrite, buffer_rows=buffer_rows)
    try:
        for n, ev in enumerate(stream, 1):
            writer.write(ev)
            if progress is not None and n % 65_536 == 0:
                progress(n)
        if tables is not None:
            tables(writer)
        return writer.close()
    except BaseException:
        writer.abort()
        raise
