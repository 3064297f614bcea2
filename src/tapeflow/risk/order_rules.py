"""Stage 1: checks on one order by itself, cheapest first.

Size, notional, lots and ticks (Rule 612), the restricted and hard-to-borrow lists with Reg SHO locates, the
price collar against the mid, a stale or crossed book, the symbol's trading status and the allowed sessions. None
of these needs the account; the locate check reads the position, because only a sale that makes or deepens a
short position is a short sale.
"""

from __future__ import annotations

from collections.abc import Iterable

from tapeflow.book.view import BookBase
from tapeflow.model.enums import MarketStatus, OrderType, Side
from tapeflow.model.instruments import RULE_612, TickRule
from tapeflow.model.orders import SubmitOrder
from tapeflow.model.prices import NO_PRICE, price_to_str
from tapeflow.model.risk_events import LimitValue
from tapeflow.risk.context import RiskContext
from tapeflow.risk.rules import NOTHING, FastCheck, Rule, Violation

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
        if command.side is Side.BUY:
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


class StaleBook(Rule):
    """No trading on a book known to be out of sync (a sequence gap not yet repaired by a snapshot)."""

    name = "stale_book"
    updatable = ()

    def __init__(self, ctx: RiskContext) -> None:
        super().__init__()
        self.ctx = ctx

    def check(self, command: SubmitOrder) -> Violation | None:
        books = self.ctx.books
        book = books.book(command.symbol) if books is not None else None
        if book is not None and (book.integrity.stale if isinstance(book, BookBase) else book.stale):
            return Violation(reason=f"the {command.symbol} book is stale (sequence gap not yet repaired)")
        return None

    def fast_check(self) -> FastCheck:
        return FastCheck("if book is not None and health.stale:\n    return 0")


class CrossedBook(Rule):
    """No trading on a crossed book, as the book tracks it: best bid at or above best ask for L2 and L3 books, bid
    above ask for an L1 quote (a locked NBBO is a common, fleeting state of consolidated quotes, not bad data).

    A crossed book is a feed that went wrong or a market in a state nobody can price: the collar would measure
    against a mid that means nothing and a marketable order would be valued at a side that is not there. Cancels
    never reach a rule, so they still pass.
    """

    name = "crossed_book"
    updatable = ()

    def __init__(self, ctx: RiskContext) -> None:
        super().__init__()
        self.ctx = ctx

    def check(self, command: SubmitOrder) -> Violation | None:
        books = self.ctx.books
        book = books.book(command.symbol) if books is not None else None
        if book is not None and (book.integrity.crossed if isinstance(book, BookBase) else book.crossed):
            bid, ask = price_to_str(book.best_bid), price_to_str(book.best_ask)
            return Violation(
                reason=f"the {command.symbol} book is crossed (bid {bid} >= ask {ask}); wait until it uncrosses",
                value=f"{bid} >= {ask}",
            )
        return None

    def fast_check(self) -> FastCheck:
        return FastCheck("if book is not None and health.crossed:\n    return 0")


class PriceCollar(Rule):
    """A limit buy above mid x (1 + limit bps) or a limit sell below mid x (1 - limit bps) is refused; market
    orders are refused when a side is empty or the spread is wider than ``max_spread_bps`` of the mid.

    Exact integer compares: with mid = (bid + ask) / 2, "price > mid x (1 + b/10,000)" is
    "price x 20,000 > (bid + ask) x (10,000 + b)". A book without both sides means no collar can be computed: the
    order is refused. Data that keeps no book at all (bars) is collared around the portfolio's mark (the last
    close) instead, and market orders pass there, since no spread exists to check; with no mark yet, refused.
    """

    name = "price_collar"
    updatable = ("limit", "max_spread_bps")

    def __init__(self, ctx: RiskContext, limit: int | None, max_spread_bps: int | None) -> None:
        super().__init__()
        self.ctx = ctx
        self.limit = limit
        self.max_spread_bps = max_spread_bps

    def check(self, command: SubmitOrder) -> Violation | None:
        books = self.ctx.books
        book = books.book(command.symbol) if books is not None else None
        if book is None:
            return self._check_against_mark(command)
        bid = book.best_bid
        ask = book.best_ask
        if bid == NO_PRICE or ask == NO_PRICE:
            return Violation(reason=f"no two-sided {command.symbol} book to check the price against")
        if command.order_type in _MARKETABLE_ONLY:
            spread_limit = self.max_spread_bps
            if spread_limit is not None and (ask - bid) * 20_000 > (bid + ask) * spread_limit:
                spread_bps = (ask - bid) * 20_000 // (bid + ask)
                return Violation(
                    reason=f"market order with the {command.symbol} spread at {spread_bps} bps of the mid",
                    limit=spread_limit,
                    value=spread_bps,
                )
            return None
        bps = self.limit_for(command.symbol, self.limit)
        if bps is None:
            return None
        price = command.price
        both = bid + ask
        if command.side is Side.BUY:
            broke = price * 20_000 > both * (10_000 + bps)
        else:
            broke = price * 20_000 < both * (10_000 - bps)
        if broke:
            away = abs(price * 20_000 - both * 10_000) // both
            return Violation(
                reason=f"limit {command.side.value.lower()} at {price_to_str(price)} is {away} bps from the mid "
                f"{price_to_str(both // 2)}, beyond the {bps} bps collar",
                limit=bps,
                value=away,
            )
        return None

    def fast_check(self) -> FastCheck:
        """Against the book only: with no two-sided book (bars, an empty side) the rule decides."""
        code = "if not bid or not ask:\n    return 0\n"
        marketable = "if marketable:\n"
        if self.max_spread_bps is not None:
            marketable += "    if (ask - bid) * 20_000 > (bid + ask) * spread_bps:\n        return 0\n"
        else:
            marketable += "    pass\n"
        code += marketable
        if self.limited():
            code += """
else:
    bps = LIMIT
    if bps != BIG:
        if is_buy:
            if price * 20_000 > (bid + ask) * (10_000 + bps):
                return 0
        elif price * 20_000 < (bid + ask) * (10_000 - bps):
            return 0
"""
        return FastCheck(code, {"spread_bps": self.max_spread_bps})

    def _check_against_mark(self, command: SubmitOrder) -> Violation | None:
        portfolio = self.ctx.portfolio
        mark = portfolio.mark_price(command.symbol) if portfolio is not None else None
        if mark is None:
            return Violation(reason=f"no {command.symbol} book and no last price to check the price against")
        if command.order_type in _MARKETABLE_ONLY:
            return None
        bps = self.limit_for(command.symbol, self.limit)
        if bps is None:
            return None
        price = command.price
        if command.side is Side.BUY:
            broke = price * 10_000 > mark * (10_000 + bps)
        else:
            broke = price * 10_000 < mark * (10_000 - bps)
        if broke:
            away = int(abs(price * 10_000 - mark * 10_000) / mark)
            return Violation(
                reason=f"limit {command.side.value.lower()} at {price_to_str(price)} is {away} bps from the last "
                f"price {price_to_str(int(mark))}, beyond the {bps} bps collar",
                limit=bps,
                value=away,
            )
        return None


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
            if status is MarketStatus.HALTED or (
                status is MarketStatus.QUOTING and command.order_type in _MARKETABLE_ONLY
            ):
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
