"""What feature recording costs the quote backtest in instructions: a figure that does not move with the load of a
shared machine, where ``bench_ml.py``'s CPU times do.

The process runs ``bench_ml``'s quote backtest (the same quotes, strategy and ``FeatureRecorder``) under valgrind's
callgrind four ways: without and with a recorder sampling every ``--interval-ms``, at ``--quotes`` and twice that.
Start-up, building the quotes, set-up and the run's end cancel out by difference: what the recorder adds per sample
(the extra samples of the longer run; its flow handler's per-quote cost included). The quotes are built and the
collector frozen before the run, so a collection does not walk them. Instructions leave out what a cache miss costs,
which is most of the recording's cost at 1 s (its state gone cold between two samples); ``--cache`` adds callgrind's
cache model (first-level and last-level data misses), about four times slower.

Needs valgrind (skips with a message without it). About five minutes at the default size.

Usage: python benchmarks/bench_ml_instructions.py [--quotes 30000] [--interval-ms 1000] [--cache]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys

from profiling import callgrind_counts, callgrind_ready


def inner(kind: str, quotes: int, interval_ms: int) -> None:
    """The measured process: build the quotes, then run the backtest once (``kind``: ``none`` or ``recorder``)."""
    import bench_ml

    events = bench_ml.make_quotes(quotes)
    extra = [bench_ml.recorder(interval_ms * 1_000_000)] if kind == "recorder" else []
    bt = bench_ml.quote_backtest(extra)
    gc.collect()
    gc.freeze()
    bt.run([events])


def samples(quotes: int, interval_ms: int) -> int:
    import bench_ml

    rec = bench_ml.recorder(interval_ms * 1_000_000)
    bench_ml.quote_backtest([rec]).run([bench_ml.make_quotes(quotes)])
    return rec.samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quotes", type=int, default=30_000)
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--inner", choices=("none", "recorder"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.quotes, args.interval_ms)
        return
    if not callgrind_ready():
        return
    n1, n2 = args.quotes, 2 * args.quotes
    taken = samples(n2, args.interval_ms) - samples(n1, args.interval_ms)
    counts = {
        (kind, n): callgrind_counts(
            [sys.executable, __file__, "--quotes", str(n), "--interval-ms", str(args.interval_ms), "--inner", kind],
            cache=args.cache,
        )
        for kind in ("none", "recorder")
        for n in (n1, n2)
    }
    out: dict[str, object] = {"quotes": [n1, n2], "interval_ms": args.interval_ms, "samples": taken}
    print(f"ML recording counted: {n1:,} and {n2:,} quotes, a sample every {args.interval_ms} ms, the difference")
    print(f"{n2 - n1:,} quotes and {taken:,} samples (callgrind{' with its cache model' if args.cache else ''})")
    for name in counts["none", n1]:
        if not name.endswith(("refs", "misses")) or name.startswith(("I1", "LLi", "LL ")):
            continue
        added = (counts["recorder", n2][name] - counts["none", n2][name]) - (
            counts["recorder", n1][name] - counts["none", n1][name]
        )
        out[name] = {"recorder_per_sample": round(added / taken, 1)}
        print(f"   {name:>10}: the recorder adds {added / taken:,.0f} a sample")
    print(json.dumps({"benchmark": "ml_instructions", **out}))


if __name__ == "__main__":
    main()
