"""A tiny harness for exchange scenarios: a hand-written tape and a strategy that acts at given times."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tapeflow.backtest.engine import Backtest
from tapeflow.model import (
    Aggressor,
    BookAction,
    BookDelta,
    BookLevel,
    BookSnapshot,
    Event,
    OrderFilled,
    Side,
    TimerFired,
    Trade,
)
from tapeflow.strategy.base import Strategy

T0 = 1_718_978_400_000_000_000
"""2024-06-21 10:00:00 New York."""
MS = 1_000_000
SYM = "AAPL"


def px(dollars: str) -> int:
    from tapeflow.model import price_from_str

    return price_from_str(dollars)


def snapshot(ts: int, bids: Sequence[tuple[str, int]], asks: Sequence[tuple[str, int]]) -> BookSnapshot:
    return BookSnapshot(
        ts_event=ts,
        ts_init=ts,
        symbol=SYM,
        bids=tuple(BookLevel(px(p), s) for p, s in bids),
        asks=tuple(BookLevel(px(p), s) for p, s in asks),
    )


def delta(ts: int, side: Side, price: str, size: int, seq: int = 0) -> BookDelta:
    action = BookAction.DELETE if size == 0 else BookAction.UPDATE
    return BookDelta(ts_event=ts, ts_init=ts, symbol=SYM, action=action, side=side, price=px(price), size=size)


def trade(ts: int, price: str, size: int, aggressor: Aggressor) -> Trade:
    return Trade(ts_event=ts, ts_init=ts, symbol=SYM, price=px(price), size=size, aggressor=aggressor)


class Scripted(Strategy):
    """Runs ``actions[ts](self)`` at each ``ts``; records every report about its orders."""

    def __init__(self, actions: dict[int, Callable[[Scripted], Any]], strategy_id: str = "s") -> None:
        super().__init__(strategy_id)
        self.actions = actions
        self.reports: list[Event] = []

    def on_start(self) -> None:
        for ts in sorted(self.actions):
            self.set_timer(f"at{ts}", at=ts)

    def on_timer(self, event: TimerFired) -> None:
        self.actions[event.ts_init](self)

    def on_order_event(self, event: Event) -> None:
        self.reports.append(event)

    @property
    def fills(self) -> list[OrderFilled]:
        return [r for r in self.reports if isinstance(r, OrderFilled)]

    def kinds(self) -> list[str]:
        return [type(r).__name__ for r in self.reports]


def run(tape: list[Event], actions: dict[int, Callable[[Scripted], Any]], **kwargs: Any) -> tuple[Backtest, Scripted]:
    strategy = Scripted(actions)
    bt = Backtest([strategy], **kwargs)
    bt.run([tape], until=max([*actions, tape[-1].ts_init]) + 1)
    return bt, strategy
