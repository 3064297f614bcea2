"""Exact encoding of events to msgpack and JSON, and back.

Two forms, for two readers:

- **msgpack** is for machines (tapes, the event log, the audit trail): an event is an array, its tag then its
  fields in order (``Event`` is ``array_like``). It is the form the trading loop pays for, so it is the compact one.
- **JSON** is for people (``--json`` output, hand-written test inputs): an object with ``"type"`` and the field
  names. It is decoded through a map-form twin of each event type, generated from it, and then built as the event.

Decoding is where untrusted bytes become events, so it is where constraints are checked: a negative size, a
missing field or a wrong type raises ``DataError`` naming the field (in JSON msgspec's path says it, e.g.
``$.size``; in msgpack the path is a position, ``$[6]``, and the message adds the field's name).

The set of event types is every subclass of ``Event`` defined in ``tapeflow.model`` except the groups that only
exist for subscribers (``is_event_group``): a module that adds an event only has to be imported by
``tapeflow.model`` for its events to be decodable.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Union

import msgspec

from tapeflow.model.errors import DataError
from tapeflow.model.events import Event

TAG_FIELD = "type"
"""Where the JSON form keeps an event's type name (msgspec's default tag field, which ``Event`` uses)."""


def is_event_group(cls: type[Event]) -> bool:
    """Whether ``cls`` only groups event types for subscribers (``OrderCommand``, ``OrderReport``).

    A group declares ``__event_group__`` in its own body (its members inherit the attribute, so they are looked up
    in their own ``__dict__`` and stay concrete). It is never sent, so it is neither encoded nor decoded: a record
    tagged with a group's name is refused like any unknown type."""
    return bool(cls.__dict__.get("__event_group__", False))


def event_types() -> tuple[type[Event], ...]:
    """Every concrete event type, sorted by tag so that the order never depends on import order."""
    found: dict[str, type[Event]] = {}
    stack: list[type[Event]] = [Event]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if not is_event_group(sub):
                found[sub.__name__] = sub
    return tuple(found[name] for name in sorted(found))


@cache
def types_by_tag() -> dict[str, type[Event]]:
    return {cls.__name__: cls for cls in event_types()}


def _map_form(cls: type[Event]) -> type[msgspec.Struct]:
    """A struct with ``cls``'s fields, types, constraints and defaults, encoded as a map: what JSON decodes into."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(cls):
        if f.required:
            fields.append((f.name, f.type))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, f.type, f.default))
    return msgspec.defstruct(cls.__name__, fields, kw_only=True, frozen=True, tag=cls.__name__, tag_field=TAG_FIELD)


@cache
def _codecs() -> tuple[msgspec.msgpack.Encoder, msgspec.msgpack.Decoder[Any], msgspec.json.Decoder[Any]]:
    union: Any = Union[event_types()]  # noqa: UP007 - a runtime tuple of types needs the subscript form
    json_union: Any = Union[tuple(_map_form(cls) for cls in event_types())]  # noqa: UP007
    return msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(union), msgspec.json.Decoder(json_union)


def to_msgpack(event: Event) -> bytes:
    return _codecs()[0].encode(event)


def from_msgpack(data: bytes) -> Event:
    try:
        event: Event = _codecs()[1].decode(data)
    except msgspec.ValidationError as exc:
        raise DataError(f"invalid event: {_name_position(str(exc), data)}; fix the producer of this record") from exc
    except msgspec.DecodeError as exc:
        raise DataError(f"not a msgpack-encoded event: {exc}") from exc
    return event


def to_dict(event: Event) -> dict[str, Any]:
    """The JSON form as builtins: ``{"type": tag, field: value, ...}`` (enums as their values)."""
    out: dict[str, Any] = {TAG_FIELD: type(event).__name__}
    out.update(msgspec.to_builtins(msgspec.structs.asdict(event)))
    return out


def to_json(event: Event) -> bytes:
    return msgspec.json.encode(to_dict(event))


def from_json(data: bytes | str) -> Event:
    try:
        form = _codecs()[2].decode(data)
    except msgspec.ValidationError as exc:
        raise DataError(f"invalid event: {exc}; fix the producer of this record") from exc
    except msgspec.DecodeError as exc:
        raise DataError(f"not a JSON-encoded event: {exc}") from exc
    cls = types_by_tag()[type(form).__name__]
    event: Event = cls(**msgspec.structs.asdict(form))
    return event


_POSITION = re.compile(r"`\$\[(\d+)\]")
_SHORT = re.compile(r"Expected `array` of at least length (\d+), got (\d+)")


def _name_position(message: str, data: bytes) -> str:
    """msgspec's message about an array-form event, with the names of the fields its positions stand for.

    Only on the error path: the tag is read again from ``data`` to know which type's fields the positions are."""
    try:
        head = msgspec.msgpack.decode(data)
        cls = types_by_tag().get(head[0]) if isinstance(head, list) and head and isinstance(head[0], str) else None
    except msgspec.DecodeError:
        cls = None
    if cls is None:
        return message
    names = cls.__struct_fields__
    at = _POSITION.search(message)
    if at is not None and 1 <= int(at.group(1)) <= len(names):
        return f"{message} (field `{names[int(at.group(1)) - 1]}` of {cls.__name__})"
    short = _SHORT.search(message)
    if short is not None:
        missing = names[int(short.group(2)) - 1 : int(short.group(1)) - 1]
        return f"{message} (missing required field(s) {', '.join(f'`{n}`' for n in missing)} of {cls.__name__})"
    return message
