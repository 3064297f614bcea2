"""Risk follows the market data feed: through a live node (a venue that can disconnect wires the connectivity
rule), orders decided while the data is stale are refused with a reason naming the staleness, and pass again once
the feed resumes (which a feed announces only after its gap is backfilled)."""

from __future__ import annotations

import asyncio

from tapeflow.live import LiveNode, replay
from tapeflow.model import Event, OrderAccepted, OrderType, RiskRejected, Side, SubmitOrder
from tapeflow.model.venue_events import FeedResumed, FeedStale
from tapeflow.risk.venue_rules import VenueConnectivity
from tests.backtest.scenario import MS, SYM, T0, Scripted, px, snapshot
from tests.node.venues import FakeVenue


def _status(kind: type[FeedStale] | type[FeedResumed], ts: int, **fields: str) -> Event:
    return kind(ts_event=ts, ts_init=ts, venue="alpaca", **fields)


def _run(tape: list[Event], buys: list[int]) -> tuple[Scripted, LiveNode]:
    venue = FakeVenue()
    ids: list[str] = []

    def buy(s: Scripted) -> None:
        ids.append(s.buy(SYM, 100, px("99.99")))

    strategy = Scripted({T0 + 1 * MS: lambda s: venue.connect(), **dict.fromkeys(buys, buy)})
    node = LiveNode([strategy], venues=[venue], run_id="")
    asyncio.run(node.run(replay(tape), until=T0 + 20 * MS))
    return strategy, node


def test_orders_while_the_whole_feed_is_stale_are_refused_naming_it_and_pass_after_it_resumes() -> None:
    tape = [
        snapshot(T0, [("100.00", 500)], [("100.02", 300)]),
        _status(FeedStale, T0 + 3 * MS, reason="no market data for 5.0 s"),
        _status(FeedResumed, T0 + 6 * MS),
        snapshot(T0 + 10 * MS, [("100.00", 500)], [("100.02", 300)]),
    ]
    strategy, node = _run(tape, [T0 + 2 * MS, T0 + 4 * MS, T0 + 7 * MS])
    assert isinstance(node.node.connectivity, VenueConnectivity)
    accepted = [r.client_order_id for r in strategy.reports if isinstance(r, OrderAccepted)]
    refused = [r for r in strategy.reports if isinstance(r, RiskRejected)]
    assert len(accepted) == 2 and len(refused) == 1
    assert refused[0].rule == "venue_connected"
    assert refused[0].reason == (
        "market data from feed alpaca is stale (no market data for 5.0 s): no new orders until it resumes"
    )
    assert node.node.connectivity.stale == {}


def test_a_stale_symbol_refuses_only_its_own_orders_until_the_feed_resumes() -> None:
    rule = VenueConnectivity(["NET"], default_venue="NET")
    rule.down.clear()
    rule.on_stale(FeedStale(ts_event=0, ts_init=0, venue="alpaca", reason="halted feed", symbol="AAPL"))
    aapl = _order("AAPL")
    violation = rule.check(aapl)
    assert violation is not None and violation.reason.startswith("AAPL data from feed alpaca is stale (halted feed)")
    assert rule.check(_order("MSFT")) is None
    rule.on_resumed(FeedResumed(ts_event=1, ts_init=1, venue="other"))  # another feed's resume changes nothing here
    assert rule.check(aapl) is not None
    rule.on_resumed(FeedResumed(ts_event=2, ts_init=2, venue="alpaca"))  # the whole feed is back
    assert rule.check(aapl) is None


def _order(symbol: str) -> SubmitOrder:
    return SubmitOrder(
        ts_event=0,
        ts_init=0,
        strategy_id="s",
        client_order_id="s-1",
        symbol=symbol,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=100,
        price=1_000_000,
    )
