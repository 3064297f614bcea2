"""A snapshot of a running node: what the live console shows and what ``--json`` prints, one Struct.

Built on the loop thread between two dispatches (the console's timer runs on the same event loop as the driver,
which never yields inside a dispatch), so it reads the node's own objects, never a copy kept on the side: the
positions and PnL are the portfolio's, the open orders the execution engine's, the risk state the risk engine's.
Only feed health needs a component of its own (``tapeflow.live.feed_health``), and latency the meters
(``tapeflow.live.tick_to_trade``).

Money and prices are decimal strings in dollars, exact: an ``int`` in 1/10,000 dollar is printed as it is
(``price_to_str``), a mark on a half unit (a mid) with its fifth decimal. One figure cannot always be exact: an
average price is a ratio (``cost_basis / quantity``) and may be a repeating decimal; ``avg_price`` is then rounded
half-even to ``AVG_PLACES`` decimals, and ``cost_basis`` (exact) is given beside it.
"""

from __future__ import annotations

from fractions import Fraction

import msgspec

from tapeflow.engine.clock import Clock
from tapeflow.engine.kernel import Component
from tapeflow.execution.orders import Order
from tapeflow.live.feed_health import FeedHealth
from tapeflow.live.tick_to_trade import AckLatency, LatencyMeter, LatencyStats
from tapeflow.model.prices import PRICE_SCALE, price_to_str
from tapeflow.node.assembly import TradingNode
from tapeflow.risk.flow_rules import OrderRate

AVG_PLACES = 8
"""Decimals of an average price that is not a terminating decimal."""
MAX_ORDERS = 100
"""Open orders listed by default (all are counted in ``open_order_count``)."""


