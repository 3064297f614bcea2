"""The paper venue's tape time as the node's clock: it never goes back, it moves only with data, events are
restamped onto it, and tick-to-trade is still measured from the data's wall arrival."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.live.tick_to_trade import LatencyMeter
from tapeflow.live.venue_clock import _REMEMBERED, Arrivals, TickToTradeBridge, VenueClock, on_venue_time
from tapeflow.model.enums import OrderType, Side
from tapeflow.model.events import Event
from tapeflow.model.market import Quote, Trade
from tapeflow.model.orders import CancelOrder, SubmitOrder
from tapeflow.model.venue_events import FeedResumed, FeedStale

S = 1_000_000_000
DAY = 1_340_285_400 * S  # 2012-06-21 09:30 New York: the tape's time, a decade away from any wall clock
WALL = 1_796_000_000 * S  # a wall time of the run, far from the tape's


def _quote(ts_event: int, arrived: int, bid: int = 5_800_000) -> Quote:
    return Quote(
        ts_event=ts_event,
        ts_init=arrived,
        symbol="AAPL",
        bid_price=bid,
        bid_size=100,
        ask_price=bid + 100,
        ask_size=200,
    )


def _trade(ts_event: int, arrived: int) -> Trade:
    return Trade(ts_event=ts_event, ts_init=arrived, symbol="AAPL", price=5_800_000, size=100)


def _submit(ts_init: int, cid: str = "c1") -> SubmitOrder:
    return SubmitOrder(
        ts_event=ts_init,
        ts_init=ts_init,
        strategy_id="s",
        client_order_id=cid,
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=100,
        price=5_800_000,
        venue="alpaca",
    )


async def _feed(events: Iterable[Event]) -> AsyncIterator[Event]:
    for event in events:
        yield event


async def _restamped(events: Iterable[Event], clock: VenueClock, arrivals: Arrivals | None = None) -> list[Event]:
    return [e async for e in on_venue_time(_feed(events), clock, arrivals)]


# -- the clock ------------------------------------------------------------------------------------------------------


@given(st.integers(0, 2**62), st.lists(st.integers(0, 2**62), max_size=50))
def test_venue_clock_never_goes_back_whatever_stamps_it_is_given(start: int, stamps: list[int]) -> None:
    clock = VenueClock(start)
    seen = [start]
    for ts in stamps:
        answered = clock.advance(ts)
        assert answered == clock.now() == max(seen[-1], ts)
        seen.append(answered)
    assert seen == sorted(seen)


def test_venue_clock_wait_for_a_future_time_returns_when_a_future_completes_and_time_stays() -> None:
    clock = VenueClock(DAY)

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        data: asyncio.Future[None] = loop.create_future()
        loop.call_later(0.02, data.set_result, None)
        await asyncio.wait_for(clock.wait({data}, until=DAY + 1), timeout=5)
        return data.done()

    assert asyncio.run(main())
    assert clock.now() == DAY


def test_venue_clock_wait_does_not_return_because_wall_time_passed() -> None:
    """On the tape's clock time passes only with data: a timer due 1 ns later must not fire on a quiet socket."""
    clock = VenueClock(DAY)

    async def main() -> None:
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(clock.wait({never}, until=DAY + 1), timeout=0.2)

    with pytest.raises(TimeoutError):
        asyncio.run(main())
    assert clock.now() == DAY


@pytest.mark.parametrize("until", [DAY - S, DAY])
def test_venue_clock_wait_returns_at_once_when_until_has_passed_even_with_no_future_done(until: int) -> None:
    clock = VenueClock(DAY)

    async def main() -> None:
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(clock.wait({never}, until=until), timeout=1)

    asyncio.run(main())  # a TimeoutError here is the defect


def test_venue_clock_sleep_until_returns_once_the_data_gets_there_not_before() -> None:
    clock = VenueClock(DAY)
    woke: list[int] = []

    async def sleeper() -> None:
        await clock.sleep_until(DAY + 5 * S)
        woke.append(clock.now())

    async def data() -> None:
        for ts in (DAY + S, DAY + 3 * S, DAY + 7 * S):
            await asyncio.sleep(0.01)
            assert not woke, "woke before the data reached its time"
            clock.advance(ts)

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(sleeper(), data()), timeout=5)

    asyncio.run(main())
    assert woke == [DAY + 7 * S]


# -- restamping -----------------------------------------------------------------------------------------------------


def test_market_events_are_restamped_to_their_venue_time_and_move_the_clock() -> None:
    clock = VenueClock(DAY)
    events = [_quote(DAY + S, WALL + 10), _trade(DAY + 2 * S, WALL + 20)]
    out = asyncio.run(_restamped(events, clock))
    assert [(e.ts_event, e.ts_init) for e in out] == [(DAY + S, DAY + S), (DAY + 2 * S, DAY + 2 * S)]
    assert clock.now() == DAY + 2 * S
    assert [type(e) for e in out] == [Quote, Trade]
    assert isinstance(out[0], Quote) and out[0].bid_price == 5_800_000  # nothing else changed


def test_a_late_or_backfilled_market_event_is_seen_now_never_in_the_past() -> None:
    clock = VenueClock(DAY)
    events = [_quote(DAY + 5 * S, WALL + 10), _trade(DAY + 2 * S, WALL + 20)]
    out = asyncio.run(_restamped(events, clock))
    late = out[1]
    assert late.ts_event == DAY + 2 * S  # when it happened on the tape, kept
    assert late.ts_init == DAY + 5 * S  # when the node sees it: now, not before what it already saw
    assert clock.now() == DAY + 5 * S


