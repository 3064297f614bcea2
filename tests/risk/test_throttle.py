"""The compiled token buckets (``risk/_throttle_core.pyx``) against their Python reference (``throttle.Throttle``):
the same operations return the same answers and leave the same buckets, over gaps of days and caps near the
compiled bound; ``impl`` (or the environment) chooses, and a cap or rate the core cannot hold moves the buckets to
the reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.model import ConfigError
from tapeflow.risk import RiskContext
from tapeflow.risk.context import NS
from tapeflow.risk.flow_rules import MessageRate, OrderRate
from tapeflow.risk.throttle import C_BOUND, COMPILED_AVAILABLE, Throttle, ThrottleState, reconfigured, throttle

needs_core = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="the compiled token buckets were not built")

T0 = 1_718_978_400_000_000_000
DAY = 86_400 * NS

key = st.sampled_from(["s", "t", "AAPL"])
step = st.one_of(  # ns to move the clock: none, a burst's spacing, seconds, days; now and then backwards
    st.just(0), st.integers(0, 5_000_000), st.integers(0, 30 * NS), st.sampled_from([DAY, 40 * DAY, -1_000])
)
operation = st.one_of(
    st.tuples(st.just("refill"), key, step),
    st.tuples(st.just("spend"), key, step),  # after a refill of the same key, as the rule spends
    st.tuples(st.just("ready"), key, step),
    st.tuples(st.just("take"), key, step),
    st.tuples(st.just("ready-take"), key, step),  # the fast check's pair, for one order
    st.tuples(st.just("ready-other-take"), key, step),  # a ready of another key between: take must not reuse it
)
rates = st.one_of(st.integers(1, 50), st.integers(1, 10**9), st.just(C_BOUND))
caps = st.one_of(st.integers(1, 20).map(lambda burst: burst * NS), st.just(C_BOUND), st.integers(0, 3 * NS))


def buckets(state: ThrottleState) -> dict[str, tuple[int, int]]:
    return {k: (b.tokens, b.last) for k, b in state.buckets.items()}


def apply(state: ThrottleState, op: tuple[Any, ...], now: int) -> object:
    kind, k = op[0], op[1]
    if kind == "refill":
        return state.refill(k, now)
    if kind == "spend":
        return (state.refill(k, now), state.spend(k))
    if kind == "ready":
        return state.ready(k, now)
    if kind == "take":
        return state.take(k, now)
    if kind == "ready-take":
        return (state.ready(k, now), state.take(k, now))
    other = "t" if k != "t" else "s"
    return (state.ready(k, now), state.ready(other, now + 1), state.take(k, now))


@needs_core
@settings(max_examples=400, deadline=None)
@given(cap=caps, rate=rates, operations=st.lists(operation, max_size=60))
def test_compiled_and_python_buckets_agree(cap: int, rate: int, operations: list[tuple[Any, ...]]) -> None:
    core, reference = throttle(cap, rate, "compiled"), Throttle(cap, rate)
    assert not isinstance(core, Throttle)
    now = T0
    for op in operations:
        now = max(now + op[2], 0)
        assert apply(core, op, now) == apply(reference, op, now), op
        assert buckets(core) == buckets(reference)


@needs_core
def test_a_refill_over_a_long_gap_stops_at_the_cap_without_overflowing() -> None:
    """(now - last) x rate is ~3.5e27 here, far past int64: the core compares the gap with the room first."""
    for state in (throttle(C_BOUND, C_BOUND, "compiled"), Throttle(C_BOUND, C_BOUND)):
        state.refill("s", T0)
        state.spend("s")
        assert state.refill("s", T0 + 40 * DAY) == C_BOUND
        state.spend("s")
        assert state.refill("s", T0 + 40 * DAY + 1) == C_BOUND  # one ns refills the spent token and is capped


def test_impl_and_the_environment_choose_and_an_unfit_throttle_gets_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert type(throttle(NS, 1, "python")) is Throttle
    assert type(throttle(C_BOUND + 1, 1, "auto")) is Throttle  # a cap the core cannot hold
    assert type(throttle(NS, C_BOUND + 1, "auto")) is Throttle
    if COMPILED_AVAILABLE:
        assert type(throttle(NS, 1, "compiled")) is not Throttle
        monkeypatch.setenv(PURE_PYTHON_ENV, "1")
        assert type(throttle(NS, 1, "auto")) is Throttle
        assert type(throttle(NS, 1, "compiled")) is not Throttle  # an explicit choice stands
    else:  # pragma: no cover - a checkout that was not built
        with pytest.raises(ConfigError):
            throttle(NS, 1, "compiled")


@needs_core
def test_a_burst_the_core_cannot_hold_moves_the_buckets_to_the_reference() -> None:
    """``set_limit`` may raise the burst past what 64 bits hold: the rule keeps its buckets, on the reference."""
    rule = OrderRate(RiskContext(impl="compiled"), 10, 2, "strategy")
    assert not isinstance(rule.throttle, Throttle)
    rule.ctx.now = T0
    rule.throttle.take("s", T0)
    before = buckets(rule.throttle)
    assert rule.set_limit("burst", 10**12) == 2
    assert isinstance(rule.throttle, Throttle)
    assert (rule.throttle.cap, rule.throttle.rate) == (10**12 * NS, 10)
    assert buckets(rule.throttle) == before
    assert reconfigured(rule.throttle, NS, 1) is rule.throttle  # the reference stays


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_the_rules_limit_and_burst_reach_the_buckets(impl: str) -> None:
    """A limit change reconfigures the same buckets the fast check reads (it is rebuilt after the change)."""
    if impl == "compiled" and not COMPILED_AVAILABLE:  # pragma: no cover - a checkout that was not built
        pytest.skip("the compiled token buckets were not built")
    rule = MessageRate(RiskContext(impl=impl), None, 3)  # type: ignore[arg-type]
    assert rule.fast_check().code == ""
    rule.set_limit("limit", 5)
    state = rule.throttle
    assert (state.buckets, rule.limit) == ({}, 5)
    rule.set_limit("burst", 4)
    assert rule.throttle is state
    assert rule.throttle.refill("s", T0) == 4 * NS
    part = rule.fast_check()
    assert ("ready" in part.names) == (impl == "compiled")  # the core's calls; over the reference, the text


PAST_INT64 = [1 << 63, (1 << 63) + 5 * NS, -(1 << 63) - 1, 1 << 70]
"""Times the core's int64 cannot hold (past the year 2262, and before 1678): the reference takes them."""


@needs_core
@pytest.mark.parametrize("late", PAST_INT64)
@pytest.mark.parametrize("kind", ["refill", "ready", "take", "ready-take", "spend"])
def test_a_time_past_int64_gets_the_references_answers_and_buckets(late: int, kind: str) -> None:
    """The core raised ``OverflowError`` where the reference answers: now it moves its buckets to the reference,
    with the same answers before, at and after such a time (and a time inside int64 after it)."""
    core, reference = throttle(5 * NS, 10, "compiled"), Throttle(5 * NS, 10)
    for state in (core, reference):
        state.take("s", T0)
        state.take("t", T0 + 1)
    for now in (late, T0 + 2, late + 3, T0 + 3 * NS):
        assert apply(core, (kind, "s"), now) == apply(reference, (kind, "s"), now)
        assert apply(core, ("ready-take", "t"), now) == apply(reference, ("ready-take", "t"), now)
        assert buckets(core) == buckets(reference)
    core.configure(NS, 1)
    reference.configure(NS, 1)
    assert core.refill("u", T0 + 4) == reference.refill("u", T0 + 4)
    assert buckets(core) == buckets(reference)
