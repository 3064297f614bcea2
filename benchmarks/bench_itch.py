"""ITCH 5.0 parse benchmark: messages per second into tapeflow events, and peak memory while streaming.

    .venv/bin/python benchmarks/bench_itch.py [--messages 10000000] [--data FILE] [--keep DIR]

Writes a synthetic file of ``--messages`` (default 10M) with ``gen_itch.py`` to a temporary directory (or
reads ``--data``), then parses it in a fresh subprocess per measurement so that each peak RSS is that run's
own: one chunk (the baseline), events for the first 1M messages and for the whole file, the generic struct
path for 1M, and gzip for 1M. A breakdown (framing walk alone, plus unpacking, event construction alone) says
where the time goes; each part is the best of three. The last line printed is one JSON object with every
figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DAY = dt.date(2019, 12, 30)


def _child(path: str, mode: str, limit: int) -> None:
    """Parse ``limit`` messages of ``path`` in ``mode`` and print one JSON line (runs in a subprocess)."""
    from tapeflow.data.itch import ItchReader

    reader = ItchReader(path, date=DAY)
    events = 0
    cpu = time.process_time()
    start = time.perf_counter()
    if mode == "messages":
        for _ in reader.messages():
            if reader.stats.messages >= limit:
                break
    else:
        for batch in reader.event_batches():
            events += len(batch)
            if reader.stats.messages >= limit:
                break
    took = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "messages": reader.stats.messages,
                "events": events,
                "seconds": took,
                "cpu_seconds": cpu,
                "peak_rss_kib": peak_kib,
            }
        )
    )


def _run(path: Path, mode: str, limit: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--data", str(path), "--limit", str(limit)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    result["msgs_per_s"] = result["messages"] / result["seconds"]
    result["msgs_per_cpu_s"] = result["messages"] / result["cpu_seconds"]
    result["peak_rss_mb"] = round(result.pop("peak_rss_kib") / 1024, 1)
    return result


def _best(func: Callable[[], int], repeat: int = 3) -> float:
    """Best ns per item of ``func`` (which returns how many items it did) over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        count = func()
        best = min(best, (time.perf_counter() - start) / count * 1e9)
    return round(best, 1)


def _breakdown(path: Path, limit: int) -> dict[str, float]:
    """ns per message of the hot loop's parts, on the first ``limit`` messages of ``path``."""
    from tapeflow.model import OrderAdded, Side

    with open(path, "rb") as handle:
        data = handle.read(limit * 32)
    unpack = {
        65: struct.Struct(">HBHQQBI8xI").unpack_from,
        68: struct.Struct(">HBHQQ").unpack_from,
        85: struct.Struct(">HBHQQQII").unpack_from,
        69: struct.Struct(">HBHQQIQ").unpack_from,
        88: struct.Struct(">HBHQQI").unpack_from,
    }
    end = len(data) - 64

    def walk(data: bytes = data, end: int = end) -> int:
        pos = count = 0
        while pos < end:
            count += data[pos + 2] > 0
            pos += 2 + data[pos + 1]
        return count

    def walk_and_unpack(data: bytes = data, end: int = end, get: Any = unpack.get) -> int:
        pos = count = 0
        while pos < end:
            func = get(data[pos + 2])
            if func is not None:
                func(data, pos)
            pos += 2 + data[pos + 1]
            count += 1
        return count

    def construct(added: Any = OrderAdded, buy: Side = Side.BUY) -> int:
        for i in range(200_000):
            added(ts_event=i, ts_init=i, symbol="AAPL", order_id=i, side=buy, price=1, size=1, sequence=i)
        return 200_000

    def empty() -> int:
        for _ in range(1_000_000):
            pass
        return 1_000_000

    return {
        "walk_ns": _best(walk),
        "walk_unpack_ns": _best(walk_and_unpack),
        "construct_order_added_ns": _best(construct),
        "empty_loop_ns": _best(empty),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, help="an existing length-prefixed ITCH file to parse instead")
    parser.add_argument("--keep", type=Path, help="write the synthetic files here and keep them")
    parser.add_argument("--child", choices=["events", "messages"], help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(str(args.data), args.child, args.limit or sys.maxsize)
        return 0

    sys.path.insert(0, str(HERE))
    import gen_itch

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = args.data
        if path is None:
            path = folder / f"synthetic_{args.messages}.itch"
            if not path.exists():
                start = time.perf_counter()
                gen_itch.generate(path, args.messages)
                print(
                    f"generated {args.messages:,} messages in {time.perf_counter() - start:.0f} s",
                    file=sys.stderr,
                )
        total = args.messages
        small = min(1_000_000, total)
        gz = folder / "synthetic_1m.itch.gz"
        if not gz.exists():
            gen_itch.generate(gz, small)
        runs = {
            "baseline_one_chunk": _run(path, "events", 1),
            f"events_{small}": _run(path, "events", small),
            f"events_{total}": _run(path, "events", total),
            f"messages_{small}": _run(path, "messages", small),
            f"events_gzip_{small}": _run(gz, "events", small),
        }
        breakdown = _breakdown(path, 300_000)
        size = path.stat().st_size
    for name, result in runs.items():
        print(
            f"{name:>22}: {result['messages']:>11,} msgs {result['events']:>11,} events "
            f"{result['seconds']:7.2f} s {result['msgs_per_s'] / 1e6:6.2f} M msgs/s "
            f"({result['msgs_per_cpu_s'] / 1e6:.2f} M per CPU s)  "
            f"peak RSS {result['peak_rss_mb']:7.1f} MB"
        )
    print("breakdown (ns per message): " + ", ".join(f"{k}={v}" for k, v in breakdown.items()))
    summary = {
        "benchmark": "itch_parse",
        "file_messages": total,
        "file_bytes": size,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "msgs_per_s": round(runs[f"events_{total}"]["msgs_per_s"]),
        "msgs_per_cpu_s": round(runs[f"events_{total}"]["msgs_per_cpu_s"]),
        "peak_rss_mb": {
            str(small): runs[f"events_{small}"]["peak_rss_mb"],
            str(total): runs[f"events_{total}"]["peak_rss_mb"],
        },
        "runs": runs,
        "breakdown_ns": breakdown,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
