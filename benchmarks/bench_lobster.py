"""LOBSTER L3 replay benchmark: the largest shared file, zip reading and parsing included.

Measures, on ``LOBSTER_SampleFile_AMZN_2012-06-21_5.zip`` (155,935 messages, the largest shared file):

- ``replay``: ``tapeflow.report.book_replay.replay`` without verification: unzip, parse, initial book, reveals
  and every L3 book operation (the path of ``tapeflow book replay``);
- ``replay_verify``: the same with every orderbook row compared with the book (``--verify``);
- ``events``: ``iter_events`` (tapeflow event objects for the kernel) applied to an ``L3Book``;
- a calibration of this machine's interpreter (an empty loop, a 3-argument Python call), so that figures from
  different machines can be compared.

Run: ``.venv/bin/python benchmarks/bench_lobster.py [--file PATH] [--repeat 5]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
import zipfile
from pathlib import Path

from tapeflow.book import L3Book
from tapeflow.data.lobster import LobsterDecoder
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.lobster_file import open_lobster
from tapeflow.data.lobster_parse import LineReader, last_level_fields, parse_block
from tapeflow.model import Trade, TradingStatus
from tapeflow.report.book_replay import replay

DEFAULT = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"


def _data_root() -> Path:
    root = Path(os.environ.get("TAPEFLOW_DATA", "../shared/data"))
    return root if root.is_absolute() else (Path(__file__).resolve().parent.parent / root).resolve()


def calibrate() -> dict[str, float]:
    n = 2_000_000
    t0 = time.perf_counter()
    for _ in range(n):
        pass
    loop = (time.perf_counter() - t0) / n

    def f(a: int, b: int, c: int) -> None:
        return None

    t0 = time.perf_counter()
    for i in range(n):
        f(i, i, i)
    call = (time.perf_counter() - t0) / n - loop
    return {"empty_loop_ns": loop * 1e9, "python_call_ns": call * 1e9}


class _NullSink:
    """Accepts the decoder's pushes and does nothing: measures the decoder alone."""

    def load(self, bids: object, asks: object, orders: object = (), ts: int = 0) -> None:
        return None

    def add(self, order_id: int, side: object, price: int, size: int, ts: int = 0) -> None:
        return None

    def execute(self, order_id: int, size: int, ts: int = 0) -> bool:
        return True

    def cancel(self, order_id: int, size: int, ts: int = 0) -> bool:
        return True

    def delete(self, order_id: int, ts: int = 0, size: int = 0) -> bool:
        return True

    def discover(self, order_id: int, side: object, price: int, size: int, ts: int = 0) -> None:
        return None

    def reveal(self, side: object, after: int, levels: object, through_end: bool, ts: int = 0) -> int:
        return 0


def breakdown(path: Path, repeat: int = 3) -> dict[str, float]:
    """CPU ns per message of each stage, cumulative (best of ``repeat``)."""
    lf = open_lobster(path)

    def inflate(parse: bool) -> None:
        with zipfile.ZipFile(lf.path) as zf, zf.open(lf.message_member) as mf, zf.open(lf.orderbook_member) as bf:
            messages, books = LineReader(mf, "m", 1 << 20), LineReader(bf, "b", 3 << 20)
            row = 0
            while True:
                block, n = messages.raw_block(row)
                if not n:
                    break
                lines = books.take(n, row)
                if parse:
                    parse_block(block, n, "m", row + 1, 0)
                    last_level_fields(lines, lf.levels)
                row += n

    def decode(sink: object) -> None:
        for _ in LobsterDecoder(lf, sink).run():  # type: ignore[arg-type]
            pass

    stages = {
        "inflate_and_rows": lambda: inflate(False),
        "parse_and_reveal_scan": lambda: inflate(True),
        "decode_loop_null_sink": lambda: decode(_NullSink()),
        "l3_book": lambda: decode(L3Book("BENCH")),
    }
    rows = LobsterDecoder(lf, _NullSink())
    for _ in rows.run():
        pass
    out: dict[str, float] = {}
    gc.disable()
    for name, fn in stages.items():
        best = float("inf")
        for _ in range(repeat):
            t0 = time.process_time()
            fn()
            best = min(best, time.process_time() - t0)
        out[name] = best / rows.counts.rows * 1e9
    gc.enable()
    return out


def bench_events(path: Path) -> tuple[int, float]:
    book = L3Book("BENCH")
    apply = book.apply
    n = 0
    gc.disable()
    t0 = time.perf_counter()
    for event in iter_events(path):
        n += 1
        if not isinstance(event, Trade | TradingStatus):
            apply(event)
    elapsed = time.perf_counter() - t0
    gc.enable()
    return n, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--breakdown", action="store_true", help="Also time each stage (CPU ns per message).")
    args = parser.parse_args()
    path = args.file or _data_root() / DEFAULT
    if not path.is_file():
        print(f"skip: {path} not found; set TAPEFLOW_DATA to the shared data folder")
        print(json.dumps({"bench": "lobster_replay", "skipped": True}))
        return

    cal = calibrate()
    print(f"calibration: empty loop {cal['empty_loop_ns']:.0f} ns, 3-arg Python call {cal['python_call_ns']:.0f} ns")
    results: dict[str, dict[str, float]] = {}
    for name, verify in (("replay", False), ("replay_verify", True)):
        reports = []
        cpu = []
        for _ in range(args.repeat):
            t0 = time.process_time()
            reports.append(replay(path, verify=verify))
            cpu.append(time.process_time() - t0)
        assert all(r.mismatches == 0 for r in reports)
        rates = [r.msgs_per_s for r in reports]
        results[name] = {
            "rows": reports[0].rows,
            "median_msgs_per_s": statistics.median(rates),
            "best_msgs_per_s": max(rates),
            "cpu_msgs_per_s": reports[0].rows / statistics.median(cpu),
        }
    runs = [bench_events(path) for _ in range(args.repeat)]
    rates = [n / t for n, t in runs]
    results["events"] = {
        "events": runs[0][0],
        "median_events_per_s": statistics.median(rates),
        "best_events_per_s": max(rates),
    }
    stages = breakdown(path) if args.breakdown else {}
    for name, ns in stages.items():
        print(f"  cumulative CPU ns/msg up to {name:24s} {ns:8,.0f}")
    rows = results["replay"]["rows"]
    for name, r in results.items():
        unit = "events" if name == "events" else "messages"
        median = r.get("median_msgs_per_s", r.get("median_events_per_s", 0.0))
        best = r.get("best_msgs_per_s", r.get("best_events_per_s", 0.0))
        cpu = r.get("cpu_msgs_per_s")
        extra = f", {cpu:>10,.0f} per CPU-second" if cpu else ""
        print(f"{name:14s} {median:>10,.0f} {unit}/s median, {best:>10,.0f} best of {args.repeat}{extra}")
    print(
        json.dumps(
            {
                "bench": "lobster_replay",
                "file": path.name,
                "rows": rows,
                "repeat": args.repeat,
                "calibration": cal,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
