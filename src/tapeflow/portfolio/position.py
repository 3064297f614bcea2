"""One netting position per symbol, with exact integer money.

Units: quantities are signed shares (long > 0, short < 0); prices and money are ``int`` 1/10,000 dollar.

The cost basis is an exact signed ``int`` (the sum of ``quantity * price`` of the shares still open), never an
average: an average of 10.333... cannot be stored exactly in any fixed-point unit, a total can. The average cost
is derived from it on demand as a ``Fraction``. Reducing a position removes ``cost_basis * closed / open`` from the
basis, rounded half-to-even to a whole unit; whatever that rounding leaves behind stays in the basis and is
realized with the last share, so a round trip's realized PnL is exact and cash always reconciles to the unit.

A mark (a quote mid) may fall on a half unit, so marks are kept doubled (``mark_x2 = bid + ask``). Market value
is rounded half up to a whole unit *per position*; unrealized PnL is defined as that rounded market value minus
the cost basis, which makes ``equity == start + realized + unrealized - fees`` hold exactly in integers.
"""

from __future__ import annotations

from fractions import Fraction

import msgspec

from tapeflow.model.errors import ValueRangeError


def round_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-to-even, in integers only (no float can creep into money)."""
    if denominator <= 0:
        raise ValueRangeError(f"round_div: denominator must be positive, got {denominator}")
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def mark_x2_of(price: int | Fraction) -> int:
    """Twice a mark price, exactly; a price finer than half a unit has no exact doubled form and is refused."""
    if isinstance(price, int):
        return 2 * price
    doubled = price * 2
    if doubled.denominator != 1:
        raise ValueRangeError(
            f"mark price {price} units is not a multiple of half a price unit; round it before marking "
            "(marks are kept exactly as bid + ask)"
        )
    return doubled.numerator


class PositionView(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one position for strategies and the risk engine; money in 1/10,000 dollar.

    ``avg_cost`` is exact (``cost_basis / quantity``), zero when flat. ``mark`` is the mark price in price units:
    the last quote mid, bar close or ``Portfolio.mark`` value, or the last fill price while no mark was ever given
    for the symbol; ``None`` (and the position valued at its cost basis) only before anything at all.
    """

    symbol: str
    quantity: int
    avg_cost: Fraction
    cost_basis: int
    realized: int
    unrealized: int
    market_value: int
    mark: Fraction | None
    fees: int


class Position:
    """Mutable netting position of one symbol; the ``Portfolio`` owns it and passes the mark in.

    The mark is not stored here so that a quote costs the portfolio one dict store, whether or not it holds
    the symbol: quotes outnumber fills by orders of magnitude.
    """

    __slots__ = ("cost_basis", "fees", "quantity", "realized", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.quantity = 0
        self.cost_basis = 0
        """Signed sum of quantity * price of the open shares (negative for a short)."""
        self.realized = 0
        """Realized PnL, gross of fees (fees are kept apart in ``fees``)."""
        self.fees = 0

    def apply_fill(self, signed_quantity: int, price: int, fee: int) -> int:
        """Apply a fill of ``signed_quantity`` shares (+ buy, - sell) at ``price``; return the PnL it realized.

        A fill that crosses zero is split: the part that closes realizes PnL against the old basis, the rest
        opens a new position at the fill price.
        """
        self.fees += fee
        qty = self.quantity
        if qty == 0 or (qty > 0) == (signed_quantity > 0):
            self.quantity = qty + signed_quantity
            self.cost_basis += signed_quantity * price
            return 0
        held = qty if qty > 0 else -qty
        wanted = signed_quantity if signed_quantity > 0 else -signed_quantity
        if wanted >= held:  # closing everything: the whole basis, exactly ``round_div(basis * held, held)``
            closing, removed = held, self.cost_basis
        else:
            closing, removed = wanted, round_div(self.cost_basis * wanted, held)
        closing_signed = closing if signed_quantity > 0 else -closing
        pnl = -closing_signed * price - removed
        self.realized += pnl
        self.cost_basis -= removed
        self.quantity = qty + closing_signed
        opening = signed_quantity - closing_signed
        if opening:
            self.quantity += opening
            self.cost_basis += opening * price
        return pnl

    def market_value(self, mark_x2: int | None) -> int:
        """Quantity at the doubled mark, rounded half up; the cost basis when there is no mark at all."""
        if mark_x2 is None:
            return self.cost_basis
        return (self.quantity * mark_x2 + 1) // 2

    def unrealized(self, mark_x2: int | None) -> int:
        return self.market_value(mark_x2) - self.cost_basis

    def avg_cost(self) -> Fraction:
        return Fraction(self.cost_basis, self.quantity) if self.quantity else Fraction(0)

    def view(self, mark_x2: int | None) -> PositionView:
        value = self.market_value(mark_x2)
        return PositionView(
            symbol=self.symbol,
            quantity=self.quantity,
            avg_cost=self.avg_cost(),
            cost_basis=self.cost_basis,
            realized=self.realized,
            unrealized=value - self.cost_basis,
            market_value=value,
            mark=None if mark_x2 is None else Fraction(mark_x2, 2),
            fees=self.fees,
        )

    def __repr__(self) -> str:
        return (
            f"Position({self.symbol!r}, quantity={self.quantity}, cost_basis={self.cost_basis}, "
            f"realized={self.realized}, fees={self.fees})"
        )
