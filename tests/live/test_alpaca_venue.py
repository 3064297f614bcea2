"""The order adapter against the paper venue over loopback: sessions, round trips, refusals while down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tapeflow.engine.inbox import Inbox
from tapeflow.model.orders import (
    CancelOrder,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
)
from tapeflow.model.venue_events import Reconciled, VenueConnected

from .paper_harness import Paper, Recorded, aapl_tape, adapter, submit, wait_for


@pytest.fixture
def paper(data_dir: Path) -> Iterator[Paper]:
    tape = aapl_tape(data_dir)
    if not tape.is_file():
        pytest.skip(f"{tape} is missing")
    served = Paper(tape)
    yield served
    served.stop()


def test_a_marketable_buy_is_accepted_and_filled_once_and_matches_the_venue(paper: Paper) -> None:
    inbox = Inbox()
    seen = Recorded(inbox)
    venue = adapter(paper, inbox)
    state = venue.start()
    assert state.open_orders == () and state.positions == ()
    venue.start_stream_thread()
    try:
        wait_for(lambda: venue.connected, "the stream to come up")
        _, ask = paper.best()
        venue.send(submit("s-run-1", ask))
        wait_for(lambda: seen.of(OrderAccepted), "the acceptance")
        for _ in range(40):
            paper.step()
            if seen.filled("s-run-1") == 100:
                break
        wait_for(lambda: seen.filled("s-run-1") == 100, "the fills")
    finally:
        venue.stop()
    assert len(seen.of(VenueConnected)) == 1
    assert [r.mismatches for r in seen.of(Reconciled)] == [0, 0]  # the start, then the first session
    assert len(seen.of(OrderAccepted)) == 1
    assert paper.filled() == {"s-run-1": 100}
    assert venue.ledger.positions == {"AAPL": 100} and paper.position() == 100


def test_a_resting_order_cancelled_ends_cancelled_with_its_unfilled_shares(paper: Paper) -> None:
    inbox = Inbox()
    seen = Recorded(inbox)
    venue = adapter(paper, inbox)
    venue.start()
    venue.start_stream_thread()
    try:
        wait_for(lambda: venue.connected, "the stream to come up")
        bid, _ = paper.best()
        venue.send(submit("s-run-1", bid - 10_000))
        venue.send(CancelOrder(ts_event=1, ts_init=1, strategy_id="s", client_order_id="s-run-1", symbol="AAPL"))
        wait_for(lambda: seen.of(OrderCancelled), "the cancel")
    finally:
        venue.stop()
    (cancelled,) = seen.of(OrderCancelled)
    assert cancelled.cancelled_quantity == 100
    assert [type(e).__name__ for e in seen.take() if e.__class__.__module__ == "tapeflow.model.orders"] == [
        "OrderAccepted",
        "OrderCancelled",
    ]


def test_send_while_the_stream_is_down_is_refused_at_once_and_nothing_reaches_the_venue(paper: Paper) -> None:
    inbox = Inbox()
    seen = Recorded(inbox)
    venue = adapter(paper, inbox)
    venue.start()  # REST up, stream never started: not connected
    try:
        _, ask = paper.best()
        venue.send(submit("s-run-1", ask))
        (refused,) = seen.of(OrderRejected)
    finally:
        venue.stop()
    assert "disconnected" in refused.reason
    assert paper.venue.orders() == []
    assert not seen.of(OrderFilled)
