"""Parquet store read rate against reading the original format, on a real TAQ day and a LOBSTER day.

Run: ``.venv/bin/python benchmarks/bench_parquet.py [TAPEFLOW_DATA]``; the last line is one JSON object.
Each reader runs ``REPEAT`` times, alternating, and the best run counts: single runs on a shared 2-core machine
swing by a third.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from tapeflow.data.detect import open_events
from tapeflow.data.parquet_store import read_store, write_store

REPEAT = 3
CASES = (
    "lean-algoseek-us-equity/tick/bac/20131007_trade.zip",
    "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip",
)


def _rate(fn: object) -> tuple[int, float]:
    t = time.perf_counter()
    n = sum(1 for _ in fn())  # type: ignore[operator]
    return n, time.perf_counter() - t


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TAPEFLOW_DATA", "../shared/data"))
    results = {}
    for rel in CASES:
        src = root / rel
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "store"
            fmt, events, _ = open_events(src)
            write_store(events, store)
            t_orig = t_pq = float("inf")
            for _ in range(REPEAT):
                n_orig, t = _rate(lambda src=src: open_events(src)[1])
                t_orig = min(t_orig, t)
                n_pq, t = _rate(lambda store=store: read_store(store))
                t_pq = min(t_pq, t)
            assert n_orig == n_pq
            results[fmt] = {
                "file": rel,
                "events": n_pq,
                "original_events_per_s": round(n_orig / t_orig),
                "parquet_events_per_s": round(n_pq / t_pq),
                "speedup": round(t_orig / t_pq, 2),
            }
            print(f"{fmt:8} {n_pq:>9,} events  original {n_orig / t_orig:>10,.0f}/s  parquet {n_pq / t_pq:>10,.0f}/s")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
