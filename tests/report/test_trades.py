from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.report.trades import RoundTrip, RoundTrips, TradeStats, round_trips, trade_stats

SEC = 1_000_000_000


def test_a_scaled_in_and_partly_exited_long_is_one_trip_with_its_notionals_and_holding_time() -> None:
    # buy 100 @ 10 at t=1, buy 100 @ 12 at t=2, sell 50 @ 13 at t=5, sell 150 @ 14 at t=9; fees 1 each
    trips = round_trips(["A"] * 4, [1, 1, -1, -1], [100, 100, 50, 150], [10, 12, 13, 14], [1, 1, 1, 1], ts=[1, 2, 5, 9])
    assert trips.trips == [
        RoundTrip(
            symbol="A",
            direction=1,
            ts_open=1,
            ts_close=9,
            quantity=200,
            entry_notional=100 * 10 + 100 * 12,
            exit_notional=50 * 13 + 150 * 14,
            fees=4,
            pnl=(650 + 2_100) - 2_200 - 4,
        )
    ]
    assert trips.trips[0].holding_ns == 8


def test_a_flip_through_zero_closes_a_short_and_opens_a_long_at_the_same_time() -> None:
    trips = round_trips(["A", "A", "A"], [-1, 1, -1], [50, 100, 50], [12, 11, 10], [1, 4, 0], ts=[10, 20, 35])
    short, long = trips.trips
    assert (short.direction, short.ts_open, short.ts_close, short.quantity, short.pnl) == (-1, 10, 20, 50, 50 - 1 - 2)
    assert (long.direction, long.ts_open, long.ts_close, long.quantity, long.pnl) == (1, 20, 35, 50, -50 - 2)
    assert trips.open_symbols == []


def test_trade_statistics_match_a_hand_computation() -> None:
    pnls_and_holding = [(300, 10), (-100, 20), (0, 30), (500, 40), (-300, 50)]
    trips = RoundTrips(
        trips=[
            RoundTrip(
                symbol="A",
                direction=1,
                ts_open=0,
                ts_close=h * SEC,
                quantity=1,
                entry_notional=0,
                exit_notional=0,
                fees=0,
                pnl=p,
            )
            for p, h in pnls_and_holding
        ],
        open_symbols=[],
    )
    stats = trade_stats(trips)
    assert stats == TradeStats(
        count=5,
        wins=2,
        losses=2,  # the trip at 0 is neither
        win_rate=0.4,
        avg_win=400,
        avg_loss=-200,
        largest_win=500,
        largest_loss=-300,
        profit_factor=2.0,  # 800 won over 400 lost
        expectancy=80,  # 400 / 5
        avg_holding_ns=30 * SEC,
    )


def test_averages_round_half_to_even_to_the_unit() -> None:
    trips = round_trips(["A"] * 4, [1, -1, 1, -1], [1, 1, 1, 1], [10, 13, 10, 12], [0, 0, 0, 0], ts=[0, 1, 2, 4])
    stats = trade_stats(trips)
    assert trips.pnls == [3, 2]
    assert stats.avg_win == 2  # 2.5 to even
    assert stats.avg_holding_ns == 2  # (1 + 2) / 2 = 1.5 to even
    assert stats.profit_factor is None and stats.losses == 0  # no losing trip: infinite, reported as undefined


def test_no_round_trips_give_empty_statistics_not_nan() -> None:
    stats = trade_stats(round_trips(["A"], [1], [100], [10], [0]))
    assert stats == TradeStats() and stats.win_rate is None and stats.expectancy is None


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["A", "B"]), st.sampled_from([1, -1]), st.integers(1, 300), st.integers(1, 10_000)),
        min_size=1,
        max_size=30,
    )
)
def test_every_trip_ends_flat_and_its_pnl_is_its_notionals_and_fees(steps: list[tuple[str, int, int, int]]) -> None:
    ts = list(range(len(steps)))
    trips = round_trips(
        [s[0] for s in steps], [s[1] for s in steps], [s[2] for s in steps], [s[3] for s in steps], [3] * len(steps), ts
    )
    held = {"A": 0, "B": 0}
    for symbol, sign, qty, _ in steps:
        held[symbol] += sign * qty
    assert trips.open_symbols == sorted(s for s, q in held.items() if q)
    for trip in trips.trips:
        assert trip.ts_open <= trip.ts_close and trip.quantity > 0
        assert trip.pnl == trip.direction * (trip.exit_notional - trip.entry_notional) - trip.fees
    stats = trade_stats(trips)
    assert stats.count == len(trips.trips) and stats.wins + stats.losses <= stats.count
    if stats.count:
        assert stats.expectancy == pytest.approx(sum(trips.pnls) / stats.count, abs=0.5)
