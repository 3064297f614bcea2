"""Results of a run: orders and fills recorded from events, Parquet files, and the summary (``summary.py``).

``ResultsCollector`` learns everything from events on the kernel (``SubmitOrder`` through the final order
event), never from the execution engine's internals, so any engine (or a live venue) gives the same results. The
arrival mid of an order is the mid known when its ``SubmitOrder`` is dispatched: from ``mid_of`` when the
integrator injects one (e.g. read from the L3 book), else the last two-sided ``Quote`` seen for the symbol.
Mids are kept doubled (``bid + ask``) so that they stay exact integers; ``arrival_mid_x2`` columns say so. An
integrator that has the doubled mid as an int gives ``mid_x2_of`` instead (the node does): a ``Fraction`` built
and reduced per order was 15% of the bar backtest's order path, for a number that is ``bid + ask`` all along.

Parquet files are written by ``tables.py``: to a temporary name in the target folder, renamed into place, so a reader
never sees half a file; with its pinned writer options, the same events give byte-identical files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from tapeflow.model.enums import OrderStatus, OrderType, Side, TimeInForce
from tapeflow.model.market import Quote
from tapeflow.model.orders import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    RiskRejected,
    SubmitOrder,
)
from tapeflow.model.prices import NO_PRICE
from tapeflow.model.risk_events import KillSwitchChanged
from tapeflow.model.sessions import SessionCalendar
from tapeflow.portfolio.portfolio import EquityCurve
from tapeflow.portfolio.position import round_div
from tapeflow.report import frames, metrics
from tapeflow.report.equity_fields import equity_fields
from tapeflow.report.frames import PandasResults
from tapeflow.report.summary import MONEY_UNIT, Halt, Summary, has_anomalies, print_summary
from tapeflow.report.tables import fills_table, int_table, orders_table, write_table_atomic

if TYPE_CHECKING:
    from tapeflow.book.integrity import IntegrityTotals
    from tapeflow.data.quality import SourceQuality
    from tapeflow.engine.kernel import Kernel
    from tapeflow.portfolio.portfolio import Portfolio

# order statuses bound once: a read through the class costs ~0.05-0.1 us on CPython 3.11, on every order report
_SUBMITTED = OrderStatus.SUBMITTED
_ACCEPTED = OrderStatus.ACCEPTED
_FILLED = OrderStatus.FILLED
_PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED

MidOf = Callable[[str], Fraction | None]
MidX2Of = Callable[[str], int | None]
"""The doubled mid (``bid + ask``, or twice a mark) of a symbol, or None: ``MidOf`` without the ``Fraction``."""
_UNITS = {
    "tapeflow.units": "prices and money (price, fee, fees, filled_notional, equity, cash, gross, net, realized, "
    "unrealized) are int64 1/10000 USD; arrival_mid_x2 is bid + ask (twice the mid) in the same unit; ts_* and ts "
    "are int64 ns since the Unix epoch, UTC; quantities are shares",
}


class OrderRecord(msgspec.Struct, kw_only=True, gc=False):
    """What happened to one order (mutable: updated as its events arrive).

    ``order_type`` is None for an order whose ``SubmitOrder`` was never seen (a fill is still recorded).

    ``gc=False``: it holds strings, ints, None and enum members, never a container, so it is in no cycle; the
    run's records (one an order, kept to the end) then set off no young collection (~21 in the bar benchmark).
    """

    strategy_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType | None = None
    time_in_force: TimeInForce | None = None
    price: int = NO_PRICE
    stop_price: int = NO_PRICE
    arrival_mid_x2: int | None = None
    status: OrderStatus = OrderStatus.SUBMITTED
    filled_quantity: int = 0
    filled_notional: int = 0
    fees: int = 0
    ts_submit: int | None = None
    ts_accepted: int | None = None
    ts_done: int | None = None
    reason: str = ""
    ts_decided: int | None = None
    """``SubmitOrder.ts_event``: when the strategy decided (``ts_submit`` is when the order left, after compute)."""
    ts_arrived: int | None = None
    """``OrderAccepted.ts_event``: when the venue had the order (exchange time; ``ts_accepted`` is when we saw it)."""


class ResultsCollector:
    """Kernel component recording orders and fills; ``portfolio`` supplies the equity curve for the summary."""

    def __init__(
        self,
        *,
        portfolio: Portfolio | None = None,
        mid_of: MidOf | None = None,
        mid_x2_of: MidX2Of | None = None,
        period: str = metrics.DEFAULT_PERIOD,
        sessions: SessionCalendar | None = None,
    ) -> None:
        metrics.periods_per_year(period)  # a bad period fails here, before the run, not after it
        self.portfolio = portfolio
        self.mid_of = mid_of
        self.mid_x2_of = mid_x2_of
        """Preferred over ``mid_of`` when given (the same mid, doubled, as an int)."""
        self.period = period
        """What returns are resampled to before annualizing (``metrics.periods_per_year`` lists the choices)."""
        self.sessions = sessions
        """The exchange calendar a daily period follows (a holiday's samples join the next session); None: dates."""
        self.orders: dict[tuple[str, str], OrderRecord] = {}
        """By (strategy_id, client_order_id), in submission order."""
        self.fills: list[OrderFilled] = []
        self.fill_mids_x2: list[int | None] = []
        """Arrival mid (doubled) of each fill's order, parallel to ``fills``."""
        self._mids_x2: dict[str, int] = {}
        self.halt: KillSwitchChanged | None = None
        """The first engagement of the kill switch (``KillSwitchChanged``, the risk engine's public record)."""
        self.kill_switch_engaged = False
        """Whether the switch is on now (it can be reset later in a run)."""

    def attach(self, kernel: Kernel) -> None:
        if self.mid_of is None and self.mid_x2_of is None:  # either one answers the arrival mid (issue 19)
            kernel.subscribe(Quote, self.on_quote)
        kernel.subscribe(SubmitOrder, self.on_submit)
        kernel.subscribe(OrderAccepted, self.on_accepted)
        kernel.subscribe(OrderUpdated, self.on_updated)
        kernel.subscribe(OrderFilled, self.on_filled)
        kernel.subscribe(OrderCancelled, self.on_done)
        kernel.subscribe(OrderExpired, self.on_done)
        kernel.subscribe(OrderRejected, self.on_done)
        kernel.subscribe(RiskRejected, self.on_done)
        kernel.subscribe(KillSwitchChanged, self.on_kill_switch)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_quote(self, event: Quote) -> None:
        if event.bid_size and event.ask_size and event.bid_price and event.ask_price:  # NO_PRICE is 0
            self._mids_x2[event.symbol] = event.bid_price + event.ask_price

    def _arrival_mid_x2(self, symbol: str) -> int | None:
        if self.mid_x2_of is not None:
            return self.mid_x2_of(symbol)
        if self.mid_of is None and self.mid_x2_of is None:  # either one answers the arrival mid (issue 19)
            return self._mids_x2.get(symbol)
        mid = self.mid_of(symbol)
        if mid is None:
            return None
        doubled = Fraction(mid) * 2
        return round_div(doubled.numerator, doubled.denominator)

    def on_submit(self, event: SubmitOrder) -> None:
        mid_x2_of = self.mid_x2_of  # the arrival mid without ``_arrival_mid_x2``'s call when it is given (a node)
        cid, strategy_id, symbol = event.client_order_id, event.strategy_id, event.symbol
        self.orders[(strategy_id, cid)] = OrderRecord(
            strategy_id=strategy_id,
            client_order_id=cid,
            symbol=symbol,
            side=event.side,
            quantity=event.quantity,
            order_type=event.order_type,
            time_in_force=event.time_in_force,
            price=event.price,
            stop_price=event.stop_price,
            arrival_mid_x2=mid_x2_of(symbol) if mid_x2_of is not None else self._arrival_mid_x2(symbol),
            ts_submit=event.ts_init,
            ts_decided=event.ts_event,
        )

    def on_accepted(self, event: OrderAccepted) -> None:
        record = self.orders.get((event.strategy_id, event.client_order_id))
        if record is not None:
            record.ts_accepted = event.ts_init
            record.ts_arrived = event.ts_event
            if record.status is _SUBMITTED:
                record.status = _ACCEPTED

    def on_updated(self, event: OrderUpdated) -> None:
        """A venue-applied modify changes what was ordered (``quantity`` is the new total, fills included)."""
        record = self.orders.get((event.strategy_id, event.client_order_id))
        if record is not None:
            record.quantity = event.quantity
            if event.price != NO_PRICE:
                record.price = event.price
            if event.stop_price != NO_PRICE:
                record.stop_price = event.stop_price

    def on_filled(self, event: OrderFilled) -> None:
        key = (event.strategy_id, event.client_order_id)
        record = self.orders.get(key)
        if record is None:  # its SubmitOrder came before this collector was attached, or went around the kernel
            record = self.orders[key] = OrderRecord(
                strategy_id=event.strategy_id,
                client_order_id=event.client_order_id,
                symbol=event.symbol,
                side=event.side,
                quantity=event.quantity + event.leaves_quantity,
            )
        quantity = event.quantity
        record.filled_quantity += quantity
        record.filled_notional += quantity * event.price
        fee = event.fee
        if fee:  # no store of a sum that does not change (a fill without fees): a Struct's store is ~200 instructions
            record.fees += fee
        if event.leaves_quantity == 0:
            record.status = _FILLED
            record.ts_done = event.ts_init
        else:
            record.status = _PARTIALLY_FILLED
        self.fills.append(event)
        self.fill_mids_x2.append(record.arrival_mid_x2)

    def on_done(self, event: OrderCancelled | OrderExpired | OrderRejected | RiskRejected) -> None:
        record = self.orders.get((event.strategy_id, event.client_order_id))
        if record is None:
            return
        record.status = _DONE_STATUS[type(event)]
        record.ts_done = event.ts_init
        if isinstance(event, OrderRejected | RiskRejected | OrderCancelled):
            record.reason = event.reason

    def on_kill_switch(self, event: KillSwitchChanged) -> None:
        """A run that was halted says so (summary ``halted``, exit code 3), even if the switch was reset later."""
        self.kill_switch_engaged = event.engaged
        if event.engaged and self.halt is None:
            self.halt = event

    # -- outputs ------------------------------------------------------------------------------------------------

    def summary(self, *, data: Sequence[SourceQuality] = (), books: Sequence[IntegrityTotals] = ()) -> Summary:
        """The run's summary; ``data`` and ``books`` are what the readers and books counted (see ``Backtest``)."""
        fills = self.fills
        signs = [f.side.sign for f in fills]
        quantities = [f.quantity for f in fills]
        prices = [f.price for f in fills]
        fees = sum(f.fee for f in fills)
        notional = sum(q * p for q, p in zip(quantities, prices, strict=True))
        trips = self.round_trips()
        stats = metrics.trade_stats(trips)
        slip = metrics.slippage(signs, quantities, prices, self.fill_mids_x2)
        limits = [r for r in self.orders.values() if r.order_type is OrderType.LIMIT]
        statuses = Counter(r.status.value for r in self.orders.values())
        components: Counter[str] = Counter()
        for f in fills:
            components.update(f.fee_components)
        fields = equity_fields(self.portfolio, notional, self.period, [f.ts_event for f in fills], self.sessions)
        return Summary(
            **fields,
            fees_units=fees,
            traded_notional_units=notional,
            orders=len(self.orders),
            orders_by_status=dict(sorted(statuses.items())),
            fills=len(fills),
            round_trips=trips.count,
            winning_round_trips=trips.wins,
            open_round_trips=len(trips.open_symbols),
            hit_ratio=stats.win_rate,
            losing_round_trips=stats.losses,
            avg_win_units=stats.avg_win,
            avg_loss_units=stats.avg_loss,
            largest_win_units=stats.largest_win,
            largest_loss_units=stats.largest_loss,
            profit_factor=stats.profit_factor,
            expectancy_units=stats.expectancy,
            avg_holding_ns=stats.avg_holding_ns,
            avg_slippage_units=slip.units,
            avg_slippage_bps=slip.bps,
            limit_orders=len(limits),
            limit_fill_ratio=metrics.fill_ratio([r.quantity for r in limits], [r.filled_quantity for r in limits]),
            fees_by_component_units=dict(sorted(components.items())),
            anomalies=has_anomalies(list(data), list(books)),
            data=list(data),
            books=list(books),
            halted=self._halted(),
        )

    def round_trips(self) -> metrics.RoundTrips:
        """Closed round trips of the recorded fills, in closing order (times are the fills' ``ts_event``)."""
        fills = self.fills
        return metrics.round_trips(
            [f.symbol for f in fills],
            [f.side.sign for f in fills],
            [f.quantity for f in fills],
            [f.price for f in fills],
            [f.fee for f in fills],
            ts=[f.ts_event for f in fills],
        )

    def _halted(self) -> Halt | None:
        h = self.halt
        if h is None:
            return None
        return Halt(
            ts_ns=h.ts_event,
            reason=h.reason,
            source=h.source,
            rule=h.rule,
            cancelled_orders=h.cancelled_orders,
            engaged_at_end=self.kill_switch_engaged,
        )

    def tables(self) -> dict[str, Any]:
        """The three Arrow tables, by file stem: ``orders``, ``fills``, ``equity``."""
        tables = {
            "orders": orders_table(self.orders.values()),
            "fills": fills_table(self.fills, self.fill_mids_x2),
            "equity": self._equity(),
        }
        return {stem: table.replace_schema_metadata(_UNITS) for stem, table in tables.items()}

    def to_pandas(self, tz: str = "UTC") -> PandasResults:
        """Orders, fills, equity and round trips as pandas DataFrames in dollars (needs ``tapeflow[notebook]``).

        ``tz`` is the time zone of the datetime columns (e.g. ``America/New_York``); see ``report/frames.py``.
        """
        return frames.to_pandas(self.tables(), self.round_trips(), tz)

    def write_parquet(self, directory: str | Path) -> list[Path]:
        """Write ``orders.parquet``, ``fills.parquet`` and ``equity.parquet`` atomically; return their paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        return [write_table_atomic(table, folder / f"{stem}.parquet") for stem, table in self.tables().items()]

    def _equity(self) -> Any:
        curve = self.portfolio.curve if self.portfolio is not None else EquityCurve()
        return int_table(curve.columns())


_DONE_STATUS: dict[type[Any], OrderStatus] = {
    OrderCancelled: OrderStatus.CANCELLED,
    OrderExpired: OrderStatus.EXPIRED,
    OrderRejected: OrderStatus.REJECTED,
    RiskRejected: OrderStatus.RISK_REJECTED,
}


__all__ = [
    "MONEY_UNIT",
    "Halt",
    "OrderRecord",
    "OrderStatus",
    "PandasResults",
    "ResultsCollector",
    "Summary",
    "print_summary",
    "write_table_atomic",
]
