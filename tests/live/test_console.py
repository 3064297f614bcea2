"""The live console: a real-time node on the real AAPL tape (fake wall clock), drawn at most 4 times a second, as
JSON lines that parse back to the snapshots and match the node, and as a rich view that shows the node's numbers.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rich.console import Console

from tapeflow.data.lobster_events import iter_events
from tapeflow.engine import Kernel
from tapeflow.live import LiveNode
from tapeflow.live.clock import FakeClock
from tapeflow.live.console import MIN_INTERVAL_NS, LiveConsole, duration, render
from tapeflow.live.snapshot import Monitors, NodeSnapshot
from tapeflow.live.tick_to_trade import LatencyMeter
from tapeflow.model import ConfigError, Event
from tapeflow.model.orders import SubmitOrder
from tapeflow.model.venue_events import FeedStale, VenueConnected
from tapeflow.node import NodeConfig
from tapeflow.portfolio import PortfolioConfig
from tapeflow.strategy.examples.imbalance_quoter import ImbalanceQuoter

EVENTS = 4_000
SPEEDUP = 10
"""The tape (about 200 s) replayed ten times faster on the fake wall clock: about 20 s, 80 frames."""
T0 = 1_767_364_200_000_000_000
"""2026-01-02 14:30 UTC: where the fake wall clock starts."""
MS = 1_000_000
SCALE = Decimal(10_000)


@pytest.fixture(scope="module")
def tape(data_dir: Path) -> list[Event]:
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    return list(itertools.islice(iter_events(path), EVENTS))


def _adapter(tape: list[Event], clock: FakeClock) -> AsyncIterator[Event]:
    """What a market data adapter does: waits for each message (the tape's gaps, sped up) and stamps it with the
    wall time it was read; a connection event first, as a venue adapter posts one."""

    async def feed() -> AsyncIterator[Event]:
        yield VenueConnected(ts_event=clock.now(), ts_init=clock.now(), venue="paper")
        first = tape[0].ts_init
        for event in tape:
            due = T0 + (event.ts_init - first) // SPEEDUP
            if due > clock.now():
                await clock.sleep_until(due)
            yield msgspec.structs.replace(event, ts_init=clock.now())
        yield FeedStale(ts_event=clock.now(), ts_init=clock.now(), venue="paper", reason="test over")

    return feed()


class _Written:
    """Stands in for the order sender: a submit's bytes "written" when risk has passed it (fake time)."""

    def __init__(self, meter: LatencyMeter, clock: FakeClock) -> None:
        self.meter, self.clock = meter, clock

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(SubmitOrder, lambda c: self.meter.on_written(c, self.clock.now()))

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None


class _Run:
    """A real-time node with the console's parts; ``take`` records each snapshot with the node's own figures."""

    def __init__(self, tape: list[Event]) -> None:
        self.clock = FakeClock(T0)
        monitors = Monitors()
        self.meter = monitors.tick_to_trade
        config = NodeConfig(level="L3", portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000))
        extra = [*monitors.components, _Written(self.meter, self.clock)]
        self.live = LiveNode([ImbalanceQuoter()], config=config, run_id="run1", wall=self.clock, extra=extra)
        self.builder = monitors.builder(self.live.node, clock=self.clock)
        self.tape = tape
        self.taken: list[tuple[NodeSnapshot, dict[str, Any]]] = []

    def take(self) -> NodeSnapshot:
        snapshot = self.builder.take()
        p, execution = self.live.node.portfolio, self.live.node.execution
        truth = {
            "cash": Decimal(p.cash) / SCALE,
            "equity": Decimal(p.equity()) / SCALE,
            "positions": [(v.symbol, v.quantity, Decimal(v.market_value) / SCALE) for v in p.positions()],
            "orders": [(o.client_order_id, o.quantity, o.filled_quantity) for o in execution.open_orders()],
        }
        self.taken.append((snapshot, truth))
        return snapshot

    def run(self, console: LiveConsole) -> None:
        asyncio.run(console.run_with(self.live.run(_adapter(self.tape, self.clock), realtime=True, stamp="source")))


def _matches(snapshot: NodeSnapshot, truth: dict[str, Any]) -> bool:
    return truth == {
        "cash": Decimal(snapshot.pnl.cash),
        "equity": Decimal(snapshot.pnl.equity),
        "positions": [(r.symbol, r.quantity, Decimal(r.market_value)) for r in snapshot.positions],
        "orders": [(o.client_order_id, o.quantity, o.filled) for o in snapshot.open_orders],
    }


