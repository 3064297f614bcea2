"""The power probability queue model (hftbacktest's PowerProbQueueModel) evaluated exactly on integers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.orders import SubmitOrder
from tapeflow.venues.sim.orders import SimOrder
from tapeflow.venues.sim.prob_queue import power_ahead_after_cancel
from tapeflow.venues.sim.queue import L2Queue, QueueModel


def test_power2_takes_the_cancel_mostly_from_the_longer_side_as_the_formula_says() -> None:
    """front 100, back 300, 40 cancelled: p(behind) = 9e4 / (9e4 + 1e4) = 0.9, so 4 leave from ahead."""
    assert power_ahead_after_cancel(100, 400, 40, 2) == 96
    assert QueueModel.POWER2.ahead_after_cancel(100, 400, 40) == 96


def test_power3_with_more_ahead_than_behind_moves_us_up_almost_by_the_whole_cancel() -> None:
    """front 300, back 100: p(behind) = 1e6 / (1e6 + 2.7e7) = 1/28; 40 * 27/28 = 38.57 -> 38 from ahead."""
    assert power_ahead_after_cancel(300, 400, 40, 3) == 262
    assert QueueModel.POWER3.ahead_after_cancel(300, 400, 40) == 262


def test_a_cancel_larger_than_what_is_behind_takes_the_excess_from_ahead() -> None:
    """front 100, back 10, 50 cancelled: 50 * 1e4 / (1e4 + 1e2) = 49.5 -> 49 from ahead, 1 from behind; the
    behind share (1) fits, nothing overflows. With back 0 everything is from ahead."""
    assert power_ahead_after_cancel(100, 110, 50, 2) == 51
    assert power_ahead_after_cancel(100, 100, 30, 2) == 70


def test_power1_is_the_proportional_rule() -> None:
    for ahead, level, cancelled in [(5, 7, 3), (1, 3, 1), (250, 1_000, 333), (999, 1_000, 998)]:
        assert power_ahead_after_cancel(ahead, level, cancelled, 1) == QueueModel.PROPORTIONAL.ahead_after_cancel(
            ahead, level, cancelled
        )


def test_a_power_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        power_ahead_after_cancel(10, 20, 5, 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 5_000), st.integers(0, 5_000), st.integers(0, 10_000), st.integers(1, 4))
def test_power_estimate_lies_between_the_optimistic_and_pessimistic_bounds(
    ahead: int, behind: int, cancelled: int, n: int
) -> None:
    level = ahead + behind
    got = power_ahead_after_cancel(ahead, level, cancelled, n)
    assert QueueModel.FRONT.ahead_after_cancel(ahead, level, cancelled) <= got
    assert got <= QueueModel.BACK.ahead_after_cancel(ahead, level, cancelled)
    assert 0 <= got <= ahead


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3_000), st.integers(1, 3_000), st.integers(1, 2_000))
def test_a_higher_power_never_leaves_more_ahead_when_we_are_in_the_back_half(
    ahead: int, behind: int, cancelled: int
) -> None:
    """Behind the middle (front >= back), a higher power puts more of each cancel ahead of us."""
    if ahead < behind:
        ahead, behind = behind, ahead
    level = ahead + behind
    p2 = power_ahead_after_cancel(ahead, level, cancelled, 2)
    p3 = power_ahead_after_cancel(ahead, level, cancelled, 3)
    assert p3 <= p2


def test_the_l2_queue_under_power2_moves_an_order_up_by_the_formula() -> None:
    """Through the exchange's own L2 queue: 100 ahead, the level 400 -> 360 by a cancel: 96 still ahead."""
    command = SubmitOrder(
        ts_event=0,
        ts_init=0,
        strategy_id="s",
        client_order_id="c",
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=100,
        price=1_000_000,
        time_in_force=TimeInForce.GTC,
    )
    order = SimOrder.of(command, "v-c")
    queue = L2Queue(QueueModel.POWER2)
    queue.on_new_order(order, 100)
    queue.on_depth_change([order], 400, 360)
    assert order.ahead == 96
