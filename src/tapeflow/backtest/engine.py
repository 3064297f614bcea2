"""The backtest assembly: every component of a trading node, wired once, in the order that matters.

Handlers run in subscription order, so the order of ``kernel.add`` is part of the design:

1. ``BookKeeper``: books include an event before anyone reads them;
2. ``SimulatedExchange``: matches our resting orders against the same event (it reads the book *before* the
   update through ``observe_before``);
3. ``ExecutionEngine``, then ``Portfolio``: order state and positions are current before a strategy hears of a
   fill;
4. ``RiskEngine``: the only subscriber to order commands;
5. ``ResultsCollector``, then the strategies, then any extra components (audit, recorders).

A live node wires the same components with a network venue in place of the simulated exchange.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Any, Literal

import msgspec

from tapeflow.backtest.driver import run_backtest
from tapeflow.book.keeper import BookKeeper
from tapeflow.book.signals import SignalConfig
from tapeflow.compliance.audit import AuditTrail
from tapeflow.compliance.stp import StpGate, StpMode
from tapeflow.data.quality import QualityReporter
from tapeflow.engine.kernel import Component, Kernel
from tapeflow.execution.engine import ExecutionEngine, OrderRoute
from tapeflow.model.events import Event
from tapeflow.portfolio import Portfolio, PortfolioConfig
from tapeflow.report.results import ResultsCollector, Summary
from tapeflow.risk.build import build_kill_switch, build_rules, build_trips
from tapeflow.risk.config import RiskConfig
from tapeflow.risk.context import RiskContext
from tapeflow.risk.engine import RiskEngine, RiskRule
from tapeflow.strategy.base import Strategy, TradingContext
from tapeflow.venues.sim.exchange import SimExchangeConfig, SimulatedExchange
from tapeflow.venues.sim.fees import FeeModel
from tapeflow.venues.sim.latency import FixedLatency, LatencyModel

NO_LATENCY = FixedLatency()


class Backtest:
    """One run: build it, ``run`` it over sources, read ``summary()`` and the components."""

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
    ) -> None:
        self.kernel = Kernel()
        self.latency = latency
        if level == "L3" and signals is None:
            signals = SignalConfig()  # L3 feeds carry no quotes or prints: the book derives them
        self.books = BookKeeper(level, signals=signals)
        self.exchange = SimulatedExchange(self.books, latency, fees, exchange)
        # the session table (exchange_calendars, ~0.5 s with its pandas import) is read while the node is assembled,
        # once, not when the first order of the run needs a session
        self.exchange.sessions.check()
        self.execution = ExecutionEngine([self.exchange])
        self.stp = StpGate(self.execution, stp) if stp is not None else None  # self-trade check before the venue
        self.portfolio = Portfolio(portfolio, book_marks=self._book_mark_x2)
        route: OrderRoute = self.execution if self.stp is None else self.stp
        risk_ctx = RiskContext(
            books=self.books, portfolio=self.portfolio, orders=self.execution, sessions=self.exchange.sessions
        )
        if risk is None:
            self.risk = RiskEngine(route, risk_rules, context=risk_ctx)
        else:  # the configured pipeline (validated here: errors name the field), then any extra rules
            rules: list[RiskRule] = [*build_rules(risk, risk_ctx), *risk_rules]
            trips, kill_switch = build_trips(risk), build_kill_switch(risk)
            self.risk = RiskEngine(route, rules, context=risk_ctx, kill_switch=kill_switch, trips=trips)
        self.results = ResultsCollector(
            portfolio=self.portfolio, mid_of=self._mid_of, period=returns_period, sessions=self.exchange.sessions
        )
        self.strategies = list(strategies)
        self.readers: list[QualityReporter] = []
        """The sources of the last ``run`` that report what they read (``quality()``), for the summary."""
        ctx = TradingContext(
            self.kernel,
            books=self.books,
            orders=self.execution,
            portfolio=self.portfolio,
            compute_delay_ns=latency.compute_delay(),
        )
        core: tuple[Component, ...] = (
            self.books,
            self.exchange,
            self.execution,
            self.portfolio,
            self.risk,
            self.results,
        )
        for component in core:
            self.kernel.add(component)
        if self.stp is not None:
            self.kernel.add(self.stp)
        for strategy in self.strategies:
            strategy.bind(ctx)
            self.kernel.add(strategy)
        for component in extra:
            self.kernel.add(component)
        if audit is not None:
            audit.books = self.books
            self.kernel.add(audit)

    def _book_mark_x2(self, symbol: str) -> int | None:
        """Doubled mid of the symbol's book when both sides are there (the portfolio's mark)."""
        book = self.books.book(symbol)
        if book is None:
            return None
        bid, ask = book.best_bid, book.best_ask
        return bid + ask if bid and ask else None

    def _mid_of(self, symbol: str) -> Fraction | None:
        book = self.books.book(symbol)
        if book is not None:
            mid = book.mid()
            if mid is not None:
                return mid
        mark = self.portfolio.mark_price(symbol)
        return mark

    def _delayed(self, source: Iterable[Event]) -> Iterator[Event]:
        """What the strategy sees: each market event ``feed_delay`` after the exchange stamped it."""
        delay = self.latency.feed_delay()
        replace = msgspec.structs.replace
        for event in source:
            yield replace(event, ts_init=event.ts_event + delay)

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
            sources = [self._delayed(s) for s in sources]
        on_batch = self.portfolio.on_batch if self.portfolio.samples_on_data else None
        run_backtest(self.kernel, sources, until=until, on_batch=on_batch)
        return self

    def summary(self) -> Summary:
        """The results with what the readers saw and what went wrong with the books."""
        data = [msgspec.structs.replace(r.quality()) for r in self.readers]  # copies: readers keep counting
        return self.results.summary(data=data, books=self.books.totals())

    def stats(self) -> dict[str, Any]:
        """Counters that are not in the results summary (for --json output and tests)."""
        return {
            "feed_events": self.kernel.feed_events,
            "scheduled_events": self.kernel.scheduled_events,
            "exchange_fills": self.exchange.fills,
            "exchange_rejects": self.exchange.rejects,
            "risk_passed": self.risk.passed,
            "risk_rejected": self.risk.rejected,
            "risk_rejections_by_rule": dict(sorted(self.risk.rejections_by_rule.items())),
            "risk_kill_switch": self.risk.stats()["kill_switch"],
            "refused_reports": self.execution.refused_reports,
        }
