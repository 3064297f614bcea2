"""ITCH 5.0 parse benchmark: messages per second into tapeflow events, compiled core against the Python loop, and
peak memory for a file and one four times its size.

    .venv/bin/python benchmarks/bench_itch.py [--messages 1000000] [--runs 5] [--keep DIR] [--data FILE]

What is timed: ``ItchReader(path, date=...).event_batches()`` over the whole file, every check on (length prefix
equal to the spec, known locate, non-zero shares, valid side, time not going back within a stock, references
within int64), each event built as the replay consumes it (``OrderAdded`` ... with Python ints), read from the
file (page cache) 16 KiB at a time. The same file is read by the compiled core (``implementation="compiled"``) and
by the Python reference loop, interleaved in one fresh process (C, P, C, P ...), ``--runs`` pairs; CPU-time and
wall rates, median and spread (min-max), and the CPU-time ratio. Both must give the same counts (checked). A
third pass in each round, compiled decode feeding every L3 event to its symbol's ``L3Book`` as a replay does,
says what the book costs on top of decoding.

Memory: each peak RSS comes from a fresh child process that reads one file and reports ``VmHWM`` from
``/proc/self/status``: the high-water mark of the child's own address space since its ``exec``. Not
``ru_maxrss``: Linux carries the parent's peak RSS into a child across fork and exec, so a child of a parent
that grew (e.g. by generating the file) reported the parent's peak, not its own; both figures are printed,
and the parent generates files in a subprocess so that it stays small. The file is ``--messages`` messages
(1x) and the same generator's ``4 x --messages`` (4x; 1x is its byte prefix), written once by ``gen_itch.py``.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DAY = dt.date(2019, 12, 30)
GOAL = 2_000_000  # msgs per CPU second, issue 19
IMPLEMENTATIONS = ("compiled", "python")


def _vm_hwm_kib() -> int:
    """This process's own peak RSS since exec (Linux); -1 where ``/proc`` has no such line."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def _one_pass(path: str, implementation: str, limit: int, *, book: bool = False) -> dict[str, Any]:
    """Read ``path`` into events (up to ``limit`` messages, checked per chunk); counts, CPU and wall time.

    ``book``: also apply every L3 event to its symbol's ``L3Book`` (``books_by_symbol``), as a replay does.
    """
    from tapeflow.data.itch import ItchReader, books_by_symbol  # lazy: the parent never imports tapeflow's reader

    reader = ItchReader(path, date=DAY, implementation=implementation)  # type: ignore[arg-type]
    events = 0
    cpu = time.process_time()
    wall = time.perf_counter()
    if book:
        from tapeflow.book.l3 import L3Book  # lazy: only the book passes pay its import (and its RSS)

        books = books_by_symbol(itertools.chain.from_iterable(reader.event_batches()), L3Book)
        events = reader.stats.events
        assert sum(len(b) for b in books.values()) > 0
    else:
        for batch in reader.event_batches():
            events += len(batch)
            if reader.stats.messages >= limit:
                break
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    stats = reader.stats
    return {
        "implementation": reader.implementation + ("+book" if book else ""),
        "messages": stats.messages,
        "events": events,
        "counts": [stats.filtered, stats.malformed, stats.unknown_types, stats.out_of_order, stats.unknown_locate],
        "cpu_s": cpu,
        "wall_s": wall,
    }


def _child_time(path: str, runs: int) -> None:
    """Interleaved: compiled, Python, compiled + L3 book, ``runs`` times; one JSON line with every pass."""
    passes: list[dict[str, Any]] = []
    _one_pass(path, "compiled", 50_000)  # imports and first-touch of the file's pages outside the timed passes
    for _ in range(runs):
        passes.extend(_one_pass(path, implementation, sys.maxsize) for implementation in IMPLEMENTATIONS)
        passes.append(_one_pass(path, "compiled", sys.maxsize, book=True))
    print(json.dumps(passes))


