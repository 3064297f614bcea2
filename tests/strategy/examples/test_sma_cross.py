"""SmaCross's ring without modulo (negative indices, a warm-up countdown) decides exactly as the running sums it
replaced: the reference below is the previous ``on_bar`` (modulo positions, a bar count), run on the same bars."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.model import Bar
from tapeflow.strategy.examples.sma_cross import SmaCross


class Recording(SmaCross):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, str, int]] = []

    def buy(self, symbol: str, quantity: int, **kwargs: Any) -> None:  # type: ignore[override]
        self.calls.append(("buy", symbol, quantity))

    def sell(self, symbol: str, quantity: int, **kwargs: Any) -> None:  # type: ignore[override]
        self.calls.append(("sell", symbol, quantity))

    def signal(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None


Trace = list[tuple[int, int, bool | None]]
"""After each bar: its symbol's fast sum, slow sum and side (None: not compared yet)."""


def reference(
    bars: list[tuple[str, int]], fast: int, slow: int, quantity: int
) -> tuple[list[tuple[str, str, int]], Trace]:
    state: dict[str, dict[str, Any]] = {}
    calls: list[tuple[str, str, int]] = []
    trace: Trace = []
    for symbol, close in bars:
        _reference_bar(state, calls, symbol, close, fast, slow, quantity)
        w = state[symbol]
        trace.append((w["f"], w["s"], w["above"]))
    return calls, trace


def _reference_bar(
    state: dict[str, dict[str, Any]],
    calls: list[tuple[str, str, int]],
    symbol: str,
    close: int,
    fast: int,
    slow: int,
    quantity: int,
) -> None:
    w = state.setdefault(symbol, {"ring": [0] * slow, "count": 0, "f": 0, "s": 0, "above": None, "held": 0})
    ring, i = w["ring"], w["count"]
    w["f"] += close - ring[(i - fast) % slow] if i >= fast else close
    w["s"] += close - ring[i % slow]
    ring[i % slow] = close
    w["count"] = i + 1
    if i + 1 < slow:
        return
    lhs, rhs = w["f"] * slow, w["s"] * fast
    if lhs == rhs:
        return
    above, was = lhs > rhs, w["above"]
    w["above"] = above
    if was is None or above == was:
        return
    if above and w["held"] == 0:
        calls.append(("buy", symbol, quantity))
        w["held"] = quantity
    elif not above and w["held"] > 0:
        calls.append(("sell", symbol, w["held"]))
        w["held"] = 0


@settings(max_examples=200, deadline=None)
@given(
    windows=st.tuples(st.integers(1, 12), st.integers(1, 20)),
    bars=st.lists(st.tuples(st.sampled_from(["AAA", "BBB"]), st.integers(9_990, 10_010)), max_size=300),
)
def test_sma_cross_orders_equal_the_modulo_reference_on_any_closes_and_windows(
    windows: tuple[int, int], bars: list[tuple[str, int]]
) -> None:
    fast, slow = windows[0], windows[0] + windows[1]
    strategy = Recording(fast=fast, slow=slow, quantity=7)
    trace: Trace = []
    for n, (symbol, close) in enumerate(bars):
        strategy.on_bar(Bar(ts_event=n, ts_init=n, symbol=symbol, open=close, high=close, low=close, close=close,
                            volume=1))  # fmt: skip
        w = strategy._windows[symbol]
        trace.append((w.fast_sum, w.slow_sum, w.above))
    assert (strategy.calls, trace) == reference(bars, fast, slow, 7)
