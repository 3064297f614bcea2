"""Connection events: known to the codec, and one subscription to their base sees them all."""

from __future__ import annotations

from tapeflow.engine.kernel import Kernel
from tapeflow.model import event_types, from_json, from_msgpack, to_json, to_msgpack
from tapeflow.model.venue_events import (
    FeedResumed,
    FeedStale,
    VenueConnected,
    VenueDisconnected,
    VenueReconnected,
    VenueStatus,
)

EVENTS = [
    VenueConnected(ts_event=1, ts_init=2, venue="NET"),
    VenueDisconnected(ts_event=3, ts_init=4, venue="NET", reason="socket closed"),
    VenueReconnected(ts_event=5, ts_init=6, venue="NET", down_ns=2),
    FeedStale(ts_event=7, ts_init=8, venue="NET", reason="no data for 5 s", symbol="AAPL"),
    FeedResumed(ts_event=9, ts_init=10, venue="NET"),
]


def test_connection_events_round_trip_through_both_encodings() -> None:
    assert {type(e) for e in EVENTS} <= set(event_types())
    for event in EVENTS:
        assert from_msgpack(to_msgpack(event)) == event
        assert from_json(to_json(event)) == event


def test_a_subscriber_to_venue_status_sees_every_connection_event() -> None:
    seen: list[VenueStatus] = []
    kernel = Kernel()
    kernel.subscribe(VenueStatus, seen.append)
    kernel.start(at=0)
    kernel.run(EVENTS)
    assert seen == EVENTS
