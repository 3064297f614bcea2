"""The cost of latency: what filling a quantity against the book would cost, level by level.

A marketable order does not fill at the best price; it walks the opposite side until it has its quantity. The
difference between that average and the best price (the slippage) is what a slower or larger order pays, and
it is the number a risk check or an execution algorithm compares against a limit. Money stays exact: the
notional is an int (price units x shares), the average and the slippage are ``Fraction``s of a dollar, and
``Decimal`` forms are exact whenever the value has a finite decimal expansion (which a VWAP of 1/10,000-dollar
prices over any quantity of shares whose only prime factors are 2 and 5 always has).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import msgspec

from tapeflow.book.view import BookBase
from tapeflow.model.enums import Side
from tapeflow.model.prices import NO_PRICE, PRICE_SCALE


class LevelFill(msgspec.Struct, frozen=True, array_like=True):
    price: int
    quantity: int


class ExecutionEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """Filling ``requested`` shares on ``side`` against the opposite side of the book as it stands."""

    side: Side
    requested: int
    filled: int
    unfilled: int
    """Shares left when the opposite side ran out of depth."""
    notional: int
    """Sum of price x shares over the fills, in price units x shares (exact)."""
    best_price: int
    """Best opposite price when the walk started (``NO_PRICE`` for an empty side)."""
    worst_price: int
    fills: tuple[LevelFill, ...]

    @property
    def average_price(self) -> Fraction | None:
        """Volume-weighted fill price in dollars per share; None when nothing fills."""
        if not self.filled:
            return None
        return Fraction(self.notional, self.filled * PRICE_SCALE)

    @property
    def slippage(self) -> Fraction | None:
        """Dollars per share paid against the best price (positive: above it buying, below it selling)."""
        avg = self.average_price
        if avg is None:
            return None
        best = Fraction(self.best_price, PRICE_SCALE)
        return avg - best if self.side is Side.BUY else best - avg

    @property
    def average_price_decimal(self) -> Decimal | None:
        avg = self.average_price
        return None if avg is None else fraction_to_decimal(avg)

    @property
    def slippage_decimal(self) -> Decimal | None:
        slip = self.slippage
        return None if slip is None else fraction_to_decimal(slip)


def fraction_to_decimal(value: Fraction, places: int = 28) -> Decimal:
    """Exact ``Decimal`` when ``value`` has a finite decimal expansion, else rounded to ``places`` significant
    digits (for a VWAP over, say, 3 shares, where no finite decimal exists)."""
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den == 1:
        digits = max(twos, fives)
        return Decimal(value.numerator * 10**digits // value.denominator).scaleb(-digits)
    with localcontext() as ctx:
        ctx.prec = places
        return Decimal(value.numerator) / Decimal(value.denominator)


def execution_price(book: BookBase, side: Side, quantity: int) -> ExecutionEstimate:
    """Walk the side opposite to ``side`` best first until ``quantity`` shares are filled or depth runs out.

    Touches only the levels it fills from: the cost is that of the walk, not of the book's depth.
    """
    if quantity <= 0:
        raise ValueError(f"quantity must be positive, got {quantity}")
    ladder = book.asks if side is Side.BUY else book.bids
    sizes = ladder.sizes
    sign = ladder.sign
    need = quantity
    notional = 0
    fills: list[LevelFill] = []
    for key in reversed(ladder.keys):
        price = key * sign
        take = min(need, sizes[price])
        fills.append(LevelFill(price, take))
        notional += price * take
        need -= take
        if not need:
            break
    return ExecutionEstimate(
        side=side,
        requested=quantity,
        filled=quantity - need,
        unfilled=need,
        notional=notional,
        best_price=ladder.best,
        worst_price=fills[-1].price if fills else NO_PRICE,
        fills=tuple(fills),
    )
