"""What feature recording costs the quote backtest in instructions and simulated cache misses: figures that do not
move with the load of a shared machine, where ``bench_ml.py``'s CPU times do.

The process runs ``bench_ml``'s quote backtest (the same quotes, strategy and ``FeatureRecorder``) under valgrind's
callgrind with its cache model, three ways: the quotes built only; the backtest without a recorder; with a recorder
sampling every ``--interval-ms``. Start-up and the quotes cancel out by difference: the loop's own count per quote,
and what the recorder adds per sample and as a share of the loop. Instructions leave out what a miss costs; the
cache model's first-level data misses (D1) and last-level ones (LL) are printed beside them, because the recording's
cost at 1 s is mostly its state gone cold between two samples.

Needs valgrind (skips with a message without it). About five minutes at the default size.

Usage: python benchmarks/bench_ml_instructions.py [--quotes 100000] [--interval-ms 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

from profiling import callgrind_counts

KINDS = ("quotes", "none", "recorder")
COUNTS = ("I refs", "D1 misses", "LLd misses")


def inner(kind: str, quotes: int, interval_ms: int) -> None:
    """The measured process: build the quotes, then (``none``, ``recorder``) run the backtest once."""
    import bench_ml

    events = bench_ml.make_quotes(quotes)
    if kind == "quotes":
        return
    extra = [bench_ml.recorder(interval_ms * 1_000_000)] if kind == "recorder" else []
    bench_ml.quote_backtest(extra).run([events])
    if extra:
        print(f"samples {extra[0].samples}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quotes", type=int, default=100_000)
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--inner", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.quotes, args.interval_ms)
        return
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: skipped (apt install valgrind)")
        print(json.dumps({"skipped": "valgrind missing"}))
        return
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the same dict layouts in every run
    import bench_ml

    rec = bench_ml.recorder(args.interval_ms * 1_000_000)
    bench_ml.quote_backtest([rec]).run([bench_ml.make_quotes(args.quotes)])
    samples = rec.samples
    argv = [sys.executable, __file__, "--quotes", str(args.quotes), "--interval-ms", str(args.interval_ms)]
    counts = {kind: callgrind_counts([*argv, "--inner", kind], cache=True) for kind in KINDS}
    out: dict[str, object] = {"quotes": args.quotes, "interval_ms": args.interval_ms, "samples": samples}
    print(f"ML recording in instructions: {args.quotes:,} quotes, a sample every {args.interval_ms} ms, {samples:,}")
    print(f"samples, the sample step {rec.impl} (callgrind with its cache model, PYTHONHASHSEED=0)")
    for name in COUNTS:
        loop = counts["none"][name] - counts["quotes"][name]
        added = counts["recorder"][name] - counts["none"][name]
        out[name] = {
            "loop_per_quote": round(loop / args.quotes, 1),
            "recorder_per_sample": round(added / samples, 1) if samples else None,
            "recorder_pct": round(added / loop * 100, 2),
        }
        per_sample = f", {added / samples:,.0f} a sample" if samples else ""
        print(
            f"   {name:>10}: loop {loop / args.quotes:,.1f} a quote; the recorder adds {added:+,}{per_sample},"
            f" {added / loop:+.2%} of the loop"
        )
    print(json.dumps({"benchmark": "ml_instructions", **out}))


if __name__ == "__main__":
    main()
