from __future__ import annotations

import heapq
from operator import attrgetter
from types import GeneratorType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.engine import merge
from tapeflow.engine.merge import merge_batches, merge_sorted
from tapeflow.model import OutOfOrderError, Trade

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


needs_core = pytest.mark.skipif(not merge.COMPILED_AVAILABLE, reason="the compiled kernel core is not built")

# Timestamps on both sides of where the compiled merge changes how it reads them: one, two and three 30-bit digits,
# the last that fits 64 bits and the first that does not (the reference's keyed sort then), negatives, a bool.
_EDGES = [0, 1, -1, 2**30, 2**60 - 1, 2**60, 1_718_976_600_000_000_000, 2**63 - 1, 2**63, 2**64 + 5, -(2**63), -(2**90)]
_stamp = st.one_of(st.integers(min_value=0, max_value=8), st.sampled_from(_EDGES))


def _tagged(sources: list[list[int]]) -> list[list[Trade]]:
    return [[trade(ts, f"{i}:{j}") for j, ts in enumerate(src)] for i, src in enumerate(sources)]


def _run(sources: list[list[Trade]], chunk: int, impl: merge.Impl) -> tuple[list[list[str]], str | None]:
    """Every batch (as labels) the merge yields before it stops, and the error that stopped it, if any."""
    batches: list[list[str]] = []
    try:
        for batch in merge_batches(sources, chunk=chunk, impl=impl):
            batches.append([e.trade_id for e in batch])  # noqa: PERF401 - each batch kept as it comes, before an error
    except OutOfOrderError as exc:
        return batches, str(exc)
    return batches, None


@needs_core
@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.lists(_stamp, max_size=40), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=12),
    st.booleans(),
)
def test_compiled_merge_yields_the_references_batches_and_errors(
    sources: list[list[int]], chunk: int, in_order: bool
) -> None:
    """The compiled twin against the Python reference, batch by batch: ties within and across sources, empty and
    single sources, timestamps beyond 64 bits; unsorted sources (``in_order`` false) must stop both at the same
    batch with the same message."""
    tagged = _tagged([sorted(src) for src in sources] if in_order else sources)
    reference = _run(tagged, chunk, "python")
    assert _run(tagged, chunk, "compiled") == reference
    if in_order and all(ts >= 0 for src in sources for ts in src):  # the merge's clock starts at 0
        assert reference[1] is None


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_both_merges_keep_the_documented_order_and_refusal(impl: merge.Impl) -> None:
    a = [trade(1, "a1"), trade(5, "a5"), trade(5, "a5b")]
    b = [trade(5, "b5"), trade(6, "b6")]
    c = [trade(0, "c0"), trade(5, "c5")]
    got = [e.trade_id for e in merge_sorted([a, b, c], chunk=1, impl=impl)]
    assert got == ["c0", "a1", "a5", "a5b", "b5", "c5", "b6"]
    with pytest.raises(OutOfOrderError, match="source event Trade at ts=3 is earlier than the clock at ts=7"):
        list(merge_sorted([[trade(1), trade(7), trade(3)], [trade(2)]], impl=impl))


