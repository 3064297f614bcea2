"""SMA 10/30 crossover on 1M one-minute bars: tapeflow's event-driven backtest against backtrader, same bars.

Both sides: buy 100 when flat on an up-cross, close on a down-cross, fills at the next bar's open. tapeflow runs the
whole assembly (kernel, simulated exchange, risk, execution, portfolio, results); backtrader runs its default
``Cerebro()`` (preload, runonce, standard observers) over a minimal in-memory feed, as in ../shared/PEERS.md.
Bar construction is not timed on either side. The ratio is taken in this run.

Usage: python benchmarks/bench_backtest_bars.py [--bars 1000000] [--peer-bars N] [--profile]
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from typing import Any

from gen_bars import bars as make_bars
from gen_bars import columns
from profiling import timed_call
from tapeflow.backtest.engine import Backtest
from tapeflow.portfolio import PortfolioConfig
from tapeflow.strategy.examples.sma_cross import SmaCross


def run_tapeflow(n: int, profile: bool) -> tuple[float, int, str]:
    data = make_bars(n)
    bt = Backtest(
        [SmaCross(fast=10, slow=30, quantity=100)],
        portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000, sample_interval_ns=None),
    )
    elapsed, text = timed_call(lambda: bt.run([data]), profile=profile, top=12)
    return elapsed, len(bt.results.fills), text


def run_backtrader(n: int) -> tuple[float, int] | str:
    try:
        import backtrader as bt
    except ImportError:
        return "backtrader not installed (pip install -e '.[bench]'): skipped"
    c = columns(n)
    epoch = datetime.datetime(1970, 1, 1)
    rows = [
        (epoch + datetime.timedelta(microseconds=t // 1000), o / 1e4, h / 1e4, lo / 1e4, cl / 1e4, float(v))
        for t, o, h, lo, cl, v in zip(
            *(c[k].tolist() for k in ("ts", "open", "high", "low", "close", "volume")), strict=True
        )
    ]

    class ListFeed(bt.feed.DataBase):  # type: ignore[misc]
        params = (("rows", None),)

        def start(self) -> None:
            super().start()
            self._i = 0

        def _load(self) -> bool:
            if self._i >= len(self.p.rows):
                return False
            dt, o, h, lo, cl, v = self.p.rows[self._i]
            self._i += 1
            self.lines.datetime[0] = bt.date2num(dt)
            self.lines.open[0], self.lines.high[0], self.lines.low[0], self.lines.close[0] = o, h, lo, cl
            self.lines.volume[0], self.lines.openinterest[0] = v, 0.0
            return True

    orders = [0]

    class SmaCrossBt(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.crossover = bt.ind.CrossOver(bt.ind.SMA(period=10), bt.ind.SMA(period=30))

        def next(self) -> None:
            if not self.position and self.crossover > 0:
                self.buy(size=100)
                orders[0] += 1
            elif self.position and self.crossover < 0:
                self.close()
                orders[0] += 1

    cerebro = bt.Cerebro()
    cerebro.adddata(ListFeed(rows=rows))
    cerebro.addstrategy(SmaCrossBt)
    cerebro.broker.setcash(10_000_000.0)
    start = time.perf_counter()
    cerebro.run()
    return time.perf_counter() - start, orders[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--peer-bars", type=int, default=None, help="bars for backtrader (default: --bars)")
    parser.add_argument("--profile", action="store_true", help="print where tapeflow's time goes")
    args = parser.parse_args()
    elapsed, fills, prof = run_tapeflow(args.bars, args.profile)
    ours = args.bars / elapsed
    print(f"tapeflow event-driven: {args.bars:,} bars in {elapsed:.2f} s = {ours:,.0f} bars/s ({fills:,} fills)")
    if prof:
        print(prof)
    result: dict[str, Any] = {"benchmark": "backtest_bars", "bars": args.bars, "tapeflow_bars_per_s": round(ours)}
    result["tapeflow_fills"] = fills
    peer_n = args.peer_bars or args.bars
    peer = run_backtrader(peer_n)
    if isinstance(peer, str):
        print(peer)
        result["backtrader"] = peer
    else:
        peer_elapsed, peer_orders = peer
        theirs = peer_n / peer_elapsed
        ratio = ours / theirs
        print(f"backtrader: {peer_n:,} bars in {peer_elapsed:.2f} s = {theirs:,.0f} bars/s ({peer_orders:,} orders)")
        print(f"tapeflow / backtrader: {ratio:.1f}x (goal >= 100x: {'met' if ratio >= 100 else 'NOT met'})")
        result.update(backtrader_bars_per_s=round(theirs), backtrader_orders=peer_orders, ratio=round(ratio, 2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
