"""What feature recording costs the quote backtest in instructions: a figure that does not move with the load of a
shared machine, where ``bench_ml.py``'s CPU times do.

The process runs ``bench_ml``'s quote backtest (the same quotes, strategy and ``FeatureRecorder``) under valgrind's
callgrind four ways: without and with a recorder sampling every ``--interval-ms``, at ``--quotes`` and twice that.
Only the backtest's run is counted (``profiling.counted_window``: imports, building the quotes and the set-up run
uninstrumented), and each of the four is counted ``--counts`` times; the figure is the medians' difference: what
the recorder adds per sample (the extra samples of the longer run; its flow handler's per-quote cost included),
so the run's start and end cancel too. The spread printed is the same difference taken over the i-th count of
each of the four, i = 1..counts.

Why the window and the medians: the whole process counted twice, nothing changed, differed by 4.35M instructions
(docs/PERFORMANCE.md, "Round p24-mlrec"), more than the recorder's whole cost at the old size (690 samples); the
run alone counted again gave the same count to the instruction (round 7, at the default size: 2,301 samples, where
the recorder adds ~50M).

The quotes are built and the collector frozen before the run, so a collection does not walk them. Instructions
leave out what a cache miss costs, which is much of the recording's cost at 1 s (its state and code gone cold over
the ~43 quotes between two samples); ``--cache`` adds callgrind's cache model (its first-level instruction and data
caches and its last-level cache, sized as the host's by valgrind), about four times slower, and with it an
estimated cycle count per run: ``Ir + 10 x (I1 + D1 misses) + 100 x LL misses`` (``ESTIMATE``, below). The figure
that decides the goal is then the recorder's share of the run's estimated cycles: what it adds over the two sizes'
difference without a recorder (the same quotes' run), so its samples' and its flow handler's misses count where
they land, in the quotes after a sample too.

Needs valgrind and a C compiler (skips with a message without them). A few minutes at the default size on two jobs
on a quiet machine; ~40 minutes at load 10 on two cores.

Usage: python benchmarks/bench_ml_instructions.py [--quotes 100000] [--interval-ms 1000] [--counts 3] [--jobs 1]
       [--cache]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor

from profiling import callgrind_counts, callgrind_ready, counted_window

KINDS = ("none", "recorder")
L1_MISS_CYCLES = 10
"""What a first-level miss served by the next level costs, in cycles: valgrind's cachegrind manual ("an L1 miss
will typically cost around 10 cycles")."""
LL_MISS_CYCLES = 100
"""What a last-level miss (to memory) costs: issue 19's weight, within the cachegrind manual's "as much as 200"."""
ESTIMATE = "est. cycles"


def estimate(found: dict[str, int]) -> int:
    """``Ir + 10 x L1 misses + 100 x LL misses`` of one counted run (instruction and data misses both: a sample's
    code goes cold between samples as its data does). An estimate: no branch mispredictions, no overlap of misses
    with work, two cache levels where the host has three (valgrind sizes its LL as the host's last level)."""
    l1 = found["I1 misses"] + found["D1 misses"]
    return found["I refs"] + L1_MISS_CYCLES * l1 + LL_MISS_CYCLES * found["LL misses"]


def inner(kind: str, quotes: int, interval_ms: int) -> None:
    """The measured process: build the quotes, then run the backtest once (``kind``: ``none`` or ``recorder``),
    only the run counted."""
    import bench_ml

    events = bench_ml.make_quotes(quotes)
    extra = [bench_ml.recorder(interval_ms * 1_000_000)] if kind == "recorder" else []
    bt = bench_ml.quote_backtest(extra)
    gc.collect()
    gc.freeze()
    with counted_window():
        bt.run([events])


def samples(quotes: int, interval_ms: int) -> int:
    import bench_ml

    rec = bench_ml.recorder(interval_ms * 1_000_000)
    bench_ml.quote_backtest([rec]).run([bench_ml.make_quotes(quotes)])
    return rec.samples


