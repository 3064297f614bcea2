"""Scenarios that write audit trails: a normal strategy, a spoofing/layering one, one marking the close."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tapeflow.backtest.engine import Backtest
from tapeflow.compliance.audit import AuditTrail
from tapeflow.compliance.stp import StpMode
from tapeflow.model import Aggressor, Event, ModelUpdated, Side
from tests.backtest.scenario import MS, SYM, T0, Scripted, delta, px, snapshot, trade

KEY = b"test-checkpoint-key"
S = 1_000_000_000
CLOSE = T0 + 6 * 3600 * S
"""16:00 New York on the scenario's day."""


def book_tape() -> list[Event]:
    return [
        snapshot(T0, [("100.00", 500), ("99.99", 800)], [("100.02", 300), ("100.03", 5000)]),
        trade(T0 + 4 * S, "100.01", 100, Aggressor.BUY),
        delta(T0 + 9 * S, Side.BUY, "99.98", 400),
    ]


def run_trail(
    path: Path,
    actions: dict[str, dict[int, Callable[[Scripted], Any]]],
    tape: list[Event] | None = None,
    stp: StpMode | None = None,
    **audit_kwargs: Any,
) -> tuple[Backtest, dict[str, Scripted]]:
    tape = tape if tape is not None else book_tape()
    strategies = {sid: Scripted(acts, strategy_id=sid) for sid, acts in actions.items()}
    audit = AuditTrail.open(path, key=KEY, **audit_kwargs)
    bt = Backtest(list(strategies.values()), stp=stp, audit=audit)
    last = max([ts for acts in actions.values() for ts in acts] + [tape[-1].ts_init])
    bt.run([tape], until=last + 1)
    return bt, strategies


def normal_actions() -> dict[int, Callable[[Scripted], Any]]:
    """Signal, then act: buy at the ask (fills), rest a small bid, cancel it after 5 s, sell at the bid."""

    def model(s: Scripted) -> None:
        s.ctx.kernel.emit(
            ModelUpdated(
                ts_event=s.now, ts_init=s.now, model_id="mom", version=3, train_start=T0 - 10 * S, train_end=T0 - S
            )
        )

    def buy(s: Scripted) -> None:
        s.signal(SYM, "momentum", 0.8, "5 s return above threshold", {"ret_5s": 0.0012, "spread": 2.0})
        s.buy(SYM, 100, px("100.02"), reason="momentum entry")

    def rest(s: Scripted) -> None:
        s.signal(SYM, "momentum", 0.3, "add passively", {"ret_5s": 0.0004})
        s.buy(SYM, 100, px("99.99"), reason="passive add")

    def cancel(s: Scripted) -> None:
        s.signal(SYM, "momentum", 0.0, "signal faded", {"ret_5s": 0.0})
        s.cancel_all(SYM)

    def sell(s: Scripted) -> None:
        s.signal(SYM, "momentum", -0.5, "exit", {"ret_5s": -0.0008})
        s.sell(SYM, 100, px("100.00"), reason="momentum exit")

    return {T0 + 1 * MS: model, T0 + 2 * MS: buy, T0 + 1 * S: rest, T0 + 6 * S: cancel, T0 + 8 * S: sell}


def spoof_actions(layers: int = 2) -> dict[int, Callable[[Scripted], Any]]:
    """Large sells away from the touch, a buy on the other side, then the sells pulled within half a second."""

    def place(s: Scripted) -> None:
        s.signal(SYM, "pressure", -1.0, "lean on the offer", {"imbalance": -0.4})
        for i in range(layers):
            s.sell(SYM, 5000, px("100.05") + i * 100, reason="offer")

    def take(s: Scripted) -> None:
        s.signal(SYM, "pressure", 1.0, "buy the dip", {"imbalance": -0.4})
        s.buy(SYM, 100, px("100.02"), reason="buy")

    def pull(s: Scripted) -> None:
        s.cancel_all(SYM)

    return {T0 + 1 * MS: place, T0 + 50 * MS: take, T0 + 400 * MS: pull}


def close_tape(close: int = CLOSE) -> list[Event]:
    """A quiet close: 1,000 shares printed in the last ten minutes, the price from 100.00 to 100.03."""
    return [
        snapshot(close - 20 * 60 * S, [("100.00", 500)], [("100.02", 3000), ("100.03", 3000)]),
        trade(close - 15 * 60 * S, "100.00", 200, Aggressor.SELL),
        trade(close - 9 * 60 * S, "100.01", 400, Aggressor.BUY),
        trade(close - 3 * 60 * S, "100.02", 300, Aggressor.BUY),
        trade(close - 30 * S, "100.03", 300, Aggressor.BUY),
        trade(close + 60 * S, "100.03", 100, Aggressor.BUY),
    ]


def close_actions(close: int = CLOSE) -> dict[int, Callable[[Scripted], Any]]:
    def push(s: Scripted) -> None:
        s.signal(SYM, "close", 1.0, "end-of-day buy", {"minutes_left": 2.0})
        s.buy(SYM, 2500, px("100.03"), reason="buy into the close")

    return {close - 2 * 60 * S: push}
