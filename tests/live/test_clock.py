from __future__ import annotations

import asyncio

from tapeflow.engine import LiveClock, SimClock
from tapeflow.live.clock import FakeClock, RealTimeClock, as_wall_clock

MS = 1_000_000


def test_fake_clock_stands_still_while_anything_runs_then_jumps_to_each_sleeper_in_time_order() -> None:
    clock = FakeClock(1_000)
    woke: list[tuple[str, int]] = []

    async def sleeper(name: str, at: int) -> None:
        await clock.sleep_until(at)
        woke.append((name, clock.now()))

    async def busy() -> None:
        for _ in range(200):  # longer than the clock's idle cycles, but never idle: time must not move
            await asyncio.sleep(0)
        woke.append(("busy", clock.now()))

    async def main() -> None:
        await asyncio.gather(sleeper("late", 1_000 + 30 * MS), sleeper("early", 1_000 + 10 * MS), busy())

    asyncio.run(main())
    assert woke == [("busy", 1_000), ("early", 1_000 + 10 * MS), ("late", 1_000 + 30 * MS)]
    assert clock.jumps == 2


def test_fake_clock_wait_returns_when_a_future_completes_first_without_moving_time() -> None:
    clock = FakeClock(0)

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[None] = loop.create_future()
        loop.call_soon(answer.set_result, None)
        await clock.wait({answer}, until=3_600_000 * MS)
        return answer.done()

    assert asyncio.run(main())
    assert clock.now() == 0 and clock.jumps == 0


def test_fake_clock_wait_and_sleep_for_a_time_already_passed_return_without_a_jump() -> None:
    clock = FakeClock(50)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await clock.wait({loop.create_future()}, until=40)
        await clock.sleep_until(50)

    asyncio.run(main())
    assert clock.now() == 50 and clock.jumps == 0


def test_a_clock_that_only_tells_time_is_waited_on_in_real_time() -> None:
    fake = FakeClock()
    assert as_wall_clock(fake) is fake
    assert isinstance(as_wall_clock(None), RealTimeClock)
    told = as_wall_clock(SimClock(7))
    assert isinstance(told, RealTimeClock) and told.now() == 7

    async def main() -> None:
        clock = RealTimeClock(LiveClock())
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        done.set_result(None)
        await asyncio.wait_for(clock.wait({done}, until=clock.now() + 3_600_000 * MS), timeout=5)
        await clock.sleep_until(clock.now() - 1)

    asyncio.run(main())
