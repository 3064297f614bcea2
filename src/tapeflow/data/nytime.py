"""New York wall-clock times to int ns UTC, exactly.

US equity feeds (LOBSTER, ITCH) stamp events as time after midnight in New York. The UTC offset of a trading
day is fixed from 03:00 on (DST switches at 02:00), so a day converts with one integer addition per event;
times before 03:00 take the exact ``zoneinfo`` path. Decimal seconds are parsed as text, never through a
float: a float cannot hold 34200.189607670 to the nanosecond.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from itertools import repeat
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
    return _naive_midnight_ns(day) + seconds * NS_PER_SECOND + ns - int(offset.total_seconds()) * NS_PER_SECOND


_TOO_PRECISE: Final = re.compile(rb"\.[0-9]{10}")
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


def seconds_column_to_ns(values: list[bytes], base: int = 0) -> list[int]:
    """``base + seconds_to_ns(v)`` for a column of values, checked for the whole column at once.

    One C-level scan proves every value is digits and dots with at most nine decimals; the per-value work is
    then a ``partition`` and two ``int`` calls (no ``isdigit``, no ``Decimal``). Anything else takes the
    exact, checking path value by value, which raises ``ValueError`` at the first bad value.
    """
    joined = b",".join(values)
    if joined.translate(None, b"0123456789.,") or _TOO_PRECISE.search(joined) or b"," * 2 in joined:
        return [base + seconds_to_ns(v) for v in values]
    return [
        base + int(whole) * NS_PER_SECOND + int(frac.ljust(9, b"0"))
        for whole, _, frac in map(bytes.partition, values, repeat(b"."))
    ]