def _child_rss(path: str, implementation: str, limit: int) -> None:
    result = _one_pass(path, implementation, limit)
    result["vm_hwm_kib"] = _vm_hwm_kib()
    result["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


def _child(args: list[str]) -> Any:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rates(passes: list[dict[str, Any]], implementation: str) -> dict[str, Any]:
    mine = [p for p in passes if p["implementation"] == implementation]
    cpu = [p["messages"] / p["cpu_s"] for p in mine]
    wall = [p["messages"] / p["wall_s"] for p in mine]
    return {
        "runs": len(mine),
        "cpu_rate_median": round(statistics.median(cpu)),
        "cpu_rate_min": round(min(cpu)),
        "cpu_rate_max": round(max(cpu)),
        "wall_rate_median": round(statistics.median(wall)),
        "wall_rate_min": round(min(wall)),
        "wall_rate_max": round(max(wall)),
        "cpu_rates": [round(r) for r in cpu],
    }


def _copy_head(src: Path, dst: Path, messages: int) -> int:
    """Copy the first ``messages`` length-prefixed messages of ``src`` to ``dst`` (streamed); their count."""
    count = 0
    with open(src, "rb") as inp, open(dst, "wb") as out:
        while count < messages:
            prefix = inp.read(2)
            if len(prefix) < 2:
                break
            out.write(prefix + inp.read(int.from_bytes(prefix, "big")))
            count += 1
    return count


def _mb(kib: int) -> float:
    return round(kib / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages in the 1x file (4x is 4 times)")
    parser.add_argument("--runs", type=int, default=5, help="interleaved pairs (compiled, Python)")
    parser.add_argument("--keep", type=Path, help="write the files here and reuse them on the next run")
    parser.add_argument("--data", type=Path, help="time this length-prefixed ITCH file instead of the 1x file")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, path, *rest = args.child
        if mode == "time":
            _child_time(path, int(rest[0]))
        else:
            _child_rss(path, rest[0], int(rest[1]))
        return 0

    from tapeflow.data.itch_fast import ITCH_CORE  # lazy: the child modes import what they measure

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        big = folder / f"synthetic_{4 * args.messages}.itch"
        one = folder / f"synthetic_{args.messages}_head.itch"
        if not big.exists():
            start = time.perf_counter()
            generator = [sys.executable, str(HERE / "gen_itch.py"), str(big), "--messages", str(4 * args.messages)]
            subprocess.run(generator, check=True)  # a subprocess: this process stays small (see the docstring)
            print(f"generated {4 * args.messages:,} messages in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        if not one.exists():
            _copy_head(big, one, args.messages)
        timed = args.data or one
        print(f"implementation auto picks here: {ITCH_CORE}; timing {timed} ({timed.stat().st_size:,} bytes)")
        passes = _child(["time", str(timed), str(args.runs)])
        memory = {
            "baseline_one_chunk": _child(["rss", str(one), ITCH_CORE, "1"]),
            **{f"{impl}_{size}": _child(["rss", str(path), impl, str(sys.maxsize)])
               for impl in IMPLEMENTATIONS for size, path in (("1x", one), ("4x", big))},
        }  # fmt: skip
    parent_maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    first = passes[0]
    differ = [p for p in passes if (p["messages"], p["events"], p["counts"]) != (first["messages"], first["events"],
                                                                                first["counts"])]  # fmt: skip
    rates = {impl: _rates(passes, impl) for impl in (*IMPLEMENTATIONS, "compiled+book")}
    compiled, python, booked = passes[::3], passes[1::3], passes[2::3]
    ratios = [c["messages"] / c["cpu_s"] / (p["messages"] / p["cpu_s"]) for c, p in zip(compiled, python, strict=True)]
    ratio = statistics.median(ratios)
    book_ns = [(b["cpu_s"] - c["cpu_s"]) / b["messages"] * 1e9 for c, b in zip(compiled, booked, strict=True)]
    print(f"{first['messages']:,} messages -> {first['events']:,} events per pass; passes that differ: {len(differ)}")
    for impl, r in rates.items():
        print(
            f"{impl:>7}: CPU-time {r['cpu_rate_median'] / 1e6:5.2f} M msgs/s (min {r['cpu_rate_min'] / 1e6:.2f}, "
            f"max {r['cpu_rate_max'] / 1e6:.2f}); wall {r['wall_rate_median'] / 1e6:5.2f} M msgs/s "
            f"(min {r['wall_rate_min'] / 1e6:.2f}, max {r['wall_rate_max'] / 1e6:.2f}); {r['runs']} runs"
        )
    print("peak RSS of fresh children (VmHWM = the child's own; ru_maxrss also counts what the parent held):")
    for name, m in memory.items():
        print(
            f"  {name:>18} [{m['implementation']}]: {m['messages']:>10,} msgs  VmHWM {_mb(m['vm_hwm_kib']):6.1f} MB  "
            f"ru_maxrss {_mb(m['ru_maxrss_kib']):6.1f} MB  "
            f"({m['messages'] / m['cpu_s'] / 1e6:.2f} M msgs per CPU s)"
        )
    print(f"  parent ru_maxrss {_mb(parent_maxrss_kib):.1f} MB")
    met = rates["compiled"]["cpu_rate_median"] >= GOAL
    print(f"goal >= {GOAL / 1e6:.0f}M msgs per CPU second into events: {'met' if met else 'NOT met'} by {ITCH_CORE}")
    print(
        f"L3 book (Python book.l3, fed by books_by_symbol) adds {statistics.median(book_ns):.0f} ns CPU per message "
        f"(min {min(book_ns):.0f}, max {max(book_ns):.0f}; compiled decode + book minus compiled decode, same run)"
    )
    print(f"CPU-time ratio compiled / Python, median of {len(ratios)} pairs: {ratio:.2f}x "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip
    summary = {
        "benchmark": "itch_parse",
        "implementation": ITCH_CORE,
        "file_messages": first["messages"],
        "events": first["events"],
        "passes_that_differ": len(differ),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "rates": rates,
        "goal_msgs_per_cpu_s": GOAL,
        "goal_met": met,
        "peak_rss_mb": {name: _mb(m["vm_hwm_kib"]) for name, m in memory.items()},
        "ru_maxrss_mb": {name: _mb(m["ru_maxrss_kib"]) for name, m in memory.items()},
        "book_cpu_ns_per_msg": round(statistics.median(book_ns)),
        "cpu_ratio_compiled_over_python": round(ratio, 3),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
