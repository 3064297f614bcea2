"""LOBSTER L3 replay from the Parquet store, every orderbook row verified, against the same replay from the zip.

On ``LOBSTER_SampleFile_AMZN_2012-06-21_5.zip`` (155,935 messages, the largest shared file), converted once into
a store as ``tapeflow data convert`` does (untimed; its time is printed). Timed, each
``tapeflow.report.book_replay.replay(..., verify=True)``, i.e. ``tapeflow book replay SOURCE --verify``:

- ``store compiled``: the store's manifest, folder listing, the LobsterBook table's size, SHA-256 and schema,
  its columns read batch by batch (pyarrow, no Python object per row) in a thread one batch ahead of the loop
  (the hash beside the first batch's decode, checked before any row is used), the compiled loop over the
  columns applying every message to the L3 book and comparing every orderbook row with the book's top N;
- ``store 1 thread``: the same with the batches read in the caller's thread (``read_ahead=False``): what the
  thread gains in wall time and costs in CPU time;
- ``store python``: the same table through the Python reference (the zip decoder's own loop on the rows' text);
- ``zip compiled``: the zip replay (inflate in a thread, parse, the compiled block apply and row check).

The four run interleaved in ``--pairs`` rounds (the order rotated each round) in one process; CPU-time and
wall msgs/s, median and spread (min-max), then the CPU-time and wall ratios of the store's compiled replay to the
zip's, to its own Python reference and to itself on one thread. The goal is stated in wall time (both replays
from the zip and the store read in a thread beside their loop) and in CPU time. The reports must be equal (rows,
mismatches, counts, book at the end) or the benchmark fails. Memory: peak RSS of a fresh child replaying
(compiled, verified) the day's store and a store of a 4x longer day (``bench_lobster.longer_copy``). ``--quick``:
no memory run. ``--breakdown``: also where the compiled replay's CPU time goes (its column loop, the table read,
the SHA-256, the rest). ``--against OLD_SRC``: also this tree against an older one's ``src`` (its compiled cores
built beside their .pyx), store and zip, in alternated fresh processes, CPU-time ratio new/old.

Run: ``.venv/bin/python benchmarks/bench_lobster_store.py [--file PATH] [--pairs 5] [--quick] [--breakdown]
[--against OLD_SRC]``.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from bench_lobster import day_or_skip, longer_copy
from tapeflow.book import L3Book
from tapeflow.data import lobster_store
from tapeflow.data.lobster import COMPILED_AVAILABLE, Impl
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.lobster_store import write_lobster_book
from tapeflow.data.store_writer import write_store
from tapeflow.report.book_replay import ReplayReport, replay

GOAL = 3_000_000


def convert(path: Path, out: Path) -> float:
    """The store ``tapeflow data convert`` writes (events and the LobsterBook table); its wall time."""
    t0 = time.perf_counter()
    write_store(iter_events(path), out, tables=lambda w: write_lobster_book(w, path))
    return time.perf_counter() - t0


def _spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):>11{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _same(a: ReplayReport, b: ReplayReport) -> list[str]:
    skip = ("elapsed_s", "msgs_per_s", "impl", "file")
    return [f for f in a.__struct_fields__ if f not in skip and getattr(a, f) != getattr(b, f)]


def paired(zip_path: Path, store: Path, pairs: int) -> dict[str, Any]:
    runs: list[tuple[str, Path, Impl, bool]] = [
        ("store compiled", store, "compiled", True),
        ("store 1 thread", store, "compiled", False),
        ("zip compiled", zip_path, "compiled", True),
        ("store python", store, "python", False),
    ]
    cpu: dict[str, list[float]] = {name: [] for name, *_ in runs}
    wall: dict[str, list[float]] = {name: [] for name, *_ in runs}
    reports: dict[str, ReplayReport] = {}
    for k in range(pairs):
        for name, source, impl, ahead in runs[k % len(runs) :] + runs[: k % len(runs)]:
            gc.collect()
            t0, w0 = time.process_time(), time.perf_counter()
            report = replay(source, verify=True, impl=impl, read_ahead=ahead)
            c, w = time.process_time() - t0, time.perf_counter() - w0
            assert report.impl == impl and report.mismatches == 0, (name, report.impl, report.mismatches)
            cpu[name].append(report.rows / c)
            wall[name].append(report.rows / w)
            reports[name] = report
    for name in reports:
        differ = _same(reports["zip compiled"], reports[name])
        assert not differ, f"{name}'s report differs from the zip replay's in {differ}"
    out: dict[str, Any] = {}
    for name in cpu:
        out[name] = {"cpu_msgs_per_s": _stats(cpu[name]), "wall_msgs_per_s": _stats(wall[name])}
        print(f"{name:15s} CPU {_spread(cpu[name])} msgs/s   wall {_spread(wall[name])} msgs/s")
    for other in ("zip compiled", "store python", "store 1 thread"):
        key = other.replace(" ", "_")
        ratios = [s / o for s, o in zip(cpu["store compiled"], cpu[other], strict=True)]
        walls = [s / o for s, o in zip(wall["store compiled"], wall[other], strict=True)]
        out[f"cpu_ratio_vs_{key}"], out[f"wall_ratio_vs_{key}"] = _stats(ratios), _stats(walls)
        print(f"store compiled / {other}: CPU-time ratio {_spread(ratios, '.2f')}, wall {_spread(walls, '.2f')} "
              f"over {pairs} rounds")  # fmt: skip
    return out


def breakdown(store: Path, rounds: int) -> dict[str, float]:
    """Where a compiled verified store replay's CPU time goes, medians of ``rounds``: the whole replay, the
    compiled column loop inside it (``apply_lobster_columns``, timed around each call), and, run apart in the
    same rounds, reading the table's batches into numpy (what the replay's reads do) and its SHA-256. The rest
    (manifest, schema, per-batch numpy checks, reveals and rare cases the loop hands to Python are inside the
    loop) is the whole minus those three."""
    table = next(store.rglob("LobsterBook.parquet"))
    inside = [0.0]
    real = lobster_store._l3_core.apply_lobster_columns

    def timed(*args: Any) -> Any:
        t0 = time.process_time()
        try:
            return real(*args)
        finally:
            inside[0] += time.process_time() - t0

    parts: dict[str, list[float]] = {"replay": [], "loop": [], "read": [], "sha256": []}
    for _ in range(rounds):
        gc.collect()
        inside[0] = 0.0
        lobster_store._l3_core.apply_lobster_columns = timed
        try:
            t0 = time.process_time()
            rows = replay(store, verify=True, impl="compiled").rows
            parts["replay"].append(time.process_time() - t0)
        finally:
            lobster_store._l3_core.apply_lobster_columns = real
        parts["loop"].append(inside[0])
        t0 = time.process_time()
        with pq.ParquetFile(table) as pf:
            for batch in pf.iter_batches(batch_size=lobster_store.BATCH_ROWS, use_threads=False):
                [batch.column(i).to_numpy() for i in range(batch.num_columns - 2)]
                [batch.column(i).null_count for i in range(batch.num_columns - 2, batch.num_columns)]
        parts["read"].append(time.process_time() - t0)
        t0 = time.process_time()
        hashlib.sha256(table.read_bytes()).hexdigest()
        parts["sha256"].append(time.process_time() - t0)
    out = {name: statistics.median(v) for name, v in parts.items()}
    out["rest"] = out["replay"] - out["loop"] - out["read"] - out["sha256"]
    for name in ("replay", "loop", "read", "sha256", "rest"):
        print(f"breakdown {name:7s} {out[name] * 1e3:7.1f} ms CPU  {out[name] / rows * 1e9:6.0f} ns a message"
              f"  {out[name] / out['replay']:6.1%}")  # fmt: skip
    return out


_AB_CHILD = """
import json, sys, time
from tapeflow.report.book_replay import replay
out = {"module": __import__("tapeflow.book._l3_core", fromlist=["x"]).__file__}
for name, source in (("store", sys.argv[1]), ("zip", sys.argv[2])):
    cpu = []
    for _ in range(int(sys.argv[3])):
        t0 = time.process_time()
        r = replay(source, verify=True, impl="compiled")
        cpu.append(time.process_time() - t0)
    fields = {f: getattr(r, f) for f in r.__struct_fields__ if f not in ("elapsed_s", "msgs_per_s", "file")}
    out[name] = {"cpu_s": min(cpu), "rows": r.rows, "report": repr(sorted(fields.items()))}
