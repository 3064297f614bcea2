"""A full LOBSTER day (the largest shared file) replayed through the whole backtest with a passive quoter.

The quoter rests at the touch with exact L3 queue position (it moves up only as the real orders ahead of it
trade or cancel). Prints messages/s (LOBSTER message rows; the kernel dispatches more events than that: derived
quotes, trades, signals, order reports) and the process's peak RSS. Parse included.

Usage: python benchmarks/bench_backtest_lobster.py [--file PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from tapeflow.backtest.engine import Backtest
from tapeflow.book.signals import SignalConfig
from tapeflow.data.lobster_events import iter_events
from tapeflow.portfolio import PortfolioConfig
from tapeflow.strategy.examples.imbalance_quoter import ImbalanceQuoter
from tapeflow.venues.geography import preset

DEFAULT = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = Path(os.environ.get("TAPEFLOW_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser.add_argument("--file", type=Path, default=data / DEFAULT)
    args = parser.parse_args()
    if not args.file.exists():
        print(f"{args.file} not found: set TAPEFLOW_DATA or pass --file; skipped")
        print(json.dumps({"benchmark": "backtest_lobster", "skipped": str(args.file)}))
        return
    rows = 0
    import zipfile

    with zipfile.ZipFile(args.file) as z:
        name = next(n for n in z.namelist() if "_message_" in n)
        with z.open(name) as f:
            rows = sum(1 for _ in f)
    strategy = ImbalanceQuoter(quantity=100, threshold=0.5, max_position=300)
    bt = Backtest(
        [strategy],
        level="L3",
        latency=preset("colo", "XNAS"),
        signals=SignalConfig(imbalance_levels=0, microprice=False, ofi=False),
        portfolio=PortfolioConfig(sample_interval_ns=None),
    )
    start = time.perf_counter()
    bt.run([iter_events(args.file)])
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = bt.stats()
    summary = bt.summary()
    print(f"{args.file.name}: {rows:,} messages in {elapsed:.2f} s = {rows / elapsed:,.0f} messages/s")
    print(f"kernel events: {stats['feed_events']:,} feed + {stats['scheduled_events']:,} scheduled")
    print(f"quoter: {summary.orders:,} orders, {summary.fills:,} fills; peak RSS {peak_mb:,.0f} MB")
    print(
        json.dumps(
            {
                "benchmark": "backtest_lobster",
                "file": args.file.name,
                "messages": rows,
                "messages_per_s": round(rows / elapsed),
                "feed_events": stats["feed_events"],
                "scheduled_events": stats["scheduled_events"],
                "orders": summary.orders,
                "fills": summary.fills,
                "peak_rss_mb": round(peak_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
