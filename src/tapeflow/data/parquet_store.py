"""The Parquet event store: any tapeflow event stream, partitioned by symbol and New York date, read back exactly.

Layout: ``DIR/symbol=<S>/date=<YYYY-MM-DD>/<EventType>.parquet`` and a marker ``DIR/_tapeflow_store.json``.
Each event type has its own typed columns, derived from the event struct: ints (prices in 1/10,000 dollar,
sizes, ns timestamps) as int64, text as strings, enums as their string values, flags as bools, condition
tuples as list<string>; nested values (book levels) as msgpack bytes. A ``_seq`` column keeps each event's
position in the original stream, so reading back merges the partitions into the identical stream, ties
included. The date partition is the New York trading day of ``ts_init``.

Writing goes to a temporary directory beside ``DIR`` that is renamed into place at the end: an interrupted
or failed conversion leaves nothing that could be mistaken for a store.
"""

from __future__ import annotations

import enum
import heapq
import json
import shutil
import typing
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tapeflow.data.detect import STORE_MARKER
from tapeflow.data.nytime import NEW_YORK
from tapeflow.model import book_events, events, market
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event

_FLUSH: Final = 65_536
_EVENT_TYPES: Final[dict[str, type[Event]]] = {
    name: obj
    for mod in (market, events, book_events)
    for name, obj in vars(mod).items()
    if isinstance(obj, type) and issubclass(obj, Event) and obj is not Event
}


def _column_kind(tp: Any) -> tuple[pa.DataType, Callable[[Any], Any], Callable[[Any], Any]]:
    """(arrow type, to-arrow, from-arrow) for a struct field's type."""
    base = typing.get_origin(tp)
    if base is typing.Annotated:
        return _column_kind(typing.get_args(tp)[0])
    if tp is int:
        return pa.int64(), _same, _same
    if tp is str:
        return pa.string(), _same, _same
    if tp is bool:
        return pa.bool_(), _same, _same
    if tp is float:
        return pa.float64(), _same, _same
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        cls = tp
        return pa.string(), lambda v: v.value, lambda v: cls(v)
    if base is tuple and typing.get_args(tp) == (str, Ellipsis):
        return pa.list_(pa.string()), list, tuple
    decoder = msgspec.msgpack.Decoder(tp)
    return pa.binary(), msgspec.msgpack.encode, decoder.decode


def _same(v: Any) -> Any:
    return v


class _Schema:
    def __init__(self, cls: type[Event]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls, include_extras=True)
        self.fields = list(msgspec.structs.fields(cls))
        self.names = [f.name for f in self.fields]
        kinds = [_column_kind(hints[n]) for n in self.names]
        self.to_arrow = [k[1] for k in kinds]
        self.from_arrow = [k[2] for k in kinds]
        self.arrow = pa.schema(
            [pa.field("_seq", pa.int64())] + [pa.field(n, k[0]) for n, k in zip(self.names, kinds, strict=True)]
        )
        self.trivial = [f is _same for f in self.from_arrow]


_SCHEMAS: dict[type[Event], _Schema] = {}


def _schema(cls: type[Event]) -> _Schema:
    s = _SCHEMAS.get(cls)
    if s is None:
        s = _SCHEMAS[cls] = _Schema(cls)
    return s


