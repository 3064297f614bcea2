"""Sessions from the maintained exchange calendar: half days, storm closures, DST, a regular day, caching."""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model.errors import ConfigError
from tapeflow.model.sessions import (
    NS_PER_HOUR,
    ExchangeCalendar,
    FixedHoursCalendar,
    Session,
    calendar_for,
    ny_date,
)

D = datetime.date
UTC = datetime.UTC


def utc_ns(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(datetime.datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp()) * 1_000_000_000


@pytest.fixture(scope="module")
def xnys() -> ExchangeCalendar:
    return ExchangeCalendar("XNYS")


@pytest.mark.parametrize(
    ("day", "open_utc", "close_utc", "early"),
    [
        (D(2012, 6, 21), (13, 30), (20, 0), False),  # regular summer day (LOBSTER samples): 09:30-16:00 EDT
        (D(2012, 11, 23), (14, 30), (18, 0), True),  # day after Thanksgiving: 13:00 EST close
        (D(2013, 7, 3), (13, 30), (17, 0), True),  # eve of Independence Day: 13:00 EDT close
        (D(2013, 3, 8), (14, 30), (21, 0), False),  # Friday before the spring DST switch: EST
        (D(2013, 3, 11), (13, 30), (20, 0), False),  # Monday after it: EDT, one hour earlier in UTC
        (D(2013, 11, 4), (14, 30), (21, 0), False),  # Monday after the autumn switch: back to EST
    ],
)
def test_session_open_and_close_on_real_dates(
    xnys: ExchangeCalendar, day: datetime.date, open_utc: tuple[int, int], close_utc: tuple[int, int], early: bool
) -> None:
    s = xnys.session(day)
    assert s is not None
    assert (s.open, s.close, s.early_close) == (
        utc_ns(day.year, day.month, day.day, *open_utc),
        utc_ns(day.year, day.month, day.day, *close_utc),
        early,
    )
    assert s.post_close - s.close == 4 * NS_PER_HOUR  # 20:00, or 17:00 after a 13:00 close


@pytest.mark.parametrize("day", [D(2012, 10, 29), D(2012, 10, 30), D(2012, 11, 22), D(2013, 7, 4), D(2012, 6, 23)])
def test_sandy_closures_holidays_and_weekends_are_not_trading_days(xnys: ExchangeCalendar, day: datetime.date) -> None:
    assert xnys.session(day) is None and not xnys.is_trading_day(day)
    assert xnys.session_at(utc_ns(day.year, day.month, day.day, 15)) is None


def test_next_session_after_hurricane_sandy_is_october_31(xnys: ExchangeCalendar) -> None:
    assert xnys.next_session(D(2012, 10, 29)).day == D(2012, 10, 31)
    assert xnys.next_session(D(2012, 6, 21)).day == D(2012, 6, 21)


def test_parts_of_a_half_day_end_the_regular_session_at_13_00(xnys: ExchangeCalendar) -> None:
    s = xnys.session(D(2012, 11, 23))
    assert s is not None
    assert s.part(utc_ns(2012, 11, 23, 17, 59)) == "regular"  # 12:59 EST
    assert s.part(utc_ns(2012, 11, 23, 18, 0)) == "post"  # 13:00 EST
    assert s.part(utc_ns(2012, 11, 23, 22, 0)) is None  # 17:00 EST: post-market over
    assert s.part(utc_ns(2012, 11, 23, 9, 0)) == "pre"  # 04:00 EST
    assert s.part(utc_ns(2012, 11, 23, 8, 59)) is None


def test_session_at_any_hour_of_a_new_york_day_is_that_days_session(xnys: ExchangeCalendar) -> None:
    # 2012-06-21 23:30 EDT is 2012-06-22 03:30 UTC: still the 21st in New York.
    s = xnys.session_at(utc_ns(2012, 6, 22, 3, 30))
    assert s is not None and s.day == D(2012, 6, 21)


def test_a_stream_of_events_looks_each_day_up_once() -> None:
    cal = ExchangeCalendar("XNYS")
    calls: list[datetime.date] = []
    inner = cal._cache._lookup

    def counting(day: datetime.date) -> Session | None:
        calls.append(day)
        return inner(day)

    cal._cache._lookup = counting
    start = utc_ns(2012, 6, 21, 13, 30)
    for i in range(10_000):
        cal.session_at(start + i * 1_000_000)
    for day in (D(2012, 6, 21), D(2012, 6, 22), D(2012, 6, 21)):
        cal.session(day)
    assert calls == [D(2012, 6, 21), D(2012, 6, 22)]


def test_a_date_outside_the_calendar_is_a_one_line_error(xnys: ExchangeCalendar) -> None:
    with pytest.raises(
        ConfigError, match=r"^field `calendar`: 1989-12-29 is outside the XNYS calendar \(1990-01-02 to "
    ):
        xnys.session(D(1989, 12, 29))


def test_an_unknown_calendar_name_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match=r"^field `calendar`: unknown exchange calendar 'NOPE'; use an exchange_"):
        calendar_for("NOPE").session(D(2012, 6, 21))


def test_importing_the_module_does_not_import_exchange_calendars() -> None:
    code = "import sys, tapeflow.model.sessions; sys.exit('exchange_calendars' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@settings(max_examples=60, deadline=None)
@given(ts=st.integers(min_value=utc_ns(2010, 1, 1, 0), max_value=utc_ns(2014, 12, 31, 0)))
def test_session_at_agrees_with_session_of_the_new_york_date(xnys: ExchangeCalendar, ts: int) -> None:
    assert xnys.session_at(ts) == xnys.session(ny_date(ts))


def test_fixed_hours_calendar_knows_weekdays_only() -> None:
    fixed = FixedHoursCalendar()
    s = fixed.session(D(2012, 11, 23))
    assert s is not None and s.close == utc_ns(2012, 11, 23, 21) and not s.early_close
    assert fixed.session(D(2012, 6, 23)) is None and fixed.next_session(D(2012, 6, 23)).day == D(2012, 6, 25)
