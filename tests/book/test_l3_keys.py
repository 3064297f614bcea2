"""``L3Keys``, the L3 book's sorted price keys in a C array, against the list it stands for: the same answers,
errors and order for every list operation a ladder and its readers use, through growth and shrinking and the switch
to a plain list when a key is not a 64-bit int; a ladder's reads and writes over either; and ``L3Book`` choosing
it."""

from __future__ import annotations

import copy
import pickle
import sys
from bisect import bisect_left, bisect_right
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book import L3Book
from tapeflow.book import l3 as l3_module
from tapeflow.book.l3_orders import QueueLadder
from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.model.enums import Side
from tests.book.test_l2_sizes import _outcome

pytestmark = pytest.mark.skipif(not l3_module.SIZES_TABLE_AVAILABLE, reason="the compiled L3 core was not built")

if l3_module.SIZES_TABLE_AVAILABLE:
    from tapeflow.book._l3_core import L3Keys


def _same(keys: Any, model: list[Any]) -> None:
    assert len(keys) == len(model)
    assert keys == model and model == keys
    assert (keys != model) is False
    assert list(keys) == model
    assert list(reversed(keys)) == list(reversed(model))
    assert [type(k) for k in keys] == [type(k) for k in model]
    for i in range(-len(model), len(model)):
        assert keys[i] == model[i]
    for key in model[:3]:
        assert bisect_left(keys, key) == bisect_left(model, key)
        assert bisect_right(keys, key) == bisect_right(model, key)


_int_keys = st.one_of(st.integers(-50, 50), st.integers(-(2**63), 2**63 - 1))
_odd_keys = st.sampled_from([2**63, -(2**63) - 1, 2**70, True, 1.5])
_keys = st.one_of(_int_keys, _int_keys, _int_keys, _odd_keys)
_index = st.integers(-12, 12)
_slices = st.builds(
    slice, st.none() | st.integers(-8, 8), st.none() | st.integers(-8, 8), st.sampled_from([None, 1, 2, -1, -2])
)
_ops = st.one_of(
    st.tuples(st.just("append"), st.tuples(_keys)),
    st.tuples(st.just("insert"), st.tuples(_index, _int_keys)),
    st.tuples(st.just("insert"), st.tuples(_index, _keys)),
    st.tuples(st.just("pop"), st.just(())),
    st.tuples(st.just("pop"), st.tuples(_index)),
    st.tuples(st.sampled_from(["__getitem__", "__delitem__"]), st.tuples(_index)),
    st.tuples(st.sampled_from(["__getitem__", "__delitem__"]), st.tuples(_slices)),
    st.tuples(st.sampled_from(["clear", "__len__"]), st.just(())),
)


@settings(max_examples=400)
@given(st.lists(_ops, max_size=120))
def test_l3_keys_answer_every_operation_as_a_list_does(ops: list[tuple[str, Any]]) -> None:
    keys, model = L3Keys(), []
    for op, args in ops:
        assert _outcome(keys, op, args) == _outcome(model, op, args), (op, args)
        _same(keys, model)


@settings(max_examples=60)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 400)), min_size=1, max_size=2_000))
def test_a_ladder_over_l3_keys_reads_and_writes_as_over_a_list(steps: list[tuple[bool, int]]) -> None:
    """Levels opened and emptied at many prices on both sides (the array grows past 16 keys and shrinks): the
    same keys, best, prices, ranges and ranks as the list's ladder after every write."""
    for side in (Side.BUY, Side.SELL):
        listed, arrayed = QueueLadder(side), QueueLadder(side, keys=L3Keys())
        for add, tick in steps:
            price, size = 100_0000 + tick * 100, tick + 1 if add else 0
            assert listed.set(price, size) == arrayed.set(price, size)
            assert arrayed.keys == listed.keys and arrayed.best == listed.best
        assert arrayed.prices() == listed.prices() and arrayed.prices(3) == listed.prices(3)
        assert arrayed.levels(5) == listed.levels(5)
        for better, worse in ((0, 0), (listed.best, 0), (0, 100_0000 + 200 * 100)):
            assert arrayed.between(better, worse) == listed.between(better, worse)
        assert arrayed.rank(100_0000 + 200 * 100) == listed.rank(100_0000 + 200 * 100)


def test_l3_keys_memory_follows_the_levels_held_not_the_levels_ever_seen() -> None:
    keys = L3Keys()
    for i in range(100_000):
        keys.append(i)
    assert sys.getsizeof(keys) > 8 * 100_000  # it does count its array
    while len(keys) > 4:
        keys.pop()
    assert list(keys) == [0, 1, 2, 3]
    assert sys.getsizeof(keys) < 1024


def test_l3_keys_switch_to_a_plain_list_for_good_on_a_key_that_is_not_a_64_bit_int() -> None:
    keys = L3Keys()
    keys.append(-5)
    keys.append(7)
    keys.insert(1, 2**64)  # the first odd key: every key moves into a list, in order
    keys.append(9)
    assert list(keys) == [-5, 2**64, 7, 9]
    del keys[1]
    keys.insert(0, -(2**63))
    assert keys == [-(2**63), -5, 7, 9] and repr(keys) == "L3Keys([-9223372036854775808, -5, 7, 9])"


def test_l3_keys_copy_and_pickle_as_their_keys() -> None:
    keys = L3Keys()
    for key in (3, 5, 8):
        keys.append(key)
    back = pickle.loads(pickle.dumps(keys))
    assert type(back) is L3Keys and list(back) == [3, 5, 8]
    assert copy.copy(keys) == [3, 5, 8]


def test_l3_book_keeps_its_keys_in_the_array_unless_told_or_set_to_run_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    assert type(L3Book("X", impl="compiled").bids.keys) is L3Keys
    assert type(L3Book("X", impl="python").asks.keys) is list
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert type(L3Book("X").asks.keys) is list