@needs_core
def test_compiled_and_auto_run_the_core_unless_pure_python_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the comparison above compares: ``"compiled"`` is the core (Cython's generator, not a Python one)."""
    monkeypatch.delenv("TAPEFLOW_PURE_PYTHON", raising=False)  # "auto" is asked about below, with it and without
    assert not isinstance(merge_batches([[trade(1)]], impl="compiled"), GeneratorType)
    assert not isinstance(merge_batches([[trade(1)]]), GeneratorType)
    assert isinstance(merge_batches([[trade(1)]], impl="python"), GeneratorType)
    monkeypatch.setenv("TAPEFLOW_PURE_PYTHON", "1")
    assert isinstance(merge_batches([[trade(1)]]), GeneratorType)
    assert not isinstance(merge_batches([[trade(1)]], impl="compiled"), GeneratorType)


class Stamp:
    """A source item that is no ``Event``: the merge reads its ``ts_init`` as an attribute, compares it as an
    object, and a round holding one takes the reference's keyed sort (the compiled merge's slow path)."""

    __slots__ = ("trade_id", "ts_init")

    def __init__(self, ts: int, tag: str) -> None:
        self.ts_init = ts
        self.trade_id = tag


class Pulled:
    """A source read one item at a time, counting the reads: both merges must read each source as far, at the
    same batch; ``fail_at``: the read that raises (an iterator's own error, not its end)."""

    def __init__(self, items: list[Any], log: list[tuple[int, int]], index: int, fail_at: int | None) -> None:
        self.items, self.log, self.index, self.fail_at, self.at = items, log, index, fail_at, 0

    def __iter__(self) -> Pulled:
        return self

    def __next__(self) -> Any:
        self.log.append((self.index, self.at))
        if self.at == self.fail_at:
            raise KeyError(f"source {self.index} broke at read {self.at}")
        if self.at >= len(self.items):
            raise StopIteration  # raised by __next__, not returned as NULL: the merge must take it as the end
        self.at += 1
        return self.items[self.at - 1]


def _pulled_run(
    sources: list[list[Any]], chunk: int, impl: merge.Impl, fail: tuple[int, int] | None
) -> tuple[list[Any], Any]:
    """Each batch as labels with the reads made before it was yielded, then the error that stopped the merge."""
    log: list[tuple[int, int]] = []
    iters = [Pulled(src, log, i, fail[1] if fail and fail[0] == i else None) for i, src in enumerate(sources)]
    seen: list[Any] = []
    try:
        for batch in merge_batches(iters, chunk=chunk, impl=impl):
            seen.append(([e.trade_id for e in batch], len(log)))  # noqa: PERF401 - the reads made by then, each
    except (OutOfOrderError, KeyError) as exc:
        return seen, (type(exc).__name__, str(exc), len(log))
    return seen, (None, "", len(log))


_mixed_source = st.lists(st.tuples(st.integers(0, 12), st.booleans()), max_size=30)


@needs_core
@settings(max_examples=300, deadline=None)
@given(
    st.lists(_mixed_source, min_size=1, max_size=12),
    st.integers(min_value=1, max_value=9),
    st.none() | st.tuples(st.integers(0, 11), st.integers(0, 25)),
    st.booleans(),
)
def test_compiled_merge_reads_iterators_as_the_reference_over_many_sources(
    sources: list[list[tuple[int, bool]]], chunk: int, fail: tuple[int, int] | None, in_order: bool
) -> None:
    """Up to 12 sources read through their iterators, empty ones, ones ending mid-run, ones that raise, items
    that are no ``Event`` among events (rounds where some sources take the C keys and others not): the same
    batches, each yielded after the same reads of every source, and the same error after the same reads."""
    tagged = [
        [
            (Stamp(ts, f"{i}:{j}") if plain else trade(ts, f"{i}:{j}"))
            for j, (ts, plain) in enumerate(sorted(src) if in_order else src)
        ]
        for i, src in enumerate(sources)
    ]
    reference = _pulled_run(tagged, chunk, "python", fail)
    assert _pulled_run(tagged, chunk, "compiled", fail) == reference


@needs_core
@pytest.mark.parametrize("stop_after", [1, 3, 10, None])
def test_compiled_merge_keeps_no_reference_to_events_it_yielded_or_dropped(stop_after: int | None) -> None:
    """The compiled merge holds the events it read in C arrays and moves them into the batches it yields: once
    the batches and the merge are gone, every event has the references it had before (none kept, none lost),
    whether the merge ran to its end or was dropped after some batches."""
    import sys

    sources = [[trade(t * 3 + i, f"{i}:{t}") for t in range(40)] for i in range(4)]
    events = [e for src in sources for e in src]
    before = [sys.getrefcount(e) for e in events]
    batches = merge_batches([iter(s) for s in sources], chunk=7, impl="compiled")
    for taken, batch in enumerate(batches, 1):
        assert batch
        if taken == stop_after:
            break
    del batch, batches
    assert [sys.getrefcount(e) for e in events] == before
