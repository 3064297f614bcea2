"""From a validated ``RiskConfig`` to the rule pipeline, the trip rules and the kill switch.

The order of the list is the order of the checks: cheapest first, because the pipeline stops at the first
failure and most orders pass. Field compares come first, then set and dict lookups (lists, status, throttles),
then what reads the book, and last what reads the account. A limit configured as ``None`` builds no rule at all
(it costs nothing), except rules whose limits operators commonly change at run time.
"""

from __future__ import annotations

from tapeflow.risk import account_rules as acc
from tapeflow.risk import book_rules as book
from tapeflow.risk import flow_rules as flow
from tapeflow.risk import order_rules as order
from tapeflow.risk.config import MS, RiskConfig, validate
from tapeflow.risk.context import RiskContext
from tapeflow.risk.killswitch import KillSwitch
from tapeflow.risk.ledger import Impl
from tapeflow.risk.rules import Rule, TripRule, usd


def _overrides(config: RiskConfig, field: str, scale: int = 1) -> dict[str, int]:
    out: dict[str, int] = {}
    for symbol, limits in sorted(config.symbols.items()):
        value = getattr(limits, field)
        if value is not None:
            out[symbol] = value * scale
    return out


def build_rules(config: RiskConfig, ctx: RiskContext) -> list[Rule]:
    """The checks, cheapest first (validates ``config`` first: errors name the field)."""
    config = validate(config)
    o, a, f = config.order, config.account, config.flow
    rules: list[Rule] = [order.MinOrderQuantity(o.min_quantity)]

    def add(rule: Rule, per_symbol: dict[str, int] | None = None, default: object = 0) -> None:
        if per_symbol:
            rule.per_symbol = per_symbol
        if default is not None or per_symbol:
            rules.append(rule)

    add(order.MaxOrderQuantity(o.max_quantity), _overrides(config, "max_quantity"), o.max_quantity)
    if o.round_lots_only:
        rules.append(order.LotSize(o.lot_size))
    if o.check_ticks:
        rules.append(order.TickSize())
    rules.append(order.RestrictedList(o.restricted))
    rules.append(order.TradingHours(ctx, o.sessions, o.block_halted))
    if ctx.books is not None:
        if o.reject_stale_book:
            rules.append(book.StaleBook(ctx))
        if o.reject_crossed_book:
            rules.append(book.CrossedBook(ctx))
        if o.collar_bps is not None or o.max_spread_bps is not None:
            rules.append(book.PriceCollar(ctx, o.collar_bps, o.max_spread_bps))
    add(
        order.MaxOrderNotional(usd(o.max_notional_usd), ctx),
        _overrides(config, "max_notional_usd", 10_000),
        o.max_notional_usd,
    )
    add(flow.DuplicateOrder(ctx, f.duplicate_window_ms * MS if f.duplicate_window_ms else None), None, 0)
    add(flow.MaxOpenOrders(ctx, f.max_open_orders, f.max_open_orders_total))
    add(flow.MessageRate(ctx, f.messages_per_second, f.message_burst))
    add(flow.OrderRate(ctx, f.strategy_orders_per_second, f.strategy_burst, "strategy"))
    add(flow.OrderRate(ctx, f.symbol_orders_per_second, f.symbol_burst, "symbol"))
    rules.append(order.ShortLocate(ctx, o.locates, o.hard_to_borrow, o.require_locate))
    add(acc.PositionLimit(ctx, a.max_position), _overrides(config, "max_position"), a.max_position)
    add(
        acc.SymbolNetExposure(ctx, usd(a.max_symbol_net_usd)),
        _overrides(config, "max_net_usd", 10_000),
        a.max_symbol_net_usd,
    )
    add(
        acc.SymbolGrossExposure(ctx, usd(a.max_symbol_gross_usd)),
        _overrides(config, "max_gross_usd", 10_000),
        a.max_symbol_gross_usd,
    )
    add(acc.GrossExposure(ctx, usd(a.max_gross_usd)), None, a.max_gross_usd)
    add(acc.NetExposure(ctx, usd(a.max_net_usd)), None, a.max_net_usd)
    add(acc.BuyingPower(ctx, a.initial_margin_bps, a.maintenance_margin_bps), None, a.initial_margin_bps)
    add(acc.NetLiquidationFloor(ctx, usd(a.min_net_liquidation_usd)), None, a.min_net_liquidation_usd)
    add(acc.DailyLoss(ctx, usd(a.max_daily_loss_usd)), None, a.max_daily_loss_usd)
    return rules


def build_trips(config: RiskConfig, impl: Impl = "auto") -> list[TripRule]:
    """``impl`` chooses the trip windows' implementation (``window.window``), as the context's chooses its cores."""
    k = config.kill_switch
    trips: list[TripRule] = []
    if k.runaway_orders is not None:
        trips.append(flow.RunawayDetector(k.runaway_orders, k.runaway_window_ms * MS, impl))
    if k.max_rejects is not None:
        trips.append(flow.RepeatedRejects(k.max_rejects, k.reject_window_ms * MS, impl))
    if k.max_daily_loss_usd is not None:
        trips.append(flow.LossTrip(k.max_daily_loss_usd * 10_000))
    return trips


def build_kill_switch(config: RiskConfig) -> KillSwitch:
    k = config.kill_switch
    return KillSwitch(k.state_file, k.signal_file, k.signal_check_ms * MS)
