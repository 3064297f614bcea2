"""Stage 1: checks on one order by itself, cheapest first.

Size, notional, lots and ticks (Rule 612), the restricted and hard-to-borrow lists with Reg SHO locates, the
symbol's trading status and the allowed sessions (the price collar and the stale or crossed book, which read the
book, are ``book_rules``). None of these needs the account; the locate check reads the position, because only a
sale that makes or deepens a short position is a short sale.
"""

from __future__ import annotations

from collections.abc import Iterable

from tapeflow.model.enums import MarketStatus, OrderType, Side
from tapeflow.model.instruments import RULE_612, TickRule
from tapeflow.model.orders import SubmitOrder
from tapeflow.model.prices import NO_PRICE, price_to_str
from tapeflow.model.risk_events import LimitValue
from tapeflow.risk.context import RiskContext
from tapeflow.risk.rules import NOTHING, FastCheck, Rule, Violation

# enum members bound once: reading one through its class (``Side.BUY``) took about 0.1 us on CPython 3.11 here,
# a plain class attribute 0.03, and the rules compare against them on every order (issue 19)
_BUY = Side.BUY
_HALTED = MarketStatus.HALTED
_QUOTING = MarketStatus.QUOTING

_MARKETABLE_ONLY = (OrderType.MARKET, OrderType.STOP)


class MaxOrderQuantity(Rule):
    """No order larger than ``limit`` shares (per-symbol overrides)."""

    def __init__(self, limit: int | None, name: str = "max_order_quantity") -> None:
        super().__init__()
        self.limit = limit
        self.name = name

    def check(self, command: SubmitOrder) -> Violation | None:
        limit = self.limit_for(command.symbol, self.limit)
        if limit is not None and command.quantity > limit:
            return Violation(
                reason=f"order quantity {command.quantity} exceeds the maximum of {limit} shares",
                limit=limit,
                value=command.quantity,
            )
        return None

    def fast_check(self) -> FastCheck:
        return FastCheck("if q > LIMIT:\n    return 0") if self.limited() else NOTHING


class MinOrderQuantity(Rule):
    name = "min_order_quantity"

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def check(self, command: SubmitOrder) -> Violation | None:
        if command.quantity < self.limit:
            return Violation(
                reason=f"order quantity {command.quantity} is below the minimum of {self.limit} shares",
                limit=self.limit,
                value=command.quantity,
            )
        return None

    def fast_check(self) -> FastCheck:
        return FastCheck("if q < minimum:\n    return 0", {"minimum": self.limit})


class MaxOrderNotional(Rule):
    """No order worth more than ``limit`` (1/10,000 dollar) at its reference price; unpriceable orders refused."""

    name = "max_order_notional"

    def __init__(self, limit: int | None, ctx: RiskContext) -> None:
        super().__init__()
        self.limit = limit
        self.ctx = ctx

    def check(self, command: SubmitOrder) -> Violation | None:
        limit = self.limit_for(command.symbol, self.limit)
        if limit is None:
            return None
        price = self.ctx.ref_price(command)
        if price == NO_PRICE:
            return Violation(reason=f"no price to value a {command.order_type.value} order in {command.symbol}")
        notional = price * command.quantity
        if notional > limit:
            return Violation(
                reason=f"order notional ${price_to_str(notional)} exceeds the maximum of ${price_to_str(limit)}",
                limit=limit,
                value=notional,
            )
        return None

    def fast_check(self) -> FastCheck:
        return FastCheck("if value > LIMIT:\n    return 0") if self.limited() else NOTHING


class LotSize(Rule):
    """Round lots only, when configured: odd lots are legal, but a strategy may be meant never to send one."""

    name = "lot_size"

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def check(self, command: SubmitOrder) -> Violation | None:
        if command.quantity % self.limit:
            return Violation(
                reason=f"order quantity {command.quantity} is not a multiple of the {self.limit}-share round lot",
                limit=self.limit,
                value=command.quantity,
            )
        return None

    def fast_check(self) -> FastCheck:
        return FastCheck("if q % lot:\n    return 0", {"lot": self.limit})


class TickSize(Rule):
    """Rule 612: limit and stop prices on the penny grid at or above $1.00, $0.0001 below."""

    name = "tick_size"
    updatable = ()

    def __init__(self, rule: TickRule = RULE_612) -> None:
        super().__init__()
        self.rule = rule

    def check(self, command: SubmitOrder) -> Violation | None:
        for price in (command.price, command.stop_price):
            if price != NO_PRICE and not self.rule.is_valid(price):
                tick = self.rule.tick_size(price)
                return Violation(
                    reason=f"price {price_to_str(price)} is not a multiple of the {price_to_str(tick)} tick (Rule 612)",
                    limit=tick,
                    value=price,
                )
        return None

    def fast_check(self) -> FastCheck:
        """``is_valid`` inline for both prices: one modulo each, no call."""
        code = """
if price and (price < 0 or price % (above if price >= threshold else below)):
    return 0
if stop_price and (stop_price < 0 or stop_price % (above if stop_price >= threshold else below)):
    return 0
"""
        rule = self.rule
        return FastCheck(code, {"threshold": rule.threshold, "above": rule.tick_above, "below": rule.tick_below})


