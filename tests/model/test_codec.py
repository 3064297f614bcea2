"""Every event type round-trips exactly through msgpack and JSON; bad input fails with the field named."""

from __future__ import annotations

import typing
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model import DataError, Event, event_types, from_json, from_msgpack, to_json, to_msgpack
from tapeflow.model.codec import to_dict
from tapeflow.model.market import BookLevel, BookOrder, Trade

_ints = st.integers(min_value=0, max_value=2**53 - 1)
_pos = st.integers(min_value=1, max_value=10**9)
_text = st.text(max_size=12)
_sym = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ.", min_size=1, max_size=8)
_finite = st.floats(allow_nan=False, allow_infinity=False)


def _strategy_for(tp: Any, name: str) -> st.SearchStrategy[Any]:
    """A value generator for one field, honouring the msgspec constraints of its annotation."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *metas = typing.get_args(tp)
        lo: int | None = None
        hi: int | None = None
        for meta in metas:
            if isinstance(meta, msgspec.Meta):
                if meta.ge is not None:
                    lo = int(meta.ge)
                if meta.gt is not None:
                    lo = int(meta.gt) + 1
                if meta.le is not None:
                    hi = int(meta.le)
                if meta.min_length:
                    return _sym
        if base is int:
            return st.integers(min_value=lo if lo is not None else -(2**62), max_value=hi or 2**62)
        return _strategy_for(base, name)
    if tp is int:
        return st.integers(min_value=-(2**62), max_value=2**62)
    if tp is str:
        return _text
    if tp is float:
        return _finite
    if tp is bool:
        return st.booleans()
    if origin is dict:
        _key, value = typing.get_args(tp)
        return st.dictionaries(_text, _strategy_for(value, name), max_size=4)
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(tp)
        return st.lists(_strategy_for(item, name), max_size=4).map(tuple)
    if tp is BookLevel:
        return st.builds(BookLevel, price=_ints, size=_ints, order_count=_ints)
    if tp is BookOrder:
        return st.builds(
            BookOrder, order_id=st.integers(0, 2**63 - 1), side=_enum_of(tp, "side"), price=_ints, size=_pos
        )
    if isinstance(tp, type) and issubclass(tp, __import__("enum").Enum):
        return st.sampled_from(list(tp))
    if origin in (typing.Union, __import__("types").UnionType):
        return st.one_of(*[_strategy_for(a, name) for a in typing.get_args(tp)])
    if tp is type(None):
        return st.none()
    raise AssertionError(f"no strategy for field {name}: {tp!r}")


def _enum_of(owner: type, field: str) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(owner, include_extras=True)
    return st.sampled_from(list(hints[field]))


def _event_strategy(cls: type[Event]) -> st.SearchStrategy[Event]:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f: _strategy_for(hints[f], f) for f in cls.__struct_fields__}
    return st.builds(cls, **fields)


# tapeflow's own types: a test module may define an event type of its own (``tests/engine/test_kernel_core.py``'s
# ``LateTrade``), which joins ``event_types()`` when that module is imported into the same process; whether the
# codec's cached decoder knows it then depends on which test ran first
ALL = st.one_of(*[_event_strategy(c) for c in event_types() if c.__module__.startswith("tapeflow.")])


def test_every_event_type_is_tagged_and_has_both_timestamps() -> None:
    types = event_types()
    assert len(types) >= 23
    for cls in types:
        assert cls.__struct_config__.tag == cls.__name__
        assert cls.__struct_config__.frozen
        assert {"ts_event", "ts_init"} <= set(cls.__struct_fields__)


@settings(max_examples=400)
@given(ALL)
def test_round_trip_is_identity(event: Event) -> None:
    assert from_msgpack(to_msgpack(event)) == event
    assert from_json(to_json(event)) == event
    assert type(from_json(to_json(event))) is type(event)


def test_negative_size_is_refused_with_field_named() -> None:
    raw = b'{"type":"Trade","ts_event":1,"ts_init":1,"symbol":"AAPL","price":1205500,"size":-5}'
    with pytest.raises(DataError, match=r"Expected `int` >= 1 - at `\$.size`"):
        from_json(raw)


def test_missing_field_is_refused_with_field_named() -> None:
    raw = b'{"type":"Trade","ts_event":1,"ts_init":1,"symbol":"AAPL","size":5}'
    with pytest.raises(DataError, match="missing required field `price`"):
        from_json(raw)


def test_wrong_type_is_refused_with_field_named() -> None:
    raw = (
        b'{"type":"Quote","ts_event":1,"ts_init":"yesterday","symbol":"A",'
        b'"bid_price":1,"bid_size":1,"ask_price":2,"ask_size":1}'
    )
    with pytest.raises(DataError, match=r"Expected `int`, got `str` - at `\$.ts_init`"):
        from_json(raw)


def test_unknown_tag_and_garbage_are_refused() -> None:
    with pytest.raises(DataError, match="invalid event"):
        from_json(b'{"type":"NoSuchEvent","ts_event":1,"ts_init":1}')
    with pytest.raises(DataError, match="not a msgpack-encoded event"):
        from_msgpack(b"\xc1")
    with pytest.raises(DataError, match="not a JSON-encoded event"):
        from_json(b"{not json")


@given(_event_strategy(event_types()[0]))
def test_events_are_immutable(event: Event) -> None:
    with pytest.raises(AttributeError):
        event.ts_init = 5  # type: ignore[misc]


@settings(max_examples=200)
@given(ALL, st.data())
def test_dropping_any_required_field_is_refused_with_its_name(event: Event, data: st.DataObject) -> None:
    cls = type(event)
    # __struct_defaults__ covers the trailing fields in msgspec's field order; required ones come first
    n_required = len(cls.__struct_fields__) - len(cls.__struct_defaults__)
    required = list(cls.__struct_fields__[:n_required])
    field = data.draw(st.sampled_from(required))
    raw = to_dict(event)
    del raw[field]
    with pytest.raises(DataError, match=f"missing required field `{field}`"):
        from_json(msgspec.json.encode(raw))


def test_msgpack_is_the_array_form_and_json_the_named_form() -> None:
    trade = Trade(ts_event=1, ts_init=2, symbol="AAPL", price=1_205_500, size=5)
    assert msgspec.msgpack.decode(to_msgpack(trade))[:6] == ["Trade", 1, 2, "AAPL", 1_205_500, 5]
    assert msgspec.json.decode(to_json(trade))["type"] == "Trade"
    assert msgspec.json.decode(to_json(trade))["size"] == 5


def test_msgpack_errors_name_the_field_a_position_stands_for() -> None:
    bad = msgspec.msgpack.encode(["Trade", 1, 2, "AAPL", 1_205_500, -5])
    with pytest.raises(DataError, match=r"at `\$\[5\]` \(field `size` of Trade\)"):
        from_msgpack(bad)
    short = msgspec.msgpack.encode(["Trade", 1, 2, "AAPL"])
    with pytest.raises(DataError, match=r"missing required field\(s\) `price`, `size` of Trade"):
        from_msgpack(short)
