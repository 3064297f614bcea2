"""Where an L2 cancellation happened in the queue: the three models on known values and their bounds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.venues.sim.queue import QueueModel

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
    assert list(QueueModel) == [FRONT, BACK, PROPORTIONAL]
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
