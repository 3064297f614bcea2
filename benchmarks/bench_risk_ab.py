"""Two risk engines in one process: this tree's ``tapeflow`` against another tree's, timed alternately.

Why: on a shared machine two runs of ``bench_risk.py`` differ by more than a change to the risk engine does (even
in CPU time, which rises with the load on the other core), so a 5-10 % question is settled here: both trees are
imported into this process (the other under its own module objects: ``sys.modules`` is swapped between the two
imports), each builds its own orders and engines through the workloads of ``bench_risk.py`` (this tree's file for
both, so the work is the same), and every workload runs A, B, A, B ... alternating which goes first, timed by
this thread's CPU time. Printed: median and spread per side, and the ratio of medians, last.

Usage: python benchmarks/bench_risk_ab.py --other ../old/src [--pairs 7] [--orders 50000]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent


def load(src: Path, tag: str) -> ModuleType:
    """``bench_risk.py`` bound to the ``tapeflow`` package under ``src``, leaving no trace in ``sys.modules``."""
    saved = {k: v for k, v in sys.modules.items() if k == "tapeflow" or k.startswith("tapeflow.")}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, str(src))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_risk_{tag}", HERE / "bench_risk.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.TREE = sys.modules["tapeflow"].__file__  # type: ignore[attr-defined]
        warm = module.make_orders(50)
        for make in module.WORKLOADS.values():  # first uses import and cache lazily: while this tree is imported
            make(warm)()
    finally:
        sys.path.remove(str(src))
        for k in [k for k in sys.modules if k == "tapeflow" or k.startswith("tapeflow.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--other", type=Path, required=True, help="the src/ folder of the tree to compare with")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--workloads", default="pass,pass-kernel,no-rules,reject-first,modify,pass-bars")
    args = parser.parse_args()
    if args.pairs < 5:
        parser.error("--pairs must be at least 5: the figures are a median and a spread")
    sides = {"other": load(args.other.resolve(), "other"), "this": load(HERE.parent / "src", "this")}
    for name, module in sides.items():
        print(f"{name}: {module.TREE}")
    orders = {name: module.make_orders(args.orders) for name, module in sides.items()}
    workloads = args.workloads.split(",")
    cpu: dict[tuple[str, str], list[float]] = {(w, s): [] for w in workloads for s in sides}
    names = list(sides)
    for p in range(args.pairs):
        for w in workloads:
            for s in names if p % 2 == 0 else names[::-1]:
                run = sides[s].WORKLOADS[w](orders[s])
                gc.collect()
                start = time.thread_time()
                n = run()
                cpu[(w, s)].append((time.thread_time() - start) / n * 1e6)
    result: dict[str, Any] = {"benchmark": "risk_ab", "orders": args.orders, "pairs": args.pairs}
    print(f"{args.pairs} pairs, CPU time of this thread, us per order: median (lowest-highest)")
    for w in workloads:
        cells = []
        for s in names:
            t = sorted(cpu[(w, s)])
            med = statistics.median(t)
            result[f"{w}_{s}_cpu_us"], result[f"{w}_{s}_cpu_us_spread"] = (
                round(med, 3),
                [round(t[0], 3), round(t[-1], 3)],
            )
            cells.append(f"{s} {med:6.2f} ({t[0]:.2f}-{t[-1]:.2f})")
        ratio = statistics.median(cpu[(w, "other")]) / statistics.median(cpu[(w, "this")])
        result[f"{w}_this_speed_vs_other"] = round(ratio, 3)
        print(f"{w:13} " + " | ".join(cells) + f" | this is {ratio:.3f}x the other's speed")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
