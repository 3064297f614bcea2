"""Money, prices and times for people: separators, cents, dollars, New York time with the zone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model.display import duration, money, ny_date, ny_time, price, utc_iso

SEC = 1_000_000_000


@pytest.mark.parametrize(
    ("units", "text"),
    [
        (10_000_000_000, "$1,000,000.00"),
        (-242_780, "-$24.28"),
        (50, "$0.00"),  # half a cent rounds to even
        (150, "$0.02"),
        (-50, "$0.00"),  # no "-$0.00"
        (None, "n/a"),
    ],
)
def test_money_has_separators_and_two_decimals(units: int | None, text: str) -> None:
    assert money(units) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
@settings(max_examples=200, deadline=None)
def test_money_is_within_half_a_cent_of_the_exact_value(units: int) -> None:
    text = money(units)
    assert text.count(".") == 1 and len(text.rsplit(".", 1)[1]) == 2
    cents = int(text.replace("$", "").replace(",", "").replace(".", ""))
    assert abs(cents * 100 - units) <= 50


@pytest.mark.parametrize(
    ("units", "text"), [(1_894_700, "$189.47"), (1, "$0.0001"), (12_345_678_900, "$1,234,567.89"), (0, "none")]
)
def test_prices_are_exact_dollars_with_separators(units: int, text: str) -> None:
    assert price(units) == text


def test_times_are_new_york_with_the_zone_and_utc_for_programs() -> None:
    summer = 1_718_976_603_487_924_478
    assert ny_time(summer) == "2024-06-21 09:30:03.487924 EDT"
    assert ny_time(summer, precision="s") == "2024-06-21 09:30:03 EDT"
    assert ny_time(1_700_000_000 * SEC) == "2023-11-14 17:13:20.000000 EST"
    assert ny_date(summer) == "2024-06-21"
    assert ny_date(1_718_935_200 * SEC) == "2024-06-20"  # 02:00 UTC on the 21st is 22:00 on the 20th in New York
    assert utc_iso(summer) == "2024-06-21T13:30:03.487924Z"


@pytest.mark.parametrize(("ns", "text"), [(999, "999ns"), (1_500, "1us"), (3_725 * SEC, "1h 2m")])
def test_durations_keep_two_units(ns: int, text: str) -> None:
    assert duration(ns) == text