def test_status_events_are_stamped_with_the_venue_time_they_happened_at_not_the_wall() -> None:
    clock = VenueClock(DAY)
    events: list[Event] = [
        _quote(DAY + S, WALL + 10),
        FeedStale(ts_event=WALL + 5 * S, ts_init=WALL + 5 * S, venue="paper", reason="silent"),
        _quote(DAY + 3 * S, WALL + 6 * S),
        FeedResumed(ts_event=WALL + 6 * S, ts_init=WALL + 6 * S, venue="paper"),
    ]
    out = asyncio.run(_restamped(events, clock))
    stale, resumed = out[1], out[3]
    assert isinstance(stale, FeedStale) and (stale.ts_event, stale.ts_init) == (DAY + S, DAY + S)
    assert stale.reason == "silent"
    assert isinstance(resumed, FeedResumed) and (resumed.ts_event, resumed.ts_init) == (DAY + 3 * S, DAY + 3 * S)
    assert clock.now() == DAY + 3 * S  # a status event never moves the clock


def test_wall_arrivals_are_noted_under_the_stamp_the_node_sees_first_arrival_kept() -> None:
    clock = VenueClock(DAY)
    arrivals = Arrivals()
    events: list[Event] = [
        _quote(DAY + S, WALL + 10),
        _trade(DAY + S, WALL + 20),  # same venue stamp: the first arrival is what an order reacts to
        _quote(DAY + 4 * S, WALL + 30),
        _trade(DAY + 2 * S, WALL + 40),  # late: seen at DAY + 4 s, which already has its arrival
        FeedStale(ts_event=WALL + 50, ts_init=WALL + 50, venue="paper"),
    ]
    asyncio.run(_restamped(events, clock, arrivals))
    assert arrivals.get(DAY + S) == WALL + 10
    assert arrivals.get(DAY + 4 * S) == WALL + 30
    assert arrivals.get(DAY + 2 * S) is None  # the late trade's own stamp is never a node time
    assert arrivals.get(WALL + 50) is None  # status events are no data to react to


def test_arrivals_are_bounded_the_oldest_forgotten_first() -> None:
    arrivals = Arrivals()
    for i in range(_REMEMBERED + 10):
        arrivals.note(DAY + i, WALL + i)
    assert arrivals.get(DAY + 9) is None
    assert arrivals.get(DAY + 10) == WALL + 10
    assert arrivals.get(DAY + _REMEMBERED + 9) == WALL + _REMEMBERED + 9


# -- tick-to-trade --------------------------------------------------------------------------------------------------


def test_bridge_records_written_minus_arrival_for_an_order_triggered_by_a_remembered_stamp() -> None:
    arrivals = Arrivals()
    arrivals.note(DAY + S, WALL + 1_000)
    recorded: list[tuple[int, int]] = []
    bridge = TickToTradeBridge(arrivals, lambda latency, at: recorded.append((latency, at)))
    bridge.on_written(_submit(DAY + S), WALL + 26_000)
    assert recorded == [(25_000, WALL + 26_000)]
    assert bridge.unmatched == 0


def test_bridge_counts_an_order_with_no_remembered_trigger_as_unmatched_and_records_nothing() -> None:
    arrivals = Arrivals()
    arrivals.note(DAY + S, WALL)
    recorded: list[tuple[int, int]] = []
    bridge = TickToTradeBridge(arrivals, lambda latency, at: recorded.append((latency, at)))
    bridge.on_written(_submit(DAY + 2 * S), WALL + 5)  # a timer's order: no data at that stamp
    bridge.on_written(
        CancelOrder(ts_event=DAY + 3 * S, ts_init=DAY + 3 * S, strategy_id="s", client_order_id="c1", symbol="AAPL"),
        WALL + 9,
    )
    assert recorded == []
    assert bridge.unmatched == 2


def test_bridge_feeds_a_latency_meter_its_samples_and_their_write_times() -> None:
    arrivals = Arrivals()
    meter = LatencyMeter()
    bridge = TickToTradeBridge(arrivals, meter.record)
    for i in range(3):
        arrivals.note(DAY + i * S, WALL + i * S)
        bridge.on_written(_submit(DAY + i * S, f"c{i}"), WALL + i * S + 40_000)
    stats = meter.stats()
    assert (stats.count, stats.min, stats.max) == (3, 40_000, 40_000)
    assert stats.rate_per_s == pytest.approx(1.0)  # three writes a second apart: the rate needs the write times


class _Framed:
    """A source holding a decoded frame: the first event is awaited, the rest handed over by ``next_ready``."""

    def __init__(self, frame: list[Event]) -> None:
        self.frame = list(frame)

    def __aiter__(self) -> _Framed:
        return self

    async def __anext__(self) -> Event:
        if not self.frame:
            raise StopAsyncIteration
        return self.frame.pop(0)

    def next_ready(self) -> Event | None:
        return self.frame.pop(0) if self.frame else None


def test_the_rest_of_a_frame_is_handed_over_without_a_wait_and_restamped_like_the_first() -> None:
    clock, arrivals = VenueClock(), Arrivals()
    feed = on_venue_time(_Framed([_quote(DAY, WALL), _trade(DAY + 5, WALL + 1), _quote(DAY + 9, WALL + 2)]), clock,
                         arrivals)  # fmt: skip

    async def first() -> Event:
        return await feed.__anext__()

    assert asyncio.run(first()).ts_init == DAY
    second, third = feed.next_ready(), feed.next_ready()
    assert second is not None and third is not None
    assert (second.ts_init, third.ts_init) == (DAY + 5, DAY + 9) and clock.now() == DAY + 9
    assert arrivals.get(DAY + 9) == WALL + 2
    assert feed.next_ready() is None


def test_a_source_without_next_ready_never_hands_anything_over_without_a_wait() -> None:
    assert on_venue_time(_feed([_quote(DAY, WALL)]), VenueClock()).next_ready() is None
