"""Two kernels in one process: this tree's ``engine/kernel.py`` against another tree's, timed alternately.

Why: separate processes differ by more than a kernel change does (heap layout, what else the machine runs), so a
1-2 % question cannot be settled by two runs of ``bench_kernel.py``. Here both kernel classes run the same
workloads (``bench_kernel``'s merge, generic ``run`` and scheduled) on the same event lists, in alternating order,
timed by CPU time; the other tree's kernel is loaded from its file with its own ``timers.py`` and its own compiled
kernel core (``_kernel_core``, when that tree has one built in place: the compiled loops, merge and timers are
there), and its merge (``merge.py``, whose ``merge_batches`` the workloads call) from its file too, against the same
core; everything else (events, clock, the other compiled cores) is this tree's.

Usage: python benchmarks/bench_kernel_ab.py --other ../old/src [--rounds 12] [--events 1000000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import bench_kernel as bk
from tapeflow.engine import kernel as this_kernel
from tapeflow.engine import merge as this_merge
from tapeflow.engine import merge_sorted


def _module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORE = "tapeflow.engine._kernel_core"


def other_engine(src: Path) -> tuple[Any, ModuleType]:
    """The ``Kernel`` class and the ``merge`` module of the tree at ``src`` (the merge is half of the merged
    workload's cost), importing that tree's ``timers.py`` and compiled kernel core in place of ours."""
    engine = src / "tapeflow" / "engine"
    names = ("tapeflow.engine.timers", CORE)
    ours = {name: sys.modules[name] for name in names}
    sys.modules["tapeflow.engine.timers"] = _module("other_timers", engine / "timers.py")
    built = sorted(engine.glob("_kernel_core.*.so"))
    if built:  # a Cython module is named by its init function: loaded under its own name, from the other file
        sys.modules[CORE] = _module(CORE, built[0])
    try:
        return _module("other_kernel", engine / "kernel.py").Kernel, _module("other_merge", engine / "merge.py")
    finally:
        sys.modules.update(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--other", type=Path, required=True, help="the src/ folder of the tree to compare with")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    other_kernel, other_merge = other_engine(args.other)
    kernels = {"other": other_kernel, "this": this_kernel.Kernel}
    merges = {"other": other_merge, "this": this_merge}
    sources = bk.build_sources(args.events, 7)
    flat = list(merge_sorted(sources))
    first, span = flat[0].ts_init, flat[-1].ts_init - flat[0].ts_init
    work: dict[str, Callable[[], int]] = {
        "merge": lambda: bk.bench_merge(sources),
        "generic": lambda: bk.bench_merge_generic(sources),
        "scheduled": lambda: bk.bench_scheduled(sources, span, first),
    }
    times: dict[tuple[str, str], list[float]] = {(w, k): [] for w in work for k in kernels}
    names = list(kernels)
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for w, fn in work.items():
            for k in order:
                bk.Kernel = kernels[k]  # the workloads build whichever Kernel bk names, and merge with its merge
                bk.merge_batches, bk.merge_sorted = merges[k].merge_batches, merges[k].merge_sorted
                start = time.process_time()
                fn()
                times[(w, k)].append(time.process_time() - start)
    result: dict[str, Any] = {"benchmark": "kernel_ab", "events": args.events, "rounds": args.rounds}
    for w in work:
        cells = []
        for k in names:
            best, median = min(times[(w, k)]), statistics.median(times[(w, k)])
            result[f"{w}_{k}_best_ms"], result[f"{w}_{k}_median_ms"] = round(best * 1e3, 1), round(median * 1e3, 1)
            cells.append(f"{k}: best {best * 1e3:6.1f} ms, median {median * 1e3:6.1f} ms")
        ratio = min(times[(w, "other")]) / min(times[(w, "this")])
        result[f"{w}_this_vs_other_best"] = round(ratio, 3)
        print(f"{w:9} " + " | ".join(cells) + f" | this is {ratio:.3f}x the other's speed (best)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
