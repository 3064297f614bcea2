"""What the audit trail costs the trading loop, in instructions: a figure that does not move with the machine.

``bench_audit.py`` times the loop with and without the trail; on a shared virtual machine whose speed drifts by
1.7x from one second to the next, its slowdown moves by ten points between runs. This benchmark counts instead:
it runs ``bench_audit``'s loop (the same feed, strategy and ``AuditTrail`` with its real writer process) under
valgrind's callgrind, which counts the instructions the trading process executes (the writer process is not
traced: it runs on another core). Four runs, without and with the trail at ``--events`` and twice that, so that
start-up and imports cancel out:

- instructions per loop event without the trail (the loop's own cost),
- instructions per record the trail adds to the trading process (handler, encoding, hand-over, acknowledgements),
- their ratio at one record in ``--every`` events: the slowdown of the loop if instructions cost the same on both
  sides. It leaves out what instructions do not show: cache misses (callgrind's cache model puts the trail at ~14
  first-level misses a record) and the writer process's activity on the other core.

Needs valgrind (skips with a message without it). About two minutes.

Usage: python benchmarks/bench_audit_instructions.py [--events 100000] [--every 25]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from profiling import callgrind_counts, callgrind_ready

HERE = Path(__file__).resolve().parent


def inner(mode: str, events: int, every: int) -> None:
    """The measured process: build the feed, then run ``bench_audit``'s loop (``mode`` ``feed``: build only)."""
    sys.path.insert(0, str(HERE))
    import bench_audit

    feed = bench_audit.feed(events, every)
    if mode == "feed":
        return
    with tempfile.TemporaryDirectory() as d:
        bench_audit.bench_loop(feed, Path(d) / "audit.db" if mode == "trail" else None)


def count(mode: str, events: int, every: int) -> int:
    """Instructions the trading process executes for ``inner(mode, events, every)``."""
    argv = [sys.executable, __file__, "--inner", mode, "--events", str(events), "--every", str(every)]
    return callgrind_counts(argv)["I refs"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--inner", choices=("feed", "base", "trail"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.events, args.every)
        return
    if not callgrind_ready():
        return
    n1, n2 = args.events, 2 * args.events
    counts = {(mode, n): count(mode, n, args.every) for mode in ("feed", "base", "trail") for n in (n1, n2)}
    events = n2 - n1
    records = len(range(0, n2, args.every)) - len(range(0, n1, args.every))
    loop = ((counts["base", n2] - counts["feed", n2]) - (counts["base", n1] - counts["feed", n1])) / events
    trail = ((counts["trail", n2] - counts["base", n2]) - (counts["trail", n1] - counts["base", n1])) / records
    ratio = trail / (args.every * loop)
    print(f"loop without the trail: {loop:,.0f} instructions per event")
    print(f"trail, in the trading process: {trail:,.0f} instructions per record ({trail / loop:.2f} loop events)")
    print(f"at one record in {args.every} events: +{ratio * 100:.1f}% instructions on the loop")
    print(
        json.dumps(
            {
                "loop_instructions_per_event": round(loop),
                "trail_instructions_per_record": round(trail),
                "every": args.every,
                "instruction_slowdown": round(ratio, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
