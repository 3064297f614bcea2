"""The trading node: every component, wired once, in the order that matters, for the backtest and the live driver.

Handlers run in subscription order, so the order of ``kernel.add`` is part of the design:

1. ``BookKeeper``: books include an event before anyone reads them;
2. the venues that are kernel components (the ``SimulatedExchange`` matches our resting orders against the same
   event, reading the book *before* the update through ``observe_before``);
3. ``ExecutionEngine``, then ``Portfolio``: order state and positions are current before a strategy hears of a
   fill;
4. ``VenueConnectivity`` (only when a venue can disconnect), then ``RiskEngine``: the only subscriber to order
   commands;
5. ``ResultsCollector``, the STP gate, then the components that must act before the strategies
   (``before_strategies``: the ML recorder, retrainer and predictor, so a strategy's handlers see the model in
   force), then the strategies, then any extra components (recorders), then the audit trail.

Both drivers run this assembly: ``tapeflow.backtest.engine.Backtest`` over merged historical sources,
``tapeflow.live.node.LiveNode`` over an async feed. What differs between them is the driver and the venues: the
simulated exchange by default (given as a factory, because it reads the node's books), or network adapters
implementing ``tapeflow.execution.venue.VenueClient``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

import msgspec

from tapeflow.book.keeper import BookKeeper
from tapeflow.book.signals import SignalConfig
from tapeflow.compliance.audit import AuditTrail
from tapeflow.compliance.stp import StpGate
from tapeflow.engine.clock import Clock
from tapeflow.engine.kernel import Component, Kernel
from tapeflow.execution.engine import ExecutionEngine, OrderRoute
from tapeflow.execution.order_ids import ClientOrderIds
from tapeflow.execution.venue import VenueClient, always_connected, reports_cancel_sent
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.model.risk_events import FLATTEN_STRATEGY
from tapeflow.model.sessions import SessionCalendar, calendar_for
from tapeflow.model.venue_state import VenueState
from tapeflow.node.config import NodeConfig
from tapeflow.portfolio import Portfolio
from tapeflow.report.results import ResultsCollector
from tapeflow.risk.build import build_kill_switch, build_rules, build_trips
from tapeflow.risk.context import RiskContext
from tapeflow.risk.engine import RiskEngine, RiskRule
from tapeflow.risk.venue_rules import VenueConnectivity
from tapeflow.strategy.base import Strategy
from tapeflow.strategy.context import TradingContext
from tapeflow.venues.sim.exchange import SimExchangeConfig, SimulatedExchange
from tapeflow.venues.sim.fees import FeeModel
from tapeflow.venues.sim.latency import LatencyModel

VenueFactory = Callable[[BookKeeper], VenueClient]
"""Builds a venue that needs the node's books (the simulated exchange)."""
VenueSpec = VenueClient | VenueFactory


def simulated_exchange(
    latency: LatencyModel, fees: FeeModel | None = None, config: SimExchangeConfig | None = None
) -> VenueFactory:
    """The simulated exchange as a venue of a node (it matches against the node's own books)."""

    def build(books: BookKeeper) -> VenueClient:
        return SimulatedExchange(books, latency, fees, config)

    return build


