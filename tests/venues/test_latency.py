"""Latency models: fixed delays per action, the feed invariant, TOML decoding, seeded jitter."""

from __future__ import annotations

import pytest

from tapeflow.config import decode_toml
from tapeflow.model.errors import ConfigError
from tapeflow.venues.sim.latency import FixedLatency, JitterLatency, LatencyModel, OrderAction, uniform_latency

BASE = FixedLatency(
    feed_ns=100,
    insert_entry_ns=1,
    modify_entry_ns=2,
    cancel_entry_ns=3,
    insert_response_ns=101,
    modify_response_ns=102,
    cancel_response_ns=103,
    compute_ns=7,
)


def test_fixed_latency_answers_each_action_from_its_own_field() -> None:
    assert BASE.feed_delay() == 100
    assert [BASE.entry_delay(a) for a in OrderAction] == [1, 2, 3]
    assert [BASE.response_delay(a) for a in OrderAction] == [101, 102, 103]
    assert BASE.compute_delay() == 7
    assert BASE.round_trip(OrderAction.CANCEL) == 7 + 3 + 103


def test_both_models_satisfy_the_protocol() -> None:
    assert isinstance(BASE, LatencyModel)
    assert isinstance(JitterLatency(BASE, jitter_ns=5, seed=1), LatencyModel)


def test_default_latency_is_zero_everywhere() -> None:
    zero = FixedLatency()
    assert zero.feed_delay() == zero.compute_delay() == 0
    assert all(zero.entry_delay(a) == zero.response_delay(a) == 0 for a in OrderAction)


def test_response_shorter_than_feed_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"field `cancel_response_ns`: 99 ns is shorter than feed_ns = 100 ns"):
        FixedLatency(feed_ns=100, insert_response_ns=100, modify_response_ns=100, cancel_response_ns=99)


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ConfigError, match="field `compute_ns`: -1 is not a non-negative integer"):
        FixedLatency(compute_ns=-1)


def test_toml_decodes_and_a_bad_field_is_named() -> None:
    cfg = decode_toml(
        "feed_ns = 5\ninsert_response_ns = 5\nmodify_response_ns = 6\ncancel_response_ns = 7", FixedLatency
    )
    assert cfg.response_delay(OrderAction.CANCEL) == 7
    with pytest.raises(ConfigError, match="field `modify_entry_ns`"):
        decode_toml("modify_entry_ns = -3", FixedLatency)
    with pytest.raises(ConfigError, match="insert_response_ns"):
        decode_toml("feed_ns = 5", FixedLatency)


def test_uniform_latency_keeps_the_invariant_by_default() -> None:
    lat = uniform_latency(feed_ns=50, entry_ns=20)
    assert lat.entry_delay(OrderAction.MODIFY) == 20
    assert lat.response_delay(OrderAction.MODIFY) == 50


def test_jitter_is_reproducible_bounded_and_never_below_base() -> None:
    a = JitterLatency(BASE, jitter_ns=1_000, seed=42)
    b = JitterLatency(BASE, jitter_ns=1_000, seed=42)
    draws_a = [a.entry_delay(OrderAction.INSERT) for _ in range(500)]
    draws_b = [b.entry_delay(OrderAction.INSERT) for _ in range(500)]
    assert draws_a == draws_b
    assert min(draws_a) >= 1 and max(draws_a) <= 1_001
    assert len(set(draws_a)) > 100
    assert all(a.response_delay(act) >= a.feed_delay() for act in OrderAction for _ in range(100))
    assert a.feed_delay() == 100


def test_zero_jitter_equals_the_base_and_negative_jitter_is_refused() -> None:
    j = JitterLatency(BASE, jitter_ns=0, seed=3)
    assert [j.entry_delay(a) for a in OrderAction] == [1, 2, 3]
    assert j.compute_delay() == 7
    with pytest.raises(ConfigError, match="jitter_ns"):
        JitterLatency(BASE, jitter_ns=-1, seed=3)


def test_fixed_latency_gives_each_action_its_own_entry_and_response_field() -> None:
    lat = FixedLatency(
        feed_ns=1,
        insert_entry_ns=2,
        modify_entry_ns=3,
        cancel_entry_ns=4,
        insert_response_ns=5,
        modify_response_ns=6,
        cancel_response_ns=7,
    )
    entries = [lat.entry_delay(a) for a in (OrderAction.INSERT, OrderAction.MODIFY, OrderAction.CANCEL)]
    responses = [lat.response_delay(a) for a in (OrderAction.INSERT, OrderAction.MODIFY, OrderAction.CANCEL)]
    assert (entries, responses) == ([2, 3, 4], [5, 6, 7])
