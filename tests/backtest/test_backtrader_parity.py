"""Parity with backtrader: SMA 10/30 crossover on real daily bars, fills at the next bar's open.

Both sides trade 100 shares, long only, market orders, backtrader's default next-open fill. tapeflow reads prices
as exact 1/10,000 dollars (the Yahoo files carry six decimals, rounded on read), so prices are compared after
rounding backtrader's floats the same way; dates, sides and sizes must be identical.
"""

from __future__ import annotations

import datetime
import gzip
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tapeflow.backtest.engine import Backtest
from tapeflow.data.bars import read_bars
from tapeflow.model import Bar
from tapeflow.portfolio import PortfolioConfig
from tapeflow.strategy.examples.sma_cross import SmaCross

bt = pytest.importorskip("backtrader", reason="backtrader is not installed (pip install -e '.[dev]')")

NY = ZoneInfo("America/New_York")
Trade = tuple[datetime.date, str, int, int]


def _backtrader_trades(csv: Path) -> list[Trade]:
    trades: list[Trade] = []

    class SmaCrossBt(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.crossover = bt.ind.CrossOver(bt.ind.SMA(period=10), bt.ind.SMA(period=30))

        def next(self) -> None:
            if not self.position and self.crossover > 0:
                self.buy(size=100)
            elif self.position and self.crossover < 0:
                self.close()

        def notify_order(self, order: object) -> None:
            if order.status == order.Completed:  # type: ignore[attr-defined]
                ex = order.executed  # type: ignore[attr-defined]
                price = Decimal(repr(ex.price)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
                side = "BUY" if order.isbuy() else "SELL"  # type: ignore[attr-defined]
                trades.append((bt.num2date(ex.dt).date(), side, int(price * 10_000), abs(int(ex.size))))

    cerebro = bt.Cerebro(stdstats=False)
    data = bt.feeds.GenericCSVData(
        dataname=str(csv),
        dtformat="%Y-%m-%d",
        datetime=0,
        open=1,
        high=2,
        low=3,
        close=4,
        volume=6,
        openinterest=-1,
    )
    cerebro.adddata(data)
    cerebro.addstrategy(SmaCrossBt)
    cerebro.broker.setcash(1_000_000.0)
    cerebro.run()
    return trades


def _tapeflow_trades(path: Path) -> list[Trade]:
    bars = [e for e in read_bars(path) if isinstance(e, Bar)]
    strategy = SmaCross(fast=10, slow=30, quantity=100)
    run = Backtest([strategy], portfolio=PortfolioConfig(starting_cash=1_000_000 * 10_000, sample_interval_ns=None))
    run.run([bars])
    return [
        (datetime.datetime.fromtimestamp(f.ts_event // 10**9, NY).date(), f.side.value, f.price, f.quantity)
        for f in run.results.fills
    ]


@pytest.mark.parametrize("name", ["nvda-1999-2014.txt.gz", "orcl-1995-2014.txt.gz"])
def test_sma_crossover_trades_equal_backtraders(data_dir: Path, tmp_path: Path, name: str) -> None:
    path = data_dir / "backtrader-yahoo-daily" / name
    csv = tmp_path / name.removesuffix(".gz")
    csv.write_bytes(gzip.decompress(path.read_bytes()))
    theirs = _backtrader_trades(csv)
    ours = _tapeflow_trades(path)
    assert len(theirs) > 50
    assert ours == theirs
