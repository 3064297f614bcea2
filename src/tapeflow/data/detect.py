"""Input formats recognised by content, and the reader that opens each (``open_events``).

It sits above the readers (it imports them when a format is chosen); what the readers share with it, zip and gzip
streams and bounded lines, is in ``files.py`` below them, so no reader imports this module.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Final

from tapeflow.data.files import STORE_MARKER, ZIP_MAGIC, open_binary, sniff, zip_members
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event

ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
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
    from tapeflow.data.itch_parser import looks_like_itch  # lazy: ITCH parser (~5 ms), the last sniff tried

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
        from tapeflow.data.lobster_events import iter_events  # lazy: one format's reader (all: ~40 ms)

        return fmt, iter(iter_events(p)), None
    if fmt == "taq":
        from tapeflow.data.taq import TaqReader  # lazy: one format's reader (all: ~40 ms)

        taq = TaqReader.for_day(p)
        return fmt, iter(taq.events()), taq
    if fmt == "bars":
        from tapeflow.data.bars import BarReader  # lazy: one format's reader (all: ~40 ms)

        bars = BarReader(p)
        return fmt, iter(bars.events()), bars
    if fmt == "dbn":
        from tapeflow.data.dbn import DbnReader  # lazy: one format's reader (all: ~40 ms)

        dbn = DbnReader(p)
        return fmt, iter(dbn.events()), dbn
    if fmt == "parquet-store":
        from tapeflow.data.parquet_store import read_store  # lazy: pyarrow.parquet (~0.1 s), only for stores

        return fmt, iter(read_store(p)), None
    if fmt == "itch":
        from tapeflow.data.itch import ItchReader  # lazy: one format's reader (all: ~40 ms)

        itch = ItchReader(p, date=itch_date(p, day), track_orders=True)
        return fmt, iter(itch.events()), itch
    raise DataError(f"unknown format {fmt!r}", path=p)
