"""Text and binary inputs as streams: zip members, gzip, and lines read in bounded blocks.

Every reader shares these, so that a corrupt archive or a line without an end is reported the same way in every
format: a ``DataError`` naming the file, the member and the offset reached, never a ``zlib.error`` traceback or a
buffer that grows until memory runs out. Format detection (``detect.py``) sits above the readers and uses them;
this module sits below them and knows no format.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final, Protocol, cast

from tapeflow.model.errors import DataError

BLOCK: Final = 1 << 20
GZIP_MAGIC: Final = b"\x1f\x8b"
ZIP_MAGIC: Final = b"PK\x03\x04"


class Readable(Protocol):
    """What the block readers need of a stream: a zip member (``zipfile``'s, or ``zip_isal.IsalMember``), or
    ``lobster_inflate.InflateThread`` reading one ahead."""

    def read(self, n: int, /) -> bytes: ...


def sniff(path: Path, n: int = 8) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise DataError(f"cannot read: {exc}", path=path) from exc


def zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return [n for n in zf.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"not a readable zip (truncated or corrupt?): {exc}", path=path) from exc


def single_member(path: Path) -> str:
    """The one file inside a zip that ships one CSV (LEAN, Quandl)."""
    names = zip_members(path)
    if len(names) != 1:
        raise DataError(f"expected one file in the zip, found {len(names)}: {names[:5]}", path=path)
    return names[0]


@contextmanager
def open_binary(path: Path, member: str | None = None) -> Iterator[IO[bytes]]:
    """The decompressed bytes of ``path``: a zip's member (its only one by default), gzip, or the file."""
    if not path.is_file():
        raise DataError("no such file", path=path)
    head = sniff(path, 4)
    try:
        if head.startswith(ZIP_MAGIC):
            name = member or single_member(path)
            with zipfile.ZipFile(path) as zf, zf.open(name) as fh:
                yield fh
        elif head.startswith(GZIP_MAGIC):
            with gzip.open(path, "rb") as gz:
                yield cast(IO[bytes], gz)
        else:
            with path.open("rb") as fh:
                yield fh
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"not a readable zip (truncated or corrupt?): {exc}", path=path) from exc


MAX_LINE: Final = 1 << 20
"""Longest text line accepted (bytes). Real rows are under 3 KB (a 50-level LOBSTER orderbook row); a longer one
means the input is not line text (a binary file, a corrupt member), and keeping it would cost memory without
bound."""


def read_near_row(read: Callable[[int], bytes], block: int, where: str, row: int) -> bytes:
    """``read(block)`` from a zip member, a damaged member's error turned into the one-line ``DataError`` that
    names the row reached (the LOBSTER readers, compiled path and reference alike)."""
    try:
        return read(block)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"truncated or corrupt near row {row}: {exc}", path=where, line=row) from exc


def line_too_long(where: str | Path, offset: int, limit: int) -> DataError:
    """The error of a line that passed ``limit`` bytes without a newline, at the byte offset where it began."""
    return DataError(
        f"line longer than {limit} bytes without a newline (not a text file of rows, or corrupt); "
        "check that this is the file you meant",
        path=str(where),
        offset=offset,
    )


def iter_lines(stream: IO[bytes], where: str | Path, block: int = BLOCK, max_line: int = MAX_LINE) -> Iterator[bytes]:
    """Lines without their end-of-line bytes; a last line without a newline is kept, blank lines too.

    Linear in the input and bounded in memory: only the unfinished last line of a block is carried over, and a
    line that grows past ``max_line`` bytes is a ``DataError`` at the offset where it began, after reading at most
    ``max_line + block`` bytes of it.
    """
    for lines in iter_line_blocks(stream, where, block, max_line):
        yield from lines


def iter_line_blocks(
    stream: IO[bytes], where: str | Path, block: int = BLOCK, max_line: int = MAX_LINE
) -> Iterator[list[bytes]]:
    """The lines of ``iter_lines``, a list per block read (about ``block`` bytes): for parsers that convert a
    block at a time."""
    tail = b""
    read = 0
    while True:
        try:
            data = stream.read(block)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, gzip.BadGzipFile) as exc:
            raise DataError(
                f"truncated or corrupt after {read} decompressed bytes: {exc}", path=str(where), offset=read
            ) from exc
        if not data:
            break
        read += len(data)
        cut = data.rfind(b"\n") + 1
        if not cut:
            tail += data
            if len(tail) > max_line:
                raise line_too_long(where, read - len(tail), max_line)
            continue
        body = tail + data[: cut - 1] if tail else data[: cut - 1]
        tail = data[cut:]
        if b"\r" in body:  # a carriage return ends a line only before its newline; elsewhere it is data
            body = body.replace(b"\r\n", b"\n")
            if body.endswith(b"\r"):
                body = body[:-1]
        lines = body.split(b"\n")
        if len(body) > max_line and max(map(len, lines)) > max_line:
            start = read - len(data) - (len(body) - cut + 1)
            for line in lines:
                if len(line) > max_line:
                    raise line_too_long(where, start, max_line)
                start += len(line) + 1
        yield lines
    if len(tail) > max_line:
        raise line_too_long(where, read - len(tail), max_line)
    if tail.strip():
        yield [tail.removesuffix(b"\r")]


STORE_MARKER: Final = "_tapeflow_store.json"
"""The manifest file that makes a folder a tapeflow Parquet store."""
