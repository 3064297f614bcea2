"""Exchange sessions: which days trade, when each opens and closes, from a maintained exchange calendar.

A fixed 09:30-16:00 weekday knows no holidays (2012-10-29/30, Hurricane Sandy), no early closes (13:00 on the day
after Thanksgiving and on July 3) and no rule changes; ``exchange_calendars`` (XNYS, XNAS, ...) keeps them, with its
data shipped in the package, so it works offline. Everything that depends on a session (DAY expiry, the risk
session window, surveillance's close, daily buckets) asks a ``SessionCalendar`` for it.

Two costs are kept off the hot path. ``exchange_calendars`` (with pandas) takes about half a second to import, so
it is imported at the first lookup, not with tapeflow; the whole schedule is then read once into a dict (about
10 ms). And each date is looked up once: the ``Session`` of a date is cached, and ``session_at`` keeps the last
New York day's bounds, so a stream of events in one day costs two integer compares each.

Extended hours are not in the exchange calendars: pre-market is taken as 04:00 New York to the open and
post-market as the close to four hours after it (20:00, or 17:00 on a 13:00 half day), as Nasdaq and NYSE Arca run
them.
"""

from __future__ import annotations

import datetime
import functools
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Protocol
from zoneinfo import ZoneInfo

import msgspec

from tapeflow.model.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

NEW_YORK: Final = ZoneInfo("America/New_York")
NS_PER_SECOND: Final = 1_000_000_000
NS_PER_HOUR: Final = 3600 * NS_PER_SECOND
PRE_MARKET_OPEN: Final = datetime.time(4, 0)
POST_MARKET_HOURS: Final = 4
CALENDAR_START: Final = datetime.date(1990, 1, 1)
"""First date the default calendars cover: older than every shared dataset (daily bars from 1995)."""


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """One trading day; every time is int ns UTC. ``pre_open``/``post_close`` bound the extended hours."""

    day: datetime.date
    open: int
    close: int
    pre_open: int
    post_close: int
    early_close: bool

    def part(self, ts: int) -> str | None:
        """``"pre"``, ``"regular"``, ``"post"`` or None (overnight) for ``ts`` in this session's day."""
        if self.open <= ts < self.close:
            return "regular"
        if self.pre_open <= ts < self.open:
            return "pre"
        if self.close <= ts < self.post_close:
            return "post"
        return None


class SessionCalendar(Protocol):
    """What the engine asks about sessions. Implementations cache per date: never a per-event computation."""

    name: str

    def session(self, day: datetime.date) -> Session | None:
        """The session on New York date ``day``, None when the exchange does not trade that day."""
        ...

    def is_trading_day(self, day: datetime.date) -> bool: ...

    def session_at(self, ts: int) -> Session | None:
        """The session of the New York date holding ``ts`` (whatever the hour), None on a non-trading day."""
        ...

    def next_session(self, day: datetime.date) -> Session:
        """The first session on or after ``day``."""
        ...

    def check(self) -> None:
        """Load the calendar now, so that a wrong name is refused before a run rather than at its first order."""
        ...


def ny_date(ts: int) -> datetime.date:
    """The New York calendar date of ``ts`` (int ns UTC)."""
    return datetime.datetime.fromtimestamp(ts // NS_PER_SECOND, tz=NEW_YORK).date()


def _ny_ns(day: datetime.date, hour: int, minute: int = 0) -> int:
    wall = datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)
    return int(wall.timestamp()) * NS_PER_SECOND


class _SessionCache:
    """Per-date cache and the last day's bounds, shared by the implementations."""

    def __init__(self, lookup: Callable[[datetime.date], Session | None]) -> None:
        self._lookup = lookup
        self._by_day: dict[datetime.date, Session | None] = {}
        self._day_start = 0
        self._day_end = 0
        self._day_session: Session | None = None

    def session(self, day: datetime.date) -> Session | None:
        try:
            return self._by_day[day]
        except KeyError:
            found = self._by_day[day] = self._lookup(day)
            return found

    def session_at(self, ts: int) -> Session | None:
        if not self._day_start <= ts < self._day_end:
            day = ny_date(ts)
            self._day_start = _ny_ns(day, 0)
            nxt = day + datetime.timedelta(days=1)
            self._day_end = _ny_ns(nxt, 0)
            self._day_session = self.session(day)
        return self._day_session


