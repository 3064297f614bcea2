"""Exact encoding of events to msgpack and JSON, and back.

Decoding is where untrusted bytes become events, so it is where constraints are checked: a negative size, a
missing field or a wrong type raises ``DataError`` naming the field (msgspec's path, e.g. ``$.size``).

The set of event types is every subclass of ``Event`` defined in ``tapeflow.model``: a module that adds an event
only has to be imported by ``tapeflow.model`` for its events to be decodable.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Union

import msgspec

from tapeflow.model.errors import DataError
from tapeflow.model.events import Event


def event_types() -> tuple[type[Event], ...]:
    """Every concrete event type, sorted by tag so that the order never depends on import order."""
    found: dict[str, type[Event]] = {}
    stack: list[type[Event]] = [Event]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            found[sub.__name__] = sub
    return tuple(found[name] for name in sorted(found))


@cache
def _codecs() -> tuple[
    msgspec.msgpack.Encoder, msgspec.msgpack.Decoder[Any], msgspec.json.Encoder, msgspec.json.Decoder[Any]
]:
    union: Any = Union[event_types()]  # noqa: UP007 - a runtime tuple of types needs the subscript form
    return (
        msgspec.msgpack.Encoder(),
        msgspec.msgpack.Decoder(union),
        msgspec.json.Encoder(),
        msgspec.json.Decoder(union),
    )


def to_msgpack(event: Event) -> bytes:
    return _codecs()[0].encode(event)


def from_msgpack(data: bytes) -> Event:
    try:
        event: Event = _codecs()[1].decode(data)
    except msgspec.ValidationError as exc:
        raise DataError(f"invalid event: {exc}; fix the producer of this record") from exc
    except msgspec.DecodeError as exc:
        raise DataError(f"not a msgpack-encoded event: {exc}") from exc
    return event


def to_json(event: Event) -> bytes:
    return _codecs()[2].encode(event)


def from_json(data: bytes | str) -> Event:
    try:
        event: Event = _codecs()[3].decode(data)
    except msgspec.ValidationError as exc:
        raise DataError(f"invalid event: {exc}; fix the producer of this record") from exc
    except msgspec.DecodeError as exc:
        raise DataError(f"not a JSON-encoded event: {exc}") from exc
    return event