print(json.dumps(out))
"""


def against(old_src: Path, zip_path: Path, store: Path, pairs: int, reps: int = 3) -> dict[str, Any]:
    """This tree against an older one (``old_src``: its ``src`` with its compiled cores built beside their
    .pyx), store and zip replays, compiled and verified: fresh child processes alternated old, new, new, old ...
    (the two cannot share a process: the same module names); each child's best of ``reps`` replays, CPU time.
    The reports must be equal."""
    here = Path(__file__).resolve().parent.parent / "src"
    cpu: dict[str, dict[str, list[float]]] = {"old": {"store": [], "zip": []}, "new": {"store": [], "zip": []}}
    seen: dict[str, dict[str, Any]] = {}
    for k in range(pairs):
        for tree in ("old", "new") if k % 2 == 0 else ("new", "old"):
            env = {**os.environ, "PYTHONPATH": str(old_src if tree == "old" else here)}
            args = [sys.executable, "-c", _AB_CHILD, str(store), str(zip_path), str(reps)]
            done = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
            got = json.loads(done.stdout.strip().splitlines()[-1])
            if k == 0:
                print(f"{tree}: {got['module']}")
            for name in ("store", "zip"):
                cpu[tree][name].append(got[name]["rows"] / got[name]["cpu_s"])
                assert seen.setdefault(name, got[name])["report"] == got[name]["report"], f"{tree} {name} differs"
    out: dict[str, Any] = {}
    for name in ("store", "zip"):
        ratios = [n / o for n, o in zip(cpu["new"][name], cpu["old"][name], strict=True)]
        out[name] = {"old_cpu_msgs_per_s": _stats(cpu["old"][name]), "new_cpu_msgs_per_s": _stats(cpu["new"][name]),
                     "cpu_ratio_new_old": _stats(ratios)}  # fmt: skip
        print(f"{name:5s} old CPU {_spread(cpu['old'][name])} msgs/s   new CPU {_spread(cpu['new'][name])} msgs/s")
        print(f"{name:5s} CPU-time ratio new/old {_spread(ratios, '.3f')} over {pairs} pairs (reports equal)")
    return out


_CHILD = """
import json, resource, sys
from tapeflow.report.book_replay import replay
r = replay(sys.argv[1], verify=True, impl="compiled")
print(json.dumps({"rows": r.rows, "mismatches": r.mismatches, "impl": r.impl,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def memory(path: Path, store: Path, tmp: Path) -> dict[str, dict[str, float]]:
    big = tmp / "x4"
    convert(longer_copy(path, 4, tmp), big)
    out = {}
    for name, source in (("1x", store), ("4x", big)):
        done = subprocess.run([sys.executable, "-c", _CHILD, str(source)], capture_output=True, text=True, check=True)
        out[name] = json.loads(done.stdout.strip().splitlines()[-1])
        r = out[name]
        print(f"peak RSS {name}: {r['peak_rss_mib']:7.1f} MiB  ({r['rows']:,} rows, {r['mismatches']:,} mismatches"
              f"{': copies 2-4 start from the previous copy end book' if name == '4x' else ''})")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="No memory run.")
    parser.add_argument("--breakdown", action="store_true", help="Also: where the compiled replay's CPU time goes.")
    parser.add_argument("--against", type=Path, default=None, help="Also: this tree against an older src, paired.")
    args = parser.parse_args()
    path = day_or_skip(args.file, "lobster_store")
    if path is None:
        return
    if not COMPILED_AVAILABLE:
        print("skip: compiled cores not built")
        print(json.dumps({"bench": "lobster_store", "skipped": True}))
        return
    book = L3Book("X", impl="auto")
    sizes, keys, orders = (type(x).__name__ for x in (book.bids.sizes, book.bids.keys, book._orders))
    print(f"implementations: store compiled (book/_l3_columns.pxi, level sizes in {sizes}, price keys in {keys}, "
          f"orders in {orders}), store python (reference, level sizes in dicts, price keys in lists, orders in "
          "DictOrders), zip compiled")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        took = convert(path, store)
        table = next(store.rglob("LobsterBook.parquet"))
        print(f"converted {path.name} in {took:.1f} s wall; LobsterBook table {table.stat().st_size / 2**20:.1f} MiB")
        results = paired(path, store, args.pairs)
        if args.breakdown:
            results["breakdown_s"] = breakdown(store, args.pairs)
        if args.against is not None:
            results["against"] = against(args.against, path, store, args.pairs)
        if not args.quick:
            results["memory"] = memory(path, store, Path(tmp))
    for clock in ("wall", "cpu"):
        rate = results["store compiled"][f"{clock}_msgs_per_s"]["median"]
        print(f"goal >= {GOAL:,} msgs/s ({clock}): {'met' if rate >= GOAL else 'not met'} ({rate:,.0f})")
    print(json.dumps({"bench": "lobster_store", "file": path.name, "pairs": args.pairs, "goal_msgs_per_s": GOAL,
                      "results": results}))  # fmt: skip


if __name__ == "__main__":
    main()
