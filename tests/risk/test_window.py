"""The compiled trip windows (``risk/_window_core.pyx``) against their Python reference (``window.Window``): the
same times added give the same counts and leave the same times, past the ring buffer's growth and with times out
of order; ``impl`` (or the environment) chooses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.risk.window import C_BOUND, COMPILED_AVAILABLE, Window, window

needs_core = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="the compiled trip windows were not built")

T0 = 1_718_978_400_000_000_000
MS = 1_000_000

event = st.tuples(
    st.sampled_from(["s", "t"]),
    # ms since the last one: bursts far longer than the first buffer (16), gaps past the window, steps backwards
    st.one_of(st.just(0), st.integers(0, 30), st.sampled_from([1_000, 5_000, -40])),
)


@needs_core
@settings(max_examples=300, deadline=None)
@given(window_ms=st.integers(1, 1_000), events=st.lists(event, max_size=200))
def test_compiled_and_python_windows_agree(window_ms: int, events: list[tuple[str, int]]) -> None:
    core, reference = window(window_ms * MS, "compiled"), Window(window_ms * MS)
    assert not isinstance(core, Window)
    now = T0
    for key, gap in events:
        now += gap * MS
        assert core.add(key, now) == reference.add(key, now)
        assert core.times(key) == reference.times(key)
    assert core.times("never") == reference.times("never") == []


def test_impl_and_the_environment_choose_and_an_unfit_window_gets_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert type(window(MS, "python")) is Window
    assert type(window(C_BOUND + 1, "auto")) is Window
    if COMPILED_AVAILABLE:
        assert type(window(MS, "compiled")) is not Window
        monkeypatch.setenv(PURE_PYTHON_ENV, "1")
        assert type(window(MS, "auto")) is Window


@needs_core
def test_a_burst_after_the_window_moved_on_grows_the_ring_with_the_times_in_order() -> None:
    """The oldest time is no longer at the buffer's start when it fills: growing must keep arrival order."""
    core, reference = window(100 * MS, "compiled"), Window(100 * MS)
    now = T0
    for gap in [0, 0, 0, 200, *[1] * 40]:  # three dropped by the gap, then a burst past the first buffer twice
        now += gap * MS
        assert core.add("s", now) == reference.add("s", now)
    assert core.times("s") == reference.times("s")
    assert len(core.times("s")) == 41


@needs_core
@pytest.mark.parametrize("late", [1 << 63, (1 << 63) + 50 * MS, 1 << 70, -(1 << 63) - 1, -(1 << 63) + 5])
def test_a_time_past_int64_gets_the_references_counts_and_times(late: int) -> None:
    """The core raised ``OverflowError`` for a time (or, near int64's lowest, a horizon) it cannot hold, where
    the reference counts: now it moves its times to the reference, which keeps counting from the same state."""
    core, reference = window(100 * MS, "compiled"), Window(100 * MS)
    for key, now in [("s", T0), ("s", T0 + MS), ("t", T0 + 2 * MS), ("s", late), ("t", late + MS), ("s", T0)]:
        assert core.add(key, now) == reference.add(key, now)
        assert core.times(key) == reference.times(key)
    assert core.times("never") == reference.times("never") == []
