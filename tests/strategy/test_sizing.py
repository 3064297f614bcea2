"""Sizing helpers: whole shares rounded down, exact arithmetic, and every edge refused or sized 0 as documented."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model.errors import ValueRangeError
from tapeflow.strategy.sizing import (
    fixed_quantity,
    percent_of_equity,
    volatility_from_returns,
    volatility_target,
)

D = 10_000  # one dollar in price units
SETTINGS = settings(max_examples=200, deadline=None)


def test_fixed_quantity_rounds_down_to_whole_lots() -> None:
    assert fixed_quantity(250) == 250
    assert fixed_quantity(250, lot=100) == 200
    assert fixed_quantity(99, lot=100) == 0
    assert fixed_quantity(0) == 0


def test_percent_of_equity_buys_what_the_fraction_affords_rounded_down() -> None:
    # $100,000 equity, 10% at $33.00: $10,000 / $33 = 303.03 shares -> 303; in lots of 100 -> 300
    assert percent_of_equity(100_000 * D, 0.1, 33 * D) == 303
    assert percent_of_equity(100_000 * D, Fraction(1, 10), 33 * D, lot=100) == 300
    assert percent_of_equity(100_000 * D, 1, 50 * D) == 2_000  # exactly affordable: not one share less


def test_percent_of_equity_reads_a_float_as_the_decimal_it_prints_as() -> None:
    # 0.29 as a binary float is 0.28999...; read exactly it would buy 28 shares of $1 from $100, not 29
    assert percent_of_equity(100 * D, 0.29, 1 * D) == 29


def test_percent_of_equity_with_no_or_negative_equity_sizes_zero() -> None:
    assert percent_of_equity(0, 0.5, 10 * D) == 0
    assert percent_of_equity(-5_000 * D, 0.5, 10 * D) == 0


@pytest.mark.parametrize("price", [0, -1])
def test_percent_of_equity_at_a_price_that_is_not_positive_is_refused(price: int) -> None:
    with pytest.raises(ValueRangeError) as info:
        percent_of_equity(100_000 * D, 0.1, price)
    assert str(info.value) == (f"cannot size at price {price}: need a price > 0 in 1/10,000 dollar (0 is no price)")


def test_volatility_target_sizes_so_a_typical_move_costs_the_target_share_of_equity() -> None:
    # $1,000,000, 1% a day = $10,000; ATR $2.50 a share a day -> 4,000 shares
    assert volatility_target(1_000_000 * D, 0.01, 25_000) == 4_000
    # an ATR straight from the indicator (a float in price units)
    assert volatility_target(1_000_000 * D, 0.01, 24_999.5) == 4_000
    # the same from a 2% daily return stdev at $125: $2.50 a share
    assert volatility_target(1_000_000 * D, 0.01, volatility_from_returns(125 * D, 0.02)) == 4_000


def test_volatility_target_with_zero_volatility_sizes_zero_rather_than_unbounded() -> None:
    assert volatility_target(1_000_000 * D, 0.01, 0) == 0
    assert volatility_target(1_000_000 * D, 0.01, 0.0) == 0


def test_volatility_target_cap_limits_the_position_value() -> None:
    # tiny volatility would size 1,000,000 shares; the cap keeps it to 50% of equity at $10: 50,000 shares
    assert volatility_target(1_000_000 * D, 0.01, 100, price=10 * D, max_fraction=0.5) == 50_000
    assert volatility_target(1_000_000 * D, 0.01, 25_000, price=10 * D, max_fraction=0.5) == 4_000


def test_volatility_target_cap_needs_a_price() -> None:
    with pytest.raises(ValueRangeError) as info:
        volatility_target(1_000_000 * D, 0.01, 25_000, max_fraction=0.5)
    assert str(info.value) == "max_fraction and price go together: the cap is a value, which needs a price"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fixed_quantity(-1), "quantity must be a whole number of shares >= 0, got -1"),
        (lambda: fixed_quantity(10, lot=0), "lot must be a whole number of shares >= 1, got 0"),
        (lambda: percent_of_equity(D, -0.1, D), "fraction must be >= 0, got -0.1"),
        (lambda: percent_of_equity(D, float("nan"), D), "fraction must be finite, got nan"),
        (lambda: percent_of_equity(D, "0.1", D), "fraction must be a number, got '0.1'"),  # type: ignore[arg-type]
        (lambda: volatility_target(D, 0.01, -1), "volatility must be >= 0, got -1"),
        (lambda: volatility_target(D, 0.01, float("inf")), "volatility must be finite, got inf"),
        (lambda: volatility_target(D, -0.01, 1), "target must be >= 0, got -0.01"),
        (
            lambda: volatility_from_returns(0, 0.02),
            "cannot size at price 0: need a price > 0 in 1/10,000 dollar (0 is no price)",
        ),
        (lambda: volatility_from_returns(D, -0.02), "return_stdev must be >= 0, got -0.02"),
    ],
)
def test_invalid_sizing_inputs_are_refused_with_one_clear_line(call: object, message: str) -> None:
    with pytest.raises(ValueRangeError) as info:
        call()  # type: ignore[operator]
    assert str(info.value) == message


@SETTINGS
@given(
    equity=st.integers(min_value=1, max_value=10**15),
    percent=st.integers(min_value=0, max_value=300),
    price=st.integers(min_value=1, max_value=10**8),
    lot=st.sampled_from([1, 10, 100]),
)
def test_percent_of_equity_never_spends_more_than_asked_and_misses_by_less_than_a_lot(
    equity: int, percent: int, price: int, lot: int
) -> None:
    budget = Fraction(equity * percent, 100)
    shares = percent_of_equity(equity, Fraction(percent, 100), price, lot=lot)
    assert shares >= 0 and shares % lot == 0
    assert shares * price <= budget
    assert (shares + lot) * price > budget


@SETTINGS
@given(
    equity=st.integers(min_value=1, max_value=10**15),
    target_bps=st.integers(min_value=0, max_value=500),
    volatility=st.integers(min_value=1, max_value=10**7),
    lot=st.sampled_from([1, 100]),
)
def test_volatility_target_position_moves_at_most_the_target_and_misses_by_less_than_a_lot(
    equity: int, target_bps: int, volatility: int, lot: int
) -> None:
    goal = Fraction(equity * target_bps, 10_000)
    shares = volatility_target(equity, Fraction(target_bps, 10_000), volatility, lot=lot)
    assert shares % lot == 0
    assert shares * volatility <= goal < (shares + lot) * volatility
