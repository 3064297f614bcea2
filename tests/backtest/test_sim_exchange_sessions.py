"""DAY orders expire at the exchange calendar's close: 13:00 on half days, the next session's after a closure."""

from __future__ import annotations

import datetime

from tapeflow.model import OrderExpired, Side, TimeInForce
from tapeflow.venues.sim.exchange import SimExchangeConfig

from .scenario import MS, delta, px, run, snapshot

HOUR = 3600 * 1_000_000_000


def utc_ns(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(datetime.datetime(y, mo, d, h, mi, tzinfo=datetime.UTC).timestamp()) * 1_000_000_000


def _expiries(start: int, end: int, **kwargs: object) -> list[tuple[str, int]]:
    """A DAY buy sent at ``start`` + 1 ms on a book seen at ``start``; the tape runs to ``end``."""
    tape = [
        snapshot(start, bids=[("100.00", 500)], asks=[("100.01", 300)]),
        delta(end, Side.BUY, "99.99", 700),
    ]
    _, s = run(tape, {start + 1 * MS: lambda s: s.buy("AAPL", 100, px("99.00"))}, **kwargs)  # type: ignore[arg-type]
    return [(r.client_order_id, r.ts_event) for r in s.reports if isinstance(r, OrderExpired)]


def test_day_order_on_the_day_after_thanksgiving_expires_at_the_13_00_close() -> None:
    start = utc_ns(2012, 11, 23, 15)  # 10:00 EST
    assert _expiries(start, start + 8 * HOUR) == [("s-1", utc_ns(2012, 11, 23, 18))]  # 13:00 EST


def test_day_order_on_july_3_expires_at_13_00() -> None:
    start = utc_ns(2013, 7, 3, 14)  # 10:00 EDT
    assert _expiries(start, start + 8 * HOUR) == [("s-1", utc_ns(2013, 7, 3, 17))]  # 13:00 EDT


def test_day_order_on_a_regular_day_expires_at_16_00() -> None:
    start = utc_ns(2012, 6, 21, 14)  # 10:00 EDT
    assert _expiries(start, start + 8 * HOUR) == [("s-1", utc_ns(2012, 6, 21, 20))]


def test_day_order_sent_during_the_sandy_closure_expires_at_the_next_sessions_close() -> None:
    start = utc_ns(2012, 10, 29, 14)  # markets closed 2012-10-29 and 30
    assert _expiries(start, utc_ns(2012, 11, 1, 0)) == [("s-1", utc_ns(2012, 10, 31, 20))]


def test_fixed_calendar_keeps_the_old_16_00_close_on_a_half_day() -> None:
    start = utc_ns(2012, 11, 23, 15)
    cfg = SimExchangeConfig(calendar="fixed")
    assert _expiries(start, start + 8 * HOUR, exchange=cfg) == [("s-1", utc_ns(2012, 11, 23, 21))]


def test_gtc_order_never_expires_on_a_half_day() -> None:
    start = utc_ns(2012, 11, 23, 15)
    tape = [
        snapshot(start, bids=[("100.00", 500)], asks=[("100.01", 300)]),
        delta(start + 8 * HOUR, Side.BUY, "99.99", 1),
    ]
    _, s = run(tape, {start + MS: lambda s: s.buy("AAPL", 100, px("99.00"), time_in_force=TimeInForce.GTC)})
    assert s.kinds() and not [r for r in s.reports if isinstance(r, OrderExpired)]
