"""Position sizing: how many shares, as pure functions a strategy calls before ``buy`` or ``sell``.

Money is tapeflow's integer 1/10,000 dollar (``equity``, ``Portfolio.equity()``), prices are price units, and
the answer is a whole number of shares rounded *down* to a multiple of ``lot``: a sizer never spends more than
asked for. Fractions of equity and targets may be given as ``Fraction``, ``int`` or ``float``; a float is read as
the decimal it prints as (``0.1`` is one tenth, not the binary number nearest to it), so the arithmetic after
that is exact and the same inputs give the same shares on every machine.

Edges, chosen to fail closed:

- no equity (zero or negative) sizes 0: nothing to invest, and an account under water must not add;
- a price that is not positive raises ``ValueRangeError``: 0 is tapeflow's "no price", and sizing at it would be
  a division by zero or an order at no price, a mistake in the caller that a silent 0 would hide;
- zero volatility sizes 0: no estimate of risk (a flat window, a halted stock) is no reason to take an unbounded
  position, and it happens in real data, so it must not crash a run;
- a negative fraction, target, volatility or quantity, a lot below 1, NaN or infinity raises ``ValueRangeError``.

These decide a quantity; they do not replace the risk engine, which still checks the order against the account's
limits (``docs/RISK.md``).
"""

from __future__ import annotations

import math
from fractions import Fraction

from tapeflow.model.errors import ValueRangeError

Ratio = Fraction | int | float


def _exact(name: str, value: Ratio) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, Fraction | int | float):
        raise ValueRangeError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueRangeError(f"{name} must be finite, got {value!r}")
    exact = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    if exact < 0:
        raise ValueRangeError(f"{name} must be >= 0, got {value}")
    return exact


def _lot(lot: int) -> int:
    if isinstance(lot, bool) or not isinstance(lot, int) or lot < 1:
        raise ValueRangeError(f"lot must be a whole number of shares >= 1, got {lot!r}")
    return lot


def _round_down(shares: Fraction, lot: int) -> int:
    return (math.floor(shares) // lot) * lot


def fixed_quantity(quantity: int, *, lot: int = 1) -> int:
    """``quantity`` shares rounded down to a whole lot (the backtrader ``FixedSize`` sizer)."""
    lot = _lot(lot)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise ValueRangeError(f"quantity must be a whole number of shares >= 0, got {quantity!r}")
    return (quantity // lot) * lot


def percent_of_equity(equity: int, fraction: Ratio, price: int, *, lot: int = 1) -> int:
    """Shares worth at most ``fraction`` of ``equity`` at ``price`` (0.25: a quarter of the account).

    A fraction above 1 is leverage, allowed here; whether the account may carry it is the risk engine's call.
    """
    share = _exact("fraction", fraction)
    lot = _lot(lot)
    if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
        raise ValueRangeError(f"cannot size at price {price!r}: need a price > 0 in 1/10,000 dollar (0 is no price)")
    if equity <= 0:
        return 0
    return _round_down(equity * share / price, lot)


def volatility_target(
    equity: int,
    target: Ratio,
    volatility: Ratio,
    *,
    lot: int = 1,
    price: int | None = None,
    max_fraction: Ratio | None = None,
) -> int:
    """Shares whose expected move is ``target`` of ``equity`` per period, given one share's ``volatility``.

    ``volatility`` is one share's typical move per period in price units, over the period ``target`` is meant
    for: an ``ATR`` of daily bars (``ATR.value``), or ``volatility_from_returns(price, stdev)`` of daily returns.
    ``target=0.01`` then sizes the position to move about 1% of equity on a typical day. A calm stock gets many
    shares; ``max_fraction`` with ``price`` caps the position's value at that fraction of equity (the usual
    guard against a volatility estimate that is briefly tiny).
    """
    goal = _exact("target", target)
    per_share = _exact("volatility", volatility)
    lot = _lot(lot)
    if (price is None) != (max_fraction is None):
        raise ValueRangeError("max_fraction and price go together: the cap is a value, which needs a price")
    cap = None if price is None or max_fraction is None else percent_of_equity(equity, max_fraction, price, lot=lot)
    if equity <= 0 or per_share == 0:
        return 0
    shares = _round_down(equity * goal / per_share, lot)
    return shares if cap is None else min(shares, cap)


def volatility_from_returns(price: int, return_stdev: Ratio) -> Fraction:
    """One share's typical move in price units from the standard deviation of its returns (0.02: 2%)."""
    if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
        raise ValueRangeError(f"cannot size at price {price!r}: need a price > 0 in 1/10,000 dollar (0 is no price)")
    return price * _exact("return_stdev", return_stdev)