@functools.lru_cache(maxsize=8)
def _schedule(
    name: str, start: datetime.date, field: str
) -> tuple[Mapping[datetime.date, tuple[int, int]], datetime.date, datetime.date]:
    """(open, close) ns UTC of every session of calendar ``name``, and its first and last session.

    Cached per process: it is read-only data shipped with ``exchange_calendars`` (no run can change it), and
    building it costs 20-40 ms, which every backtest in a test suite would otherwise pay again.
    """
    # Imported here, not at the top: half a second with pandas, paid only when a session is needed.
    import exchange_calendars  # type: ignore[import-untyped]  # lazy: pandas (~0.25 s), only when a calendar is built

    try:
        with warnings.catch_warnings():  # pandas deprecations inside exchange_calendars, not ours to fix
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            cal: Any = exchange_calendars.get_calendar(name, start=start.isoformat())
            schedule = cal.schedule
            table = {
                label.date(): (int(o.value), int(c.value))
                for label, o, c in zip(schedule.index, schedule["open"], schedule["close"], strict=True)
            }
    except exchange_calendars.errors.InvalidCalendarName:
        known = ", ".join(n for n in ("XNYS", "XNAS", "BATS", "IEXG") if n in exchange_calendars.get_calendar_names())
        raise ConfigError(
            f"unknown exchange calendar {name!r}; use an exchange_calendars code such as {known}", field=field
        ) from None
    return MappingProxyType(table), cal.first_session.date(), cal.last_session.date()


class ExchangeCalendar:
    """``SessionCalendar`` over ``exchange_calendars`` (``name`` is its code: XNYS, XNAS, ...)."""

    def __init__(self, name: str = "XNYS", *, start: datetime.date = CALENDAR_START, field: str = "calendar") -> None:
        self.name = name
        self._start = start
        self._field = field
        self._table: Mapping[datetime.date, tuple[int, int]] | None = None
        """(open, close) ns UTC of every session, read from the calendar's schedule once (about 10 ms)."""
        self._first = self._last = CALENDAR_START
        self._cache = _SessionCache(self._lookup)

    def _load(self) -> Mapping[datetime.date, tuple[int, int]]:
        if self._table is None:
            self._table, self._first, self._last = _schedule(self.name, self._start, self._field)
        return self._table

    def _lookup(self, day: datetime.date) -> Session | None:
        table = self._load()
        if not self._first <= day <= self._last:
            raise ConfigError(
                f"{day} is outside the {self.name} calendar ({self._first} to {self._last}); "
                "upgrade exchange_calendars for later dates, or run without session rules",
                field=self._field,
            )
        times = table.get(day)
        if times is None:
            return None
        open_ns, close_ns = times
        return Session(
            day=day,
            open=open_ns,
            close=close_ns,
            pre_open=min(open_ns, _ny_ns(day, PRE_MARKET_OPEN.hour, PRE_MARKET_OPEN.minute)),
            post_close=close_ns + POST_MARKET_HOURS * NS_PER_HOUR,
            early_close=close_ns < _ny_ns(day, 16),
        )

    def session(self, day: datetime.date) -> Session | None:
        return self._cache.session(day)

    def is_trading_day(self, day: datetime.date) -> bool:
        return self._cache.session(day) is not None

    def session_at(self, ts: int) -> Session | None:
        return self._cache.session_at(ts)

    def next_session(self, day: datetime.date) -> Session:
        for offset in range(15):  # the longest US closure since 1990 is four weekdays (Sept 11, 2001)
            found = self._cache.session(day + datetime.timedelta(days=offset))
            if found is not None:
                return found
        raise ConfigError(f"no {self.name} session in the two weeks from {day}", field=self._field)

    def check(self) -> None:
        self._load()


class FixedHoursCalendar:
    """Every weekday 09:30-16:00 New York, no holidays: for synthetic markets and tests, never for real dates."""

    name = "fixed"

    def __init__(self) -> None:
        self._cache = _SessionCache(self._lookup)

    @staticmethod
    def _lookup(day: datetime.date) -> Session | None:
        if day.weekday() >= 5:
            return None
        close = _ny_ns(day, 16)
        return Session(
            day=day,
            open=_ny_ns(day, 9, 30),
            close=close,
            pre_open=_ny_ns(day, 4),
            post_close=close + POST_MARKET_HOURS * NS_PER_HOUR,
            early_close=False,
        )

    def session(self, day: datetime.date) -> Session | None:
        return self._cache.session(day)

    def is_trading_day(self, day: datetime.date) -> bool:
        return day.weekday() < 5

    def session_at(self, ts: int) -> Session | None:
        return self._cache.session_at(ts)

    def next_session(self, day: datetime.date) -> Session:
        while (found := self._cache.session(day)) is None:
            day += datetime.timedelta(days=1)
        return found

    def check(self) -> None:
        """Nothing to load."""


def calendar_for(name: str, field: str = "calendar") -> SessionCalendar:
    """The calendar named in a configuration: ``"fixed"`` or an exchange_calendars code (XNYS, XNAS, ...).

    ``field`` names the configuration field in errors (an unknown name, a date outside the calendar).
    """
    if name == "fixed":
        return FixedHoursCalendar()
    return ExchangeCalendar(name, field=field)