def added(counts: dict[tuple[str, int], int], n1: int, n2: int) -> int:
    """What the recorder adds between the two sizes: (with - without) at ``n2`` less the same at ``n1``."""
    return (counts["recorder", n2] - counts["none", n2]) - (counts["recorder", n1] - counts["none", n1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quotes", type=int, default=100_000)
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--counts", type=int, default=3, help="counts of each of the four runs (the median taken)")
    parser.add_argument("--jobs", type=int, default=1, help="counted processes run at once")
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--inner", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.quotes, args.interval_ms)
        return
    if not callgrind_ready(window=True):
        return
    n1, n2 = args.quotes, 2 * args.quotes
    taken = samples(n2, args.interval_ms) - samples(n1, args.interval_ms)
    runs = [(kind, n, i) for i in range(args.counts) for kind in KINDS for n in (n1, n2)]

    def count(run: tuple[str, int, int]) -> dict[str, int]:
        kind, n, _ = run
        argv = [sys.executable, __file__, "--quotes", str(n), "--interval-ms", str(args.interval_ms), "--inner", kind]
        found = callgrind_counts(argv, cache=args.cache, window=True)
        if not found["I refs"]:
            raise SystemExit("nothing counted: the run did not enter profiling.counted_window()")
        if args.cache:
            found[ESTIMATE] = estimate(found)
        return found

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        counted = dict(zip(runs, pool.map(count, runs), strict=True))
    out: dict[str, object] = {
        "quotes": [n1, n2],
        "interval_ms": args.interval_ms,
        "samples": taken,
        "counts": args.counts,
        "counted": "the backtest's run",
    }
    print(f"ML recording counted: {n1:,} and {n2:,} quotes, a sample every {args.interval_ms} ms, the difference")
    print(f"{n2 - n1:,} quotes and {taken:,} samples (callgrind{' with its cache model' if args.cache else ''},")
    print(f"the backtest's run only, each of the four runs counted {args.counts} times: the medians' difference,")
    print("in brackets the same over each count's four; the share: what the recorder adds over the quotes' run")
    print("without it, the same two sizes' difference)")
    if args.cache:
        print(f"   {ESTIMATE} = I refs + {L1_MISS_CYCLES} x (I1 + D1 misses) + {LL_MISS_CYCLES} x LL misses")
    shown = ("I refs", "I1 misses", "D1 misses", "LL misses", ESTIMATE) if args.cache else ("I refs",)
    for name in shown:
        medians = {
            (kind, n): round(statistics.median(counted[kind, n, i][name] for i in range(args.counts)))
            for kind in KINDS
            for n in (n1, n2)
        }
        each = [
            added({(kind, n): counted[kind, n, i][name] for kind in KINDS for n in (n1, n2)}, n1, n2) / taken
            for i in range(args.counts)
        ]
        per_sample = added(medians, n1, n2) / taken
        without = medians["none", n2] - medians["none", n1]
        share = 100.0 * added(medians, n1, n2) / without if without else math.nan
        out[name] = {
            "recorder_per_sample": round(per_sample, 1),
            "each_count": [round(x, 1) for x in each],
            "without_per_quote": round(without / (n2 - n1), 2),
            "with_per_quote": round((medians["recorder", n2] - medians["recorder", n1]) / (n2 - n1), 2),
            "share_pct": round(share, 2),
            "runs": {f"{kind} {n}": medians[kind, n] for kind in KINDS for n in (n1, n2)},
        }
        print(
            f"   {name:>11}: the recorder adds {per_sample:,.1f} a sample ({min(each):,.1f} - {max(each):,.1f}), "
            f"{share:.2f}% of the run without it ({without / (n2 - n1):,.2f} a quote)"
        )
    print(json.dumps({"benchmark": "ml_instructions", **out}))


if __name__ == "__main__":
    main()
