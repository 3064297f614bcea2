"""The compiled column loop over a book many levels deep on each side equals ``L3Book``'s own methods.

LOBSTER's own days add, drop and change levels near the best (the sorted keys' end), and the loop looks there
first (``L3Keys.bisect``); a book built up beforehand lets messages reach any depth, so these streams also take
the search's other half, and they read and write level sizes in place (``L3Sizes.ref_ll``) at any depth, with
overfills, partial and whole cancels and deletes that empty levels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book import L3Book
from tapeflow.book import l3 as l3_module
from tapeflow.data.lobster import LobsterCounts
from tapeflow.model.enums import Side
from tests.data.test_lobster_core import _state

pytestmark = pytest.mark.skipif(not l3_module.SIZES_TABLE_AVAILABLE, reason="the compiled L3 core was not built")

if l3_module.SIZES_TABLE_AVAILABLE:
    from tapeflow.book import _l3_core

MID = 100_000
"""Bids below it, asks above: no stream crosses the book."""


@st.composite
def deep_days(draw: Any) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int, int]]]:
    """Resting orders ``(id, direction, price, size)`` over 20-60 levels a side, then 1-80 messages ``(kind, id,
    size, price, direction)`` at any depth: adds at new and held prices, and cancels, deletes and executions of
    any resting order (sizes up to past the order's)."""
    depth = draw(st.integers(20, 60))
    resting = []
    for j in range(depth):
        for d in (1, -1):
            resting.append((len(resting) + 1, d, MID - d * (10 * j + 5), draw(st.integers(1, 9)) * 10))
    live = {oid: (d, price) for oid, d, price, _ in resting}
    messages = []
    next_id = len(resting) + 1
    for _ in range(draw(st.integers(1, 80))):
        kind = draw(st.sampled_from([1, 1, 2, 3, 4]))
        if kind == 1:
            d = draw(st.sampled_from([1, -1]))
            price = MID - d * draw(st.integers(1, 10 * depth + 40))
            live[next_id] = (d, price)
            messages.append((1, next_id, draw(st.integers(1, 9)) * 10, price, d))
            next_id += 1
        else:
            oid = draw(st.sampled_from(sorted(live)))
            d, price = live[oid]
            messages.append((kind, oid, draw(st.integers(0, 100)), price, d))
    return resting, messages


def _reference(resting: list[tuple[int, int, int, int]], messages: list[tuple[int, ...]]) -> L3Book:
    book = _resting(resting, "python")
    for t, (kind, oid, size, price, d) in enumerate(messages, 1):
        if kind == 1:
            book.add(oid, Side.BUY if d == 1 else Side.SELL, price, size, t)
        elif kind == 2:
            book.cancel(oid, size, t)
        elif kind == 3:
            book.delete(oid, t, size)
        else:
            book.execute(oid, size, t)
    return book


def _resting(resting: list[tuple[int, int, int, int]], impl: Any) -> L3Book:
    book = L3Book("DEEP", impl=impl)
    for oid, d, price, size in resting:
        book.add(oid, Side.BUY if d == 1 else Side.SELL, price, size, 0)
    return book


def _compiled(resting: list[tuple[int, int, int, int]], messages: list[tuple[int, ...]]) -> L3Book:
    book = _resting(resting, "compiled")
    known = _l3_core.IdSet()
    for oid, *_ in resting:
        known.add(oid)
    kinds, ids, sizes, prices, dirs = (np.array(c, dtype=np.int64) for c in zip(*messages, strict=True))
    secs = np.arange(1, len(messages) + 1, dtype=np.int64)
    quiet = [np.zeros(len(messages), dtype=np.int64) for _ in range(4)]  # the deepest price never moves: no reveal

    def never(*args: Any) -> None:
        raise AssertionError(f"unexpected call {args}")

    _l3_core.apply_lobster_columns(
        book, known, kinds, ids, sizes, prices, dirs, secs, quiet, np.zeros(4, dtype=np.int64), 1, 1,
        Side.BUY, Side.SELL, never, never, None, None, None, LobsterCounts(),
    )  # fmt: skip
    return book


@settings(max_examples=80, deadline=None)
@given(deep_days())
def test_compiled_column_loop_over_a_deep_book_equals_the_reference_methods(
    day: tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int, int]]],
) -> None:
    resting, messages = day
    assert _state(_compiled(resting, messages)) == _state(_reference(resting, messages))
