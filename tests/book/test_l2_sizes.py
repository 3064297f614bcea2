"""``LevelSizes``, the compiled L2 book's price -> size table, against the dict it stands for: the same answers,
values and errors for every operation, through growth, deletes that shift probe chains, and the switch to a
plain dict when a key or value is not a 64-bit int."""

from __future__ import annotations

import copy
import pickle
import random
import sys
from collections.abc import MutableMapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book import l2 as l2_module

pytestmark = pytest.mark.skipif(not l2_module.COMPILED_AVAILABLE, reason="the compiled L2 core was not built")

if l2_module.COMPILED_AVAILABLE:
    from tapeflow.book._l2_core import LevelSizes


def _outcome(target: Any, op: str, args: tuple[Any, ...]) -> Any:
    try:
        return ("ok", getattr(target, op)(*args))
    except Exception as exc:  # the errors themselves are compared
        return (type(exc), str(exc))


def _same(table: Any, model: dict[Any, Any]) -> None:
    assert len(table) == len(model)
    assert table == model and model == table
    assert (table != model) is False and (model != table) is False
    assert dict(table) == model
    assert sorted(map(repr, table)) == sorted(map(repr, model))
    assert sorted(map(repr, table.items())) == sorted(map(repr, model.items()))
    for key in model:
        assert key in table
        assert table[key] is model[key]  # the very size object stored, as a dict returns it


_CHAINED = [k for k in range(5000) if (k * 0x9E3779B97F4A7C15) % 2**64 >> 59 == 0][:10]
"""Keys with the same home slot in the table (its Fibonacci hash's top bits) up to 32 slots: long probe chains,
which a delete must shift back whole."""

# prices the way they arrive (1/10,000 dollar, $0.01 ticks), colliding small ints, the 64-bit edges, and what a
# broken feed handler could put in: ints past 64 bits, bools, floats equal to ints, strings
_int_keys = st.one_of(
    st.integers(95, 105).map(lambda t: t * 100 * 100),
    st.integers(-4, 40),
    st.sampled_from(_CHAINED),
    st.sampled_from(_CHAINED),
    st.sampled_from([2**63 - 1, -(2**63), 2**62, 1 << 40, 7 << 58]),
)
_odd_keys = st.sampled_from([2**63, -(2**63) - 1, 2**70, True, False, 1_000_000.0, 2.5, "1000000"])
_keys = st.one_of(_int_keys, _int_keys, _int_keys, _odd_keys)
_values = st.one_of(st.integers(0, 10**6), st.integers(0, 3), st.sampled_from([2**70, -1, 1.5, None]))
_ops = st.one_of(
    st.tuples(st.just("__setitem__"), st.tuples(_keys, _values)),
    st.tuples(st.just("__setitem__"), st.tuples(_int_keys, st.integers(1, 500))),
    st.tuples(st.sampled_from(["__getitem__", "__delitem__", "__contains__", "get", "pop"]), st.tuples(_keys)),
    st.tuples(st.sampled_from(["get", "pop", "setdefault"]), st.tuples(_keys, _values)),
    st.tuples(st.sampled_from(["clear", "copy", "__len__"]), st.just(())),
)


@settings(max_examples=400)
@given(st.lists(_ops, max_size=80))
def test_level_sizes_answer_every_operation_as_a_dict_does(ops: list[tuple[str, tuple[Any, ...]]]) -> None:
    table, model = LevelSizes(), {}
    for op, args in ops:
        assert _outcome(table, op, args) == _outcome(model, op, args), (op, args)
        _same(table, model)