class PositionRow(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    quantity: int
    avg_price: str
    cost_basis: str
    mark: str | None
    market_value: str
    realized: str
    unrealized: str
    fees: str


class Pnl(msgspec.Struct, frozen=True, kw_only=True):
    """The portfolio's figures; ``total`` is ``equity - starting_cash`` (realized + unrealized - fees + dividends)."""

    realized: str
    unrealized: str
    fees: str
    total: str
    cash: str
    equity: str
    starting_cash: str
    fills: int


class OrderRow(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    venue_order_id: str
    strategy_id: str
    symbol: str
    side: str
    order_type: str
    quantity: int
    filled: int
    price: str | None
    """The limit; None for a market or stop order."""
    stop_price: str | None
    status: str
    venue: str


class Throttle(msgspec.Struct, frozen=True, kw_only=True):
    """A rate rule of the risk pipeline: its limit (orders/s, None when off), burst, and how often it refused."""

    rule: str
    limit: int | None
    burst: int
    refused: int


class RiskState(msgspec.Struct, frozen=True, kw_only=True):
    kill_switch: bool
    kill_reason: str
    kill_source: str
    kill_rule: str
    kill_cancels_resent: int
    """Cancels the kill switch's chase sent after the engage's (on a venue up, an accept, a retry)."""
    kill_cancel_alarms: int
    """``KillSwitchCancelFailed`` alarms: orders whose cancel the venue kept refusing (may still be working)."""
    kill_cancels_unanswered: int
    """``KillSwitchCancelUnanswered`` alarms: orders whose cancel had no answer in time (may still be working)."""
    kill_persist_failures: int
    """Kill switch states that could not be written (``KillSwitchPersistFailed``): a restart may find an older one."""
    passed: int
    rejected: int
    rejections_by_rule: dict[str, int]
    throttles: list[Throttle]
    venues_down: dict[str, str]
    """What the risk rule refusing orders to disconnected venues holds (venue -> reason)."""


class FeedState(msgspec.Struct, frozen=True, kw_only=True):
    connected: list[str]
    down: dict[str, str]
    stale: list[str]
    """``venue`` (the whole feed) or ``venue:SYMBOL``, sorted."""
    disconnects: int
    reconnects: int
    market_events: int
    last_market_ns: int
    last_market_age_ns: int | None
    other: dict[str, int]
    recent: list[str]


class NodeSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One look at a running node; ``msgspec.json.encode`` gives the ``--json`` line."""

    ts: int
    """When it was taken (the builder's clock, ns UTC)."""
    event_ts: int
    """The kernel's event time then."""
    feed_events: int
    scheduled_events: int
    events_per_s: float
    """Feed events per second since the previous snapshot of the same builder (0.0 for the first)."""
    positions: list[PositionRow]
    pnl: Pnl
    open_orders: list[OrderRow]
    open_order_count: int
    risk: RiskState
    feed: FeedState | None
    tick_to_trade: LatencyStats | None
    ack: LatencyStats | None


def money(units: int) -> str:
    """1/10,000 dollar to dollars, exact ("-12.5", shown as "-12.50")."""
    return price_to_str(units)


def dollars(units: Fraction) -> str:
    """A ratio of price units as a decimal string in dollars: exact when it terminates, else ``AVG_PLACES``."""
    value = units / PRICE_SCALE
    den = value.denominator
    places = 0
    while den % 10 == 0:
        den //= 10
        places += 1
    while den % 2 == 0:
        den //= 2
        places += 1
    while den % 5 == 0:
        den //= 5
        places += 1
    if den != 1 or places > AVG_PLACES:
        places = AVG_PLACES
        scaled = round(value * 10**places)  # Fraction.__round__: half to even, exact
    else:
        scaled = int(value * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**places)
    digits = f"{frac:0{places}d}".rstrip("0") if places else ""
    return f"{sign}{whole}.{digits.ljust(2, '0')}"


class SnapshotBuilder:
    """Takes ``NodeSnapshot``s of ``node``; ``clock`` is the wall clock (None: the kernel's event time, for a
    replay). Call ``take`` on the loop thread (see the module docstring)."""

    def __init__(
        self,
        node: TradingNode,
        *,
        clock: Clock | None = None,
        health: FeedHealth | None = None,
        tick_to_trade: LatencyMeter | None = None,
        ack: LatencyMeter | None = None,
        max_orders: int = MAX_ORDERS,
    ) -> None:
        self.node = node
        self.clock = clock
        self.health = health
        self.tick_to_trade = tick_to_trade
        self.ack = ack
        self.max_orders = max_orders
        self._last: tuple[int, int] | None = None
        """(ts, feed events) of the previous snapshot, for the event rate."""

    def take(self) -> NodeSnapshot:
        node = self.node
        kernel = node.kernel
        now = self.clock.now() if self.clock is not None else kernel.now
        feed_events = kernel.feed_events
        rate = 0.0
        if self._last is not None and now > self._last[0]:
            rate = (feed_events - self._last[1]) * 1e9 / (now - self._last[0])
        self._last = (now, feed_events)
        open_orders = list(node.execution.open_orders())
        return NodeSnapshot(
            ts=now,
            event_ts=kernel.now,
            feed_events=feed_events,
            scheduled_events=kernel.scheduled_events,
            events_per_s=rate,
            positions=self._positions(),
            pnl=self._pnl(),
            open_orders=[_order_row(o) for o in open_orders[: self.max_orders]],
            open_order_count=len(open_orders),
            risk=self._risk(),
            feed=self._feed(now),
            tick_to_trade=self.tick_to_trade.stats() if self.tick_to_trade is not None else None,
            ack=self.ack.stats() if self.ack is not None else None,
        )

    def _positions(self) -> list[PositionRow]:
        return [
            PositionRow(
                symbol=p.symbol,
                quantity=p.quantity,
                avg_price=dollars(p.avg_cost),
                cost_basis=money(p.cost_basis),
                mark=None if p.mark is None else dollars(p.mark),
                market_value=money(p.market_value),
                realized=money(p.realized),
                unrealized=money(p.unrealized),
                fees=money(p.fees),
            )
            for p in self.node.portfolio.positions()
        ]

    def _pnl(self) -> Pnl:
        portfolio = self.node.portfolio
        equity = portfolio.equity()
        return Pnl(
            realized=money(portfolio.realized_pnl()),
            unrealized=money(portfolio.unrealized_pnl()),
            fees=money(portfolio.fees),
            total=money(equity - portfolio.starting_cash),
            cash=money(portfolio.cash),
            equity=money(equity),
            starting_cash=money(portfolio.starting_cash),
            fills=portfolio.fill_count,
        )

    def _risk(self) -> RiskState:
        risk = self.node.risk
        state = risk.kill_switch.state
        by_rule = dict(sorted(risk.rejections_by_rule.items()))
        throttles = [
            Throttle(rule=r.name, limit=r.limit, burst=r.burst, refused=by_rule.get(r.name, 0))
            for r in risk.rules
            if isinstance(r, OrderRate)
        ]
        connectivity = self.node.connectivity
        return RiskState(
            kill_switch=state.engaged,
            kill_reason=state.reason,
            kill_source=state.source,
            kill_rule=state.rule,
            kill_cancels_resent=risk.kill_cancels.resent,
            kill_cancel_alarms=risk.kill_cancels.alarms,
            kill_cancels_unanswered=risk.kill_cancels.unanswered,
            kill_persist_failures=risk.persist_failures,
            passed=risk.passed,
            rejected=risk.rejected,
            rejections_by_rule=by_rule,
            throttles=throttles,
            venues_down=dict(sorted(connectivity.down.items())) if connectivity is not None else {},
        )

    def _feed(self, now: int) -> FeedState | None:
        health = self.health
        if health is None:
            return None
        return FeedState(
            connected=sorted(health.connected),
            down=dict(sorted(health.down.items())),
            stale=health.stale(),
            disconnects=health.disconnects,
            reconnects=health.reconnects,
            market_events=health.market_events,
            last_market_ns=health.last_market_ns,
            last_market_age_ns=health.last_market_age(now),
            other=dict(sorted(health.other.items())),
            recent=list(health.recent),
        )


class Monitors:
    """What a snapshot reads beside the node, made before it: ``components`` go in the node's ``extra=``, the
    ``tick_to_trade`` meter's ``on_written`` is the order sender's hook; then ``builder(node)``."""

    def __init__(self, *, max_pending: int = 65_536) -> None:
        self.health = FeedHealth()
        self.ack = AckLatency(LatencyMeter("ack"), max_pending=max_pending)
        self.tick_to_trade = LatencyMeter("tick_to_trade")

    @property
    def components(self) -> list[Component]:
        return [self.health, self.ack]

    def builder(
        self, node: TradingNode, *, clock: Clock | None = None, max_orders: int = MAX_ORDERS
    ) -> SnapshotBuilder:
        return SnapshotBuilder(
            node,
            clock=clock,
            health=self.health,
            tick_to_trade=self.tick_to_trade,
            ack=self.ack.meter,
            max_orders=max_orders,
        )


def _order_row(o: Order) -> OrderRow:
    return OrderRow(
        client_order_id=o.client_order_id,
        venue_order_id=o.venue_order_id,
        strategy_id=o.strategy_id,
        symbol=o.symbol,
        side=o.side.value,
        order_type=o.order_type.value,
        quantity=o.quantity,
        filled=o.filled_quantity,
        price=money(o.price) if o.price else None,
        stop_price=money(o.stop_price) if o.stop_price else None,
        status=o.status.value,
        venue=o.venue,
    )
