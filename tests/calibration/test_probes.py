"""Probes are drawn from the seed and the day's own name only: same inputs, same probes; another day, others."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.calibration.probes import day_seed, draw_probes
from tapeflow.model.enums import Side

DAY = date(2012, 6, 21)


def test_the_same_seed_draws_the_same_probes_and_another_day_draws_others() -> None:
    a = draw_probes(day_seed(21, "AMZN", DAY), 0, 10**12, 50, [1, 2, 3], [100, 200])
    assert a == draw_probes(day_seed(21, "AMZN", DAY), 0, 10**12, 50, [1, 2, 3], [100, 200])
    assert a != draw_probes(day_seed(21, "GOOG", DAY), 0, 10**12, 50, [1, 2, 3], [100, 200])
    assert day_seed(21, "AMZN", DAY) == 21 * 1_000_003 + 1_005_268_209  # CRC-32 of "AMZN|2012-06-21": no salt


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 10**15), st.integers(1, 10**12), st.integers(0, 300))
def test_probes_lie_in_the_window_in_time_order_with_the_levels_and_sizes_given(
    seed: int, start: int, length: int, count: int
) -> None:
    probes = draw_probes(seed, start, start + length, count, [1, 5], [100, 300])
    assert len(probes) == count
    assert all(start <= p.ts < start + length for p in probes)
    assert [(p.ts, p.probe_id) for p in probes] == sorted((p.ts, p.probe_id) for p in probes)
    assert {p.level for p in probes} <= {1, 5} and {p.size for p in probes} <= {100, 300}
    assert sorted(p.probe_id for p in probes) == list(range(count))


def test_both_sides_are_drawn_and_an_empty_window_draws_nothing() -> None:
    probes = draw_probes(1, 0, 10**9, 200, [1], [100])
    assert {p.side for p in probes} == {Side.BUY, Side.SELL}
    assert draw_probes(1, 10, 10, 5, [1], [100]) == []
