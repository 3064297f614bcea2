"""Sliding windows of event times per key: what the trip rules count (``RunawayDetector``, ``RepeatedRejects``).

``Window`` is the reference; ``WindowCore`` (``_window_core.pyx``) keeps the times as C 64-bit integers in a ring
buffer per key, chosen by ``window`` as the ledger is chosen (``TAPEFLOW_PURE_PYTHON=1`` or ``impl="python"``: the
reference), when the window fits (``fits``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Protocol

from tapeflow.config import compiled_core_chosen as _compiled_chosen
from tapeflow.risk.ledger import Impl

try:  # the compiled windows (setup.py builds them); without them the reference runs
    from tapeflow.risk._window_core import WindowCore

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

C_BOUND = 1 << 62
"""The longest window (ns) the compiled one takes: ``now - window_ns`` stays inside int64 for any time after 1970."""


class Windows(Protocol):
    """What a trip rule calls; ``Window`` says what each does."""

    @property
    def window_ns(self) -> int: ...
    def add(self, key: str, now: int) -> int: ...
    def times(self, key: str) -> list[int]: ...


class Window:
    """The reference: a deque of times per key."""

    def __init__(self, window_ns: int, held: Mapping[str, Sequence[int]] | None = None) -> None:
        """``held``: each key's times, oldest first, to start from (the compiled window's, when a time past int64
        moves them here)."""
        self.window_ns = window_ns
        self._times: dict[str, deque[int]] = {key: deque(times) for key, times in (held or {}).items()}

    def add(self, key: str, now: int) -> int:
        """``now`` added to ``key``'s window, the times at or before ``now - window_ns`` dropped from its oldest end:
        how many it holds now."""
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = deque()
        times.append(now)
        horizon = now - self.window_ns
        while times[0] <= horizon:
            times.popleft()
        return len(times)

    def times(self, key: str) -> list[int]:
        """``key``'s times, oldest first; empty for a key never added."""
        return list(self._times.get(key, ()))


def fits(window_ns: int) -> bool:
    return 0 < window_ns <= C_BOUND


def window(window_ns: int, impl: Impl = "auto") -> Windows:
    """``impl`` as ``open_order_ledger`` takes it; the compiled window only when ``window_ns`` fits it."""
    if _compiled_chosen(impl, COMPILED_AVAILABLE, "the compiled trip windows") and fits(window_ns):
        return WindowCore(window_ns)
    return Window(window_ns)
