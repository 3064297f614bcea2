"""The simulated exchange's session rules on their own: which close a DAY order expires at, and what is refused."""

from __future__ import annotations

import datetime
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.orders import SubmitOrder
from tapeflow.model.prices import NO_PRICE
from tapeflow.model.sessions import FixedHoursCalendar
from tapeflow.venues.sim.expiry import NEW_YORK, DayExpiry, ny_date, price_refusal, session_refusal


def ny_ns(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    """New York wall time in June (EDT, UTC-4) as ns since the epoch."""
    return int(datetime.datetime(y, mo, d, h + 4, mi, tzinfo=datetime.UTC).timestamp()) * 1_000_000_000


def test_the_first_day_order_of_a_day_asks_for_that_sessions_close_and_later_ones_for_nothing() -> None:
    expiry = DayExpiry(FixedHoursCalendar())
    assert expiry.close_to_schedule(ny_ns(2012, 6, 21, 10)) == ny_ns(2012, 6, 21, 16)
    assert expiry.close_to_schedule(ny_ns(2012, 6, 21, 11)) is None  # already scheduled: one expiry per close


def test_an_order_on_a_saturday_expires_at_mondays_close_and_mondays_own_orders_do_not_schedule_it_again() -> None:
    expiry = DayExpiry(FixedHoursCalendar())
    assert expiry.close_to_schedule(ny_ns(2012, 6, 23, 10)) == ny_ns(2012, 6, 25, 16)
    assert expiry.close_to_schedule(ny_ns(2012, 6, 25, 10)) is None


def test_an_order_after_the_close_schedules_nothing_and_the_close_hour_overrides_the_session() -> None:
    assert DayExpiry(FixedHoursCalendar()).close_to_schedule(ny_ns(2012, 6, 21, 17)) is None
    assert DayExpiry(FixedHoursCalendar(), close_hour=13).close_to_schedule(ny_ns(2012, 6, 21, 10)) == ny_ns(
        2012, 6, 21, 13
    )


def _submit(time_in_force: TimeInForce) -> SubmitOrder:
    return SubmitOrder(
        ts_event=0,
        ts_init=0,
        strategy_id="s",
        client_order_id="c",
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=1,
        price=1_000_000,
        time_in_force=time_in_force,
    )


def test_a_halt_refuses_any_order_and_auction_or_day_orders_in_a_trading_market_pass() -> None:
    assert session_refusal(_submit(TimeInForce.OPG), halted=True) == "AAPL is halted"
    assert session_refusal(_submit(TimeInForce.CLS), halted=False) is None  # auction timing: auction.py
    assert session_refusal(_submit(TimeInForce.DAY), halted=False) is None


@pytest.mark.parametrize(
    ("price", "order_type", "stop", "reason"),
    [
        (NO_PRICE, OrderType.LIMIT, NO_PRICE, "LIMIT order without a limit price"),
        (1_000_050, OrderType.LIMIT, NO_PRICE, "limit price 100.005 is not on the Rule 612 tick grid"),
        (NO_PRICE, OrderType.STOP, NO_PRICE, "STOP order without a stop price"),
        (1_000_000, OrderType.STOP_LIMIT, 990_001, "stop price 99.0001 is not on the Rule 612 tick grid"),
        (NO_PRICE, OrderType.MARKET, NO_PRICE, None),
        (1_000_000, OrderType.STOP_LIMIT, 990_000, None),
    ],
)
def test_prices_are_refused_when_missing_or_off_the_tick_grid_for_the_order_type(
    price: int, order_type: OrderType, stop: int, reason: str | None
) -> None:
    assert price_refusal(price, order_type, stop) == reason


def _reference_closes(times: list[int], close_hour: int | None) -> list[int | None]:
    """The lookup before the day window: every order converts its time to a New York date."""
    calendar, days, closes, out = FixedHoursCalendar(), set(), set(), []
    for at in times:
        day = ny_date(at)
        if day in days:
            out.append(None)
            continue
        days.add(day)
        session = calendar.session(day) or calendar.next_session(day)
        close = session.close
        if close_hour is not None:
            d = session.day
            close = int(datetime.datetime(d.year, d.month, d.day, close_hour, tzinfo=NEW_YORK).timestamp()) * 10**9
        if close > at and close not in closes:
            closes.add(close)
            out.append(close)
        else:
            out.append(None)
    return out


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=0, max_value=30 * 3_600 * 10**9), min_size=1, max_size=40),
    start=st.sampled_from([ny_ns(2012, 3, 9, 19), ny_ns(2012, 11, 2, 19), ny_ns(2012, 6, 21, 9)]),
    close_hour=st.sampled_from([None, 13]),
)
def test_the_day_window_schedules_the_same_closes_as_a_date_lookup_per_order_across_midnights_and_dst(
    steps: list[int], start: int, close_hour: int | None
) -> None:
    times = list(accumulate(steps, initial=start))[1:]
    expiry = DayExpiry(FixedHoursCalendar(), close_hour=close_hour)
    assert [expiry.close_to_schedule(at) for at in times] == _reference_closes(times, close_hour)


def _ny_midnight(y: int, mo: int, d: int) -> int:
    return int(datetime.datetime(y, mo, d, tzinfo=NEW_YORK).timestamp()) * 1_000_000_000


@settings(max_examples=300, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=25 * 3_600 * 10**9),
    start=st.sampled_from([_ny_midnight(2012, 3, 11), _ny_midnight(2012, 11, 4), _ny_midnight(2012, 6, 21)]),
)
def test_the_day_window_lies_inside_the_new_york_day_of_its_lookup_across_both_dst_changes(
    offset: int, start: int
) -> None:
    """The window that spares later orders the lookup ends an hour before the wall clock's midnight: never past
    the real one, on the 23- and 25-hour days too (a window reaching into the next day would skip its lookup)."""
    expiry = DayExpiry(FixedHoursCalendar())
    at = start + offset
    expiry.close_to_schedule(at)
    assert expiry.day_start == at
    if expiry.day_end > at:
        assert ny_date(expiry.day_end - 1) == ny_date(at)
    else:
        assert int(datetime.datetime.fromtimestamp(at // 10**9, NEW_YORK).hour) == 23


@pytest.mark.parametrize("hour", [0, 1, 3, 9, 16])
def test_on_the_23_hour_day_the_window_ends_at_midnight_at_the_latest(hour: int) -> None:
    """2012-03-11 has 23 hours: from 01:00 the wall clock says 23 hours are left, the real clock 22."""
    expiry = DayExpiry(FixedHoursCalendar())
    midnight, next_midnight = _ny_midnight(2012, 3, 11), _ny_midnight(2012, 3, 12)
    at = midnight + hour * 3_600 * 10**9
    expiry.close_to_schedule(at)
    assert at < expiry.day_end <= next_midnight
