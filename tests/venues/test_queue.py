"""Queue position: where an L2 cancellation happened (the three models on known values and their bounds), and
the L2 and L3 queue models driven through the one ``QueuePosition`` protocol the exchange uses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.orders import SubmitOrder
from tapeflow.venues.sim.orders import SimOrder
from tapeflow.venues.sim.queue import Fill, L2Queue, L3Queue, QueueModel, QueuePosition, queue_for

FRONT, BACK, PROPORTIONAL = QueueModel.FRONT, QueueModel.BACK, QueueModel.PROPORTIONAL


def test_known_values_for_each_model() -> None:
    # 1,000 shares at the level (ours excluded), 400 ahead of us, 300 cancelled
    assert FRONT.ahead_after_cancel(400, 1_000, 300) == 100
    assert BACK.ahead_after_cancel(400, 1_000, 300) == 400  # 600 behind us absorb it
    assert BACK.ahead_after_cancel(400, 1_000, 700) == 300  # the 600 behind, then 100 ahead
    assert PROPORTIONAL.ahead_after_cancel(400, 1_000, 300) == 280  # 400 x 300/1,000 = 120 of them ahead


def test_proportional_rounds_toward_staying_behind() -> None:
    """1 of 3 shares cancelled with 1 ahead: a third of a share ahead left; we never move past a share that may
    still be there."""
    assert PROPORTIONAL.ahead_after_cancel(1, 3, 1) == 1
    assert PROPORTIONAL.ahead_after_cancel(5, 7, 3) == 5 - 15 // 7


def test_nothing_cancelled_or_nothing_ahead_changes_nothing_and_the_whole_level_gone_leaves_nothing() -> None:
    assert list(QueueModel) == [FRONT, BACK, PROPORTIONAL, QueueModel.POWER2, QueueModel.POWER3]
    for model in QueueModel:
        assert model.ahead_after_cancel(400, 1_000, 0) == 400
        assert model.ahead_after_cancel(0, 1_000, 500) == 0
        assert model.ahead_after_cancel(400, 1_000, 1_000) == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 5_000), st.integers(0, 5_000), st.integers(0, 5_000))
def test_every_model_stays_between_front_and_back_and_within_what_is_left(
    ahead: int, behind: int, cancelled: int
) -> None:
    level = ahead + behind
    cancelled = min(cancelled, level)
    front, back = FRONT.ahead_after_cancel(ahead, level, cancelled), BACK.ahead_after_cancel(ahead, level, cancelled)
    assert front == max(0, ahead - cancelled)
    assert back == ahead - max(0, cancelled - behind)
    proportional = PROPORTIONAL.ahead_after_cancel(ahead, level, cancelled)
    assert front <= proportional <= back
    assert proportional <= level - cancelled  # never more ahead than the shares left at the level


# -- the protocol: L2 and L3 models interchangeable --------------------------------------------------------------


def _order(quantity: int, cid: str = "o-1") -> SimOrder:
    command = SubmitOrder(
        ts_event=0,
        ts_init=0,
        strategy_id="s",
        client_order_id=cid,
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=quantity,
        price=1_000_000,
        time_in_force=TimeInForce.GTC,
    )
    return SimOrder.of(command, f"v-{cid}")


def _book(fills: list[Fill]) -> list[tuple[str, int]]:
    """Apply the filled amounts as the exchange would (a filled order leaves the level) and name them."""
    for order, take in fills:
        order.filled += take
    return [(order.client_order_id, take) for order, take in fills]


def _scenario(queue: QueuePosition) -> tuple[list[tuple[str, int]], list[int]]:
    """Market orders 1 (300) and 2 (200) rest at our price; we join for 100; order 3 (400) joins behind us.
    Order 1 trades out, order 2 is cancelled, then 150 shares of order 3 trade. Returns the fills of that last
    trade and the shares ahead of us after each step."""
    ours = _order(100)
    own = [ours]
    queue.on_new_order(ours, 500)
    ahead = [ours.ahead]
    queue.on_depth_change(own, 500, 900, order_id=3)
    ahead.append(ours.ahead)
    assert queue.on_trade(own, 300, order_id=1, order_gone=True) == []
    ahead.append(ours.ahead)
    queue.on_depth_change(own, 600, 400, order_id=2, order_gone=True)
    ahead.append(ours.ahead)
    fills = _book(queue.on_trade(own, 150, order_id=3))
    ahead.append(ours.ahead)
    return fills, ahead


@pytest.mark.parametrize(
    ("queue", "fills", "ahead"),
    [
        # exact: order 2 was ahead of us, so its cancel moves us to the front; order 3's trade reaches us first
        (L3Queue(), [("o-1", 100)], [500, 500, 200, 0, 0]),
        # L2 knows no ids: the same calls, read as level sizes; the cancellation lands where the model says
        (L2Queue(FRONT), [("o-1", 100)], [500, 500, 200, 0, 0]),
        (L2Queue(PROPORTIONAL), [("o-1", 16)], [500, 500, 200, 200 - 200 * 200 // 600, 0]),
        (L2Queue(BACK), [], [500, 500, 200, 200, 50]),  # the 400 behind us absorb the cancel: still 200 ahead
    ],
    ids=["L3", "L2-FRONT", "L2-PROPORTIONAL", "L2-BACK"],
)
def test_one_scenario_through_either_queue_model_via_the_protocol_gives_each_models_fills(
    queue: QueuePosition, fills: list[tuple[str, int]], ahead: list[int]
) -> None:
    assert _scenario(queue) == (fills, ahead)


def test_a_cancel_behind_us_moves_us_in_l2_front_but_not_in_l3_or_l2_back() -> None:
    def after_cancel_behind(queue: QueuePosition) -> int:
        ours = _order(100)
        queue.on_new_order(ours, 500)
        queue.on_depth_change([ours], 500, 800, order_id=7)  # order 7 joins behind us
        queue.on_depth_change([ours], 800, 500, order_id=7, order_gone=True)  # and leaves
        return ours.ahead

    assert after_cancel_behind(L3Queue()) == 500
    assert after_cancel_behind(L2Queue(BACK)) == 500
    assert after_cancel_behind(L2Queue(FRONT)) == 200


def test_l3_execution_of_an_order_ahead_never_fills_us_even_beyond_what_is_counted_ahead() -> None:
    ours = _order(100)
    queue = L3Queue()
    queue.on_new_order(ours, 50)
    assert queue.on_trade([ours], 80, order_id=1) == []
    assert ours.ahead == 0


def test_two_of_our_orders_at_one_level_share_a_print_oldest_first_after_the_market_ahead_of_each() -> None:
    first, second = _order(100, "o-1"), _order(100, "o-2")
    queue = L2Queue(FRONT)
    queue.on_new_order(first, 50)
    queue.on_new_order(second, 80)  # 80 market shares when it joined: 50 before ours, 30 after
    assert _book(queue.on_trade([first, second], 200)) == [("o-1", 100), ("o-2", 20)]
    assert (first.ahead, second.ahead) == (0, 0)


def test_queue_for_picks_the_exact_model_for_l3_and_the_configured_estimate_otherwise() -> None:
    assert isinstance(queue_for("L3", BACK), L3Queue)
    for level in ("L1", "L2"):
        chosen = queue_for(level, BACK)
        assert isinstance(chosen, L2Queue) and chosen.model is BACK


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2_000), st.lists(st.integers(1, 300), max_size=12), st.sampled_from(list(QueueModel)))
def test_trades_without_order_ids_fill_the_same_in_l3_and_every_l2_model(
    level: int, trades: list[int], model: QueueModel
) -> None:
    """A trade that names no order is taken from the front by every model: they agree on it."""
    results = []
    for queue in (L3Queue(), L2Queue(model)):
        ours = _order(500)
        queue.on_new_order(ours, level)
        fills = [_book(queue.on_trade([ours], size)) for size in trades if ours.remaining]
        results.append((fills, ours.ahead, ours.filled))
    assert results[0] == results[1]


_STEP = st.one_of(
    st.tuples(st.just("trade"), st.integers(0, 1_000)),  # a fraction (in thousandths) of the level trades
    st.tuples(st.just("depth"), st.integers(0, 6_000)),  # the level's new size, not by trading
    st.tuples(st.just("join"), st.integers(1, 500)),  # we filled out: a new order of ours joins the back
)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 5_000), st.integers(1, 500), st.lists(_STEP, max_size=30), st.sampled_from(list(QueueModel)))
def test_l2_shares_ahead_never_go_negative_nor_above_the_level_and_fills_only_follow_the_shares_ahead(
    level: int, quantity: int, steps: list[tuple[str, int]], model: QueueModel
) -> None:
    queue = L2Queue(model)
    ours = _order(quantity)
    queue.on_new_order(ours, level)
    for kind, value in steps:
        if kind == "trade":
            size = level * value // 1_000
            ahead_before = ours.ahead
            fills = _book(queue.on_trade([ours], size)) if ours.remaining else []
            assert sum(take for _, take in fills) <= max(0, size - ahead_before)
            level -= size
        elif kind == "depth":
            queue.on_depth_change([ours], level, value)
            level = value
        elif not ours.remaining:
            ours = _order(value)
            queue.on_new_order(ours, level)
        assert 0 <= ours.ahead <= level
