"""Input formats recognised by content, and text inputs as streams of lines read in blocks.

The bar and TAQ readers share this so that every text format reports a corrupt archive the same way: a
``DataError`` naming the file, the member and the line reached, never a ``zlib.error`` traceback.
"""

from __future__ import annotations

import gzip
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Final, cast

from tapeflow.model.errors import DataError
from tapeflow.model.events import Event

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


MAX_LINE: Final = 1 << 20
"""Longest text line accepted (bytes). Real rows are under 3 KB (a 50-level LOBSTER orderbook row); a longer one
means the input is not line text (a binary file, a corrupt member), and keeping it would cost memory without
bound."""


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


ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
STORE_MARKER: Final = "_tapeflow_store.json"
_LOBSTER_MEMBER: Final = re.compile(r"_\d{4}-\d{2}-\d{2}_\d+_\d+_message_\d+\.csv$")
_TAQ_MEMBER: Final = re.compile(r"\d{8}_[A-Za-z0-9.\-]+_(Trade|Quote)_Tick\.csv$", re.I)
_BAR_MEMBER: Final = re.compile(r"(_(minute|second)_(trade|quote)\.csv|^[A-Za-z0-9.\-]+\.csv)$")
_BAR_HEADERS: Final = (b"date,open,high,low,close", b"day,open,high,low,close", b"ticker,date,open,high,low,close")
_ITCH_NAME: Final = re.compile(r"(\d{2})(\d{2})(\d{4})\.")
ACCEPTED: Final = (
    "a LOBSTER zip, a LEAN/AlgoSeek TAQ or bar zip, a bar CSV (plain or .gz), DBN (.dbn or .dbn.zst), "
    "NASDAQ ITCH 5.0 (plain or .gz), or a tapeflow Parquet store directory"
)


def detect_format(path: str | Path) -> str:
    """One of ``parquet-store``, ``lobster``, ``taq``, ``bars``, ``dbn``, ``itch``; a ``DataError`` otherwise.

    Decided by content (magic bytes, zip member names, CSV header, ITCH framing), never by extension alone, so
    that a renamed or truncated file gets a clear "unknown format" rather than a wrong reader's traceback.
    """
    p = Path(path)
    if p.is_dir():
        if (p / STORE_MARKER).is_file():
            return "parquet-store"
        raise DataError(f"a directory, but not a tapeflow Parquet store (no {STORE_MARKER})", path=p)
    if not p.is_file():
        raise DataError("no such file", path=p)
    head = sniff(p, 8)
    if not head:
        raise DataError(f"empty file; tapeflow reads {ACCEPTED}", path=p, offset=0)
    if head.startswith(ZIP_MAGIC):
        names = zip_members(p)
        if any(_LOBSTER_MEMBER.search(n) for n in names):
            return "lobster"
        if len(names) == 1 and _TAQ_MEMBER.search(names[0]):
            return "taq"
        if len(names) == 1 and (_BAR_MEMBER.search(names[0]) or _csv_header_is_bars(p)):
            return "bars"
        raise DataError(f"a zip this reader does not know (members {names[:3]})", path=p, offset=0)
    if head.startswith((ZSTD_MAGIC, b"DBN")):
        return "dbn"
    if _csv_header_is_bars(p):
        return "bars"
    from tapeflow.data.itch_parser import looks_like_itch

    try:
        with open_binary(p) as fh:
            start = fh.read(4096)
    except (DataError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"unknown or corrupt input ({exc}); tapeflow reads {ACCEPTED}", path=p, offset=0) from exc
    if not start:
        raise DataError(f"empty once decompressed; tapeflow reads {ACCEPTED}", path=p, offset=0)
    if not looks_like_itch(start):
        raise DataError(
            f"unknown format: the first bytes {start[:8].hex(' ')} are none of {ACCEPTED}", path=p, offset=0
        )
    return "itch"


def _csv_header_is_bars(p: Path) -> bool:
    try:
        with open_binary(p) as fh:
            first = fh.read(200).split(b"\n", 1)[0].strip().lower()
    except (DataError, OSError, EOFError, zlib.error, gzip.BadGzipFile):
        return False
    return first.startswith(_BAR_HEADERS)


def itch_date(path: Path, given: date | None = None) -> date:
    """The trading day of an ITCH file: ``given`` (``--date``, ``[data] date``), else Nasdaq's file name.

    ITCH stamps nanoseconds since midnight and leaves the day out, so a wrong day shifts every event by days and
    still looks plausible (1970 in ``data info``, ``date=1970-01-01`` in a store). A day that is neither given
    nor in the name (``MMDDYYYY.NASDAQ_ITCH50``) is refused rather than guessed.
    """
    if given is not None:
        return given
    m = _ITCH_NAME.match(path.name)
    if m is not None:
        try:
            return date(int(m[3]), int(m[1]), int(m[2]))
        except ValueError:
            pass  # digits that are no calendar day: not Nasdaq's name, so no date either
    raise DataError(
        "ITCH times count from midnight and the trading day is not in the file name (Nasdaq's "
        "MMDDYYYY.NASDAQ_ITCH50); pass --date YYYY-MM-DD (in a run configuration: `date` in [data])",
        path=path,
    )


def open_events(
    path: str | Path, fmt: str | None = None, *, day: date | None = None
) -> tuple[str, Iterator[Event], object]:
    """(format, event stream, the reader or None) for any input tapeflow reads.

    ``day`` is the trading day of an ITCH file (see ``itch_date``); other formats carry their own dates and
    ignore it.

    The reader, not its statistics: readers reset their counts when a pass starts, so whoever reports them
    must ask the reader after the stream is exhausted (``reader.quality()`` where it is a
    ``QualityReporter``, else ``reader.stats``). ITCH is read with ``track_orders``, so that duplicate and
    unknown order references are counted too (about 30% slower than a backtest's read, but this is for
    inspecting and converting files).
    """
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt == "lobster":
        from tapeflow.data.lobster_events import iter_events

        return fmt, iter(iter_events(p)), None
    if fmt == "taq":
        from tapeflow.data.taq import TaqReader

        taq = TaqReader.for_day(p)
        return fmt, iter(taq.events()), taq
    if fmt == "bars":
        from tapeflow.data.bars import BarReader

        bars = BarReader(p)
        return fmt, iter(bars.events()), bars
    if fmt == "dbn":
        from tapeflow.data.dbn import DbnReader

        dbn = DbnReader(p)
        return fmt, iter(dbn.events()), dbn
    if fmt == "parquet-store":
        from tapeflow.data.parquet_store import read_store

        return fmt, iter(read_store(p)), None
    if fmt == "itch":
        from tapeflow.data.itch import ItchReader

        itch = ItchReader(p, date=itch_date(p, day), track_orders=True)
        return fmt, iter(itch.events()), itch
    raise DataError(f"unknown format {fmt!r}", path=p)