def test_json_lines_are_the_snapshots_at_most_four_a_second_and_match_the_node(tape: list[Event]) -> None:
    run = _Run(tape)
    out = io.StringIO()
    console = LiveConsole(run.take, wall=run.clock, json=True, out=out)
    run.run(console)

    lines = out.getvalue().splitlines()
    decoded = [msgspec.json.decode(line, type=NodeSnapshot) for line in lines]
    assert console.errors == 0
    assert decoded == [s for s, _ in run.taken]  # every line is a snapshot, in order, whole
    assert all(_matches(s, truth) for s, truth in run.taken)
    # at most 4 a second, on the wall clock: never two frames closer than 250 ms, and about one every 250 ms
    stamps = [s.ts for s in decoded]
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= MIN_INTERVAL_NS
    span = (tape[-1].ts_init - tape[0].ts_init) // SPEEDUP
    assert span // MIN_INTERVAL_NS <= len(lines) <= span // MIN_INTERVAL_NS + 2
    # the run is visible in them: trading, resting orders, the feed's state and the latency meters
    assert any(s.positions and s.positions[0].quantity for s in decoded)
    assert any(s.open_orders for s in decoded)
    last = decoded[-1]
    assert last.feed_events == len(tape) + 2 and last.pnl.fills > 0
    assert last.feed is not None and last.feed.connected == ["paper"] and last.feed.stale == ["paper"]
    assert last.tick_to_trade is not None and last.tick_to_trade == run.meter.stats()
    assert last.ack is not None and last.ack.count > 0
    mid = decoded[len(decoded) // 2]
    assert mid.feed is not None and mid.feed.stale == [] and mid.events_per_s > 0
    assert mid.feed.last_market_age_ns is not None and 0 <= mid.feed.last_market_age_ns < 60_000 * MS


def test_the_rich_live_view_is_drawn_at_most_four_times_a_second_and_shows_the_nodes_numbers(
    tape: list[Event],
) -> None:
    run = _Run(tape[:1_500])
    screen = Console(record=True, force_terminal=True, width=200, file=io.StringIO(), color_system=None)
    console = LiveConsole(run.take, wall=run.clock, out=screen, redirect=False)
    run.run(console)

    assert console.errors == 0 and console.frames == len(run.taken) >= 3
    stamps = [s.ts for s, _ in run.taken]
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= MIN_INTERVAL_NS
    chunks = screen.export_text().split("tapeflow live ")[1:]
    assert len(chunks) == console.frames + 1  # one drawing per frame, in order; rich's stop draws the last again
    assert chunks[-1].strip() == chunks[-2].strip()
    chunks = chunks[:-1]
    shown = 0
    for (snapshot, truth), frame in zip(run.taken, chunks, strict=True):
        assert _matches(snapshot, truth)
        assert f"events {snapshot.feed_events} (" in frame
        for row in snapshot.positions:
            assert row.symbol in frame and row.market_value in frame and row.avg_price in frame
        assert snapshot.pnl.cash in frame and snapshot.pnl.equity in frame and snapshot.pnl.total in frame
        for order in snapshot.open_orders:
            assert order.client_order_id in frame and f"{order.quantity}" in frame
        assert snapshot.feed is not None and f"connected {', '.join(snapshot.feed.connected) or '-'} " in frame
        assert "kill switch off" in frame
        t2t = snapshot.tick_to_trade
        assert t2t is not None and (not t2t.count or f"tick-to-trade p50 {duration(t2t.p50)}" in frame)
        shown += bool(snapshot.positions and snapshot.open_orders and t2t.count)
    assert shown >= 2  # frames with a position, resting orders and measured latency were drawn
    assert "stale paper" in chunks[-1]


def _snapshot(tape: list[Event]) -> NodeSnapshot:
    """A snapshot of the run with resting orders and a position."""
    run = _Run(tape[:1_500])
    run.run(LiveConsole(run.take, wall=run.clock, json=True, out=io.StringIO()))
    return next(s for s, _ in reversed(run.taken) if s.open_orders and s.positions)


def test_render_shows_a_kill_switch_its_chase_venues_down_and_orders_past_the_row_limit(tape: list[Event]) -> None:
    base = _snapshot(tape)
    orders = [msgspec.structs.replace(base.open_orders[0], client_order_id=f"id-{i}") for i in range(30)]
    risk = msgspec.structs.replace(
        base.risk,
        kill_switch=True,
        kill_reason="operator",
        kill_source="control",
        kill_cancels_resent=6,
        kill_cancel_alarms=1,
        kill_cancels_unanswered=2,
        kill_persist_failures=3,
        venues_down={"paper": "closed"},
    )
    s = msgspec.structs.replace(base, risk=risk, open_orders=orders, open_order_count=35)
    screen = Console(record=True, width=200, file=io.StringIO())
    screen.print(render(s, max_rows=20))
    text = screen.export_text()
    chase = "kill cancels resent 6, 1 refused to the alarm, 2 unanswered"
    assert f"KILL SWITCH ENGAGED (control: operator)  {chase}" in text
    assert "kill switch state not written 3x" in text
    assert "venues down: paper (closed)" in text
    assert "id-19" in text and "id-20" not in text and "... 15 more" in text


def test_a_failing_frame_is_counted_and_the_run_goes_on(tape: list[Event]) -> None:
    run = _Run(tape[:800])
    calls = itertools.count()

    def flaky() -> NodeSnapshot:
        if next(calls) % 2:
            raise RuntimeError("display bug")
        return run.take()

    out = io.StringIO()
    console = LiveConsole(flaky, wall=run.clock, json=True, out=out)
    run.run(console)
    assert console.errors == console.frames // 2 >= 1
    assert len(out.getvalue().splitlines()) == console.frames - console.errors
    assert run.live.node.kernel.feed_events == 802  # the whole tape went through


def test_more_than_four_frames_a_second_is_refused() -> None:
    with pytest.raises(ConfigError, match="at most 4 times a second"):
        LiveConsole(lambda: None, interval_ns=MIN_INTERVAL_NS - 1)  # type: ignore[arg-type, return-value]
    with pytest.raises(ConfigError, match="text file"):
        LiveConsole(lambda: None, json=True, out=Console())  # type: ignore[arg-type, return-value]


def test_durations_are_written_for_people() -> None:
    assert [duration(v) for v in (None, 850, 12_400, 3_100_000, 2_000_000_000)] == [
        "-", "850 ns", "12.4 us", "3.1 ms", "2.0 s",
    ]  # fmt: skip


def test_json_lines_go_to_stdout_when_no_file_is_given(tape: list[Event], capsys: pytest.CaptureFixture[str]) -> None:
    run = _Run(tape[:300])
    run.run(LiveConsole(run.take, wall=run.clock, json=True))
    lines = capsys.readouterr().out.splitlines()
    assert [msgspec.json.decode(line, type=NodeSnapshot) for line in lines] == [s for s, _ in run.taken]
    assert lines


def test_on_the_real_wall_clock_frames_are_still_at_least_250_ms_apart(tape: list[Event]) -> None:
    """The console's timer on asyncio's own clock (``RealTimeClock``): a 0.6 s run, bounded in time."""
    monitors = Monitors()
    live = LiveNode([ImbalanceQuoter()], config=NodeConfig(level="L3"), run_id="rt", extra=monitors.components)
    builder = monitors.builder(live.node, clock=live.wall)
    taken: list[NodeSnapshot] = []

    def take() -> NodeSnapshot:
        taken.append(builder.take())
        return taken[-1]

    async def feed() -> AsyncIterator[Event]:
        for event in tape[:30]:
            await asyncio.sleep(0.02)
            yield event

    async def main() -> None:
        console = LiveConsole(take, json=True, out=io.StringIO())
        await asyncio.wait_for(console.run_with(live.run(feed(), realtime=True)), timeout=10)

    started = time.monotonic_ns()
    asyncio.run(main())
    span = time.monotonic_ns() - started
    # at most one frame an interval of the run's wall time, the first and the last added: 5 for the 0.6 s the feed
    # takes on an idle machine, more when a loaded one stretches its sleeps (a fixed 5 failed there)
    assert 3 <= len(taken) <= span // MIN_INTERVAL_NS + 2, (len(taken), span)
    assert min(b.ts - a.ts for a, b in itertools.pairwise(taken)) >= MIN_INTERVAL_NS
    assert taken[-1].feed_events == 30
