"""The ITCH parse in instructions a message: a figure that does not move with the load of a shared machine, where
``bench_itch.py``'s CPU and wall rates do.

The counted process reads a ``gen_itch.py`` file (the mix ``bench_itch.py`` times) with ``ItchReader(path,
date=...).event_batches()``, every check on, each batch consumed and dropped as ``bench_itch`` does, under
valgrind's callgrind. Only the read is counted (``profiling.counted_window``: imports and start-up run
uninstrumented). It is counted at ``--messages`` and twice that (the first messages of one generated file), ``--counts``
times each, and the figure is the difference of the two sizes' medians over the messages added, so the reader's
set-up and the file's directory messages cancel. ``--callgrind-out DIR`` also keeps each counted run's callgrind
file there (``callgrind_annotate`` splits it by C function; docs/PERFORMANCE.md, "Round 9, p27-itch").

``--src`` counts another tree (its ``src/``, cores built in place) in place of this one: the old/new comparison of
docs/PERFORMANCE.md is this command run on both trees.

Needs valgrind and a C compiler (skips with a message without them). About a minute at the default size.

Usage: python benchmarks/bench_itch_instructions.py [--messages 100000] [--counts 2]
       [--implementation compiled|python] [--src ../old/src] [--callgrind-out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from profiling import callgrind_counts, callgrind_ready, count_tree, counted_window, per_added

HERE = Path(__file__).resolve().parent
DAY = dt.date(2019, 12, 30)


def inner(path: str, implementation: str) -> None:
    """The counted process: one read of ``path`` into event batches, counted."""
    from tapeflow.data.itch import ItchReader

    gc.collect()
    gc.freeze()
    events = 0
    with counted_window():
        reader = ItchReader(path, date=DAY, implementation=implementation)  # type: ignore[arg-type]
        for batch in reader.event_batches():
            events += len(batch)
    print(json.dumps({"messages": reader.stats.messages, "events": events, "implementation": reader.implementation}))


def _head(src: Path, dst: Path, messages: int) -> None:
    """The first ``messages`` length-prefixed messages of ``src`` into ``dst``."""
    data = src.read_bytes()
    pos = 0
    for _ in range(messages):
        pos += 2 + int.from_bytes(data[pos : pos + 2], "big")
    dst.write_bytes(data[:pos])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--counts", type=int, default=2, help="counts of each size (the median taken)")
    parser.add_argument("--implementation", choices=("compiled", "python"), default="compiled")
    parser.add_argument("--src", type=Path, help="the src/ folder of another tree to count instead of this one")
    parser.add_argument("--callgrind-out", type=Path, help="keep each counted run's callgrind file in this folder")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.implementation)
        return
    if not callgrind_ready(window=True):
        return
    tree = count_tree(args.src)
    n1, n2 = args.messages, 2 * args.messages
    print(f"ITCH instructions ({tree}, {args.implementation}): {n1:,} and {n2:,} messages, {args.counts} counts each")
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full.itch"
        generator = [sys.executable, str(HERE / "gen_itch.py"), str(full), "--messages", str(n2)]
        subprocess.run(generator, check=True, capture_output=True)
        files = {n1: Path(tmp) / "one.itch", n2: full}
        _head(full, files[n1], n1)
        counted: dict[int, list[int]] = {n1: [], n2: []}
        for n in (n1, n2):
            for i in range(args.counts):
                argv = [sys.executable, __file__, "--implementation", args.implementation, "--inner", str(files[n])]
                keep = None
                if args.callgrind_out is not None:
                    args.callgrind_out.mkdir(parents=True, exist_ok=True)
                    keep = args.callgrind_out / f"callgrind.{args.implementation}.{n}.{i}.out"
                counted[n].append(callgrind_counts(argv, window=True, out_file=keep)["I refs"])
    if not all(counted[n1]):
        raise SystemExit("nothing counted: the run did not enter profiling.counted_window()")
    # The files hold a few directory and system messages at their start; both sizes have the same, so they cancel.
    per_message, each = per_added(counted, n1, n2)
    print(f"  {per_message:,.1f} instructions a message ({min(each):,.1f} - {max(each):,.1f})")
    out = {
        "benchmark": "itch_instructions",
        "implementation": args.implementation,
        "messages": [n1, n2],
        "counts": args.counts,
        "per_message": round(per_message, 1),
        "each_count": [round(x, 1) for x in each],
        "runs": counted,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