def _ny_date(ts: int) -> str:
    return datetime.fromtimestamp(ts // 1_000_000_000, NEW_YORK).date().isoformat()


class StoreWriter:
    """Buffers events per (partition, type) and writes Parquet row groups; ``close()`` renames into place."""

    def __init__(self, out: str | Path, *, overwrite: bool = False) -> None:
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise DataError("output exists; remove it or pass overwrite", path=self.out)
        self.tmp = self.out.with_name(f".{self.out.name}.partial")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self._buf: dict[tuple[str, str, type[Event]], list[list[Any]]] = {}
        self._writers: dict[tuple[str, str, type[Event]], pq.ParquetWriter] = {}
        self.count = 0
        self._day_cache: tuple[int, int, str] = (0, -1, "")

    def write(self, ev: Event) -> None:
        cls = type(ev)
        sch = _schema(cls)
        symbol = getattr(ev, "symbol", "_") or "_"
        ts = ev.ts_init
        lo, hi, day = self._day_cache
        if not lo <= ts < hi:
            day = _ny_date(ts)
            start = ts - ts % 3_600_000_000_000
            self._day_cache = (start, start + 3_600_000_000_000, day)
        key = (symbol, day, cls)
        cols = self._buf.get(key)
        if cols is None:
            cols = self._buf[key] = [[] for _ in range(len(sch.names) + 1)]
        cols[0].append(self.count)
        for i, name in enumerate(sch.names, 1):
            cols[i].append(getattr(ev, name))
        self.count += 1
        if len(cols[0]) >= _FLUSH:
            self._flush(key)

    def _flush(self, key: tuple[str, str, type[Event]]) -> None:
        cols = self._buf.pop(key, None)
        if not cols or not cols[0]:
            return
        symbol, day, cls = key
        sch = _schema(cls)
        arrays = [pa.array(cols[0], pa.int64())]
        for i, conv in enumerate(sch.to_arrow):
            values = cols[i + 1] if conv is _same else [conv(v) for v in cols[i + 1]]
            arrays.append(pa.array(values, sch.arrow.field(i + 1).type))
        table = pa.Table.from_arrays(arrays, schema=sch.arrow)
        writer = self._writers.get(key)
        if writer is None:
            part = self.tmp / f"symbol={symbol}" / f"date={day}"
            part.mkdir(parents=True, exist_ok=True)
            writer = self._writers[key] = pq.ParquetWriter(part / f"{cls.__name__}.parquet", sch.arrow)
        writer.write_table(table)

    def close(self) -> int:
        for key in list(self._buf):
            self._flush(key)
        for w in self._writers.values():
            w.close()
        (self.tmp / STORE_MARKER).write_text(
            json.dumps({"format": "tapeflow-parquet", "version": 1, "events": self.count})
        )
        if self.out.exists():
            shutil.rmtree(self.out)
        self.tmp.rename(self.out)
        return self.count

    def abort(self) -> None:
        for w in self._writers.values():
            w.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_store(
    stream: Iterable[Event], out: str | Path, *, overwrite: bool = False, progress: Callable[[int], None] | None = None
) -> int:
    """Write every event of ``stream``; nothing is left at ``out`` (or beside it) if anything fails."""
    writer = StoreWriter(out, overwrite=overwrite)
    try:
        for n, ev in enumerate(stream, 1):
            writer.write(ev)
            if progress is not None and n % 65_536 == 0:
                progress(n)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def _read_file(path: Path) -> Iterator[tuple[int, Event]]:
    cls = _EVENT_TYPES.get(path.stem)
    if cls is None:
        raise DataError(f"unknown event type {path.stem!r} in store", path=path)
    sch = _schema(cls)
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=_FLUSH):
        cols = [batch.column(0).to_pylist()]
        for i, conv in enumerate(sch.from_arrow):
            values = batch.column(i + 1).to_pylist()
            cols.append(values if sch.trivial[i] else [conv(v) for v in values])
        names = sch.names
        for row in zip(*cols, strict=True):
            yield row[0], cls(**dict(zip(names, row[1:], strict=True)))


def read_store(path: str | Path, *, symbols: Iterable[str] | None = None) -> Iterator[Event]:
    """The stored events in their original order (optionally only some symbols)."""
    root = Path(path)
    if not (root / STORE_MARKER).is_file():
        raise DataError(f"not a tapeflow Parquet store (no {STORE_MARKER})", path=root)
    wanted = set(symbols) if symbols is not None else None
    files = [
        f
        for f in sorted(root.glob("symbol=*/date=*/*.parquet"))
        if wanted is None or f.parent.parent.name.removeprefix("symbol=") in wanted
    ]
    for _, ev in heapq.merge(*(_read_file(f) for f in files), key=lambda r: r[0]):
        yield ev
