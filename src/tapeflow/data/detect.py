"""Text inputs as streams of lines: plain, gzip or a one-CSV zip, read in blocks so memory stays flat.

The bar and TAQ readers share this so that every text format reports a corrupt archive the same way: a
``DataError`` naming the file, the member and the line reached, never a ``zlib.error`` traceback.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final, cast

from tapeflow.model.errors import DataError

BLOCK: Final = 1 << 20
GZIP_MAGIC: Final = b"\x1f\x8b"
ZIP_MAGIC: Final = b"PK\x03\x04"


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


def iter_lines(stream: IO[bytes], where: str | Path, block: int = BLOCK) -> Iterator[bytes]:
    """Lines without their end-of-line bytes; a last line without a newline is kept, blank lines too."""
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
        data = tail + data
        cut = data.rfind(b"\n") + 1
        if not cut:
            tail = data
            continue
        tail = data[cut:]
        body = data[: cut - 1]
        if b"\r" in body:
            body = body.replace(b"\r", b"")
        yield from body.split(b"\n")
    if tail.strip():
        yield tail.rstrip(b"\r")
