"""Reading ITCH 5.0 bytes: sources, gzip, framing detection, and the generic message decoder.

Everything here streams: input is read in fixed-size chunks (16 KiB by default) and gzip is inflated chunk by
chunk, so memory stays flat however large the file. Two framings exist in the wild:

- ``length``: each message preceded by a 2-byte big-endian length (Nasdaq's historical ``*.NASDAQ_ITCH50``
  files).
  An unknown message type is skipped by its length; a longer-than-specified message is read up to the
  specified length (Nasdaq appends fields at the end when a spec grows).
- ``raw``: messages back to back, as in SoupBinTCP / MoldUDP64 payloads; the length comes from the type byte,
  so
  an unknown type ends the stream with a ``DataError`` (nothing says where the next message starts).

A truncated last message (a file cut while being copied) is counted in ``ItchStats`` and warned about; in
strict mode it raises ``DataError`` with its byte offset.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

import msgspec

from tapeflow.data.quality import SourceQuality
from tapeflow.model.errors import DataError

from .itch_messages import LAYOUTS, LENGTH_BY_TYPE, ItchMessage, Layout

ItchSource = str | Path | bytes | bytearray | BinaryIO
"""A path, the bytes themselves, or an open binary file."""

FramingChoice = Literal["auto", "length", "raw"]

CHUNK_SIZE: Final = 1 << 14
"""16 KiB: few enough events per batch that they are still in the CPU cache when the consumer frees them."""
GZIP_MAGIC: Final = b"\x1f\x8b"
HEAD_BYTES: Final = 256
_PREFIX = struct.Struct(">H")


class ItchStats(msgspec.Struct, kw_only=True):
    """What a reader saw, so that a caller can tell a clean file from one that was quietly patched over."""

    framing: str = ""
    messages: int = 0
    """Complete messages read (every type, before the symbol filter)."""
    bytes: int = 0
    """Decompressed bytes consumed, including length prefixes."""
    events: int = 0
    by_type: dict[str, int] = {}
    """Messages per type character; filled by ``ItchReader.messages`` (the event fast path does not count)."""
    unknown_types: int = 0
    malformed: int = 0
    """Messages whose length prefix is shorter than their type needs, or whose share count is zero."""
    oversized: int = 0
    """Messages longer than the specification says; read up to the specified length."""
    filtered: int = 0
    """Order-book messages dropped by the symbol filter."""
    unknown_locate: int = 0
    """Order messages for a stock locate that no directory or add-order message named."""
    out_of_order: int = 0
    """Messages whose time is earlier than the last event of the same stock locate; skipped."""
    duplicates: int = 0
    """Adds (A, F, or U's new reference) for an order reference that is still live; skipped."""
    unknown_refs: int = 0
    """Executes, cancels, deletes, replaces of an order reference that is not live; passed on."""
    cut_compressed: bool = False
    """The gzip stream ended inside a member: whatever followed is missing, even if the cut fell between
    messages."""
    truncated_bytes: int = 0
    truncated_offset: int | None = None
    """Byte offset (decompressed) of an incomplete last message, if the input ended inside one."""
    first_problem: str = ""
    """Where the first irregularity was and what it was: the place to look."""

    def note(self, name: str, offset: int, what: str) -> None:
        if not self.first_problem:
            self.first_problem = f"{name}, byte offset {offset}: {what}"

    def quality(self, source: str) -> SourceQuality:
        """These counts in the shape every reader shares.

        ``malformed`` takes unknown types, short and oversized messages, a truncated tail and a cut gzip stream
        (1 each): in a 5.0 file an oversized message means a broken length prefix, so it is an anomaly even
        though it is read.
        ``unknown_ids`` takes unknown locates and (with ``track_orders``) order references that are not live.
        """
        return SourceQuality(
            source=source,
            format="itch",
            rows=self.messages,
            events=self.events,
            malformed=sum(
                (self.malformed, self.unknown_types, self.oversized, self.truncated_bytes > 0, self.cut_compressed)
            ),
            out_of_order=self.out_of_order,
            duplicates=self.duplicates,
            unknown_ids=self.unknown_locate + self.unknown_refs,
            first_problem=self.first_problem,
        )

    def reset(self) -> None:
        """Back to zero in place, so that whoever holds this object sees the next pass's counts."""
        fresh = ItchStats()
        for field in self.__struct_fields__:
            setattr(self, field, getattr(fresh, field))


class ItchInput:
    """An ITCH byte stream opened for chunked reading, gzip or not; closes what it opened."""

    def __init__(
        self, source: ItchSource, *, chunk_size: int = CHUNK_SIZE, strict: bool = False, stats: ItchStats | None = None
    ) -> None:
        self.chunk_size = chunk_size
        self.strict = strict
        self.stats = stats
        self._owned: BinaryIO | None = None
        self.name = source_name(source)
        if isinstance(source, bytes | bytearray):
            self._stream: BinaryIO = io.BytesIO(source)
        elif isinstance(source, str | Path):
            try:
                self._stream = self._owned = open(source, "rb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise DataError(f"cannot open ITCH file: {exc.strerror}", path=source) from exc
        else:
            self._stream = source
        self.compressed = False

    def chunks(self) -> Iterator[bytes]:
        """Decompressed data in chunks of about ``chunk_size`` bytes (never the whole file at once).

        The first chunk holds at least ``HEAD_BYTES`` (or the whole input), so that framing detection always
        sees a few messages, whatever the chunk size. An empty input is a ``DataError``: a file with no
        messages at all is a failed copy, never a quiet day.
        """
        pieces = self._decompressed()
        head = b""
        for piece in pieces:
            head += piece
            if len(head) >= HEAD_BYTES:
                break
        if not head:
            raise DataError(
                "empty: no ITCH messages (0 bytes after decompression); check the file was copied completely",
                path=self.name,
                offset=0,
            )
        yield head
        yield from pieces

    def _decompressed(self) -> Iterator[bytes]:
        try:
            first = self._stream.read(self.chunk_size)
            if first[:2] == GZIP_MAGIC:
                self.compressed = True
                yield from self._inflate(first)
                return
            while first:
                yield first
                first = self._stream.read(self.chunk_size)
        finally:
            self.close()

    def _inflate(self, first: bytes) -> Iterator[bytes]:
        inflater = zlib.decompressobj(wbits=31)
        fed = False  # whether the current gzip member has started
        data = first
        while data:
            try:
                while data:
                    fed = True
                    out = inflater.decompress(data, self.chunk_size)
                    if out:
                        yield out
                    if inflater.eof:  # a member ended; another may follow (concatenated .gz files)
                        data = inflater.unused_data
                        inflater = zlib.decompressobj(wbits=31)
                        fed = False
                        if data and data[:2] != GZIP_MAGIC:
                            raise DataError("bytes after the end of the gzip data are not gzip", path=self.name)
                    else:
                        data = inflater.unconsumed_tail
            except zlib.error as exc:
                raise DataError(f"corrupt gzip data: {exc}", path=self.name) from exc
            data = self._stream.read(self.chunk_size)
        tail = inflater.flush()
        if tail:
            yield tail
        if fed and not inflater.eof:
            message = "the gzip stream ends early (the .gz file is truncated)"
            if self.stats is not None:
                self.stats.cut_compressed = True
                self.stats.note(self.name, self.stats.bytes, message)
            if self.strict:
                raise DataError(message, path=self.name)
            warnings.warn(f"{self.name}: {message}", stacklevel=3)

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None


def source_name(source: ItchSource) -> str:
    """How messages name ``source``: its path, or what stands for bytes and streams."""
    if isinstance(source, bytes | bytearray):
        return "<bytes>"
    if isinstance(source, str | Path):
        return str(source)
    return str(getattr(source, "name", "<stream>"))


def detect_framing(head: bytes, name: str | None = None) -> Literal["length", "raw"]:
    """Which framing ``head`` (the first bytes of a stream) uses, checking a few messages under each.

    Raises ``DataError`` when neither reads as ITCH 5.0 (a different feed or version, or not ITCH at all).
    """
    if not head or _consistent(head, prefixed=True):
        return "length"
    if _consistent(head, prefixed=False):
        return "raw"
    raise DataError(
        f"the first bytes {head[:16].hex(' ')} are neither length-prefixed nor back-to-back "
        "ITCH 5.0 messages; "
        "check the file is NASDAQ TotalView-ITCH 5.0 (not 4.1, not a PCAP capture)",
        path=name,
        offset=0,
    )


def looks_like_itch(head: bytes, messages: int = 16) -> bool:
    """True when ``head`` is whole, exact ITCH 5.0 messages: how a file of unknown format is recognised.

    Stricter than ``detect_framing`` (which only picks the framing of a stream the caller says is ITCH):
    length-prefixed, every message in ``head`` (up to ``messages``) must have a known type and exactly its
    specified length; back to back, at least eight known types in a row (or the whole of a short input); a
    random file passes with a chance below one in a hundred million, so an unrecognisable file gets
    "unknown format", not an ITCH read full of counts.
    """
    pos = count = 0
    while count < messages and pos + 3 <= len(head):
        size = head[pos] << 8 | head[pos + 1]
        if size == 0 or LENGTH_BY_TYPE[head[pos + 2]] != size:
            break
        pos += 2 + size
        count += 1
    else:
        if count:
            return True
    pos = count = 0
    while count < messages and pos < len(head):
        size = LENGTH_BY_TYPE[head[pos]]
        if size == 0:
            return False
        pos += size
        count += 1
    return count >= min(messages, 8) or (count > 0 and pos == len(head))


def _consistent(head: bytes, *, prefixed: bool, messages: int = 8) -> bool:
    """True when ``head`` starts like ITCH 5.0 in that framing.

    Length-prefixed: the first message has a known type and at least its length (later ones may be unknown
    types, which the prefix lets us skip). Back to back: the first few messages all have known types.
    """
    if prefixed:
        if len(head) < 3:
            return False
        expected = LENGTH_BY_TYPE[head[2]]
        return expected != 0 and (head[0] << 8 | head[1]) >= expected
    pos = 0
    count = 0
    while count < messages and pos < len(head):
        size = LENGTH_BY_TYPE[head[pos]]
        if size == 0:
            return False
        pos += size
        count += 1
    return count > 0


def decode_message(layout: Layout, buf: bytes | memoryview, offset: int) -> ItchMessage:
    """Decode the message of ``layout`` whose type byte is at ``offset`` (the caller checked it is whole)."""
    values = layout.codec.unpack_from(buf, offset)
    args: list[Any] = [values[1], values[2], values[3] << 32 | values[4]]
    for width, value in zip(layout.text_widths, values[5:], strict=True):
        if width == 0:
            args.append(value)
        elif width == 1:
            args.append(value.decode("latin-1"))
        else:
            args.append(value.decode("latin-1").rstrip(" "))
    return layout.cls(*args)


class Frame(msgspec.Struct, frozen=True, gc=False):
    """One message located in a buffer: ``buf[start:start + length]`` is it, from its type byte."""

    buf: bytes
    start: int
    length: int
    offset: int
    """Byte offset of the message (its length prefix, if any) in the decompressed stream."""


def iter_frames(
    chunks: Iterator[bytes], framing: FramingChoice, stats: ItchStats, *, strict: bool, name: str
) -> Iterator[Frame]:
    """Every complete message of the stream, in order; the generic (not the fastest) way through a file.

    Counts unknown types, malformed and truncated messages in ``stats``; raises ``DataError`` for what cannot
    be skipped, and in strict mode for anything irregular.
    """
    carry = b""
    base = 0  # stream offset of carry[0]
    for chunk in chunks:
        data = carry + chunk if carry else chunk
        if not stats.framing:
            stats.framing = detect_framing(data[:HEAD_BYTES], name) if framing == "auto" else framing
        pos = 0
        end = len(data)
        if stats.framing == "length":
            while pos + 3 <= end:
                size = data[pos] << 8 | data[pos + 1]
                if pos + 2 + size > end:
                    break
                yield Frame(data, pos + 2, size, base + pos)
                pos += 2 + size
        else:
            while pos < end:
                size = LENGTH_BY_TYPE[data[pos]]
                if size == 0:
                    raise DataError(
                        f"unknown ITCH message type byte 0x{data[pos]:02x} in a stream without "
                        "length prefixes; "
                        "the next message boundary is unknown, so reading stops here",
                        path=name,
                        offset=base + pos,
                    )
                if pos + size > end:
                    break
                yield Frame(data, pos, size, base + pos)
                pos += size
        carry = data[pos:]
        base += pos
        stats.bytes = base
    if carry:
        report_truncated(stats, base, len(carry), strict=strict, name=name)


def report_truncated(stats: ItchStats, offset: int, size: int, *, strict: bool, name: str) -> None:
    stats.truncated_bytes = size
    stats.truncated_offset = offset
    message = (
        f"the input ends inside a message: {size} trailing bytes do not make a complete ITCH message; "
        "the file is probably cut short (re-copy it, or ignore the last message)"
    )
    stats.note(name, offset, message)
    if strict:
        raise DataError(message, path=name, offset=offset)
    warnings.warn(f"{name}, byte offset {offset}: {message}", stacklevel=3)


def check_frame(frame: Frame, stats: ItchStats, *, strict: bool, name: str) -> Layout | None:
    """The layout to decode ``frame`` with, or None (counted) when it must be skipped."""
    layout = LAYOUTS.get(frame.buf[frame.start]) if frame.length else None
    if layout is None:
        stats.unknown_types += 1
        what = f"unknown ITCH message type byte 0x{frame.buf[frame.start]:02x}" if frame.length else "empty message"
        what += f" ({frame.length} bytes)"
        stats.note(name, frame.offset, what + ", skipped")
        if strict:
            raise DataError(what, path=name, offset=frame.offset)
        return None
    if frame.length < layout.length:
        stats.malformed += 1
        what = f"ITCH {layout.type_char} message is {frame.length} bytes, the specification says {layout.length}"
        stats.note(name, frame.offset, what + ", skipped")
        if strict or stats.framing == "raw":
            raise DataError(what, path=name, offset=frame.offset)
        return None
    if frame.length > layout.length:
        stats.oversized += 1
        stats.note(
            name,
            frame.offset,
            f"ITCH {layout.type_char} message is {frame.length} bytes, the specification says {layout.length}; "
            "read to that length (a broken length prefix in a 5.0 file)",
        )
    return layout
