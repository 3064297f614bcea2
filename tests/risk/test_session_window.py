"""The trading_status rule's session window comes from the exchange calendar, through both risk paths."""

from __future__ import annotations

import datetime

import pytest

from tapeflow.model import RiskRejected
from tapeflow.risk.config import OrderChecks
from tests.risk.helpers import Rig
from tests.risk.test_rules import OFF_ORDER, cfg, one


def ny_ns(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    wall = datetime.datetime(y, mo, d, h, mi, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))
    return int(wall.timestamp()) * 1_000_000_000  # EST: every date below is in winter time


WITH_POST = OrderChecks(sessions=("regular", "post"), max_quantity=None, max_notional_usd=None, collar_bps=None)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(
    ("at", "order", "rule"),
    [
        (ny_ns(2012, 11, 23, 12, 59), OFF_ORDER, None),  # half day: regular until 13:00
        (ny_ns(2012, 11, 23, 13, 0), OFF_ORDER, "trading_status"),  # 13:00: the close, not 16:00
        (ny_ns(2012, 11, 23, 13, 30), WITH_POST, None),  # post-market from the early close
        (ny_ns(2012, 11, 23, 17, 0), WITH_POST, "trading_status"),  # ... for four hours, to 17:00
        (ny_ns(2012, 11, 22, 11, 0), OFF_ORDER, "trading_status"),  # Thanksgiving
        (ny_ns(2012, 11, 26, 11, 0), OFF_ORDER, None),  # the Monday after: a regular day
    ],
)
def test_session_window_follows_the_calendar_on_a_half_day(
    at: int, order: OrderChecks, rule: str | None, fused: bool
) -> None:
    assert one(Rig(cfg(order=order), start=at, fused=fused)) == rule


@pytest.mark.parametrize("fused", [True, False])
def test_orders_during_the_sandy_closure_are_refused_as_closed(fused: bool) -> None:
    at = int(datetime.datetime(2012, 10, 29, 15, tzinfo=datetime.UTC).timestamp()) * 1_000_000_000  # 11:00 EDT
    rig = Rig(cfg(order=OFF_ORDER), start=at, fused=fused)
    assert one(rig) == "trading_status"
    rejected = [e for e in rig.seen if isinstance(e, RiskRejected)]
    assert len(rejected) == 1 and rejected[0].reason == "outside the allowed sessions (regular): now is closed"
