"""``_l3_core.IdSet``, the compiled LOBSTER loop's set of added order ids: the same answers as a Python set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.lobster import COMPILED_AVAILABLE

if COMPILED_AVAILABLE:
    from tapeflow.book._l3_core import IdSet

pytestmark = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")

INT64 = st.integers(-(1 << 63), (1 << 63) - 1)


def _new() -> IdSet:
    return IdSet()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.one_of(INT64, st.integers(-3, 3), st.integers(0, 5000))), max_size=400),
    st.integers(0, 62),
)
def test_idset_answers_as_a_python_set_for_any_adds_and_lookups(ops: list[tuple[bool, int]], stride_bits: int) -> None:
    ids = _new()
    ref: set[int] = set()
    for add, value in ops:
        for v in (value, (value << stride_bits) & ((1 << 63) - 1)):  # also strided ids, which crowd one slot run
            if add:
                ids.add(v)
                ref.add(v)
            assert (v in ids) == (v in ref)
    assert len(ids) == len(ref)
    for v in ref:
        assert v in ids


def test_idset_of_ids_that_share_their_low_bits_switches_to_its_scrambling_hash_and_stays_exact() -> None:
    """Ids that are all multiples of 2**40 land in one run of slots unscrambled: rather than probe the whole run on
    every add (quadratic), the table switches to its scrambling hash."""
    ids = _new()
    values = [k << 40 for k in range(20_000)]
    for v in values:
        ids.add(v)
    assert ids.scrambled
    assert len(ids) == 20_000
    assert all(v in ids for v in values)
    assert (3 << 39) not in ids
    assert -(1 << 63) not in ids
    ids.add(-(1 << 63))
    assert -(1 << 63) in ids and len(ids) == 20_001


def test_idset_of_growing_ids_like_lobster_days_keeps_its_cache_friendly_hash() -> None:
    ids = _new()
    for k in range(100_000):
        ids.add(11_000_000 + 37 * k + k % 7)
    assert not ids.scrambled
    assert len(ids) == 100_000


@pytest.mark.parametrize("expected", [0, 1, 1_000, 200_000])
def test_idset_sized_for_expected_ids_holds_them_without_growing_and_grows_past_them_exactly(expected: int) -> None:
    """``IdSet(expected)``: the store replay sizes it from the day's rows, so the day's adds never rehash it; more
    ids than expected (a day whose adds outnumber what it was sized for) still grow it, and it stays a set."""
    ids = IdSet(expected)
    room = ids.capacity
    assert room >= expected
    values = [11_000_000 + 37 * k + k % 7 for k in range(max(expected, 1))]
    for v in values:
        ids.add(v)
    assert ids.capacity == room  # no rehash while the expected ids arrive
    more = [5_000_000_000 + 13 * k for k in range(room + 1 - len(values) + 1_000)]
    for v in more:
        ids.add(v)
    assert ids.capacity > room and len(ids) == len(values) + len(more)
    assert all(v in ids for v in values) and all(v in ids for v in more)
    assert 11_000_001 not in ids and 5_000_000_001 not in ids


def test_idset_sized_for_an_absurd_count_allocates_at_most_its_cap() -> None:
    assert IdSet(10**15).capacity == IdSet(1 << 30).capacity == IdSet(1 << 80).capacity == (1 << 21) - 1  # 32 MiB
    assert IdSet(-5).capacity == IdSet().capacity == (1 << 17) - 1
