"""The backtest driver around the trading node: history in, a summary out.

The node (``tapeflow.node``) is assembled in one place for both drivers, in the order that matters; see
``tapeflow.node.assembly``. What is the backtest's own is here: the keyword constructor that names a simulated
exchange's models, the merged replay of historical sources (``backtest/driver.py``, with the equity curve sampled
on the data's own clock), and the summary with what the readers saw. A live node (``tapeflow.live.node``) wires
the same node with a network venue in place of the simulated exchange.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import msgspec

from tapeflow.backtest.driver import run_backtest
from tapeflow.book.signals import SignalConfig
from tapeflow.compliance.audit import AuditTrail
from tapeflow.compliance.stp import StpMode
from tapeflow.data.quality import QualityReporter
from tapeflow.engine.inbox import InboxLike, ScheduledInbox
from tapeflow.engine.kernel import Component
from tapeflow.model.events import Event
from tapeflow.node.assembly import TradingNode, build_node
from tapeflow.node.config import NO_LATENCY, NodeConfig
from tapeflow.portfolio import PortfolioConfig
from tapeflow.report.results import Summary
from tapeflow.risk.config import RiskConfig
from tapeflow.risk.engine import RiskRule
from tapeflow.strategy.base import Strategy
from tapeflow.venues.sim.exchange import SimExchangeConfig, SimulatedExchange
from tapeflow.venues.sim.fees import FeeModel
from tapeflow.venues.sim.latency import LatencyModel

__all__ = ["NO_LATENCY", "Backtest"]


class Backtest:
    """One run: build it, ``run`` it over sources, read ``summary()`` and the components.

    ``extra`` components are added after the strategies (they observe what the strategies did);
    ``before_strategies`` before them (they produce what the strategies read: the ML parts)."""

    def __init__(
        self,
        strategies: Sequence[Strategy],
        *,
        level: Literal["L1", "L2", "L3"] = "L2",
        latency: LatencyModel = NO_LATENCY,
        fees: FeeModel | None = None,
        exchange: SimExchangeConfig | None = None,
        portfolio: PortfolioConfig | None = None,
        risk_rules: Sequence[RiskRule] = (),
        risk: RiskConfig | None = None,
        signals: SignalConfig | None = None,
        extra: Sequence[Component] = (),
        stp: StpMode | None = None,
        audit: AuditTrail | None = None,
        returns_period: str = "daily",
        before_strategies: Sequence[Component] = (),
    ) -> None:
        config = NodeConfig(
            level=level,
            latency=latency,
            fees=fees,
            exchange=exchange,
            portfolio=portfolio,
            risk=risk,
            signals=signals,
            stp=stp,
            returns_period=returns_period,
        )
        self.node: TradingNode = build_node(
            config, strategies, risk_rules=risk_rules, extra=extra, audit=audit, before_strategies=before_strategies
        )
        node = self.node
        assert node.exchange is not None  # the default venue: one simulated exchange
        self.exchange: SimulatedExchange = node.exchange
        self.kernel = node.kernel
        self.latency = node.latency
        self.books = node.books
        self.execution = node.execution
        self.stp = node.stp
        self.portfolio = node.portfolio
        self.risk = node.risk
        self.results = node.results
        self.strategies = node.strategies
        self.readers: list[QualityReporter] = []
        """The sources of the last ``run`` that report what they read (``quality()``), for the summary."""
        self.inbox: InboxLike = ScheduledInbox(self.kernel)
        """Where events from outside the feed enter (a model retrained in a pool, an operator's command): in a
        backtest at the time their model gives them, so the run stays deterministic; ``LiveNode.inbox`` is the
        live counterpart, and a component posting to either cannot tell them apart."""

    def run(
        self,
        sources: Sequence[Iterable[Event]],
        *,
        until: int | None = None,
        readers: Sequence[QualityReporter] | None = None,
    ) -> Backtest:
        """Replay ``sources``; ``readers`` (default: the sources that report quality) go into the summary."""
        if readers is None:
            readers = [s for s in sources if isinstance(s, QualityReporter)]
        self.readers = list(readers)
        if self.latency.feed_delay():
            sources = [self.node.delayed(s) for s in sources]
        on_batch = self.portfolio.on_batch if self.portfolio.samples_on_data else None
        run_backtest(self.kernel, sources, until=until, on_batch=on_batch)
        return self

    def summary(self) -> Summary:
        """The results with what the readers saw and what went wrong with the books."""
        data = [msgspec.structs.replace(r.quality()) for r in self.readers]  # copies: readers keep counting
        return self.results.summary(data=data, books=self.books.totals())

    def stats(self) -> dict[str, Any]:
        """Counters that are not in the results summary (for --json output and tests)."""
        return self.node.stats()
