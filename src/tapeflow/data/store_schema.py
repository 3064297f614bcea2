"""The Parquet store's column layout per event type, derived from the event structs, shared by writer and reader.

Each event type has its own typed columns: ints (prices in 1/10,000 dollar, sizes, ns timestamps) as int64, text
as strings, enums as their string values, flags as bools, condition tuples as list<string>; nested values (book
levels) as msgpack bytes. A leading ``_seq`` column keeps each event's position in the original stream. Deriving
the layout from the structs means a new field needs no store code; a store written before a field changed no
longer matches the schema and is refused by the reader (``DataError``), never read into the wrong fields.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from typing import Any, Final

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]

from tapeflow.model import book_events, events, market
from tapeflow.model.events import Event

EVENT_TYPES: Final[dict[str, type[Event]]] = {
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
        return pa.int64(), same, same
    if tp is str:
        return pa.string(), same, same
    if tp is bool:
        return pa.bool_(), same, same
    if tp is float:
        return pa.float64(), same, same
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members = {m.value: m for m in tp}  # a dict lookup is several times cheaper than calling the enum
        return pa.string(), lambda v: v.value, members.__getitem__
    if base is tuple and typing.get_args(tp) == (str, Ellipsis):
        return pa.list_(pa.string()), list, tuple
    decoder = msgspec.msgpack.Decoder(tp)
    return pa.binary(), msgspec.msgpack.encode, decoder.decode


def same(v: Any) -> Any:
    """The identity conversion; compared by identity to skip a per-value call."""
    return v


class Schema:
    """Everything the writer and reader need about one event type's columns, computed once per type."""

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
        self.builder = _builder(cls, self.names)
        # symbols, venues and enum values repeat: read as dictionaries, each distinct value is converted once
        self.dictionary = [n for n, k in zip(self.names, kinds, strict=True) if k[0] == pa.string()]
        # nested values (msgpack) are decoded a whole batch per call, see ``parquet_store._decode_binary``
        self.batch_decoders = [
            msgspec.msgpack.Decoder(types.GenericAlias(list, (hints[n],))) if k[0] == pa.binary() else None
            for n, k in zip(self.names, kinds, strict=True)
        ]
        # the writer's spill: buffered columns (``_seq`` first) as msgpack, decoded back to the very same values
        self.spill_decoder = msgspec.msgpack.Decoder(
            types.GenericAlias(tuple, (list[int], *(types.GenericAlias(list, (hints[n],)) for n in self.names)))
        )

    def table(self, cols: list[list[Any]]) -> pa.Table:
        """Buffered columns (``_seq`` first) as an Arrow table of this type's schema."""
        arrays = [pa.array(cols[0], pa.int64())]
        for i, conv in enumerate(self.to_arrow):
            values = cols[i + 1] if conv is same else [conv(v) for v in cols[i + 1]]
            arrays.append(pa.array(values, self.arrow.field(i + 1).type))
        return pa.Table.from_arrays(arrays, schema=self.arrow)


def _builder(cls: type[Event], names: list[str]) -> Callable[..., Event]:
    """A function ``(v1, v2, ...) -> cls(name1=v1, name2=v2, ...)``, generated for the struct's fields.

    The structs are ``kw_only``, and ``cls(**dict(zip(names, row)))`` builds a dict per event; a call with
    literal keywords is about 4x faster (measured: 0.66M vs 2.9M OrderAdded/s). The names come from
    ``msgspec.structs.fields``, so they are identifiers.
    """
    args = ", ".join(f"_{i}" for i in range(len(names)))
    kwargs = ", ".join(f"{n}=_{i}" for i, n in enumerate(names))
    scope: dict[str, Any] = {}
    exec(f"def build({args}):\n    return cls({kwargs})\n", {"cls": cls}, scope)
    return typing.cast(Callable[..., Event], scope["build"])


_SCHEMAS: dict[type[Event], Schema] = {}


def schema(cls: type[Event]) -> Schema:
    """The cached ``Schema`` of an event type (a pure function of the type, so the cache is not hidden state)."""
    s = _SCHEMAS.get(cls)
    if s is None:
        s = _SCHEMAS[cls] = Schema(cls)
    return s
