"""A lockstep harness: ``tapeflow paper`` in stepped mode (in a thread) and a ``LiveSession`` trading on it, moved
one tape event at a time, with the node quiescent between steps.

The venue is the one ``tapeflow paper`` serves (``PaperServer``: REST, the ``trade_updates`` stream, the market data
stream and market data REST on one loop), so the session talks to exactly what a user's would. Time on the venue
moves only when the harness posts ``/tapeflow/step`` over HTTP (the hubs publish on the server's loop, as they
must). After each step the harness waits, bounded, until the node is quiescent:

- every market data message the venue published (``Counting`` around its data hub) has been dispatched by the
  node's kernel (or dropped by the feed's guard as a duplicate, counted);
- every REST request the node asked for has been answered and applied (``OrderSender.pending`` is 0);
- every trade update the venue published has been read by the node's stream and delivered from the inbox.

The sender is read first: a job that finishes has already put its reports in the inbox and the venue has already
published what that request caused, so a pending count of 0 makes the later checks complete, not racy.

A step never lets a trade update and a market data message race: before a tape event the venue has things due
(an order reaching the exchange, a fill's report), the harness steps to the time they are due and waits, so the node
hears of them before the tape event that follows them, as the backtest's strategy does. The one case it cannot
split is work due at the very nanosecond of the next tape event; it counts those (``Lockstep.ties``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tapeflow.backtest.config import DataConfig, LatencyConfig, StrategyConfig
from tapeflow.engine.kernel import Kernel
from tapeflow.live.backoff import BackoffConfig
from tapeflow.live.config import LiveConfig, LiveSection
from tapeflow.live.keys import Keys
from tapeflow.live.session import LiveSession
from tapeflow.model.events import Event
from tapeflow.model.market import Quote, Trade
from tapeflow.model.orders import (
    CancelOrder,
    ModifyOrder,
    OrderCommand,
    OrderFilled,
    OrderReport,
    RiskRejected,
    SubmitOrder,
)
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.config import PaperConfig, PaperSection
from tapeflow.paper.server import PaperServer

KEY, SECRET = "PKTEST", "SKTEST"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
WAIT_S = 10.0
"""The bound on every wait: a hung socket fails the test."""


class Counting:
    """A hub that counts what the venue publishes on it (by kind), then hands it on."""

    def __init__(self, hub: Any, kinds: tuple[type, ...] = ()) -> None:
        self.hub = hub
        self.kinds = kinds
        self.published = 0

    def publish(self, item: Any) -> None:
        if not self.kinds or isinstance(item, self.kinds):
            self.published += 1
        self.hub.publish(item)


class SteppedPaper:
    """``PaperServer`` over the first ``events`` events of ``tape`` in stepped mode, on its own thread's loop.

    ``config`` is the venue's configuration; ``config.as_backtest()`` is the backtest of the same tape (``limit``
    included), latency and fees."""

    def __init__(self, tape: Path, latency: LatencyConfig, events: int) -> None:
        self.config = PaperConfig(
            data=DataConfig(kind="lobster", paths=(str(tape),), limit=events),
            latency=latency,
            paper=PaperSection(speed="step"),
        )
        self.server = PaperServer(self.config, check=fixed_keys(KEY, SECRET))
        self.venue = self.server.venue
        gateway = self.venue.gateway
        self.data = Counting(gateway.data_hub, (Quote, Trade))
        self.updates = Counting(gateway.trade_hub)
        gateway.data_hub, gateway.trade_hub = self.data, self.updates
        self.url = self.server.urls.rest
        self.http = requests.Session()
        self.http.headers.update(HEADERS)
        self._thread = threading.Thread(target=asyncio.run, args=(self.server.serve(),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + WAIT_S
        while not self.server.server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "the paper venue did not start"
            time.sleep(0.01)

    def step(self, body: dict[str, int]) -> dict[str, Any]:
        answer = self.http.post(f"{self.url}/tapeflow/step", json=body, timeout=WAIT_S)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def next_tape_time(self) -> int | None:
        """When the venue's next tape event happens (its ``ts_init``); read only between steps."""
        nxt = self.venue._next  # the harness steps the venue: it may look at what comes next
        return None if nxt is None else nxt.ts_init

    def rest(self, path: str, **params: str) -> Any:
        answer = self.http.get(f"{self.url}{path}", params=params, timeout=WAIT_S)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def stop(self) -> None:
        self.http.close()
        self.server.server.should_exit = True
        self._thread.join(WAIT_S)


