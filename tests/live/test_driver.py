"""The live driver's batch path: a source that holds a decoded frame (``ReadySource.next_ready``) has the rest of
it dispatched without a wait per event, and nothing a node sees differs from awaiting each event."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

import pytest

from tapeflow.engine import Inbox, Kernel
from tapeflow.live import run_live
from tapeflow.live.clock import FakeClock
from tapeflow.live.driver import ReadySource
from tapeflow.live.stoppable import StoppableFeed
from tapeflow.model import Event, Signal, Trade

T0 = 1_340_287_200_000_000_000
MS = 1_000_000


def _trade(n: int, read_at: int) -> Trade:
    return Trade(ts_event=T0 + n, ts_init=read_at, symbol="AAPL", price=1_000_000 + n, size=1)


class Frames:
    """A market data adapter: frames of trades read every 10 ms, each stamped with its read time; what is not yet
    handed over waits in ``ready``."""

    def __init__(self, clock: FakeClock, sizes: list[int]) -> None:
        self.clock = clock
        self.sizes = sizes
        self.ready: deque[Event] = deque()
        self.taken = 0

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._run()

    async def _run(self) -> AsyncIterator[Event]:
        n = 0
        for size in self.sizes:
            await self.clock.sleep_until(self.clock.now() + 10 * MS)
            read_at = self.clock.now()
            self.ready.extend(_trade(n + i, read_at) for i in range(size))
            n += size
            while self.ready:
                yield self.ready.popleft()

    def next_ready(self) -> Event | None:
        if not self.ready:
            return None
        self.taken += 1
        return self.ready.popleft()


class Awaited:
    """The same frames with no ``next_ready``: every event is awaited."""

    def __init__(self, frames: Frames) -> None:
        self.frames = frames

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.frames._run()


def _run(source: object, clock: FakeClock, stamp: str) -> list[tuple[str, int, int]]:
    """What the kernel dispatched: (kind, price or signal value, ts_init - T0); the 2nd trade of each frame puts a
    command into the inbox from its handler, which must come before the 3rd trade."""
    kernel = Kernel()
    inbox = Inbox()
    seen: list[tuple[str, int, int]] = []

    def on_trade(trade: Trade) -> None:
        seen.append(("trade", trade.price - 1_000_000, trade.ts_init - T0))
        if (trade.price - 1_000_000) % 4 == 1:
            inbox.put(Signal(ts_event=T0, ts_init=T0, strategy_id="x", symbol="AAPL", name="cmd", value=1.0, reason=""))

    kernel.subscribe(Trade, on_trade)
    kernel.subscribe(Signal, lambda s: seen.append(("cmd", int(s.value), s.ts_init - T0)))
    feed = StoppableFeed(source)  # type: ignore[call-overload]
    asyncio.run(run_live(kernel, feed, realtime=True, wall=clock, inbox=inbox, stamp=stamp))  # type: ignore[arg-type]
    return seen


@pytest.mark.parametrize("stamp", ["source", "dispatch"])
def test_a_ready_frame_is_dispatched_as_if_each_event_were_awaited(stamp: str) -> None:
    batched_clock, awaited_clock = FakeClock(T0), FakeClock(T0)
    batched = Frames(batched_clock, [4, 4, 4])
    assert isinstance(batched, ReadySource)
    got = _run(batched, batched_clock, stamp)
    expected = _run(Awaited(Frames(awaited_clock, [4, 4, 4])), awaited_clock, stamp)
    assert got == expected
    assert [p for kind, p, _ in got if kind == "trade"] == list(range(12)), "each event once, in order"
    assert batched.taken == 9, "all but the first event of each frame went through next_ready"
    # the command put by the 2nd trade's handler is dispatched before the 3rd trade of the same frame
    kinds = [kind for kind, _, _ in got]
    assert kinds[:5] == ["trade", "trade", "cmd", "trade", "trade"]


def test_source_stamps_of_a_ready_frame_keep_its_read_time() -> None:
    clock = FakeClock(T0)
    got = _run(Frames(clock, [3, 2]), clock, "source")
    assert [(p, t // MS) for kind, p, t in got if kind == "trade"] == [(0, 10), (1, 10), (2, 10), (3, 20), (4, 20)]


def test_a_stopped_feed_hands_over_nothing_ready() -> None:
    frames = Frames(FakeClock(T0), [3])
    frames.ready.extend([_trade(0, T0), _trade(1, T0)])
    feed = StoppableFeed(frames)
    feed.stop()
    assert feed.next_ready() is None
    assert len(frames.ready) == 2, "left in the source, as the rest of an abandoned socket's frame"


def test_a_feed_stopped_by_a_handler_mid_frame_dispatches_nothing_after_it() -> None:
    clock = FakeClock(T0)
    frames = Frames(clock, [4, 4])
    feed = StoppableFeed(frames)
    kernel = Kernel()
    prices: list[int] = []

    def on_trade(trade: Trade) -> None:
        prices.append(trade.price - 1_000_000)
        if len(prices) == 2:
            feed.stop()  # a graceful stop asked for by a component, as the control desk does

    kernel.subscribe(Trade, on_trade)
    asyncio.run(run_live(kernel, feed, realtime=True, wall=clock, stamp="source"))
    assert prices == [0, 1]
