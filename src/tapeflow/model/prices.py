"""Fixed-point prices and exact conversions.

A price is an ``int`` in 1/10,000 of a dollar, the unit of NASDAQ ITCH and LOBSTER, so feed prices enter the engine
without any conversion and money never passes through a float. Conversions from text and ``Decimal`` refuse what
cannot be represented exactly instead of rounding silently: a price of 120.55555 is a data error, not 120.5556.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Final

from tapeflow.model.errors import ValueRangeError

PRICE_SCALE: Final = 10_000
"""Price units per dollar."""

PRICE_DECIMALS: Final = 4

NO_PRICE: Final = 0
"""Sentinel for "no price" (empty book side, market order). No US equity trades at $0.0000."""

MAX_PRICE: Final = 2**53 - 1
"""Largest price accepted (about $900 billion); keeps every price exact in JSON readers that use doubles."""

_QUANTUM: Final = Decimal(1).scaleb(-PRICE_DECIMALS)


def price_from_decimal(value: Decimal) -> int:
    """Exact ``Decimal`` dollars to price units; raises if it has more than four decimals or is not finite."""
    if not value.is_finite():
        raise ValueRangeError(f"price {value} is not a finite number")
    scaled = value.scaleb(PRICE_DECIMALS)
    if scaled != scaled.to_integral_value():
        raise ValueRangeError(
            f"price {value} has more than {PRICE_DECIMALS} decimals and cannot be represented exactly "
            f"in 1/{PRICE_SCALE} dollar; round it explicitly before converting"
        )
    units = int(scaled)
    if abs(units) > MAX_PRICE:
        raise ValueRangeError(f"price {value} is out of range (max {price_to_str(MAX_PRICE)})")
    return units


def price_from_str(text: str) -> int:
    """Dollars as text ("120.55") to price units (1205500), exactly."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueRangeError(f"price {text!r} is not a decimal number") from exc
    return price_from_decimal(value)


def price_to_decimal(units: int) -> Decimal:
    """Price units to ``Decimal`` dollars with exactly four decimals."""
    return Decimal(units).scaleb(-PRICE_DECIMALS).quantize(_QUANTUM)


def price_to_str(units: int) -> str:
    """Price units to dollars as text, shortest exact form with at least two decimals ("120.55", "0.0001")."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), PRICE_SCALE)
    digits = f"{frac:04d}".rstrip("0")
    if len(digits) < 2:
        digits = digits.ljust(2, "0")
    return f"{sign}{whole}.{digits}"


def price_to_fraction(units: int) -> Fraction:
    """Price units to an exact ``Fraction`` of dollars, for arithmetic that must not round (VWAPs)."""
    return Fraction(units, PRICE_SCALE)
