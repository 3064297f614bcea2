"""The trade_updates stream under faults: duplicated, dropped, silent and closed; every fill applied once."""

from __future__ import annotations

import asyncio

import requests

from tapeflow.live.order_wire import WireUpdate
from tapeflow.live.trade_updates import TradeUpdates
from tapeflow.model.orders import OrderAccepted, OrderFilled
from tapeflow.model.venue_events import Reconciled, VenueDisconnected, VenueReconnected
from tapeflow.paper.faults import ADMIN_PATH

from .paper_harness import KEY, SECRET, TOKEN, Paper, Running, submit, wait_for


def fill_all(run: Running, paper: Paper, cids: list[str], quantity: int = 100, steps: int = 60) -> None:
    """Step the venue until the venue filled every order, then wait for the node to hear every share."""
    for _ in range(steps):
        if all(paper.filled().get(c, 0) == quantity for c in cids):
            break
        paper.step()
    assert all(paper.filled().get(c, 0) == quantity for c in cids), paper.filled()
    wait_for(lambda: all(run.seen.filled(c) == quantity for c in cids), "every fill at the node", timeout=10)


def assert_once(run: Running, paper: Paper) -> None:
    """0 lost, 0 duplicated: the node's fills per order are the venue's, and so is the position."""
    fills = run.seen.of(OrderFilled)
    per_order: dict[str, int] = {}
    for fill in fills:
        per_order[fill.client_order_id] = per_order.get(fill.client_order_id, 0) + fill.quantity
    assert per_order == {c: q for c, q in paper.filled().items() if q}
    assert run.venue.ledger.positions.get("AAPL", 0) == paper.position()
    notional = {c: sum(f.price * f.quantity for f in fills if f.client_order_id == c) for c in per_order}
    venue_notional = {o.client_order_id: o.filled_notional for o in paper.venue.orders() if o.filled_qty}
    assert notional == venue_notional  # exact prices, whichever road each fill took


def test_duplicated_trade_updates_are_applied_once(paper: Paper) -> None:
    run = Running(paper)
    try:
        paper.fault({"fault": "duplicate", "stream": "trade_updates", "count": 100})
        _, ask = paper.best()
        cids = [f"s-run-{i}" for i in range(1, 4)]
        for cid in cids:
            run.venue.send(submit(cid, ask))
        fill_all(run, paper, cids)
        wait_for(lambda: run.venue.ledger.duplicates >= 3, "the duplicates to be seen")
    finally:
        run.close()
    assert len(run.seen.of(OrderAccepted)) == 3
    assert_once(run, paper)


def test_fills_dropped_from_the_stream_are_found_by_reconciliation_after_it_goes_silent(paper: Paper) -> None:
    run = Running(paper, idle_s=0.4)
    try:
        _, ask = paper.best()
        cids = ["s-run-1", "s-run-2"]
        for cid in cids:
            run.venue.send(submit(cid, ask))
        wait_for(lambda: len(run.seen.of(OrderAccepted)) == 2, "the acceptances")
        paper.fault({"fault": "drop", "stream": "trade_updates", "count": 1_000})  # every update from now on
        for _ in range(60):
            if all(paper.filled().get(c, 0) == 100 for c in cids):
                break
            paper.step()
        wait_for(lambda: all(run.seen.filled(c) == 100 for c in cids), "the reconciled fills", timeout=10)
    finally:
        run.close()
    assert run.venue.stream.silent_drops >= 1
    assert run.seen.of(VenueDisconnected) and run.seen.of(VenueReconnected)
    recovered = sum(r.fills_applied for r in run.seen.of(Reconciled))
    assert recovered >= 1  # at least one fill reached the node only through the reconciliation
    assert sum(1 for f in run.seen.of(OrderFilled) if f.trade_id.endswith(":100")) >= recovered
    assert_once(run, paper)


def test_a_stream_closed_by_the_venue_reconnects_reconciles_and_misses_nothing(paper: Paper) -> None:
    run = Running(paper)
    try:
        _, ask = paper.best()
        run.venue.send(submit("s-run-1", ask))
        wait_for(lambda: run.seen.of(OrderAccepted), "the acceptance")
        closed = paper.fault({"fault": "close", "stream": "trade_updates", "key": KEY})
        assert closed["closed"] is True
        run.venue.send(submit("s-run-2", ask))  # refused or sent, depending on when the drop is seen: never lost
        fill_all(run, paper, ["s-run-1"])
        wait_for(lambda: run.seen.of(VenueReconnected), "the reconnect")
    finally:
        run.close()
    down, stopped = run.seen.of(VenueDisconnected)  # the venue's close, then ours at the end
    assert stopped.reason == "stopped"
    assert "closed" in down.reason
    reconnected = run.seen.of(VenueReconnected)[0]
    assert run.seen.events.index(down) < run.seen.events.index(reconnected)
    recs = [e for e in run.seen.events if isinstance(e, Reconciled)]
    assert run.seen.events.index(recs[-1]) < run.seen.events.index(reconnected)  # reconciled, then announced
    assert all(r.mismatches == 0 for r in recs)
    assert_once(run, paper)


def test_a_stream_kept_silent_while_an_order_fills_is_dropped_and_reconciled(paper: Paper) -> None:
    run = Running(paper, idle_s=0.3)
    try:
        bid, ask = paper.best()
        run.venue.send(submit("s-run-1", bid - 10_000))  # rests: an order working, so silence is suspicious
        wait_for(lambda: run.seen.of(OrderAccepted), "the acceptance")
        paper.fault({"fault": "silent", "stream": "trade_updates", "seconds": 1})
        run.venue.send(submit("s-run-2", ask))  # fills at once; the stream says nothing of it
        wait_for(lambda: run.seen.filled("s-run-2") == 100, "the fill, through reconciliation", timeout=10)
        requests.delete(f"{paper.url}{ADMIN_PATH}", headers={"X-Tapeflow-Admin": TOKEN}, timeout=5)
    finally:
        run.close()
    assert paper.filled()["s-run-2"] == 100
    assert run.venue.stream.silent_drops >= 1
    assert run.seen.of(VenueReconnected)
    assert_once(run, paper)


def test_a_malformed_frame_is_counted_and_reported_and_the_next_one_still_applies() -> None:
    applied: list[WireUpdate] = []
    reported: list[str] = []

    async def nothing(*_: object) -> None:
        return None

    stream = TradeUpdates(
        "ws://127.0.0.1:9/stream",
        KEY,
        SECRET,
        on_update=applied.append,
        on_up=nothing,
        on_down=nothing,
        on_malformed=reported.append,
    )
    good = (
        b'{"stream":"trade_updates","data":{"event":"new","timestamp":"2012-06-21T13:30:00.000000001Z",'
        b'"order":{"id":"o1","client_order_id":"s-run-1","symbol":"AAPL","side":"buy","type":"limit",'
        b'"time_in_force":"day","qty":"100","filled_qty":"0","limit_price":"583.5","status":"new"}}}'
    )
    for frame in (b"not json", b"[1,2]", b'{"stream":"trade_updates","data":{"event":"fill"}}', good):
        stream._handle(frame)
    assert stream.malformed == 3 and len(reported) == 3
    assert [u.order.limit_price for u in applied] == [5_835_000]
    asyncio.run(nothing())
