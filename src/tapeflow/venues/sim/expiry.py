"""The session side of the simulated exchange: when DAY orders expire, and which orders the venue refuses.

Separate from matching because none of it looks at the book: it answers from the exchange calendar (read once
when the exchange is built), the halt state the feed reported, the order's time in force and the tick grid. It
schedules nothing itself; the exchange asks it which close to wake up for, so the rules are plain functions of
their inputs.
"""

from __future__ import annotations

import datetime
from typing import Final
from zoneinfo import ZoneInfo

from tapeflow.model.enums import OrderType
from tapeflow.model.instruments import RULE_612
from tapeflow.model.orders import SubmitOrder
from tapeflow.model.prices import NO_PRICE, price_to_str
from tapeflow.model.sessions import Session, SessionCalendar

NEW_YORK: Final = ZoneInfo("America/New_York")
# bound once: an enum member read through its class costs ~0.1 us, and every order is checked here (issue 19)
_LIMIT_TYPES: Final = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_STOP_TYPES: Final = (OrderType.STOP, OrderType.STOP_LIMIT)


def ny_date(ts_ns: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ts_ns // 1_000_000_000, NEW_YORK).date()


def session_refusal(command: SubmitOrder, halted: bool) -> str | None:
    """Why the session cannot take ``command`` now, or None: a halted symbol (auction timing: ``auction.py``)."""
    if halted:
        return f"{command.symbol} is halted"
    return None


def price_refusal(price: int, order_type: OrderType, stop_price: int) -> str | None:
    """Why the venue refuses these prices for ``order_type``, or None: a missing price, or one off the tick grid."""
    if order_type in _LIMIT_TYPES:
        if price == NO_PRICE:
            return f"{order_type.value} order without a limit price"
        if not RULE_612.is_valid(price):
            return f"limit price {price_to_str(price)} is not on the Rule 612 tick grid"
    if order_type in _STOP_TYPES:
        if stop_price == NO_PRICE:
            return f"{order_type.value} order without a stop price"
        if not RULE_612.is_valid(stop_price):
            return f"stop price {price_to_str(stop_price)} is not on the Rule 612 tick grid"
    return None


class DayExpiry:
    """The closes at which DAY orders expire: the session's own (13:00 on half days) or ``close_hour``."""

    __slots__ = ("_close_hour", "_closes", "_days", "_sessions", "day_end", "day_start")

    def __init__(self, sessions: SessionCalendar, close_hour: int | None = None) -> None:
        self._sessions = sessions
        self._close_hour = close_hour
        self._days: set[datetime.date] = set()
        self._closes: set[int] = set()
        self.day_start = 0
        self.day_end = 0
        """[day_start, day_end) in ns: a stretch of the New York day looked up last (see ``close_to_schedule``). An
        order inside it needs no date conversion (``ny_date`` with its time zone costs ~0.5-2 us) and schedules
        nothing; the exchange tests it before calling ``close_to_schedule`` (a call per order saved)."""

    def session_for(self, at: int) -> Session:
        """The session an order arriving at ``at`` is for: today's, or the next one on a holiday or weekend."""
        day = ny_date(at)
        return self._sessions.session(day) or self._sessions.next_session(day)

    def close_to_schedule(self, at: int) -> int | None:
        """The close (ns) a DAY order accepted at ``at`` expires at, the first time it is asked for; else None.

        An order sent on a holiday or weekend is for the next session. Each New York day is looked up once.
        """
        if self.day_start <= at < self.day_end:
            return None  # the day looked up last (the window is set only once its lookup succeeded)
        sec = at // 1_000_000_000
        local = datetime.datetime.fromtimestamp(sec, NEW_YORK)  # ``ny_date(at)``, its wall time kept
        day = local.date()
        close_ns: int | None = None
        if day not in self._days:
            close_ns = self._close_of(day, at)
            self._days.add(day)
        # The window: from this order to an hour before the wall clock says midnight. Inside the day whatever the
        # clocks do (a New York day has one change at most, of one hour, so the real time to midnight is the wall
        # time left less an hour at worst), without the two time-zone conversions of midnight (~2 us a new day).
        # An order after 23:00 gets an empty window: it asks again, and is answered the same (the day is known).
        wall_left = 86_400 - (local.hour * 3_600 + local.minute * 60 + local.second)
        self.day_start = at
        self.day_end = (sec + wall_left - 3_600) * 1_000_000_000
        return close_ns

    def _close_of(self, day: datetime.date, at: int) -> int | None:
        session = self._sessions.session(day) or self._sessions.next_session(day)
        close_ns = session.close
        if self._close_hour is not None:
            d = session.day
            close_ns = int(datetime.datetime(d.year, d.month, d.day, self._close_hour, tzinfo=NEW_YORK).timestamp())
            close_ns *= 1_000_000_000
        if close_ns > at and close_ns not in self._closes:
            self._closes.add(close_ns)
            return close_ns
        return None
