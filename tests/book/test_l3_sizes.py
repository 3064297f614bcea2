"""``L3Sizes``, the L3 book's price -> size table, against the dict it stands for: the same answers, values,
errors and iteration order (the dict's insertion order) for every operation, through growth past its first
arrays, deletes that shift probe chains and leave holes, the squeeze that reuses them, and the switch to a plain
dict when a key or value is not a 64-bit int; and ``L3Book`` choosing it."""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import MutableMapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.book import L3Book
from tapeflow.book import l3 as l3_module
from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.model import ConfigError
from tapeflow.model.enums import Side
from tapeflow.model.events import Event
from tests.book.test_l2_sizes import _outcome
from tests.book.test_l3 import l3_streams

pytestmark = pytest.mark.skipif(not l3_module.SIZES_TABLE_AVAILABLE, reason="the compiled L3 core was not built")

if l3_module.SIZES_TABLE_AVAILABLE:
    from tapeflow.book._l3_core import L3Sizes


def _same(table: Any, model: dict[Any, Any]) -> None:
    assert len(table) == len(model)
    assert table == model and model == table
    assert (table != model) is False
    assert list(table) == list(model)  # insertion order, which the L3 tests compare
    assert list(table.items()) == list(model.items())
    assert list(reversed(table)) == list(reversed(model))
    for key in model:
        assert key in table
        assert table[key] == model[key] and type(table[key]) is type(model[key])


_CHAINED = [k for k in range(5000) if (k * 0x9E3779B97F4A7C15) % 2**64 >> 60 == 0][:10]
"""Keys with the same home slot in a 16-slot index: long probe chains, which a delete must shift back whole."""

# prices the way they arrive (1/10,000 dollar, $0.01 ticks), keys sharing their low bits or their high bits, the
# 64-bit edges, and what a broken feed handler could put in: ints past 64 bits, bools, floats equal to ints, text
_int_keys = st.one_of(
    st.integers(95, 105).map(lambda t: t * 100 * 100),
    st.integers(-4, 40),
    st.integers(0, 7).map(lambda h: (h << 40) | 12345),
    st.sampled_from(_CHAINED),
    st.sampled_from([2**63 - 1, -(2**63), 2**62, 1 << 40, 7 << 58]),
)
_odd_keys = st.sampled_from([2**63, -(2**63) - 1, 2**70, True, False, 1_000_000.0, 2.5, "1000000"])
_keys = st.one_of(_int_keys, _int_keys, _int_keys, _odd_keys)
_values = st.one_of(st.integers(0, 10**6), st.integers(-3, 3), st.sampled_from([2**70, 2**63 - 1, 1.5, None, True]))
_ops = st.one_of(
    st.tuples(st.just("__setitem__"), st.tuples(_int_keys, st.integers(1, 500))),
    st.tuples(st.just("__setitem__"), st.tuples(_int_keys, st.integers(1, 500))),
    st.tuples(st.just("__delitem__"), st.tuples(_int_keys)),
    st.tuples(st.just("__setitem__"), st.tuples(_keys, _values)),
    st.tuples(st.sampled_from(["__getitem__", "__delitem__", "__contains__", "get", "pop"]), st.tuples(_keys)),
    st.tuples(st.sampled_from(["get", "pop", "setdefault"]), st.tuples(_keys, _values)),
    st.tuples(st.sampled_from(["clear", "copy", "__len__", "popitem"]), st.just(())),
)


@settings(max_examples=400)
@given(st.lists(_ops, max_size=120))
def test_l3_sizes_answer_every_operation_as_a_dict_does_in_the_same_order(ops: list[tuple[str, Any]]) -> None:
    table, model = L3Sizes(), {}
    for op, args in ops:
        assert _outcome(table, op, args) == _outcome(model, op, args), (op, args)
        _same(table, model)


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 300), st.integers(-(2**63), 2**63 - 1)),
        min_size=1,
        max_size=2_000,
    ),
    st.integers(0, 8),
)
def test_l3_sizes_keep_insertion_order_through_growth_holes_and_reuse(
    steps: list[tuple[bool, int, int]], shift: int
) -> None:
    """Levels come and go at many prices (ids sharing their low bits when shifted): the arrays grow past 8
    entries, deletes leave holes that a squeeze reclaims, and a price that comes back goes last, as in a dict."""
    table, model = L3Sizes(), {}
    for add, slot, value in steps:
        key = slot << (shift * 7)
        if add:
            table[key] = value
            model[key] = value
        elif key in model:
            del table[key]
            del model[key]
        else:
            with pytest.raises(KeyError):
                del table[key]
    _same(table, model)


