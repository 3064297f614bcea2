"""The simulated exchange handles bars only while an order waits for one (``BarFills.attach``): a bar backtest's
results must be byte-identical to those of the exchange hearing every bar, on both kernels."""

from __future__ import annotations

import datetime
import random

import pytest

from tapeflow.backtest.engine import Backtest
from tapeflow.engine.recorder import EventLog
from tapeflow.model import Bar
from tapeflow.model.codec import to_msgpack
from tapeflow.model.sessions import ExchangeCalendar
from tapeflow.risk.config import RiskConfig
from tapeflow.strategy.base import Strategy
from tapeflow.strategy.examples.sma_cross import SmaCross
from tapeflow.venues.sim.bar_fills import BarFills

MINUTE = 60_000_000_000


class _Dipper(Strategy):
    """Bids below the close every few bars (limits that wait, some filled by a later bar's low), cancels every
    seventh bar: orders park, fill and leave the waiting list in every way."""

    def __init__(self) -> None:
        super().__init__("dipper")
        self.bars = 0

    def on_bar(self, bar: Bar) -> None:
        self.bars += 1
        if self.bars % 7 == 0:
            self.cancel_all(bar.symbol)
        elif self.bars % 3 == 0:
            self.buy(bar.symbol, 10, bar.close - 300)


def _bars(symbol: str, seed: int, days: int = 3) -> list[Bar]:
    rng = random.Random(seed)
    calendar = ExchangeCalendar("XNYS")
    out: list[Bar] = []
    price = 1_000_000
    day, sessions = datetime.date(2024, 1, 2), 0
    while sessions < days:
        session = calendar.session(day)
        day += datetime.timedelta(days=1)
        if session is None:
            continue
        sessions += 1
        for ts in range(session.open + MINUTE, session.close, MINUTE):
            o = price
            c = max(100, o + rng.randint(-400, 400))
            hi, lo = max(o, c) + rng.randint(0, 300), min(o, c) - rng.randint(0, 300)
            out.append(Bar(ts_event=ts, ts_init=ts, symbol=symbol, open=o, high=hi, low=lo, close=c, volume=1_000))
            price = c
    return out


def _run(listen_while_waiting: bool, impl: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, bytes, int]:
    monkeypatch.setattr(BarFills, "listen_while_waiting", listen_while_waiting)
    monkeypatch.setenv("TAPEFLOW_PURE_PYTHON", "1" if impl == "python" else "0")
    log = EventLog(keep=False)
    bt = Backtest([SmaCross(fast=5, slow=15, quantity=100), _Dipper()], risk=RiskConfig(), extra=[log])
    assert bt.kernel.impl == impl
    bt.run([_bars("AAPL", 1), _bars("MSFT", 2)])
    results = bt.results
    fills = b"".join(to_msgpack(f) for f in results.fills)
    return log.digest(), fills, len(results.orders)


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_a_bar_backtest_gives_identical_results_with_and_without_the_exchange_unsubscribing(
    impl: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    listening_always = _run(False, impl, monkeypatch)
    while_waiting = _run(True, impl, monkeypatch)
    assert while_waiting == listening_always
    assert while_waiting[2] > 100 and len(while_waiting[1]) > 0  # orders parked, filled and cancelled
