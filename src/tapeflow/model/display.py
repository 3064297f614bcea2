"""Money, prices and times as a person reads them: the one place terminal output formats them.

Engine values stay exact integers (1/10,000 dollar, ns UTC); only the text a person reads is rounded. Money is
shown to the cent with thousands separators (``$1,000,000.00``, ``-$24.28``), prices to their own precision
(``$189.47``, ``$0.0001``), times in New York time with the zone shown (``2024-06-21 09:30:00.000005 EDT``),
because that is the clock the US equity market and its users keep. ``--json`` output keeps the exact integers
(UTC ns) instead, for programs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final
from zoneinfo import ZoneInfo

from tapeflow.model.prices import PRICE_SCALE, price_to_str

NEW_YORK: Final = ZoneInfo("America/New_York")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_CENT: Final = Decimal("0.01")


def money(units: int | None) -> str:
    """Dollars to the cent with separators (``$1,234.57``); half-even rounding, display only. None: ``n/a``."""
    if units is None:
        return "n/a"
    cents = (Decimal(units) / PRICE_SCALE).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def price(units: int | None) -> str:
    """A price in dollars, exact (two to four decimals), with separators (``$1,234.5678``). None/0: ``none``."""
    if not units:
        return "none"
    text = price_to_str(units)
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    return f"{sign}${int(whole):,}.{frac}"


def ny_time(ts_ns: int, *, precision: str = "us") -> str:
    """Event time (ns UTC) in New York with the zone (EST/EDT): ``2024-06-21 09:30:00.000005 EDT``.

    ``precision`` is ``us`` (exact to the microsecond, integer arithmetic) or ``s``.
    """
    moment = (_EPOCH + timedelta(microseconds=ts_ns // 1_000)).astimezone(NEW_YORK)
    fmt = "%Y-%m-%d %H:%M:%S.%f %Z" if precision == "us" else "%Y-%m-%d %H:%M:%S %Z"
    return moment.strftime(fmt)


def ny_date(ts_ns: int) -> str:
    """The New York calendar date of an event time (``2024-06-21``)."""
    return (_EPOCH + timedelta(microseconds=ts_ns // 1_000)).astimezone(NEW_YORK).strftime("%Y-%m-%d")


def utc_iso(ts_ns: int) -> str:
    """Event time as ISO 8601 UTC to the microsecond (``2024-06-21T13:30:00.000005Z``), for JSON readers."""
    return (_EPOCH + timedelta(microseconds=ts_ns // 1_000)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def duration(ns: int) -> str:
    """A duration for a person: the two largest units (``2d 3h``, ``4m 12s``, ``350ms``, ``12us``, ``900ns``)."""
    if ns < 1_000_000:
        return f"{ns:,}ns" if ns < 1_000 else f"{ns // 1_000:,}us"
    if ns < 1_000_000_000:
        return f"{ns // 1_000_000}ms"
    seconds = ns // 1_000_000_000
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if value]
    return " ".join(parts[:2])
