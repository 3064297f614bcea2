"""What the audit trail costs the demo's backtest, whole: wall of the run with the writer's work included.

The demo's run (synthetic imbalance quoter on four symbols, L2 books, colocated latency, risk on; as
``bench_audit.bench_backtest``) over ``--events`` feed events per symbol, without and with an ``AuditTrail``,
interleaved (without, with, without, with ...) ``--pairs`` times in one process. Timed per run:

- wall: from opening the trail (the store and the writer) until ``Backtest.run`` returns, which is after the
  trail's final flush: every record committed and the run's head written. The writer's start-up and its work
  during the run are inside; only its exit (reaped after the clock stops, as in a real run) is not.
- CPU: this process's CPU time over the same span plus the writer's whole CPU time (``RUSAGE_CHILDREN`` after the
  writer is reaped: its start-up, hashing, SQLite, exit), or, with an in-process writer, its thread inside this
  process's figure.

The slowdown is the median of the per-pair ratios (each run with the trail over the run without it just before),
with their spread; the goal is <= 10% wall on this 2-core machine. Printed last as one JSON line.

Usage: python benchmarks/bench_audit_backtest.py [--events 50000] [--pairs 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from tapeflow.backtest.engine import Backtest
from tapeflow.compliance import AuditTrail, audit_writer
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.model import Event
from tapeflow.risk.config import OrderChecks, RiskConfig
from tapeflow.strategy.examples.imbalance_quoter import ImbalanceQuoter
from tapeflow.venues.geography import preset


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(
    sources: list[list[Event]], audit_path: Path | None, writer: str = "process", opened: list[float] | None = None
) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of both processes, records) of one run; ``writer``: the trail's writer;
    ``opened`` receives the wall seconds of opening the trail (a new store laid out, the writer started)."""
    gc.collect()
    children = children_cpu()
    start, start_cpu = time.perf_counter(), time.process_time()
    audit = AuditTrail.open(audit_path, announce=None, writer=writer) if audit_path is not None else None
    if opened is not None:
        opened.append(time.perf_counter() - start)
    bt = Backtest(
        [ImbalanceQuoter()],
        latency=preset("colo", "XNAS"),
        risk=RiskConfig(order=OrderChecks(max_quantity=1_000)),
        audit=audit,
    )
    bt.run(sources)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    audit_writer._reap(wait=True)  # the writer's exit, outside the clock; its CPU counted below
    cpu += children_cpu() - children
    records = audit.records if audit is not None else 0
    return wall, cpu, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="feed events per symbol")
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args()
    market = SyntheticMarket(SyntheticConfig(events_per_symbol=args.events))
    sources = [list(s) for s in market.sources()]
    events = sum(len(s) for s in sources)
    writers = ("process", "thread")
    runs: dict[str, list[tuple[float, float]]] = {"none": [], **{w: [] for w in writers}}
    records = 0
    opened: dict[str, list[float]] = {w: [] for w in writers}
    with tempfile.TemporaryDirectory() as d:
        auto = AuditTrail.open(Path(d) / "auto.db", announce=None, writer="auto")  # what a backtest would run
        chosen = auto.writer.mode
        auto.writer.close()
        run_once(sources, None)  # warm-up: imports, the session table
        for i in range(args.pairs):  # interleaved: none, process, thread, none, ...
            w, c, _ = run_once(sources, None)
            runs["none"].append((w, c))
            for writer in writers:
                w, c, records = run_once(sources, Path(d) / f"bt-{writer}-{i}.db", writer, opened[writer])
                runs[writer].append((w, c))
    med = statistics.median
    base = runs["none"]
    print(
        f"demo backtest: {events:,} feed events, {records:,} audit records, {os.cpu_count()} CPUs; "
        f"AuditTrail.open(writer='auto') chooses the {chosen} writer here; {args.pairs} interleaved rounds"
    )
    print(f"without the trail: wall {med(b[0] for b in base):.3f} s, CPU {med(b[1] for b in base):.3f} s (medians)")
    result: dict[str, object] = {
        "benchmark": "audit_backtest",
        "events": events,
        "records": records,
        "pairs": args.pairs,
        "cpus": os.cpu_count(),
        "auto_writer": chosen,
        "wall_s": round(med(b[0] for b in base), 4),
    }
    for writer in writers:
        trail = runs[writer]
        wall = [t[0] / b[0] - 1 for b, t in zip(base, trail, strict=True)]
        cpu = [t[1] / b[1] - 1 for b, t in zip(base, trail, strict=True)]
        print(
            f"with the {writer} writer: wall {med(t[0] for t in trail):.3f} s, CPU {med(t[1] for t in trail):.3f} s "
            "(this process and the writer's)"
        )
        opening = med(opened[writer]) * 1e3
        print(f"  opening the trail (a new store laid out, the writer started): {opening:.1f} ms wall (median)")
        ok = "met" if med(wall) <= 0.10 else "NOT met"
        print(
            f"  slowdown: CPU {med(cpu) * 100:+.1f}% (pairs {min(cpu) * 100:+.1f}% to {max(cpu) * 100:+.1f}%), "
            f"wall {med(wall) * 100:+.1f}% (pairs {min(wall) * 100:+.1f}% to {max(wall) * 100:+.1f}%; "
            f"goal <= 10%: {ok})"
        )
        result[f"{writer}_cpu_slowdown"] = round(med(cpu), 4)
        result[f"{writer}_wall_slowdown"] = round(med(wall), 4)
        result[f"{writer}_open_ms"] = round(opening, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
