"""Encode ITCH 5.0 message structs back to wire bytes, the exact inverse of the parser.

Tests use it to build inputs whose every byte is known (round trips, truncation, framing), and tools use it to
turn other data into ITCH files that any ITCH reader accepts. It refuses what the wire cannot carry (a
negative share count, a 9-character symbol, a timestamp past 2**48) with ``ValueRangeError`` rather than
truncating, because a silently mangled test input proves nothing.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, Literal

import msgspec

from tapeflow.model.errors import ValueRangeError

from .itch_messages import LAYOUTS, TIMESTAMP_MAX, ItchMessage, Layout

_LAYOUT_BY_CLASS: Final[dict[type[ItchMessage], Layout]] = {layout.cls: layout for layout in LAYOUTS.values()}
_PREFIX: Final = struct.Struct(">H")

Framing = Literal["length", "raw"]
"""``length``: each message preceded by its 2-byte big-endian length, as in Nasdaq's historical files;
``raw``: messages back to back, the length implied by the type (SoupBinTCP / MoldUDP64 payloads)."""


def encode_message(message: ItchMessage) -> bytes:
    """The message's wire bytes, starting at its type byte (no length prefix)."""
    layout = _LAYOUT_BY_CLASS[type(message)]
    values = msgspec.structs.astuple(message)
    timestamp = values[2]
    if not 0 <= timestamp <= TIMESTAMP_MAX:
        raise ValueRangeError(
            f"ITCH timestamp {timestamp} ns since midnight does not fit in 6 bytes (0..{TIMESTAMP_MAX})"
        )
    args: list[int | bytes] = [
        layout.type_char.encode(),
        values[0],
        values[1],
        timestamp >> 32,
        timestamp & 0xFFFFFFFF,
    ]
    names = message.__struct_fields__[3:]  # the class attribute: cheap, unlike msgspec.structs.fields()
    for width, value, field in zip(layout.text_widths, values[3:], names, strict=True):
        if width == 0:
            args.append(value)
            continue
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise ValueRangeError(f"ITCH {layout.type_char} field `{field}`: {value!r} is not 8-bit text") from exc
        if len(raw) > width or (width == 1 and len(raw) != 1):
            raise ValueRangeError(
                f"ITCH {layout.type_char} field `{field}`: {value!r} does not fit the {width}-character field"
            )
        args.append(raw.ljust(width, b" "))
    try:
        return layout.codec.pack(*args)
    except struct.error as exc:
        raise ValueRangeError(f"ITCH {layout.type_char} message {message!r} cannot be encoded: {exc}") from exc


def frame(body: bytes, framing: Framing = "length") -> bytes:
    """Wrap one encoded message for ``framing``."""
    if framing == "raw":
        return body
    return _PREFIX.pack(len(body)) + body


def encode_stream(messages: Iterable[ItchMessage], framing: Framing = "length") -> bytes:
    """All ``messages`` as one framed byte string; for tests and small inputs (``ItchWriter`` for files)."""
    return b"".join(frame(encode_message(message), framing) for message in messages)


class ItchWriter:
    """Writes framed messages to a file, gzip-compressed when the name ends in ``.gz``.

    Buffered in blocks so that a file of millions of messages costs one write per block, not per message.
    """

    def __init__(self, path: str | Path, framing: Framing = "length", *, block_size: int = 1 << 20) -> None:
        self.path = Path(path)
        self.framing: Framing = framing
        self.count = 0
        self._block_size = block_size
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._file: BinaryIO
        if self.path.suffix == ".gz":
            self._file = gzip.open(self.path, "wb", compresslevel=1)  # type: ignore[assignment]  # noqa: SIM115
        else:
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, message: ItchMessage) -> None:
        self.write_encoded(encode_message(message))

    def write_encoded(self, body: bytes) -> None:
        """Append a message already encoded by ``encode_message`` (generators encode in bulk)."""
        data = frame(body, self.framing)
        self._pending.append(data)
        self._pending_bytes += len(data)
        self.count += 1
        if self._pending_bytes >= self._block_size:
            self._flush()

    def _flush(self) -> None:
        self._file.write(b"".join(self._pending))
        self._pending.clear()
        self._pending_bytes = 0

    def close(self) -> None:
        self._flush()
        self._file.close()

    def __enter__(self) -> ItchWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_itch(path: str | Path, messages: Iterable[ItchMessage], framing: Framing = "length") -> int:
    """Write ``messages`` to ``path`` (gzip when it ends in ``.gz``); returns how many were written."""
    with ItchWriter(path, framing) as writer:
        for message in messages:
            writer.write(message)
    return writer.count
