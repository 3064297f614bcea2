"""The duplicate-order table's compiled check and record (``risk/_seen_core.pyx``) against the rule's own Python text
(``DuplicateOrder.fast_check`` over a plain dict): the same answers and the same table, when it is crowded too."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.risk import RiskContext
from tapeflow.risk.flow_rules import SEEN_COMPILED, DuplicateOrder

needs_core = pytest.mark.skipif(not SEEN_COMPILED, reason="the compiled duplicate table was not built")

T0 = 1_718_978_400_000_000_000
MS = 1_000_000


class Reference:
    """The rule's Python text, as the fast check runs it over a plain dict."""

    def __init__(self, window: int) -> None:
        self.seen: dict[tuple[object, ...], int] = {}
        self.window = window

    def fresh(self, key: tuple[object, ...], now: int) -> bool:
        last = self.seen.get(key)
        return not (last is not None and now - last < self.window)

    def record(self, key: tuple[object, ...], now: int) -> None:
        if len(self.seen) > 4_096:
            prune(self.seen, now, self.window)
        self.seen[key] = now


def prune(seen: dict[tuple[object, ...], int], now: int, window: int) -> None:
    for key in [k for k, ts in seen.items() if ts <= now - window]:
        del seen[key]


def compiled(window: int) -> DuplicateOrder:
    rule = DuplicateOrder(RiskContext(impl="compiled"), window)
    assert rule.fast_check().names["fresh"] is not None
    return rule


def run(rule: DuplicateOrder, reference: Reference, key: tuple[object, ...], now: int, passes: bool) -> None:
    names = rule.fast_check().names
    fresh = names["fresh"](key, now, reference.window)  # type: ignore[operator]
    assert fresh == reference.fresh(key, now)
    if fresh and passes:  # the order passed every other rule too: recorded
        if names["record"](key, now):  # type: ignore[operator]
            rule.prune(now)
        reference.record(key, now)
    assert rule._seen == reference.seen


key = st.tuples(st.sampled_from(["s", "t"]), st.sampled_from(["AAPL", "MSFT"]), st.integers(1, 3), st.just(0))


@needs_core
@settings(max_examples=200, deadline=None)
@given(
    window_ms=st.integers(1, 300),
    events=st.lists(st.tuples(key, st.integers(0, 400), st.booleans()), max_size=80),
)
def test_compiled_and_python_duplicate_checks_agree(
    window_ms: int, events: list[tuple[tuple[object, ...], int, bool]]
) -> None:
    rule, reference = compiled(window_ms * MS), Reference(window_ms * MS)
    now = T0
    for k, gap_ms, passes in events:
        now += gap_ms * MS
        run(rule, reference, k, now, passes)


@needs_core
def test_a_crowded_table_is_pruned_as_the_reference_prunes_it() -> None:
    """Past 4,096 keys the table is pruned of keys older than the window, at the same order as the reference."""
    window = 1_000 * MS
    rule, reference = compiled(window), Reference(window)
    for i in range(4_200):
        run(rule, reference, ("s", "AAPL", i, 0), T0 + i * MS, True)  # one key a ms: the oldest leave the window
    assert len(rule._seen) < 4_200


def test_the_environment_or_impl_gives_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "seen_get" in DuplicateOrder(RiskContext(impl="python"), MS).fast_check().names
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert "seen_get" in DuplicateOrder(RiskContext(), MS).fast_check().names
