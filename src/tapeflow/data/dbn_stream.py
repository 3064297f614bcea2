"""DBN bytes before the decoder sees them: zstd inflated chunk by chunk, the header checked, records framed.

The ``databento-dbn`` decoder trusts its input: a record whose length byte is wrong makes it panic (a Rust
panic, which Python sees as a ``BaseException`` that ``except Exception`` does not catch), a stream cut inside
the metadata decodes to nothing, a record cut at the end is dropped without a word, and a truncated zstd
frame just ends. So the reader frames the stream itself, the way ``itch_parser`` frames ITCH: each record's
length byte (in 4-byte words) must equal the size its record type has in the file's DBN version; a record
of an unknown type or the wrong size is skipped by its length and counted; a length too small to hold the
record header means the framing is lost, which is a ``DataError`` with the byte offset. Only records that
pass reach the decoder, which then cannot panic on framing.

Offsets are of the decompressed stream, as in ITCH: the place to look with ``zstd -dc FILE | xxd``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

import msgspec
import zstandard

from tapeflow.model.errors import DataError

ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
DBN_MAGIC: Final = b"DBN"
SUPPORTED_VERSIONS: Final = (1, 2, 3)
"""What ``databento-dbn`` decodes (it upgrades 1 and 2 to 3)."""
HEADER_BYTES: Final = 16
"""Every record starts with length, rtype, publisher, instrument id and ts_event."""
_BLOCK: Final = 1 << 16
_PREFIX: Final = struct.Struct("<3sBI")

_COMMON: Final = {
    0: 48,  # mbp-0 (trades)
    1: 80,  # mbp-1, tbbo
    10: 368,  # mbp-10
    17: 56, 32: 56, 33: 56, 34: 56, 35: 56, 36: 56,  # ohlcv
    18: 40,  # status
    20: 112,  # imbalance
    160: 56,  # mbo
    177: 80, 192: 80, 193: 80, 194: 80, 195: 80, 196: 80, 197: 80,  # cmbp-1, cbbo, tcbbo, bbo, tbbo
}  # fmt: skip
# instrument-def, error, symbol-mapping, system and statistics grew between versions.
_BY_VERSION: Final = {
    1: {19: 360, 21: 80, 22: 80, 23: 80, 24: 64},
    2: {19: 400, 21: 320, 22: 176, 23: 320, 24: 64},
    3: {19: 520, 21: 320, 22: 176, 23: 320, 24: 80},
}
RECORD_SIZES: Final = {v: {**_COMMON, **sizes} for v, sizes in _BY_VERSION.items()}
"""Record size in bytes per DBN version and rtype."""


class Framing(msgspec.Struct, kw_only=True):
    """What the framing saw: records passed on, and those it skipped, with where the first one was."""

    version: int = 0
    records: int = 0
    bytes: int = 0
    """Decompressed bytes consumed (header, metadata and whole records)."""
    skipped: int = 0
    """Records of an unknown type or the wrong length, skipped by their length byte."""
    truncated_bytes: int = 0
    """Bytes at the end that do not make a whole record (the file is cut)."""
    cut_compressed: bool = False
    """The zstd stream ended inside a frame."""
    first_problem: str = ""

    def note(self, name: str, offset: int, what: str) -> None:
        if not self.first_problem:
            self.first_problem = f"{name}, byte offset {offset}: {what}"


def inflate(fh: IO[bytes], name: str, framing: Framing) -> Iterator[bytes]:
    """The decompressed bytes of ``fh`` (zstd, several frames too, or plain DBN), in chunks.

    A corrupt zstd stream is a ``DataError``; one that ends inside a frame is counted in ``framing``.
    """
    first = fh.read(_BLOCK)
    if not first.startswith(ZSTD_MAGIC):
        while first:
            yield first
            first = fh.read(_BLOCK)
        return
    produced = 0
    obj = zstandard.ZstdDecompressor().decompressobj()
    data = first
    started = False
    while data:
        try:
            while data:
                started = True
                out = obj.decompress(data)
                produced += len(out)
                if out:
                    yield out
                if not obj.eof:
                    break
                data = obj.unused_data  # another frame may follow
                obj = zstandard.ZstdDecompressor().decompressobj()
                started = False
        except zstandard.ZstdError as exc:
            raise DataError(
                f"corrupt zstd data after {produced} decompressed bytes: {exc}; re-download the file",
                path=name,
                offset=produced,
            ) from exc
        data = fh.read(_BLOCK)
    if started and not obj.eof:
        framing.cut_compressed = True
        framing.note(name, produced, "the zstd stream ends inside a frame (the file is truncated)")


def frame_records(chunks: Iterator[bytes], name: str, framing: Framing) -> Iterator[tuple[bytes, list[int]]]:
    """The header and metadata first, then whole checked records in blocks, each with its records' offsets."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        if len(buf) >= 8:
            break
    else:
        if not buf:
            cut = " (the zstd stream is cut before any data)" if framing.cut_compressed else ""
            raise DataError(f"empty: no DBN header{cut}", path=name, offset=0)
    magic, version, meta_len = _PREFIX.unpack_from(buf.ljust(8, b"\0"))
    if magic != DBN_MAGIC:
        raise DataError(f"not DBN: the file starts with {buf[:4].hex(' ')}, not 'DBN'", path=name, offset=0)
    if version not in SUPPORTED_VERSIONS:
        raise DataError(
            f"DBN version {version}, this reader decodes versions {SUPPORTED_VERSIONS}; update databento-dbn "
            "or convert the file",
            path=name,
            offset=3,
        )
    framing.version = version
    sizes = RECORD_SIZES[version]
    head = 8 + meta_len
    whole = bytearray(buf)  # metadata can be large (symbol mappings): grow in place, not by copies
    while len(whole) < head:
        more = next(chunks, None)
        if more is None:
            break
        whole += more
    buf = bytes(whole)
    if len(buf) < head:
        raise DataError(
            f"the DBN metadata is cut: {meta_len + 8} bytes announced, {len(buf)} present (the file is truncated)",
            path=name,
            offset=len(buf),
        )
    yield buf[:head], []
    framing.bytes = head
    base = head
    carry = b""
    for chunk in _with_first(buf[head:], chunks):
        data = carry + chunk if carry else chunk
        pos, end = 0, len(data)
        good: list[bytes] = []
        offsets: list[int] = []
        while pos + 2 <= end:
            size = data[pos] * 4
            if size < HEADER_BYTES:
                raise DataError(
                    f"DBN record length {size} bytes is shorter than a record header; the record framing is "
                    "lost, so reading stops here",
                    path=name,
                    offset=base + pos,
                )
            if pos + size > end:
                break
            expected = sizes.get(data[pos + 1])
            if expected != size:
                framing.skipped += 1
                what = (
                    f"DBN record type {data[pos + 1]} is {size} bytes, version {version} says {expected}"
                    if expected
                    else f"unknown DBN record type {data[pos + 1]} ({size} bytes)"
                )
                framing.note(name, base + pos, what + "; skipped")
            else:
                good.append(data[pos : pos + size])
                offsets.append(base + pos)
            pos += size
        carry = data[pos:]
        base += pos
        framing.bytes = base
        framing.records += len(good)
        if good:
            yield b"".join(good), offsets
    if carry:
        framing.truncated_bytes = len(carry)
        framing.note(name, base, f"the input ends inside a record: {len(carry)} trailing bytes (the file is cut)")


def _with_first(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def open_dbn(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise DataError(f"cannot open DBN file: {exc.strerror}", path=path) from exc