def live_config(url: str, strategy: StrategyConfig) -> LiveConfig:
    """The session's configuration: the paper venue's clock; staleness far beyond any pause between steps."""
    return LiveConfig(
        live=LiveSection(
            url=url,
            symbols=("AAPL",),
            stale_after_s=600.0,
            silent_reconnect_s=1200.0,
            cancel_on_stop=False,
            backoff=BackoffConfig(initial=0.05, cap=0.5, floor=0.01),
        ),
        strategy=strategy,
    )


class Lockstep:
    """A ``LiveSession`` on a ``SteppedPaper``, stepped event by event (``events``, ``until``) from a coroutine on
    the session's loop (``drive``)."""

    def __init__(self, paper: SteppedPaper, strategy: StrategyConfig) -> None:
        self.paper = paper
        self.session = LiveSession(
            live_config(paper.url, strategy), Keys(key_id=KEY, secret_key=SECRET, source="test"), console=False
        )
        self.dispatched = 0
        kernel = self.session.node.node.kernel
        kernel.subscribe(Quote, self._count)
        kernel.subscribe(Trade, self._count)
        self.steps = 0
        self.ties = 0
        """Tape events stepped together with venue work due at their very time: their reports and data were
        published in one step and raced to the node (a test expecting parity asserts there were none)."""

    def _count(self, event: Quote | Trade) -> None:
        self.dispatched += 1

    def quiet(self) -> bool:
        """Whether nothing is in flight between the venue and the node (see the module docstring for the order)."""
        session = self.session
        if session.venue.sender.pending:
            return False
        if len(session.inbox):
            return False
        stream = session.venue.stream
        if stream.updates + stream.malformed != self.paper.updates.published:
            return False
        duplicates = session.feed.quality().duplicates
        return self.dispatched + duplicates == self.paper.data.published

    async def settle(self, what: str, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while not self.quiet():
            assert time.monotonic() < deadline, f"the node did not settle after {what}: {self.state()}"
            await asyncio.sleep(0.0005)

    def state(self) -> dict[str, int]:
        session = self.session
        return {
            "sender_pending": session.venue.sender.pending,
            "inbox": len(session.inbox),
            "updates_read": session.venue.stream.updates,
            "updates_published": self.paper.updates.published,
            "data_dispatched": self.dispatched,
            "data_published": self.paper.data.published,
        }

    async def _step(self, body: dict[str, int], what: str) -> None:
        await asyncio.to_thread(self.paper.step, body)
        self.steps += 1
        await self.settle(what)

    async def events(self, count: int) -> None:
        """``count`` tape events, one at a time; what the venue has due before an event is stepped to first."""
        kernel = self.paper.venue.kernel
        for i in range(count):
            nxt = self.paper.next_tape_time()
            if nxt is None:
                return
            while (due := kernel.next_due()) is not None and due < nxt:
                await self._step({"until": due}, f"the venue's work due at {due}")
            if due == nxt:
                self.ties += 1
            await self._step({"events": 1}, f"tape event {i}")

    async def until(self, ts: int) -> None:
        """Venue time to ``ts``, stopping at each thing due on the way."""
        kernel = self.paper.venue.kernel
        while (due := kernel.next_due()) is not None and due < ts:
            await self._step({"until": due}, f"the venue's work due at {due}")
        await self._step({"until": ts}, f"the venue's time {ts}")

    async def start(self) -> asyncio.Future[Any]:
        """The session running, its streams up and subscribed, and its start delivered."""
        run = asyncio.ensure_future(self.session.run())
        deadline = time.monotonic() + WAIT_S
        while not (self.session.venue.connected and self.paper.server.data_hub.subscribed("quotes", "AAPL")):
            assert not run.done(), run.exception() if run.done() else ""
            assert time.monotonic() < deadline, "the session did not connect"
            await asyncio.sleep(0.01)
        await self.settle("the start")
        return run

    async def stop(self, run: asyncio.Future[Any]) -> Any:
        self.session.stop.request("lockstep done")
        return await asyncio.wait_for(run, WAIT_S)


def drive(lockstep: Lockstep, body: Callable[[Lockstep], Any]) -> Any:
    """Runs the session and ``body(lockstep)`` (a coroutine function) on one loop; returns the session's result."""

    async def main() -> Any:
        run = await lockstep.start()
        try:
            await body(lockstep)
        finally:
            result = await lockstep.stop(run)
        return result

    return asyncio.run(main())


class Trail:
    """What a node's strategy did and heard, in dispatch order: its commands, the reports of its orders, and for
    each report the exchange time (``ts_event``) of the newest market event the node had dispatched before it.

    Client order ids are replaced by their order of appearance (``#1``, ``#2``...): a live run's ids carry its run
    id, a backtest's do not."""

    def __init__(self) -> None:
        self.commands: list[Event] = []
        self.reports: list[OrderReport] = []
        self.risk: list[RiskRejected] = []
        self.seen_at_report: list[int] = []
        self.seen_at_command: list[int] = []
        self.triggers: list[str] = []
        """Per command: what the node dispatched just before it ("data" or "report"), i.e. what it reacted to."""
        self.market: list[Quote | Trade] = []
        self.last_data = 0
        self._last = "data"
        self._numbers: dict[str, int] = {}

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Quote, self._data)
        kernel.subscribe(Trade, self._data)
        kernel.subscribe(OrderCommand, self._command)
        kernel.subscribe(OrderReport, self._report)
        kernel.subscribe(RiskRejected, self.risk.append)

    def on_start(self) -> None:
        """Nothing to set up (a kernel component)."""

    def on_stop(self) -> None:
        """Nothing to flush."""

    def _data(self, event: Quote | Trade) -> None:
        self.market.append(event)
        self.last_data = max(self.last_data, event.ts_event)
        self._last = "data"

    def _command(self, event: OrderCommand) -> None:
        self.commands.append(event)
        self.seen_at_command.append(self.last_data)
        self.triggers.append(self._last)

    def _report(self, event: OrderReport) -> None:
        self.reports.append(event)
        self.seen_at_report.append(self.last_data)
        self._last = "report"

    def number(self, cid: str) -> str:
        base = cid.split(".r")[0]
        return f"#{self._numbers.setdefault(base, len(self._numbers) + 1)}"

    def orders(self) -> list[tuple[Any, ...]]:
        """Every command: kind, order number, side, type, quantity, limit price (in dispatch order)."""
        out: list[tuple[Any, ...]] = []
        for c in self.commands:
            if isinstance(c, SubmitOrder):
                out.append(("submit", self.number(c.client_order_id), c.side, c.order_type, c.quantity, c.price))
            elif isinstance(c, ModifyOrder):
                out.append(("modify", self.number(c.client_order_id), c.quantity, c.price))
            elif isinstance(c, CancelOrder):
                out.append(("cancel", self.number(c.client_order_id)))
        return out

    def fills(self) -> list[tuple[Any, ...]]:
        """Every fill: order number, side, price, quantity, liquidity side, leaves (in dispatch order)."""
        return [
            (self.number(f.client_order_id), f.side, f.price, f.quantity, f.liquidity_side, f.leaves_quantity)
            for f in self.reports
            if isinstance(f, OrderFilled)
        ]

    def outcomes(self) -> list[tuple[str, str]]:
        """Every report that is not a fill: kind and order number (in dispatch order)."""
        return [
            (type(r).__name__, self.number(r.client_order_id)) for r in self.reports if not isinstance(r, OrderFilled)
        ]
