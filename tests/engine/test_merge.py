from __future__ import annotations

import heapq
from operator import attrgetter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.engine.merge import merge_batches, merge_sorted
from tapeflow.model import OutOfOrderError

from .helpers import trade


def test_equal_timestamps_follow_source_order_then_file_order() -> None:
    a = [trade(1, "a1"), trade(5, "a5"), trade(5, "a5b")]
    b = [trade(5, "b5"), trade(6, "b6")]
    c = [trade(0, "c0"), trade(5, "c5")]
    got = [e.trade_id for e in merge_sorted([a, b, c], chunk=1)]
    assert got == ["c0", "a1", "a5", "a5b", "b5", "c5", "b6"]


def test_unsorted_source_is_refused_naming_both_timestamps() -> None:
    with pytest.raises(OutOfOrderError, match="ts=3 is earlier than the clock at ts=7"):
        list(merge_sorted([[trade(1), trade(7), trade(3)], [trade(2)]]))


def test_bad_chunk_size_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk must be at least 1"):
        list(merge_batches([[trade(1)]], chunk=0))


def test_streaming_pulls_only_a_bounded_prefix() -> None:
    pulled = 0

    def endless(offset: int):  # type: ignore[no-untyped-def]
        nonlocal pulled
        ts = offset
        while True:
            pulled += 1
            yield trade(ts)
            ts += 2

    merged = merge_sorted([endless(0), endless(1)], chunk=64)
    first = [next(merged).ts_init for _ in range(100)]
    assert first == list(range(100))
    assert pulled <= 4 * 64 + 64  # a few chunks per source, never the whole (infinite) source


_source = st.lists(st.integers(min_value=0, max_value=50), max_size=40).map(sorted)


@settings(max_examples=300)
@given(st.lists(_source, min_size=1, max_size=6), st.integers(min_value=1, max_value=9))
def test_merge_equals_stable_sort_by_ts_then_source(sources: list[list[int]], chunk: int) -> None:
    tagged = [[trade(ts, f"{i}:{j}") for j, ts in enumerate(src)] for i, src in enumerate(sources)]
    expected = sorted((e for src in tagged for e in src), key=lambda e: (e.ts_init, int(e.trade_id.split(":")[0])))
    got = list(merge_sorted(tagged, chunk=chunk))
    assert [e.trade_id for e in got] == [e.trade_id for e in expected]


# many ties: few distinct timestamps, long equal runs inside a source and across sources
_tied_source = st.lists(st.integers(min_value=0, max_value=6), max_size=60).map(sorted)


@settings(max_examples=300, deadline=None)
@given(st.lists(_tied_source, min_size=1, max_size=7), st.integers(min_value=1, max_value=70))
def test_merge_equals_heapq_merge_on_ts_init_over_streams_with_ties(sources: list[list[int]], chunk: int) -> None:
    """The reference is the simplest correct merge: ``heapq.merge`` keyed by ``ts_init`` breaks ties by source
    position, then by order within the source, which is the order the module promises; the batches are compared
    too, each one non-empty, so a batch boundary cannot hide a reordering."""
    tagged = [[trade(ts, f"{i}:{j}") for j, ts in enumerate(src)] for i, src in enumerate(sources)]
    expected = [e.trade_id for e in heapq.merge(*tagged, key=attrgetter("ts_init"))]
    batches = list(merge_batches(tagged, chunk=chunk))
    assert all(batches)
    assert [e.trade_id for batch in batches for e in batch] == expected
    assert [e.trade_id for e in merge_sorted(tagged, chunk=chunk)] == expected