class TradingNode:
    """The assembled components of one node (see the module docstring); build it with ``build_node``."""

    def __init__(
        self,
        config: NodeConfig,
        strategies: Sequence[Strategy],
        *,
        venues: Sequence[VenueSpec] | None = None,
        clock: Clock | None = None,
        risk_rules: Sequence[RiskRule] = (),
        extra: Sequence[Component] = (),
        audit: AuditTrail | None = None,
        order_ids: ClientOrderIds | None = None,
        before_strategies: Sequence[Component] = (),
    ) -> None:
        for strategy in strategies:
            if strategy.strategy_id == FLATTEN_STRATEGY:
                # the kill switch lets this id's reduce-to-zero market orders through: only the control desk has it
                raise ConfigError(
                    f"strategy id {FLATTEN_STRATEGY!r} is reserved for the kill switch's flattening orders; "
                    "give the strategy another id",
                    field="strategy.id",
                )
        self.config = config
        self.kernel = Kernel(clock)
        self.latency = latency = config.latency
        signals = config.signals
        if config.level == "L3" and signals is None:
            signals = SignalConfig()  # L3 feeds carry no quotes or prints: the book derives them
        self.books = BookKeeper(config.level, signals=signals)
        if venues is None:
            venues = [simulated_exchange(latency, config.fees, config.exchange)]
        self.venues = [_build(spec, self.books) for spec in venues]
        self.exchange: SimulatedExchange | None = next(
            (v for v in self.venues if isinstance(v, SimulatedExchange)), None
        )
        """The first simulated exchange among the venues (None for a node of network venues only)."""
        self.sessions: SessionCalendar = (
            self.exchange.sessions
            if self.exchange is not None
            else calendar_for((config.exchange or SimExchangeConfig()).calendar, "exchange.calendar")
        )
        # the session table (exchange_calendars, ~0.5 s with its pandas import) is read while the node is assembled,
        # once, not when the first order of the run needs a session
        self.sessions.check()
        self.execution = ExecutionEngine(self.venues)
        self.stp = StpGate(self.execution, config.stp) if config.stp is not None else None  # before the venue
        # the exchange keeps every symbol's last bar anyway: the portfolio looks a bar's close up there when it needs
        # a mark (a dict lookup, no call), rather than a handler of its own on every bar
        last_bars = self.exchange.last_bars if self.exchange is not None else None
        self.portfolio = Portfolio(config.portfolio, books=self.books.book, last_bars=last_bars)
        route: OrderRoute = self.execution if self.stp is None else self.stp
        risk_ctx = RiskContext(
            books=self.books, portfolio=self.portfolio, orders=self.execution, sessions=self.sessions
        )
        guarded = [v.name for v in self.venues if not always_connected(v)]
        self.connectivity = VenueConnectivity(guarded, self.execution.default_venue) if guarded else None
        """Refuses orders to a venue that is down; only when some venue can disconnect (never in a backtest)."""
        first: list[RiskRule] = [] if self.connectivity is None else [self.connectivity]
        queued = [v.name for v in self.venues if reports_cancel_sent(v)]
        risk = config.risk
        if risk is None:
            self.risk = RiskEngine(route, [*first, *risk_rules], context=risk_ctx, queued=queued)
        else:  # the configured pipeline (validated here: errors name the field), then any extra rules
            rules: list[RiskRule] = [*first, *build_rules(risk, risk_ctx), *risk_rules]
            trips, kill_switch = build_trips(risk, risk_ctx.impl), build_kill_switch(risk)
            chase = risk.kill_switch.chase_timing()
            self.risk = RiskEngine(
                route, rules, context=risk_ctx, kill_switch=kill_switch, trips=trips, chase=chase, queued=queued
            )
        self._mid_x2_of: Callable[[str], int | None] = self.portfolio.mark_x2
        """Doubled arrival mid: the book's ``bid + ask`` when both sides are there, else the portfolio's mark. That
        is the portfolio's ``mark_x2`` itself (its first source is this node's books, the same test), so the results
        read it without a call of the node's in between (issue 19: once per order)."""
        self.results = ResultsCollector(
            portfolio=self.portfolio, mid_x2_of=self._mid_x2_of, period=config.returns_period, sessions=self.sessions
        )
        self.strategies = list(strategies)
        self.order_ids = order_ids if order_ids is not None else ClientOrderIds()
        self.audit = audit
        ctx = TradingContext(
            self.kernel,
            books=self.books,
            orders=self.execution,
            portfolio=self.portfolio,
            compute_delay_ns=latency.compute_delay(),
            order_ids=self.order_ids,
        )
        kernel = self.kernel
        for component in (*before_strategies, *extra):  # before the keeper subscribes: it may keep more for them
            use_books = getattr(component, "use_books", None)
            if use_books is not None:
                use_books(self.books)  # (the feature recorder: the quote books keep its order flow, ml.features)
        kernel.add(self.books)
        for venue in self.venues:
            if hasattr(venue, "attach"):
                kernel.add(cast(Component, venue))
        kernel.add(self.execution)
        kernel.add(self.portfolio)
        if self.connectivity is not None:
            kernel.add(self.connectivity)
        kernel.add(self.risk)
        kernel.add(self.results)
        if self.stp is not None:
            kernel.add(self.stp)
        for component in before_strategies:
            kernel.add(component)
        for strategy in self.strategies:
            strategy.bind(ctx)
            kernel.add(strategy)
        for component in extra:
            kernel.add(component)
        if audit is not None:
            audit.books = self.books
            kernel.add(audit)

    # -- what the drivers share -----------------------------------------------------------------------------------

    def delayed(self, source: Iterable[Event]) -> Iterator[Event]:
        """What the node sees of recorded market data: each event ``feed_delay`` after the exchange stamped it."""
        delay = self.latency.feed_delay()
        replace = msgspec.structs.replace
        for event in source:
            yield replace(event, ts_init=event.ts_event + delay)

    def restore(self, state: VenueState) -> None:
        """Continue from what a venue says we hold (before the run starts): its open orders are ours again (a
        cancel routes to it, a later fill applies, risk counts them as open), positions and cash are its."""
        self.execution.restore(state)
        self.portfolio.restore(state)
        ledger = self.risk.context.ledger
        for order in state.open_orders:
            ledger.add(
                order.strategy_id,
                order.client_order_id,
                order.symbol,
                order.side,
                order.quantity - order.filled_quantity,
                order.price if order.price else order.stop_price,
            )

    def stats(self) -> dict[str, Any]:
        """Counters that are not in the results summary (for --json output and tests)."""
        exchange = self.exchange
        return {
            "feed_events": self.kernel.feed_events,
            "scheduled_events": self.kernel.scheduled_events,
            "exchange_fills": exchange.fills if exchange is not None else 0,
            "exchange_rejects": exchange.rejects if exchange is not None else 0,
            "risk_passed": self.risk.passed,
            "risk_rejected": self.risk.rejected,
            "risk_rejections_by_rule": dict(sorted(self.risk.rejections_by_rule.items())),
            "risk_kill_switch": self.risk.stats()["kill_switch"],
            "refused_reports": self.execution.refused_reports,
        }


def build_node(
    config: NodeConfig,
    strategies: Sequence[Strategy],
    *,
    venues: Sequence[VenueSpec] | None = None,
    clock: Clock | None = None,
    risk_rules: Sequence[RiskRule] = (),
    extra: Sequence[Component] = (),
    audit: AuditTrail | None = None,
    order_ids: ClientOrderIds | None = None,
    before_strategies: Sequence[Component] = (),
) -> TradingNode:
    """The one assembly: ``venues`` None is one simulated exchange from ``config``; ``clock`` is what components
    read as now (None: event time); ``order_ids`` None gives the backtest's ids (``{strategy_id}-{n}``);
    ``before_strategies`` are added just ahead of the strategies, ``extra`` just after them."""
    return TradingNode(
        config,
        strategies,
        venues=venues,
        clock=clock,
        risk_rules=risk_rules,
        extra=extra,
        audit=audit,
        order_ids=order_ids,
        before_strategies=before_strategies,
    )


def _build(spec: VenueSpec, books: BookKeeper) -> VenueClient:
    if hasattr(spec, "send"):
        return cast(VenueClient, spec)
    return spec(books)
