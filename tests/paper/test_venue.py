"""The stepped venue: time moves only when asked, the same requests and seed give the same answers, and risk's
refusal is the submit's answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tapeflow.model.errors import RequestError
from tapeflow.model.orders import OrderFilled
from tapeflow.node import NodeConfig
from tapeflow.paper.alpaca_orders import OrderRequest
from tapeflow.paper.config import PaperConfig
from tapeflow.paper.venue import PaperVenue
from tapeflow.risk.config import OrderChecks, RiskConfig
from tapeflow.venues.sim.latency import FixedLatency

MS = 1_000_000
LATENCY = FixedLatency(insert_entry_ns=MS, insert_response_ns=MS, cancel_entry_ns=MS, cancel_response_ns=MS)


class Recorder:
    def __init__(self) -> None:
        self.updates: list[Any] = []

    def publish(self, update: Any) -> None:
        self.updates.append(update)


def script(venue: PaperVenue) -> list[str]:
    """A fixed sequence of requests; returns the order ids the venue gave."""
    venue.step_events(2_000)
    book = venue.node.books.book("AAPL")
    assert book is not None
    ids = [venue.submit(OrderRequest("AAPL", 100, "buy", "limit", "day", book.best_ask)).id]
    ids.append(venue.submit(OrderRequest("AAPL", 100, "buy", "limit", "gtc", book.best_bid - 1_000_000)).id)
    venue.step(venue.now + 5 * MS)
    venue.cancel(ids[1])
    venue.step_events(500)
    return ids


def test_time_moves_only_when_stepped(make_venue: Callable[..., PaperVenue]) -> None:
    venue = make_venue()
    start = venue.now
    venue.account()
    venue.clock()
    assert venue.now == start
    assert venue.step_events(10) == 10 and venue.now > start
    later = venue.now + 1_000 * MS
    venue.step(later)
    assert venue.now == later


def test_stepping_back_in_time_is_refused(make_venue: Callable[..., PaperVenue]) -> None:
    venue = make_venue()
    venue.step_events(10)
    with pytest.raises(RequestError) as caught:
        venue.step(venue.now - 1)
    assert caught.value.status == 422


def test_the_same_requests_and_seed_give_identical_ids_and_updates(make_venue: Callable[..., PaperVenue]) -> None:
    runs = []
    for seed in (7, 7, 8):
        hub = Recorder()
        venue = make_venue(NodeConfig(level="L3", latency=LATENCY), seed=seed, trade_hub=hub)
        runs.append((script(venue), json.dumps(hub.updates, sort_keys=True)))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]
    kinds = [u["event"] for u in json.loads(runs[0][1])]
    assert kinds[0] == "new" and kinds.count("new") == 2 and "fill" in kinds and kinds[-1] == "canceled"


def test_a_fill_update_carries_price_qty_and_the_position(make_venue: Callable[..., PaperVenue]) -> None:
    hub = Recorder()
    venue = make_venue(NodeConfig(level="L3", latency=LATENCY), trade_hub=hub)
    fills: list[OrderFilled] = []
    venue.kernel.subscribe(OrderFilled, fills.append)
    script(venue)
    updates = [u for u in hub.updates if u["event"] in ("fill", "partial_fill")]
    assert len(updates) == len(fills) > 0
    assert sum(int(u["qty"]) for u in updates) == sum(f.quantity for f in fills) == 100
    assert updates[-1]["position_qty"] == "100"
    assert updates[-1]["order"]["status"] == "filled" and len(updates[-1]["execution_id"]) == 36


def test_market_data_reaches_the_data_hub_in_tape_order(make_venue: Callable[..., PaperVenue]) -> None:
    data = Recorder()
    venue = make_venue(data_hub=data)
    venue.step_events(5_000)
    assert data.updates, "an L3 tape derives quotes and prints: the data hub must hear them"
    times = [event.ts_init for event in data.updates]
    assert times == sorted(times)


def test_an_order_risk_refuses_is_answered_403(make_venue: Callable[..., PaperVenue]) -> None:
    risk = RiskConfig(order=OrderChecks(max_quantity=500, collar_bps=None, max_spread_bps=None))
    venue = make_venue(NodeConfig(level="L3", risk=risk))
    venue.step_events(2_000)
    book = venue.node.books.book("AAPL")
    assert book is not None
    with pytest.raises(RequestError) as caught:
        venue.submit(OrderRequest("AAPL", 1_000, "buy", "limit", "day", book.best_bid))
    assert caught.value.status == 403 and caught.value.code == 40310000
    assert [o.status for o in venue.orders()] == ["rejected"]


def test_an_unknown_symbol_is_refused_before_the_node(make_venue: Callable[..., PaperVenue]) -> None:
    venue = make_venue()
    with pytest.raises(RequestError) as caught:
        venue.submit(OrderRequest("NOPE", 100, "buy", "market", "day"))
    assert caught.value.status == 422 and venue.orders() == []


def test_an_id_that_is_no_uuid_is_422_and_an_unknown_one_404(make_venue: Callable[..., PaperVenue]) -> None:
    venue = make_venue()
    with pytest.raises(RequestError) as bad:
        venue.order("not-an-id")
    with pytest.raises(RequestError) as unknown:
        venue.order("00000000-0000-0000-0000-000000000001")
    assert (bad.value.status, unknown.value.status) == (422, 404)


def test_a_replace_risk_refuses_is_answered_403_and_the_order_works_on(make_venue: Callable[..., PaperVenue]) -> None:
    risk = RiskConfig(order=OrderChecks(max_quantity=500, collar_bps=None, max_spread_bps=None))
    venue = make_venue(NodeConfig(level="L3", risk=risk, latency=LATENCY))
    venue.step_events(2_000)
    book = venue.node.books.book("AAPL")
    assert book is not None
    order = venue.submit(OrderRequest("AAPL", 100, "buy", "limit", "day", book.best_bid - 1_000_000))
    venue.step(venue.now + 5 * MS)
    assert order.status == "new"
    with pytest.raises(RequestError) as caught:
        venue.replace(order.id, qty=1_000, limit_price=None, stop_price=None, client_id="")
    assert caught.value.status == 403
    assert order.status == "new" and [o.status for o in venue.orders()] == ["new", "rejected"]
    working = venue.node.execution.order(order.cid)
    assert working is not None and working.quantity == 100


def test_an_order_cancelled_before_its_ack_ends_cancelled(make_venue: Callable[..., PaperVenue]) -> None:
    hub = Recorder()
    venue = make_venue(NodeConfig(level="L3", latency=LATENCY), trade_hub=hub)
    venue.step_events(2_000)
    book = venue.node.books.book("AAPL")
    assert book is not None
    order = venue.submit(OrderRequest("AAPL", 100, "buy", "limit", "day", book.best_bid - 1_000_000))
    venue.cancel(order.id)
    assert order.status == "pending_cancel"
    venue.step(venue.now + 5 * MS)
    assert order.status == "canceled" and order.canceled_at is not None
    assert [u["event"] for u in hub.updates] == ["new", "canceled"]


def _filled_at_the_exchange_unheard(venue: PaperVenue) -> Any:
    """A marketable buy that the exchange has filled but whose reports have not reached the account yet."""
    venue.step_events(2_000)
    book = venue.node.books.book("AAPL")
    assert book is not None
    order = venue.submit(OrderRequest("AAPL", 100, "buy", "limit", "day", book.best_ask + 10_000))
    venue.step(venue.now + MS)  # at the exchange (entry latency): filled there, the reports still on their way
    assert order.status == "pending_new" and order.filled_qty == 0
    return order


def test_a_cancel_too_late_for_a_fill_is_answered_cancel_rejected(make_venue: Callable[..., PaperVenue]) -> None:
    """The exchange refuses a cancel that reaches it after the order filled; Alpaca says so with
    ``order_cancel_rejected`` (too late to cancel). It was once swallowed because the fill report had already moved
    the record from ``pending_cancel`` to ``filled``: the client never heard an answer to its cancel."""
    hub = Recorder()
    venue = make_venue(NodeConfig(level="L3", latency=LATENCY), trade_hub=hub)
    order = _filled_at_the_exchange_unheard(venue)
    venue.cancel(order.id)
    assert order.status == "pending_cancel"
    venue.step(venue.now + 5 * MS)
    assert order.status == "filled" and order.filled_qty == 100
    events = [u["event"] for u in hub.updates]
    assert events[0] == "new" and events[-1] == "order_cancel_rejected"
    assert events.count("order_cancel_rejected") == 1 and events.count("canceled") == 0
    assert hub.updates[-1]["order"]["status"] == "filled"


def test_a_cancel_sent_with_the_submit_cancels_the_order_under_the_latency_tapeflow_paper_runs_with(
    make_venue: Callable[..., PaperVenue],
) -> None:
    """Cancels travel faster than inserts in the latency presets: sent at once, the cancel of an order not yet
    acknowledged reached the exchange first, was refused as an unknown order, and the order then worked on (a kill's
    cancel lost). Alpaca cancels a ``pending_new`` order it is asked to cancel; so does the paper venue now: the
    cancel waits for the exchange's ack."""
    hub = Recorder()
    latency = PaperConfig().latency.build()
    assert latency.cancel_entry_ns < latency.insert_entry_ns  # the race this test is about
    venue = make_venue(NodeConfig(level="L3", latency=latency), trade_hub=hub)
    venue.step_events(2_000)
    book = venue.node.books.book("AAPL")
    assert book is not None
    order = venue.submit(OrderRequest("AAPL", 100, "buy", "limit", "day", book.best_bid - 1_000_000))
    venue.cancel(order.id)
    assert order.status == "pending_cancel"
    venue.step(venue.now + 5 * MS)
    assert order.status == "canceled" and order.canceled_at is not None
    assert [u["event"] for u in hub.updates] == ["new", "canceled"]
    assert list(venue.node.execution.open_orders()) == []
