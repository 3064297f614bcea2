"""New York wall-clock times to int ns UTC, exactly.

US equity feeds (LOBSTER, ITCH) stamp events as time after midnight in New York. The UTC offset of a trading
day is fixed from 03:00 on (DST switches at 02:00), so a day converts with one integer addition per event;
times before 03:00 take the exact ``zoneinfo`` path. Decimal seconds are parsed as text, never through a
float: a float cannot hold 34200.189607670 to the nanosecond.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

NEW_YORK: Final = ZoneInfo("America/New_York")
NS_PER_SECOND: Final = 1_000_000_000
_SAFE_FROM_NS: Final = 3 * 3600 * NS_PER_SECOND
"""From 03:00 on the day's UTC offset no longer changes."""


def _naive_midnight_ns(day: date) -> int:
    return calendar.timegm(day.timetuple()) * NS_PER_SECOND


def day_base_ns(day: date) -> int:
    """UTC ns of New York midnight as wall clock for times from 03:00 on: ``utc = base +
    ns_after_midnight``."""
    offset = datetime(day.year, day.month, day.day, 12, tzinfo=NEW_YORK).utcoffset()
    assert offset is not None
    return _naive_midnight_ns(day) - int(offset.total_seconds()) * NS_PER_SECOND


def ny_to_utc_ns(day: date, ns_after_midnight: int) -> int:
    """Exact UTC ns of a New York wall-clock time ``ns_after_midnight`` into ``day`` (any time of day).

    In the repeated hour of the autumn switch the first occurrence is taken (``fold=0``); a time in the
    skipped spring hour is read with the offset before the switch, as ``zoneinfo`` does.
    """
    if ns_after_midnight >= _SAFE_FROM_NS:
        return day_base_ns(day) + ns_after_midnight
    seconds, ns = divmod(ns_after_midnight, NS_PER_SECOND)
    wall = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
    offset = wall.replace(tzinfo=NEW_YORK).utcoffset()
    assert offset is not None
    return (
        _naive_midnight_ns(day) + seconds * NS_PER_SECOND + ns - int(offset.total_seconds()) * NS_PER_SECOND
    )


_POW10: Final[tuple[int, ...]] = tuple(int(10**k) for k in range(10))


def seconds_to_ns(text: bytes) -> int:
    """Decimal seconds (``b"34200.18960767"``) to int ns, rounding half up beyond nine decimals.

    Raises ``ValueError`` for anything that is not a plain non-negative decimal number.
    """
    whole, dot, frac = text.strip().partition(b".")
    if not whole.isdigit() or (dot and not frac.isdigit()):
        raise ValueError(f"not a decimal number of seconds: {text!r}")
    if len(frac) <= 9:
        return int(whole) * NS_PER_SECOND + int(frac or b"0") * _POW10[9 - len(frac)]
    ns = int(whole) * NS_PER_SECOND + int(frac[:9])
    return ns + 1 if frac[9] >= 0x35 else ns  # 0x35 is "5"


def seconds_column_to_ns(values: list[bytes]) -> list[int]:
    """``seconds_to_ns`` over a column, with a fast path for the common shapes (about 3x faster)."""
    out: list[int] = []
    append = out.append
    last = b""
    last_ns = 0
    for text in values:
        if text == last:  # LOBSTER stamps bursts of messages with the same time
            append(last_ns)
            continue
        whole, _, frac = text.partition(b".")
        n = len(frac)
        if 0 < n <= 9 and whole.isdigit() and frac.isdigit():
            last_ns = int(whole) * NS_PER_SECOND + int(frac) * _POW10[9 - n]
        else:
            last_ns = seconds_to_ns(text)
        last = text
        append(last_ns)
    return out
