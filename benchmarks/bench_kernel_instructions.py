"""The kernel's workloads in instructions an event: figures that do not move with the load of a shared
machine, where ``bench_kernel.py``'s wall and CPU rates do.

Parts of ``bench_kernel``'s workloads, each run in its own process under valgrind's callgrind. The merged workload
(the backtest driver's path): ``merge`` (``merge_batches`` over the 4 sources, its batches consumed and dropped),
``feed`` (the same batches, merged before the count, into ``Kernel.run_sorted`` with a no-op handler) and
``merged`` (both, as ``bench_kernel.bench_merge`` runs them). The ``scheduled`` workload (timers and produced
events): ``scheduled`` (``bench_kernel.bench_scheduled`` as it is timed), ``produced`` (the same without its timer)
and ``handler`` (without the timer and without the handler's ``Signal``: its test on every event still runs), so
that ``scheduled - produced`` is the timer's part (heap, firing, ``TimerFired``, its dispatch), ``produced -
handler`` the produced events' (``Signal`` built, ``emit``, the heap, their dispatch) and ``handler - merged`` the
handler's own Python. Figures are per feed event (``--events``); the ``scheduled`` workload dispatches 1.0909 events
a feed event (``bench_kernel.py`` counts 1,090,909 for 1,000,000). Only the part is counted
(``profiling.counted_window``: imports and building the events run uninstrumented); each is counted at
``--events`` and twice that, ``--counts`` times each, and the figure is the difference of the two sizes' medians
over the events added, so a run's start and end cancel. The spread printed is the same difference over the i-th
count of each size; the counts repeat to the instruction on this host, so the spread is usually nothing.

``--src`` counts another tree (its ``src/``, cores built in place) in place of this one: the old/new comparison of
docs/PERFORMANCE.md ("Round 8, p26-kernel") is this command run on both trees.

Needs valgrind and a C compiler (skips with a message without them). About 4 minutes for the three merged parts
at the default size, about as long again for the three scheduled ones.

Usage: python benchmarks/bench_kernel_instructions.py [--events 100000] [--counts 2]
       [--parts merge,feed,merged,handler,produced,scheduled] [--src ../old/src]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

from profiling import callgrind_counts, callgrind_ready, count_tree, counted_window, per_added

PARTS = ("merge", "feed", "merged", "handler", "produced", "scheduled")
SCHEDULED = {"handler": {"produce": False, "timer": False}, "produced": {"timer": False}, "scheduled": {}}
"""``bench_kernel.bench_scheduled`` counted whole (``scheduled``) and without its timer (``produced``) or without the
timer and the handler's ``Signal`` too (``handler``): each part of it is the difference of two of these."""


def inner(part: str, events: int) -> None:
    """The counted process: build the sources (and for ``feed`` the merged batches), then run ``part`` counted."""
    import bench_kernel as bk
    from tapeflow.engine import Kernel, merge_batches
    from tapeflow.model import Event

    sources = bk.build_sources(events, 7)
    batches = list(merge_batches(sources)) if part == "feed" else []
    first = min(s[0].ts_init for s in sources)
    span = max(s[-1].ts_init for s in sources) - first
    gc.collect()
    gc.freeze()
    with counted_window():
        if part in SCHEDULED:
            bk.bench_scheduled(sources, span, first, **SCHEDULED[part])
        elif part == "merge":
            for _ in merge_batches(sources):
                pass
        elif part == "feed":
            kernel = Kernel()
            kernel.subscribe(Event, bk.noop)
            kernel.run_sorted(batches)
        else:
            bk.bench_merge(sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--counts", type=int, default=2, help="counts of each part and size (the median taken)")
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--src", type=Path, help="the src/ folder of another tree to count instead of this one")
    parser.add_argument("--inner", choices=PARTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.events)
        return
    parts = args.parts.split(",")
    if not set(parts) <= set(PARTS):
        parser.error(f"--parts takes {', '.join(PARTS)}")
    if not callgrind_ready(window=True):
        return
    tree = count_tree(args.src)
    n1, n2 = args.events, 2 * args.events
    print(f"kernel instructions ({tree}): {n1:,} and {n2:,} events, {args.counts} counts of each, the difference")
    out: dict[str, object] = {"benchmark": "kernel_instructions", "events": [n1, n2], "counts": args.counts}
    for part in parts:
        counted = {
            n: [
                callgrind_counts([sys.executable, __file__, "--events", str(n), "--inner", part], window=True)["I refs"]
                for _ in range(args.counts)
            ]
            for n in (n1, n2)
        }
        if not all(counted[n1]):
            raise SystemExit("nothing counted: the run did not enter profiling.counted_window()")
        per_event, each = per_added(counted, n1, n2)
        print(f"   {part:>7}: {per_event:,.1f} instructions an event ({min(each):,.1f} - {max(each):,.1f})")
        out[part] = {"per_event": round(per_event, 1), "each_count": [round(x, 1) for x in each], "runs": counted}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
