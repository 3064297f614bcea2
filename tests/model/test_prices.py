from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.model import (
    RULE_612,
    Instrument,
    ValueRangeError,
    price_from_decimal,
    price_from_str,
    price_to_decimal,
    price_to_fraction,
    price_to_str,
)
from tapeflow.model.prices import MAX_PRICE


def test_price_from_str_exact_example() -> None:
    assert price_from_str("120.55") == 1_205_500
    assert price_from_str("0.0001") == 1
    assert price_from_str(" 585.33 ") == 5_853_300


def test_price_to_str_shortest_exact_form() -> None:
    assert price_to_str(1_205_500) == "120.55"
    assert price_to_str(1) == "0.0001"
    assert price_to_str(1_205_550) == "120.555"
    assert price_to_str(10_000) == "1.00"
    assert price_to_str(-15) == "-0.0015"


@pytest.mark.parametrize("text", ["120.55555", "0.00001", "1e-5"])
def test_price_with_more_than_four_decimals_is_refused(text: str) -> None:
    with pytest.raises(ValueRangeError, match="more than 4 decimals"):
        price_from_str(text)


@pytest.mark.parametrize("text", ["abc", "", "12,5"])
def test_price_that_is_not_a_number_is_refused(text: str) -> None:
    with pytest.raises(ValueRangeError, match="not a decimal number"):
        price_from_str(text)


def test_price_non_finite_and_out_of_range_are_refused() -> None:
    with pytest.raises(ValueRangeError, match="not a finite"):
        price_from_decimal(Decimal("NaN"))
    with pytest.raises(ValueRangeError, match="out of range"):
        price_from_decimal(Decimal(MAX_PRICE) + 1)


@given(st.integers(min_value=-MAX_PRICE, max_value=MAX_PRICE))
def test_price_text_and_decimal_round_trip(units: int) -> None:
    assert price_from_str(price_to_str(units)) == units
    assert price_from_decimal(price_to_decimal(units)) == units
    assert price_to_fraction(units) == Fraction(units, 10_000)


def test_rule_612_ticks() -> None:
    assert RULE_612.tick_size(10_000) == 100  # $1.00 and above: one cent
    assert RULE_612.tick_size(9_999) == 1  # below $1.00: $0.0001
    assert RULE_612.is_valid(1_205_500)
    assert not RULE_612.is_valid(1_205_550)  # $120.555 is sub-penny
    assert RULE_612.is_valid(9_999)  # $0.9999
    assert not RULE_612.is_valid(0)
    assert RULE_612.round_down(1_205_550) == 1_205_500
    assert RULE_612.round_up(1_205_550) == 1_205_600


def test_instrument_check_price_says_why() -> None:
    aapl = Instrument(symbol="AAPL")
    assert aapl.check_price(1_205_500) is None
    reason = aapl.check_price(1_205_550)
    assert reason is not None and "120.555" in reason and "0.01 tick" in reason
    assert aapl.check_price(-1) == "price -1 is not positive"
