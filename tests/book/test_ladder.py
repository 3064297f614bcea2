"""Ladder: ``set`` keeps sizes, sorted keys and the best price together, and says when the best moved."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tapeflow.book.ladder import Ladder
from tapeflow.model import Side


@given(st.sampled_from([Side.BUY, Side.SELL]), st.lists(st.tuples(st.integers(1, 30), st.integers(-2, 9))))
def test_set_equals_a_dict_and_reports_exactly_the_writes_that_moved_the_best(
    side: Side, writes: list[tuple[int, int]]
) -> None:
    ladder = Ladder(side)
    ref: dict[int, int] = {}
    pick = max if side is Side.BUY else min
    for price, size in writes:
        before = pick(ref) if ref else 0
        if size > 0:
            ref[price] = size
        else:
            ref.pop(price, None)
        after = pick(ref) if ref else 0
        assert ladder.set(price, size) == (before != after)
        assert ladder.best == after
        assert ladder.sizes == ref
        assert ladder.prices() == sorted(ref, reverse=side is Side.BUY)
