"""The store's compiled, verified replay of a LOBSTER day: this tree against another, the column loop timed apart.

Why: ``bench_lobster_store.py --against`` times whole replays, whose pairs spread by +-20-40% on a loaded host,
more than a 10% change in the loop can show. Here each fresh child process (old and new alternated) replays the
store ``--reps`` times and reports its minimum CPU time for the whole replay and for the column loop inside it
(``apply_lobster_columns``, timed around each call, as ``bench_lobster_store.py --breakdown`` does), and the
whole replay's minimum wall time (``wall``: what a thread beside the loop gains, where a core is free): minima
of several replays in one process are what load disturbs least.

Usage (from ``benchmarks/``): ../.venv/bin/python bench_lobster_store_ab.py --store STORE --other OLD/src
[--pairs 10] [--reps 5]   (STORE: a store converted as ``bench_lobster_store.py`` does; OLD/src: a tree's
``src`` with its compiled cores built beside their .pyx)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

_CHILD = """
import json, sys, time
from tapeflow.data import lobster_store
from tapeflow.report.book_replay import replay
real = lobster_store._l3_core.apply_lobster_columns
inside = [0.0]
def timed(*a):
    t0 = time.process_time()
    try:
        return real(*a)
    finally:
        inside[0] += time.process_time() - t0
lobster_store._l3_core.apply_lobster_columns = timed
whole, loop, wall = [], [], []
for _ in range(int(sys.argv[2])):
    inside[0] = 0.0
    t0, w0 = time.process_time(), time.perf_counter()
    r = replay(sys.argv[1], verify=True, impl="compiled")
    whole.append(time.process_time() - t0)
    wall.append(time.perf_counter() - w0)
    loop.append(inside[0])
print(json.dumps({"rows": r.rows, "mismatches": r.mismatches, "whole": min(whole), "loop": min(loop),
                  "wall": min(wall)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--other", type=Path, required=True, help="the other tree's src")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent / "src"
    got: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    for k in range(args.pairs):
        for tree in ("old", "new") if k % 2 == 0 else ("new", "old"):
            env = {**os.environ, "PYTHONPATH": str(args.other if tree == "old" else here)}
            cmd = [sys.executable, "-c", _CHILD, str(args.store), str(args.reps)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            got[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = got["new"][0]["rows"]
    assert all((g["rows"], g["mismatches"]) == (rows, got["new"][0]["mismatches"]) for g in got["old"] + got["new"])
    out: dict[str, Any] = {"bench": "lobster_store_ab", "rows": rows, "pairs": args.pairs, "reps": args.reps}
    for part in ("whole", "loop", "wall"):
        old = [g[part] / rows * 1e9 for g in got["old"]]
        new = [g[part] / rows * 1e9 for g in got["new"]]
        speedup = sorted(o / n for o, n in zip(old, new, strict=True))
        out[part] = {"old_ns": statistics.median(old), "new_ns": statistics.median(new),
                     "speedup_median": statistics.median(speedup), "speedup_min": speedup[0],
                     "speedup_max": speedup[-1]}  # fmt: skip
        ratio = statistics.median(speedup)
        print(f"{part:5s} old {statistics.median(old):5.0f} ns a message [{min(old):.0f}-{max(old):.0f}]  new "
              f"{statistics.median(new):5.0f} ns [{min(new):.0f}-{max(new):.0f}]  old/new {ratio:.3f} "
              f"[{speedup[0]:.3f}-{speedup[-1]:.3f}] over {args.pairs} pairs")  # fmt: skip
    out["new_msgs_per_cpu_s"] = 1e9 / out["whole"]["new_ns"]
    out["new_msgs_per_wall_s"] = 1e9 / out["wall"]["new_ns"]
    print(f"new whole replay: {out['new_msgs_per_cpu_s']:,.0f} msgs per CPU-second, {out['new_msgs_per_wall_s']:,.0f} "
          "per second wall (medians of the minima)")  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
