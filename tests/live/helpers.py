"""A live node in real time on a replayed LOBSTER tape, with the control socket, for the control and CLI tests.

The node's wall clock is the real one shifted back to the tape's day (``ShiftedClock``): the simulated exchange
and its DAY orders then live in that session, while time flows as it really does (the socket round trips are real).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tapeflow.compliance.audit import AuditTrail
from tapeflow.data.lobster_events import iter_events
from tapeflow.live import LiveNode, replay
from tapeflow.live.clock import RealTimeClock
from tapeflow.live.control import Control, ControlServer
from tapeflow.live.control_desk import ControlDesk
from tapeflow.model import Event
from tapeflow.model.orders import RiskRejected
from tapeflow.node import NodeConfig
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.config import FlowChecks, KillSwitchConfig, OrderChecks, RiskConfig
from tapeflow.strategy.base import Strategy
from tapeflow.venues.sim.latency import FixedLatency

SYMBOL = "AAPL"
TICK = 100
LOBSTER = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
WAIT_S = 10.0
"""Every wait of these tests is bounded by this: a hung socket fails the test."""


def load_tape(data_dir: Path, events: int = 20_000) -> list[Event]:
    return list(itertools.islice(iter_events(data_dir / LOBSTER), events))


class ShiftedClock:
    """The real wall clock moved to start at ``start``: real time flows, on the tape's trading day."""

    def __init__(self, start: int) -> None:
        self.delta = start - time.time_ns()

    def now(self) -> int:
        return time.time_ns() + self.delta


class Rester(Strategy):
    """Once the book has both sides: ``resting`` buys of 100 ten cents under the best bid (they stay open), and a
    buy of ``take`` at the best ask (a position to flatten). Later, when ``probe`` is set, one more resting buy at
    the next book event: the order a kill switch must refuse."""

    def __init__(self, *, resting: int = 3, take: int = 0, warmup: int = 1_000) -> None:
        super().__init__("rester")
        self.warmup = warmup
        """Book events before the first order: a LOBSTER book is built from messages only, so it starts thin."""
        self.seen = 0
        self.resting = resting
        self.take = take
        self.placed = False
        self.probe = False
        self.probes: list[str] = []
        self.refused: list[RiskRejected] = []

    def on_book(self, event: Event) -> None:
        self.seen += 1
        if self.seen < self.warmup:
            return
        book = self.book(SYMBOL)
        if book is None or not book.best_bid or not book.best_ask:
            return
        if not self.placed:
            self.placed = True
            for i in range(self.resting):
                self.buy(SYMBOL, 100, book.best_bid - (10 + i) * TICK, reason="rest")
            if self.take:
                self.buy(SYMBOL, self.take, reason="take")  # market: walks the asks
        elif self.probe:
            self.probe = False
            self.probes.append(self.buy(SYMBOL, 100, book.best_bid - 20 * TICK, reason="probe"))

    def on_risk_rejected(self, event: RiskRejected) -> None:
        self.refused.append(event)


def node_config(state_file: Path | None) -> NodeConfig:
    latency = FixedLatency(
        insert_entry_ns=100_000,
        cancel_entry_ns=100_000,
        modify_entry_ns=100_000,
        insert_response_ns=100_000,
        cancel_response_ns=100_000,
        modify_response_ns=100_000,
    )
    risk = RiskConfig(
        order=OrderChecks(max_quantity=10_000, max_notional_usd=10_000_000, collar_bps=None, max_spread_bps=None),
        flow=FlowChecks(duplicate_window_ms=None),
        kill_switch=KillSwitchConfig(
            state_file=None if state_file is None else str(state_file), runaway_orders=None, max_rejects=None
        ),
    )
    portfolio = PortfolioConfig(starting_cash=10_000_000 * 10_000, sample_clock="timer")
    return NodeConfig(level="L3", latency=latency, risk=risk, portfolio=portfolio)


class Rig:
    """A running node with its control server; ``ask`` sends one request line and returns the reply."""

    def __init__(self, node: LiveNode, desk: ControlDesk, server: ControlServer, strategy: Rester) -> None:
        self.node = node
        self.desk = desk
        self.server = server
        self.strategy = strategy

    async def ask(self, request: dict[str, Any] | bytes, *, timeout: float = WAIT_S) -> dict[str, Any]:
        reader, writer = await self.connect()
        try:
            line = request if isinstance(request, bytes) else json.dumps(request).encode() + b"\n"
            writer.write(line)
            await writer.drain()
            reply: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), timeout))
            return reply
        finally:
            writer.close()

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.server.path is not None:
            return await asyncio.wait_for(asyncio.open_unix_connection(str(self.server.path)), WAIT_S)
        assert self.server.port is not None
        return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.server.port), WAIT_S)

    def open_orders(self) -> list[Any]:
        return list(self.node.node.execution.open_orders())


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Wait (bounded) until ``condition()`` holds, polling the loop."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


async def _feed(tape: list[Event], warmup: int, pause: float) -> AsyncIterator[Event]:
    """The warm-up as fast as the loop allows, then one event per ``pause``."""
    async for event in replay(tape[:warmup]):
        yield event
    async for event in replay(tape[warmup:], pause=pause):
        yield event


@contextlib.asynccontextmanager
async def running_node(
    tape: list[Event],
    control: Control,
    *,
    strategy: Rester | None = None,
    state_file: Path | None = None,
    audit: AuditTrail | None = None,
    pause: float = 0.0005,
) -> AsyncIterator[Rig]:
    """The node running on ``tape`` in real time (one event per ``pause``) with its control socket; on exit the
    feed is ended and the run awaited (bounded)."""
    strategy = strategy if strategy is not None else Rester()
    desk = ControlDesk()
    wall = RealTimeClock(ShiftedClock(tape[0].ts_event))
    node = LiveNode([strategy], config=node_config(state_file), extra=[desk], wall=wall, run_id="t", audit=audit)
    desk.bind(node.node)
    server = ControlServer(control, inbox=node.inbox, desk=desk, now=wall.now)
    await server.start()
    task = asyncio.create_task(node.run(_feed(tape, strategy.warmup, pause), realtime=True))
    rig = Rig(node, desk, server, strategy)
    try:
        await until(lambda: task.done() or len(rig.open_orders()) >= strategy.resting, "the resting orders")
        assert not task.done(), task.exception()
        yield rig
    finally:
        node.stop_feed()
        try:
            await asyncio.wait_for(task, WAIT_S)
        finally:
            await server.close()