def test_l3_sizes_memory_follows_the_levels_held_not_the_levels_ever_seen() -> None:
    """A day opens and closes levels all day: a table that held at most 4 levels at a time stays as small as
    one that held 4 once (its pickled size is its content; its length the levels held)."""
    table = L3Sizes()
    for i in range(200_000):
        table[1_000_000 + i] = i + 1
        if i >= 4:
            del table[1_000_000 + i - 4]
    assert list(table) == [1_000_000 + i for i in range(199_996, 200_000)]
    assert sys.getsizeof(table) < 1024
    for i in range(1_000):
        table[i] = 1
    assert sys.getsizeof(table) > 16 * 1_000  # it does count its arrays


def test_l3_sizes_switch_to_a_plain_dict_for_good_on_a_value_that_is_not_a_64_bit_int() -> None:
    table = L3Sizes()
    table[5] = 1
    table[7] = 2
    table[9] = 2**64  # the first odd value: every level moves into a dict, in order
    table[5] = 3
    assert list(table.items()) == [(5, 3), (7, 2), (9, 2**64)]
    del table[True + 6]  # equal to 7, as the dict compares
    assert dict(table) == {5: 3, 9: 2**64}


def test_l3_sizes_are_a_mutable_mapping_that_copies_and_pickles_as_its_levels() -> None:
    table = L3Sizes()
    table.update({3: 1, 1: 2, 2: 3})
    assert isinstance(table, MutableMapping)
    assert copy.copy(table) == {3: 1, 1: 2, 2: 3}
    back = pickle.loads(pickle.dumps(table))
    assert type(back) is L3Sizes and list(back.items()) == [(3, 1), (1, 2), (2, 3)]
    assert repr(table) == "L3Sizes({3: 1, 1: 2, 2: 3})"


def test_l3_book_keeps_its_level_sizes_in_the_table_unless_told_or_set_to_run_pure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert type(L3Book("X", impl="compiled").bids.sizes) is L3Sizes
    assert type(L3Book("X", impl="python").asks.sizes) is dict
    monkeypatch.delenv(PURE_PYTHON_ENV, raising=False)
    assert type(L3Book("X").asks.sizes) is L3Sizes
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert type(L3Book("X").asks.sizes) is dict
    with pytest.raises(ConfigError):
        L3Book("X", impl="fast")  # type: ignore[arg-type]


def test_l3_book_over_the_table_reads_as_the_book_over_dicts() -> None:
    """The same writes through the Python API (adds, partial cancels, deletes, a level emptied, a reveal, a
    snapshot load) give the same levels, queues and snapshot over either storage."""
    books = [L3Book("X", impl="python"), L3Book("X", impl="compiled")]
    for book in books:
        book.add(1, Side.BUY, 100_0000, 100)
        book.add(2, Side.BUY, 99_0000, 50)
        book.add(3, Side.SELL, 101_0000, 70)
        book.add(4, Side.BUY, 100_0000, 30)
        book.cancel(1, 40)
        book.set_level(Side.SELL, 102_0000, 500)
        book.delete(2)
        book.execute(3, 70)
        book.set_level(Side.BUY, 98_0000, 10)
    python, compiled = books
    for side in (Side.BUY, Side.SELL):
        assert list(compiled.side(side).sizes.items()) == list(python.side(side).sizes.items())
        assert compiled.side(side).levels() == python.side(side).levels()
    assert compiled.snapshot(0) == python.snapshot(0)
    assert compiled.queue_ahead(4) == python.queue_ahead(4)


def _levels_state(book: L3Book) -> tuple[Any, ...]:
    """What a reader sees of the levels: sizes in their order, keys, best, every queue in priority order."""
    return tuple(
        (
            list(ladder.sizes.items()),
            list(ladder.keys),
            ladder.best,
            {p: [o.order_id for o in q] for p, q in book.side_queues(ladder.side).items()},
        )
        for ladder in (book.bids, book.asks)
    )


@settings(max_examples=100)
@given(l3_streams())
def test_random_l3_streams_leave_the_same_book_over_the_table_as_over_dicts_after_every_event(
    stream: list[Event],
) -> None:
    """Adds, partial executions and cancels, deletes and replaces through ``L3Book.apply``: levels opened and
    emptied at many prices (the table's holes, its squeeze, its growth), the same book after every event."""
    python, compiled = L3Book("X", impl="python"), L3Book("X", impl="compiled")
    for e in stream:
        python.apply(e)
        compiled.apply(e)
        assert _levels_state(compiled) == _levels_state(python)
    assert compiled.snapshot(0) == python.snapshot(0)
