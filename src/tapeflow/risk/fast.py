"""The fused pre-trade check: every built-in rule of a submit in one function, for the orders that pass.

Why: the pipeline sits on the tick-to-trade path and most orders pass, so they run every rule. As 23 rule objects,
each a method call reaching through the context for the same few numbers, that cost about 30 us an order here;
a method call alone is 0.1-0.15 us on this machine. The fused function reads each input once (the symbol's limits
from one flat dict, the position, the open orders on the order's side, the book) and checks every numeric limit
with a few integer compares.

It decides one thing only: "this submit certainly passes every built-in rule". On any failure, and on anything it
does not handle cheaply (no price to value the order, a new day, a symbol with a trading status, a bucket not yet
created), it returns False *before changing any state* and the engine runs the ordered rule-by-rule pipeline,
which names the first failing rule, its stage, limit, value and reason exactly as before. So a refusal is never
decided here and the documented order of the checks stays the only source of rejections; what must hold is
soundness (fused pass implies every rule's ``check`` passes), which ``tests/risk/test_fused.py`` checks by
running the same random command streams through an engine with and without this path.

Limits are baked into the closure when the engine is built and rebuilt after every accepted ``UpdateRiskLimit``
(``RiskEngine.recompile``), never per order. Live state is read through the same objects the rules keep (token
buckets, the duplicate window, locates, the restricted set, the open-order ledger, trading status), so both paths
always see and leave the same state. Rules it does not know (hand-made ones, subclasses, a second instance of a
built-in) are called after the fused checks, in their order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tapeflow.book.view import BookBase
from tapeflow.model.enums import MarketStatus, OrderType, Side
from tapeflow.model.orders import SubmitOrder
from tapeflow.risk import account_rules as acc
from tapeflow.risk import flow_rules as flow
from tapeflow.risk import order_rules as order
from tapeflow.risk.context import NS, RiskContext

BIG = 1 << 100
"""Stands for "no limit" in the flat tables: no exact integer value of an order reaches it."""
_UNSET = -1

FusedCheck = Callable[[SubmitOrder, int], int]
"""``check(order, now) -> reference price`` (> 0) when the order passes every fused rule, 0 when it may not."""


def _lim(value: int | None) -> int:
    return BIG if value is None else value


def split_rules(rules: Sequence[Any]) -> tuple[dict[type, Any], list[Any]]:
    """The built-in rules the fused check takes over (first instance of each exact type) and the rest, in order."""
    known: dict[type, Any] = {}
    rest: list[Any] = []
    fusable = {
        order.MinOrderQuantity,
        order.MaxOrderQuantity,
        order.LotSize,
        order.TickSize,
        order.RestrictedList,
        order.TradingHours,
        order.StaleBook,
        order.CrossedBook,
        order.PriceCollar,
        order.MaxOrderNotional,
        order.ShortLocate,
        flow.DuplicateOrder,
        flow.MaxOpenOrders,
        flow.MessageRate,
        acc.PositionLimit,
        acc.SymbolNetExposure,
        acc.SymbolGrossExposure,
        acc.GrossExposure,
        acc.NetExposure,
        acc.BuyingPower,
        acc.NetLiquidationFloor,
        acc.DailyLoss,
    }
    for rule in rules:
        kind: Any = type(rule)
        if kind is flow.OrderRate:
            kind = ("rate", rule.by_symbol)
        elif kind not in fusable:
            rest.append(rule)
            continue
        if kind in known:
            rest.append(rule)
        else:
            known[kind] = rule
    return known, rest


class Engine(Protocol):
    """What the fused path needs of ``RiskEngine`` to finish a pass."""

    passed: int

    def kill(self, reason: str, *, source: str = "manual", rule: str = "") -> bool: ...

    def observe_pass(self, order: SubmitOrder, ctx: RiskContext) -> None: ...


def compile_check(
    rules: Sequence[Any],
    trips: Sequence[Any],
    ctx: RiskContext,
    engine: Engine,
    execute: Callable[[SubmitOrder], None],
) -> tuple[FusedCheck, list[Any]]:
    """The fused check for the built-in rules in ``rules`` and the rules it leaves to the caller, in order.

    With no other rule left (``rest`` empty) a pass is finished here as ``RiskEngine.on_command`` would: the token
    buckets and the duplicate window spent, the open-order ledger, execution, the trip rules. Otherwise a later
    rule may still refuse, so the check only returns the reference price and the engine finishes rule by rule.
    """
    known, rest = split_rules(rules)
    finish = not rest
    trip_kinds = [type(t) for t in trips if type(t) is not flow.RepeatedRejects]
    generic_trips = any(k not in (flow.RunawayDetector, flow.LossTrip) for k in trip_kinds) or len(trip_kinds) > len(
        set(trip_kinds)
    )
    if trip_kinds == [flow.LossTrip, flow.RunawayDetector]:
        generic_trips = True  # the fused order below is runaway first, as built
    runaway: Any = next((t for t in trips if type(t) is flow.RunawayDetector), None)
    loss_trip: Any = next((t for t in trips if type(t) is flow.LossTrip), None)
    runaway_times: dict[str, deque[int]] = runaway._window._times if runaway is not None else {}
    runaway_get = runaway_times.get
    runaway_window = runaway._window.window_ns if runaway is not None else 0
    runaway_limit = runaway.limit if runaway is not None else 0

    def get(kind: Any) -> Any:
        return known.get(kind)

    min_q = get(order.MinOrderQuantity)
    max_q = get(order.MaxOrderQuantity)
    lot = get(order.LotSize)
    tick = get(order.TickSize)
    restricted_rule = get(order.RestrictedList)
    hours = get(order.TradingHours)
    stale_rule = get(order.StaleBook)
    crossed_rule = get(order.CrossedBook)
    collar = get(order.PriceCollar)
    notional = get(order.MaxOrderNotional)
    locate = get(order.ShortLocate)
    dup = get(flow.DuplicateOrder)
    open_rule = get(flow.MaxOpenOrders)
    msg = get(flow.MessageRate)
    strat_rate = get(("rate", False))
    sym_rate = get(("rate", True))
    pos = get(acc.PositionLimit)
    sym_net = get(acc.SymbolNetExposure)
    sym_gross = get(acc.SymbolGrossExposure)
    gross_rule = get(acc.GrossExposure)
    net_rule = get(acc.NetExposure)
    bp = get(acc.BuyingPower)
    floor_rule = get(acc.NetLiquidationFloor)
    loss_rule = get(acc.DailyLoss)

    # -- per-symbol limits: one dict lookup per order -------------------------------------------------------------
    per_symbol_rules = (max_q, notional, collar, pos, sym_net, sym_gross)

    def limits_for(symbol: str | None) -> tuple[int, ...]:
        out = []
        for rule in per_symbol_rules:
            if rule is None:
                out.append(BIG)
            else:
                out.append(_lim(rule.limit if symbol is None else rule.limit_for(symbol, rule.limit)))
        return tuple(out)

    symbols: set[str] = set()
    for rule in per_symbol_rules:
        if rule is not None:
            symbols.update(rule.per_symbol)
    table = {symbol: limits_for(symbol) for symbol in symbols}
    default_limits = limits_for(None)
    table_get = table.get

    min_quantity = min_q.limit if min_q is not None else 0
    lot_size = lot.limit if lot is not None else 1
    check_ticks = tick is not None
    tick_threshold = tick.rule.threshold if tick else 0
    tick_above = tick.rule.tick_above if tick else 1
    tick_below = tick.rule.tick_below if tick else 1
    restricted: set[str] = restricted_rule.symbols if restricted_rule is not None else set()

    status = ctx.status
    block_halted = hours is not None and hours.block_halted
    sessions = hours.sessions if hours is not None else frozenset()
    calendar = ctx.calendar
    session_window = [0, 0]  # bounds of the allowed session the last order fell in (integer compares after)

    check_stale = stale_rule is not None
    check_crossed = crossed_rule is not None
    check_book = check_stale or check_crossed
    check_collar = collar is not None
    spread_bps = _lim(collar.max_spread_bps) if collar is not None else BIG
    books = ctx.books
    need_book = books is not None
    halted, quoting = MarketStatus.HALTED, MarketStatus.QUOTING
    market, stop, buy = OrderType.MARKET, OrderType.STOP, Side.BUY

    dup_window = dup.limit if dup is not None and dup.limit is not None else 0
    dup_seen: dict[tuple[object, ...], int] = dup._seen if dup is not None else {}
    dup_key = flow.DuplicateOrder._key

    ledger = ctx.ledger
    ledger_entries = ledger._entries
    by_strategy = ledger.by_strategy
    by_strategy_get = by_strategy.get
    buys_get, sells_get = ledger._buys.get, ledger._sells.get
    open_limit = _lim(open_rule.limit) if open_rule is not None else BIG
    open_total = _lim(open_rule.total) if open_rule is not None else BIG

    def bucket_of(rule: Any) -> tuple[int, int, dict[str, Any]] | None:
        if rule is None or rule.limit is None:
            return None
        return rule.limit, rule.burst * NS, rule._buckets

    msg_b, strat_b, sym_b = bucket_of(msg), bucket_of(strat_rate), bucket_of(sym_rate)
    msg_rate, msg_cap, msg_buckets = msg_b if msg_b else (0, 0, {})
    strat_rate_v, strat_cap, strat_buckets = strat_b if strat_b else (0, 0, {})
    sym_rate_v, sym_cap, sym_buckets = sym_b if sym_b else (0, 0, {})
    msg_get, strat_get, sym_get = msg_buckets.get, strat_buckets.get, sym_buckets.get
    use_msg, use_strat, use_sym = msg_b is not None, strat_b is not None, sym_b is not None

    check_locate = locate is not None
    locates: dict[str, int] = locate.locates if locate is not None else {}
    hard_to_borrow: set[str] = locate.hard_to_borrow if locate is not None else set()
    require_all = locate.require_all if locate is not None else False

    portfolio = ctx.portfolio
    quantity_of = portfolio.quantity if portfolio is not None else None
    gross_limit = _lim(gross_rule.limit) if gross_rule is not None else BIG
    net_limit = _lim(net_rule.limit) if net_rule is not None else BIG
    initial_bps = bp.limit if bp is not None else None
    maintenance_bps = bp.maintenance_bps if bp is not None else 0
    floor = floor_rule.limit if floor_rule is not None else None
    loss_limit = loss_rule.limit if loss_rule is not None else None
    need_gross = gross_limit != BIG or initial_bps is not None
    need_net = net_limit != BIG
    need_equity = initial_bps is not None or floor is not None or loss_limit is not None

    def check(o: SubmitOrder, now: int) -> int:
        symbol = o.symbol
        q = o.quantity
        limits = table_get(symbol, default_limits)
        # -- stage 1: the order by itself ----------------------------------------------------------------------
        if q < min_quantity or q > limits[0] or q % lot_size:
            return 0
        price = o.price
        stop_price = o.stop_price
        if check_ticks:
            if price and (price < 0 or price % (tick_above if price >= tick_threshold else tick_below)):
                return 0
            if stop_price and (
                stop_price < 0 or stop_price % (tick_above if stop_price >= tick_threshold else tick_below)
            ):
                return 0
        if symbol in restricted:
            return 0
        if hours is not None:
            if block_halted and status:
                st = status.get(symbol)
                if st is halted or (st is quoting and (o.order_type is market or o.order_type is stop)):
                    return 0
            if not session_window[0] <= now < session_window[1]:
                session = calendar.session_of(now)
                if session is None or session not in sessions:
                    return 0
                session_window[0], session_window[1] = calendar._bounds[session]
        is_buy = o.side is buy
        book = books.book(symbol) if need_book else None  # type: ignore[union-attr]
        if book is not None:
            if check_book:
                if isinstance(book, BookBase):  # L2 and L3: the flags themselves, not two property calls
                    health = book.integrity
                    if (check_stale and health.stale) or (check_crossed and health.crossed):
                        return 0
                elif (check_stale and book.stale) or (check_crossed and book.crossed):
                    return 0
            bid, ask = book.best_bid, book.best_ask
        else:
            bid = ask = 0
        marketable = o.order_type is market or o.order_type is stop
        if check_collar:
            if not bid or not ask:
                return 0
            if marketable:
                if (ask - bid) * 20_000 > (bid + ask) * spread_bps:
                    return 0
            else:
                bps = limits[2]
                if bps != BIG:
                    if is_buy:
                        if price * 20_000 > (bid + ask) * (10_000 + bps):
                            return 0
                    elif price * 20_000 < (bid + ask) * (10_000 - bps):
                        return 0
        ref = price
        if not ref and o.order_type is stop:
            ref = stop_price
        if not ref:
            ref = ask if is_buy else bid
            if not ref:
                return 0  # valued at the mark, or not at all: the rules decide
        value = ref * q
        if value > limits[1]:
            return 0
        # -- stage 3: flow (before the locate and the account, as built) ----------------------------------------
        strategy = o.strategy_id
        key: tuple[object, ...] | None = None
        if dup_window:
            key = dup_key(o)
            last = dup_seen.get(key)
            if last is not None and now - last < dup_window:
                return 0
        if open_rule is not None and (by_strategy_get(strategy, 0) >= open_limit or len(ledger_entries) >= open_total):
            return 0
        mb = sb = yb = None
        m_tokens = s_tokens = y_tokens = 0
        if use_msg:
            mb = msg_get(strategy)
            if mb is None:
                m_tokens = msg_cap  # a new bucket starts full, whenever it is created
            else:
                m_tokens = mb.tokens if now <= mb.last else min(msg_cap, mb.tokens + (now - mb.last) * msg_rate)
            if m_tokens < NS:
                return 0
        if use_strat:
            sb = strat_get(strategy)
            if sb is None:
                s_tokens = strat_cap  # a new bucket starts full, whenever it is created
            else:
                s_tokens = sb.tokens if now <= sb.last else min(strat_cap, sb.tokens + (now - sb.last) * strat_rate_v)
            if s_tokens < NS:
                return 0
        if use_sym:
            yb = sym_get(symbol)
            if yb is None:
                y_tokens = sym_cap  # a new bucket starts full, whenever it is created
            else:
                y_tokens = yb.tokens if now <= yb.last else min(sym_cap, yb.tokens + (now - yb.last) * sym_rate_v)
            if y_tokens < NS:
                return 0
        # -- the locate and stage 2: the account if this and every open order on its side filled --------------
        held = quantity_of(symbol) if quantity_of is not None else 0
        same = (buys_get if is_buy else sells_get)(symbol)
        open_same = same.shares if same is not None else 0
        projected = held + open_same + q if is_buy else held - open_same - q
        if (
            check_locate
            and not is_buy
            and projected < 0
            and (require_all or symbol in hard_to_borrow)
            and -projected > locates.get(symbol, 0)
        ):
            return 0
        # risk-reducing (closer to flat, open orders on its side included): every account rule lets it through
        if not ((held > 0 and not is_buy and projected >= 0) or (held < 0 and is_buy and projected <= 0)):
            size = projected if projected >= 0 else -projected
            if size > limits[3] or size * ref > limits[4]:
                return 0
            if limits[5] != BIG:
                b_side, s_side = buys_get(symbol), sells_get(symbol)
                exposure = (held if held >= 0 else -held) * ref + value
                exposure += (b_side.notional if b_side else 0) + (s_side.notional if s_side else 0)
                if exposure > limits[5]:
                    return 0
            gross = projected_gross = 0
            if need_gross:
                gross = ctx._gross
                if gross == _UNSET:
                    gross = ctx.gross()
                projected_gross = gross + ledger.buy_notional + ledger.sell_notional + value
                if projected_gross > gross_limit:
                    return 0
            if need_net or need_equity:
                net = ctx._net
                if net is None:
                    net = ctx.net()
                if need_net:
                    exposure = net + ledger.buy_notional + value if is_buy else net - ledger.sell_notional - value
                    if exposure > net_limit or -exposure > net_limit:
                        return 0
                if need_equity:
                    equity = (portfolio.cash if portfolio is not None else 0) + net
                    if initial_bps is not None:
                        if equity < -(-gross * maintenance_bps // 10_000):
                            return 0
                        if -(-projected_gross * initial_bps // 10_000) > equity:
                            return 0
                    if floor is not None and equity < floor:
                        return 0
                    if loss_limit is not None:
                        start = calendar.day_start
                        if ctx._loss_day != start or not start <= now < calendar.day_end:
                            return 0  # the first command of a day sets the day's baseline: the rules do that
                        if ctx._day_equity - equity > loss_limit:
                            return 0
        if not finish:
            return ref
        # -- passed, and no other rule may still refuse: what ``RiskEngine.on_command`` does on a pass ---------
        if key is not None:
            if len(dup_seen) > 4_096:
                dup.prune(now)
            dup_seen[key] = now
        if mb is not None:
            mb.tokens = m_tokens - NS
            if now > mb.last:
                mb.last = now
        elif use_msg:
            msg_buckets[strategy] = flow._Bucket(m_tokens - NS, now)
        if sb is not None:
            sb.tokens = s_tokens - NS
            if now > sb.last:
                sb.last = now
        elif use_strat:
            strat_buckets[strategy] = flow._Bucket(s_tokens - NS, now)
        if yb is not None:
            yb.tokens = y_tokens - NS
            if now > yb.last:
                yb.last = now
        elif use_sym:
            sym_buckets[symbol] = flow._Bucket(y_tokens - NS, now)
        engine.passed += 1
        ctx.now = now
        cid = o.client_order_id
        if cid in ledger_entries:
            ledger.remove(cid)
        ledger_entries[cid] = (strategy, symbol, o.side, q, ref)
        by_strategy[strategy] = by_strategy_get(strategy, 0) + 1
        if same is None:
            same = ledger.side(symbol, o.side)
        same.shares += q
        same.notional += value
        if is_buy:
            ledger.buy_notional += value
        else:
            ledger.sell_notional += value
        execute(o)
        if generic_trips:
            ctx.begin(now, False)
            engine.observe_pass(o, ctx)
            return ref
        if runaway is not None:
            times = runaway_get(strategy)
            if times is None:
                times = runaway_times[strategy] = deque()
            times.append(now)
            horizon = now - runaway_window
            while times[0] <= horizon:
                times.popleft()
            if len(times) > runaway_limit:
                engine.kill(runaway.reason(strategy, len(times)), source="rule", rule=runaway.name)
                return ref
        if loss_trip is not None:
            loss = ctx.daily_loss()
            if loss >= loss_trip.limit:
                engine.kill(loss_trip.reason(loss), source="rule", rule=loss_trip.name)
        return ref

    return check, rest