@settings(max_examples=50)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), unique=True, min_size=1, max_size=300), st.randoms())
def test_level_sizes_keep_every_level_through_growth_and_deletes_in_any_order(
    keys: list[int], rnd: random.Random
) -> None:
    table, model = LevelSizes(), {}
    for i, key in enumerate(keys):
        table[key] = model[key] = i + 1000
    _same(table, model)
    rnd.shuffle(keys)
    for key in keys[: len(keys) // 2]:
        del table[key]
        del model[key]
        assert key not in table
    _same(table, model)
    for key in keys[len(keys) // 2 :]:
        table[key] = model[key] = table[key] + 1  # replacing keeps the level count
    _same(table, model)


def test_level_sizes_churn_like_a_busy_book_and_stay_a_dict() -> None:
    """Levels coming and going around a moving price, 200,000 times (deletes shift probe chains back)."""
    rnd = random.Random(7)
    table, model = LevelSizes(), {}
    mid = 1_000_000
    for _ in range(200_000):
        mid += rnd.choice((-100, 0, 100))
        price = mid + rnd.randrange(-30, 31) * 100
        if rnd.random() < 0.45 and price in model:
            del table[price]
            del model[price]
        else:
            table[price] = model[price] = rnd.randrange(1, 5_000)
        assert (price in table) == (price in model)
    _same(table, model)
    assert all(table.get(p + 50) is None for p in model)  # between ticks: never there


def test_a_key_that_is_not_a_64_bit_int_moves_the_levels_into_a_dict_for_good() -> None:
    table = LevelSizes()
    table[1_000_000] = 5
    assert 1_000_000.0 in table and table[1_000_000.0] == 5  # dict semantics: equal keys are the same key
    table[True] = 2
    table[1_000_000.0] = 6
    assert table == {1_000_000: 6, True: 2}
    assert list(table.keys()) == [1_000_000, True] and type(next(iter(table))) is int
    del table[1]  # True == 1
    table[1_000_100] = 3
    assert table == {1_000_000: 6, 1_000_100: 3}


def test_level_sizes_are_a_mutable_mapping_that_copies_pickles_and_refuses_hashing() -> None:
    table = LevelSizes()
    table.update({1_000_000: 5, 999_900: 7})
    assert isinstance(table, MutableMapping)
    assert copy.deepcopy(table) == table and type(copy.deepcopy(table)) is LevelSizes
    restored = pickle.loads(pickle.dumps(table))
    assert type(restored) is LevelSizes and restored == {1_000_000: 5, 999_900: 7}
    assert table.copy() == table and type(table.copy()) is dict
    assert repr(LevelSizes()) == "LevelSizes({})"
    with pytest.raises(TypeError):
        hash(table)
    assert table.popitem() in ((1_000_000, 5), (999_900, 7)) and len(table) == 1
    assert table != {} and table != LevelSizes() and table != [1]


def test_a_compiled_book_keeps_its_levels_in_level_sizes_and_a_python_book_in_dicts() -> None:
    compiled, python = l2_module.L2Book("X", impl="compiled"), l2_module.L2Book("X", impl="python")
    assert type(compiled.bids.sizes) is LevelSizes and type(compiled.asks.sizes) is LevelSizes
    assert type(python.bids.sizes) is dict and type(python.asks.sizes) is dict
    assert compiled._bid_sizes is compiled.bids.sizes and compiled._ask_sizes is compiled.asks.sizes


def test_level_sizes_hold_one_reference_per_level_and_drop_it_on_replace_delete_clear_and_end() -> None:
    size = int("123456789123")  # a fresh int object, so its reference count is the table's alone to change
    base = sys.getrefcount(size)
    table = LevelSizes()
    for price in range(1_000):  # grows the table several times
        table[price * 100] = size
    assert sys.getrefcount(size) == base + 1_000
    for price in range(0, 1_000, 2):
        table[price * 100] = 7  # replaced
    for price in range(1, 200, 2):
        del table[price * 100]
    assert sys.getrefcount(size) == base + 400
    table.clear()
    assert sys.getrefcount(size) == base and len(table) == 0
    table[5] = size
    table[6] = 1.5  # to a dict: the reference moves with the level
    assert sys.getrefcount(size) == base + 1 and table[5] is size
    del table
    assert sys.getrefcount(size) == base
    other = LevelSizes()
    other[5] = size
    del other
    assert sys.getrefcount(size) == base
