"""The live driver around the trading node: the same assembly as a backtest, fed by an async source.

``LiveNode`` builds the node with ``tapeflow.node.build_node`` (network venues, or the simulated exchange for a
paper or replay run) and runs it with ``run_live``. Two things differ from a backtest, on purpose:

- client order ids carry a run id (``tapeflow.execution.order_ids``): a node restarted in the same session, with
  the venue's open orders restored (``restore``), never sends an id the venue has seen. ``run_id=""`` gives the
  backtest's ids, which is what a replay compared with a backtest wants;
- in replay mode the equity curve is sampled on the data's clock as in a backtest (each event is shown to the
  portfolio just before the kernel sees it). A real-time run restamps events on arrival, so configure
  ``PortfolioConfig(sample_clock="timer")`` there: samples then follow the wall clock through quiet periods too.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

import msgspec

from tapeflow.compliance.audit import AuditTrail
from tapeflow.engine.clock import Clock, LiveClock
from tapeflow.engine.inbox import Inbox
from tapeflow.engine.kernel import Component
from tapeflow.execution.order_ids import ClientOrderIds, new_run_id
from tapeflow.live.driver import Stamp, run_live
from tapeflow.live.stoppable import StoppableFeed
from tapeflow.model.events import Event
from tapeflow.model.venue_state import VenueState
from tapeflow.node.assembly import TradingNode, VenueSpec, build_node
from tapeflow.node.config import NodeConfig
from tapeflow.report.results import Summary
from tapeflow.risk.engine import RiskRule
from tapeflow.strategy.base import Strategy


class LiveNode:
    """One live (or replayed) run of a trading node. ``wall`` is the wall clock (tests inject one)."""

    def __init__(
        self,
        strategies: Sequence[Strategy],
        *,
        config: NodeConfig | None = None,
        venues: Sequence[VenueSpec] | None = None,
        run_id: str | None = None,
        wall: Clock | None = None,
        risk_rules: Sequence[RiskRule] = (),
        extra: Sequence[Component] = (),
        audit: AuditTrail | None = None,
        inbox: Inbox | None = None,
        before_strategies: Sequence[Component] = (),
    ) -> None:
        """``run_id`` None: one made from the wall clock's now and a random suffix; "": the backtest's ids.

        ``inbox``: give one when a venue adapter built before the node must post to it (its reports, its
        connection events); None makes a new one. ``before_strategies``: components dispatched ahead of the
        strategies (the ML parts), ``extra`` after them."""
        self.wall: Clock = wall if wall is not None else LiveClock()
        self.run_id = new_run_id(self.wall.now()) if run_id is None else run_id
        self.node: TradingNode = build_node(
            config if config is not None else NodeConfig(),
            strategies,
            venues=venues,
            risk_rules=risk_rules,
            extra=extra,
            audit=audit,
            order_ids=ClientOrderIds(self.run_id),
            before_strategies=before_strategies,
        )
        self.kernel = self.node.kernel
        self.inbox = inbox if inbox is not None else Inbox()
        """Where events from outside the feed enter (a broker's reports, a process pool's results, an operator's
        commands), from any thread or the event loop; the driver dispatches them in arrival order (``run_live``)."""
        self._feed: StoppableFeed[Event] | None = None

    def restore(self, state: VenueState) -> None:
        """Continue from the venue's open orders, positions and cash (before ``run``)."""
        self.node.restore(state)

    async def run(
        self,
        source: AsyncIterable[Event],
        *,
        realtime: bool = False,
        until: int | None = None,
        stamp: Stamp = "dispatch",
    ) -> LiveNode:
        """Drive the node from ``source`` until it ends or ``stop_feed`` ends it (see ``run_live`` for the two
        modes), then stop it.

        ``stamp="source"`` (real time): keep the arrival stamps a market data adapter put on its events."""
        feed = self._feed = StoppableFeed(source)
        source = feed if realtime else self._replayed(feed)
        await run_live(
            self.kernel, source, realtime=realtime, wall=self.wall, until=until, inbox=self.inbox, stamp=stamp
        )
        return self

    def stop_feed(self) -> bool:
        """End the running feed (on the loop's thread): the run then finishes as if the source had ended (the inbox
        delivered, the kernel finished, every component stopped). False when no run has started."""
        if self._feed is None:
            return False
        self._feed.stop()
        return True

    async def _replayed(self, source: AsyncIterable[Event]) -> AsyncIterator[Event]:
        """A recorded feed as the node sees it: the feed delay added, each event shown to the portfolio's
        data-clock sampling just before dispatch (the first only after it, when the kernel has started: it opens
        the first interval, which only records its time)."""
        delay = self.node.latency.feed_delay()
        portfolio = self.node.portfolio
        on_batch = portfolio.on_batch if portfolio.samples_on_data else None
        replace = msgspec.structs.replace
        first: Event | None = None
        async for raw in source:
            event = replace(raw, ts_init=raw.ts_event + delay) if delay else raw
            if on_batch is not None:
                if first is None:
                    first = event
                    yield event
                    on_batch([first])
                    continue
                on_batch([event])
            yield event

    def summary(self) -> Summary:
        """The results with what went wrong with the books (a live feed reports no reader quality)."""
        return self.node.results.summary(data=[], books=self.node.books.totals())

    def stats(self) -> dict[str, Any]:
        """Counters that are not in the results summary, as ``Backtest.stats``."""
        return self.node.stats()
