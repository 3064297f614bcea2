"""Which LOBSTER day a zip holds: its message and orderbook members, symbol, day, depth and time window.

Read from the member names alone (``<SYMBOL>_<DATE>_<START>_<END>_message_<N>.csv`` and its orderbook twin),
before any row is parsed, so that a wrong or incomplete file is refused at once and a caller that only needs the
file's description (``tapeflow book replay`` counting rows) does not load the parser and pyarrow
(``tapeflow.data.lobster`` decodes the rows).
"""

from __future__ import annotations

import re
import zipfile
from datetime import date
from pathlib import Path
from typing import Final

import msgspec

from tapeflow.model.errors import DataError

_MEMBER = re.compile(
    r"(?P<symbol>[A-Za-z0-9.^-]+)_(?P<day>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<levels>\d+)\.csv$"
)
DAY_MS: Final = 24 * 3600 * 1000
"""Milliseconds in a day: the bound of the time window a member's name may claim."""


class LobsterFile(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    symbol: str
    day: date
    levels: int
    message_member: str
    orderbook_member: str
    start_ms: int = 0
    """The window the file's name claims, ms after midnight New York: every message time lies in it."""
    end_ms: int = DAY_MS


def open_lobster(path: str | Path) -> LobsterFile:
    """Check that ``path`` is a readable LOBSTER zip with a message file and its orderbook file."""
    p = Path(path)
    if not p.is_file():
        raise DataError("no such file; give the path of a LOBSTER zip", path=p)
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"not a readable zip (truncated or corrupt?): {exc}", path=p) from exc
    found: dict[str, re.Match[str]] = {}
    for name in names:
        m = _MEMBER.search(name)
        if m:
            found[m["kind"]] = m
    msg = found.get("message")
    if msg is None:
        raise DataError("no LOBSTER message file (<SYMBOL>_<DATE>_<START>_<END>_message_<N>.csv) in zip", path=p)
    book = found.get("orderbook")
    if book is None or book["levels"] != msg["levels"]:
        raise DataError(
            f"{msg.string} has no orderbook file (orderbook_{msg['levels']}.csv) beside it; LOBSTER ships "
            "them in pairs and the book cannot be rebuilt without it",
            path=p,
        )
    try:
        day = date.fromisoformat(msg["day"])
    except ValueError:
        raise DataError(
            f"{msg.string}: {msg['day']!r} in the name is not a calendar date; LOBSTER names the trading day "
            "as YYYY-MM-DD, and times are read relative to it",
            path=p,
        ) from None
    start, end = int(msg["start"]), int(msg["end"])
    if not start <= end <= DAY_MS:
        raise DataError(
            f"{msg.string}: the time window {start}-{end} ms in the name is not within one day "
            f"(0-{DAY_MS} ms after midnight)",
            path=p,
        )
    return LobsterFile(
        path=str(p),
        symbol=msg["symbol"],
        day=day,
        levels=int(msg["levels"]),
        message_member=msg.string,
        orderbook_member=book.string,
        start_ms=start,
        end_ms=end,
    )
