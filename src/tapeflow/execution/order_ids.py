"""Client order ids: unique within a run, and across runs of a live node.

The execution engine refuses an id it has seen (``ExecutionEngine.execute``), so an id must never repeat. Within
one run a counter per strategy is enough. A live node that restarts in the same session continues with the orders
the venue still holds (``ExecutionEngine.restore``), so its counters starting again at 1 would collide with them:
a live node's ids carry a run id, made from the start time and a random suffix (``new_run_id``), injected so that
tests choose it. A backtest has no run id and produces exactly the ids it always did, ``{strategy_id}-{n}``, so
results and audit trails of past runs compare unchanged.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable


def new_run_id(now_ns: int, token: Callable[[int], str] = secrets.token_hex) -> str:
    """``YYYYMMDDTHHMMSS`` (UTC) of ``now_ns`` and 6 random hex digits: two starts in one second still differ."""
    start = dt.datetime.fromtimestamp(now_ns // 1_000_000_000, tz=dt.UTC)
    return f"{start:%Y%m%dT%H%M%S}{token(3)}"


class ClientOrderIds:
    """Hands out ``{strategy_id}-{n}``, or ``{strategy_id}-{run_id}-{n}`` when a run id is given."""

    __slots__ = ("_counters", "run_id")

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id
        self._counters: dict[str, int] = {}

    def next(self, strategy_id: str) -> str:
        n = self._counters.get(strategy_id, 0) + 1
        self._counters[strategy_id] = n
        return f"{strategy_id}-{self.run_id}-{n}" if self.run_id else f"{strategy_id}-{n}"
