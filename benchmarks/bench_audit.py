"""Audit writer: sustained records/s into SQLite, and what the audit trail costs the trading loop.

Two measurements, each ``--repeat`` times (median reported, best in the JSON):

1. ``writer``: the loop hands ``--records`` order events (fills and signals) to an ``AuditWriter`` in batches of
   512 as fast as it can; the rate is records over the time from the first hand-over until the last commit
   (encoding, SHA-256 chain and SQLite inserts in the writer thread, WAL, synchronous=NORMAL).
2. ``loop``: a kernel run over ``--events`` feed events in which one in ``--every`` is an order event the trail
   records, with a handler doing a little work per quote (the "strategy"); timed without and with an
   ``AuditTrail`` on the kernel (the end-of-run flush included). The slowdown is the ratio minus one.

The trading loop and the writer share the GIL: on CPython the Python work of the writer (encode, hash, bind
parameters) is taken from the loop, whatever the number of cores; only SQLite's own work runs in parallel.

Usage: python benchmarks/bench_audit.py [--records 300000] [--events 1000000] [--every 10] [--repeat 3]
Targets: writer >= 100k records/s; loop slowed by < 10%.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tapeflow.compliance import AuditTrail, AuditWriter, SqliteAuditStore
from tapeflow.engine import Kernel
from tapeflow.model import Event, LiquiditySide, OrderFilled, Quote, Side, Signal

T0 = 1_718_978_400_000_000_000


def order_event(i: int, ts: int) -> Event:
    if i % 2:
        return Signal(
            ts_event=ts,
            ts_init=ts,
            strategy_id="s",
            symbol="AAPL",
            name="m",
            value=0.5,
            reason="r",
            features={"a": 1.0},
        )
    return OrderFilled(
        ts_event=ts,
        ts_init=ts,
        strategy_id="s",
        client_order_id=f"s-{i}",
        symbol="AAPL",
        side=Side.BUY,
        price=1_000_000 + i % 100,
        quantity=100,
        leaves_quantity=0,
        liquidity_side=LiquiditySide.TAKER,
        trade_id=f"T{i}",
    )


def bench_writer(records: int, tmp: Path, run: int) -> float:
    events = [order_event(i, T0 + i) for i in range(records)]
    writer = AuditWriter(SqliteAuditStore(tmp / f"writer{run}.db"), key=b"bench")
    writer.start()
    start = time.perf_counter()
    batch: list[Any] = []
    for e in events:
        batch.append((e.ts_init, type(e).__name__, "", "s", "AAPL", e, None))
        if len(batch) == 512:
            writer.submit(batch)
            batch = []
    writer.submit(batch)
    writer.flush()
    elapsed = time.perf_counter() - start
    writer.close()
    return records / elapsed


def feed(events: int, every: int) -> list[Event]:
    out: list[Event] = []
    for i in range(events):
        ts = T0 + i * 1000
        if i % every == 0:
            out.append(order_event(i, ts))
        else:
            out.append(
                Quote(
                    ts_event=ts,
                    ts_init=ts,
                    symbol="AAPL",
                    bid_price=1_000_000,
                    bid_size=100 + i % 7,
                    ask_price=1_000_100,
                    ask_size=200,
                    venue="X",
                )
            )
    return out


class Strategy:
    """A little work per quote: a running imbalance, as a real strategy would compute something."""

    def __init__(self) -> None:
        self.acc = 0.0

    def on_quote(self, q: Quote) -> None:
        self.acc = 0.99 * self.acc + (q.bid_size - q.ask_size) / (q.bid_size + q.ask_size)


def bench_loop(events: list[Event], audit_path: Path | None) -> tuple[float, int]:
    kernel = Kernel()
    strategy = Strategy()
    kernel.subscribe(Quote, strategy.on_quote)
    trail = None
    if audit_path is not None:
        trail = AuditTrail.open(audit_path, key=b"bench", close_window_ns=0)
        kernel.add(trail)
    start = time.perf_counter()
    kernel.start(at=events[0].ts_init)
    kernel.run(events)
    kernel.stop()  # the trail flushes and closes here: its cost is inside the timing
    elapsed = time.perf_counter() - start
    return elapsed, trail.records if trail is not None else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rates = [bench_writer(args.records, tmp, i) for i in range(args.repeat)]
        print(
            f"writer: {statistics.median(rates):,.0f} records/s median, {max(rates):,.0f} best "
            f"({args.records:,} records)"
        )
        events = feed(args.events, args.every)
        base, with_audit, recorded = [], [], 0
        for i in range(args.repeat):  # interleaved, so machine noise hits both alike
            base.append(bench_loop(events, None)[0])
            t, recorded = bench_loop(events, tmp / f"loop{i}.db")
            with_audit.append(t)
        b, a = statistics.median(base), statistics.median(with_audit)
        slowdown = a / b - 1
        print(f"loop without audit: {args.events / b:,.0f} events/s ({b:.3f} s)")
        print(
            f"loop with audit:    {args.events / a:,.0f} events/s ({a:.3f} s), {recorded:,} records, "
            f"{recorded / a:,.0f} records/s"
        )
        print(f"slowdown: {slowdown * 100:.1f}%")
        print(
            json.dumps(
                {
                    "writer_records_per_s": round(statistics.median(rates)),
                    "writer_records_per_s_best": round(max(rates)),
                    "loop_events_per_s": round(args.events / b),
                    "loop_events_per_s_with_audit": round(args.events / a),
                    "loop_records": recorded,
                    "loop_records_per_s": round(recorded / a),
                    "loop_slowdown": round(slowdown, 4),
                }
            )
        )


if __name__ == "__main__":
    main()
