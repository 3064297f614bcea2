"""The connectivity rule: a guarded venue is down until it connects, and down again when it disconnects."""

from __future__ import annotations

from tapeflow.engine.kernel import Kernel
from tapeflow.model import OrderType, Side, SubmitOrder
from tapeflow.model.venue_events import VenueConnected, VenueDisconnected, VenueReconnected
from tapeflow.risk.venue_rules import VenueConnectivity


def _order(venue: str = "") -> SubmitOrder:
    return SubmitOrder(
        ts_event=0,
        ts_init=0,
        strategy_id="s",
        client_order_id="s-1",
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=100,
        price=1_000_000,
        venue=venue,
    )


def test_a_guarded_venue_is_refused_until_connected_and_after_a_disconnect() -> None:
    rule = VenueConnectivity(["NET"], default_venue="NET")
    kernel = Kernel()
    kernel.add(rule)
    kernel.start(at=0)
    violation = rule.check(_order())
    assert violation is not None and violation.value == "NET"
    assert violation.reason == "venue NET is disconnected (not connected yet): no new orders until it reconnects"
    kernel.run([VenueConnected(ts_event=1, ts_init=1, venue="NET")])
    assert rule.check(_order()) is None and rule.check(_order("NET")) is None
    kernel.run([VenueDisconnected(ts_event=2, ts_init=2, venue="NET", reason="heartbeat lost")])
    violation = rule.check(_order("NET"))
    assert violation is not None and "(heartbeat lost)" in violation.reason
    kernel.run([VenueReconnected(ts_event=3, ts_init=3, venue="NET")])
    assert rule.check(_order()) is None


def test_venues_it_does_not_guard_are_never_refused() -> None:
    rule = VenueConnectivity(["NET"], default_venue="XNAS")
    rule.on_down(VenueDisconnected(ts_event=0, ts_init=0, venue="XNAS", reason="not ours to guard"))
    assert rule.check(_order()) is None and rule.check(_order("XNAS")) is None
    assert rule.check(_order("NET")) is not None