class RestrictedList(Rule):
    """Symbols nobody may trade (a restricted list: inside information, an underwriting, a legal hold)."""

    name = "restricted_list"
    updatable = ("restricted",)

    def __init__(self, symbols: Iterable[str]) -> None:
        super().__init__()
        self.symbols = set(symbols)

    def check(self, command: SubmitOrder) -> Violation | None:
        if command.symbol in self.symbols:
            return Violation(reason=f"{command.symbol} is on the restricted list", value=command.symbol)
        return None

    def fast_check(self) -> FastCheck:
        return FastCheck("if symbol in restricted:\n    return 0", {"restricted": self.symbols})

    def set_limit(self, field: str, value: LimitValue, symbol: str = "") -> LimitValue:
        """``field="restricted"``, ``symbol`` the name, ``value`` 1 to restrict and 0 or None to release."""
        if field != "restricted" or not symbol:
            raise ValueError("restricted_list takes field `restricted` with a symbol and value 1 or 0")
        old = int(symbol in self.symbols)
        if value:
            self.symbols.add(symbol)
        else:
            self.symbols.discard(symbol)
        return old


class ShortLocate(Rule):
    """Reg SHO 203(b)(1): a short sale needs a locate; located shares cap the projected short position."""

    name = "short_locate"
    updatable = ("locate",)

    def __init__(
        self, ctx: RiskContext, locates: dict[str, int], hard_to_borrow: Iterable[str], require_all: bool
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.locates = dict(locates)
        self.hard_to_borrow = set(hard_to_borrow)
        self.require_all = require_all

    def check(self, command: SubmitOrder) -> Violation | None:
        if command.side is _BUY:
            return None
        projected = self.ctx.projected_position(command)
        if projected >= 0:
            return None
        symbol = command.symbol
        if not self.require_all and symbol not in self.hard_to_borrow:
            return None
        located = self.locates.get(symbol, 0)
        if -projected > located:
            htb = " (hard to borrow)" if symbol in self.hard_to_borrow else ""
            return Violation(
                reason=f"short sale of {symbol}{htb} would leave {-projected} shares short with {located} located",
                limit=located,
                value=-projected,
            )
        return None

    def fast_check(self) -> FastCheck:
        needs_locate = "" if self.require_all else " and symbol in hard_to_borrow"
        code = f"""
if not is_buy and projected < 0{needs_locate} and -projected > locates_get(symbol, 0):
    return 0
"""
        return FastCheck(code, {"hard_to_borrow": self.hard_to_borrow, "locates_get": self.locates.get})

    def set_limit(self, field: str, value: LimitValue, symbol: str = "") -> LimitValue:
        if field != "locate" or not symbol or not (value is None or (type(value) is int and value >= 0)):
            raise ValueError("short_locate takes field `locate` with a symbol and a share count (0 or None: none)")
        old = self.locates.get(symbol)
        if value:
            self.locates[symbol] = value
        else:
            self.locates.pop(symbol, None)
        return old


class TradingHours(Rule):
    """No orders in a halted symbol (market orders not while quoting either), nor outside the allowed sessions."""

    name = "trading_status"
    updatable = ()

    def __init__(self, ctx: RiskContext, sessions: Iterable[str], block_halted: bool = True) -> None:
        super().__init__()
        self.ctx = ctx
        self.sessions = frozenset(sessions)
        self.block_halted = block_halted

    def check(self, command: SubmitOrder) -> Violation | None:
        ctx = self.ctx
        if self.block_halted and ctx.status:
            status = ctx.status.get(command.symbol)
            if status is _HALTED or (status is _QUOTING and command.order_type in _MARKETABLE_ONLY):
                return Violation(reason=f"{command.symbol} is {status.value.lower()}", value=status.value)
        session = ctx.calendar.session_of(ctx.now)
        if session not in self.sessions:
            allowed = ", ".join(sorted(self.sessions))
            return Violation(
                reason=f"outside the allowed sessions ({allowed}): now is {session or 'closed'}",
                limit=allowed,
                value=session or "closed",
            )
        return None

    def fast_check(self) -> FastCheck:
        """The bounds of the allowed session the last order fell in are kept, so most orders need two compares."""
        code = ""
        if self.block_halted:
            code += """
if status:
    st = status.get(symbol)
    if st is HALTED or (st is QUOTING and marketable):
        return 0
"""
        code += """
if not window[0] <= now < window[1]:
    session = session_of(now)
    if session is None or session not in sessions:
        return 0
    window[0], window[1] = bounds(session)
"""
        calendar = self.ctx.calendar
        names = {
            "status": self.ctx.status,
            "HALTED": MarketStatus.HALTED,
            "QUOTING": MarketStatus.QUOTING,
            "window": [0, 0],
            "session_of": calendar.session_of,
            "bounds": calendar.bounds,
            "sessions": self.sessions,
        }
        return FastCheck(code, names)
