"""Kernel throughput: 1M events from 4 interleaved sources through the k-way merge and dispatch.

Workloads, each timed ``--runs`` times (at least 5), interleaved round by round (bare, merge, generic, scheduled,
then again in a rotated order) so that the load of the shared machine falls on all of them alike:

1. ``bare``: ``for event in events: handler(event)`` over the already-merged list, the cheapest possible loop: the
   ratio to it says what the kernel costs;
2. ``merge``: 4 synthetic symbol streams (one source each) merged by ``merge_batches`` and dispatched through
   ``Kernel.run_sorted`` to a no-op handler, the backtest driver's path;
3. ``generic``: the same through ``merge_sorted`` and ``Kernel.run``, every event checked against the clock, as the
   live driver feeds it;
4. ``scheduled``: the merge path plus a repeating timer and a handler that emits an event for every 20th feed
   event, so that about 10% of dispatched events come from the schedule (heap) rather than the feed.

Every run reports wall time and the CPU time of this process; the figures are the median and the spread (min-max)
of the runs. On a machine shared with other jobs the wall clock measures the queue for a core as much as the
kernel, so the CPU-time rate is the one to compare across runs; on a quiet machine the two agree. Sources are
materialised as lists before timing (generation is not what is measured), each list built source by source as a
streaming reader would build them; the cyclic collector runs before each timed run (``benchmarks/profiling.py``
says why), collections a run causes itself count.

Usage: python benchmarks/bench_kernel.py [--events 1000000] [--runs 5]
Goals (issue 19), on a 2-core machine: >= 6M events/s merged, >= 3M events/s with timers and produced events.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine import Kernel, merge_batches, merge_sorted
from tapeflow.model import Event, Signal, TimerFired

SOURCES = 4


def build_sources(total: int, seed: int) -> list[list[Event]]:
    market = SyntheticMarket(SyntheticConfig(seed=seed, events_per_symbol=total // SOURCES))
    return [list(stream) for stream in market.sources()]


def noop(event: Event) -> None:
    return None


def bench_bare(flat: list[Event]) -> int:
    handler = noop
    for event in flat:
        handler(event)
    return len(flat)


def bench_merge(sources: list[list[Event]]) -> int:
    """The backtest driver's path: merged batches into ``run_sorted``."""
    kernel = Kernel()
    kernel.subscribe(Event, noop)
    kernel.run_sorted(merge_batches(sources))
    return kernel.feed_events


def bench_merge_generic(sources: list[list[Event]]) -> int:
    """The generic path (every event checked against the clock), as the live driver feeds it."""
    kernel = Kernel()
    kernel.subscribe(Event, noop)
    kernel.run(merge_sorted(sources))
    return kernel.feed_events


def bench_scheduled(
    sources: list[list[Event]],
    span_ns: int,
    first_ts: int,
    produce_every: int = 20,
    *,
    produce: bool = True,
    timer: bool = True,
) -> int:
    """The ``scheduled`` workload. ``produce`` and ``timer`` off leave out the handler's ``Signal`` or the timer
    (the handler's own test still runs): ``bench_kernel_instructions.py`` counts each part by the difference."""
    kernel = Kernel()
    counter = [0]
    total = sum(len(s) for s in sources)
    every = produce_every if produce else total + 1  # the same test on every event, never true without ``produce``

    def on_feed(event: Event) -> None:
        counter[0] += 1
        if counter[0] % every == 0:
            now = event.ts_init
            kernel.emit(
                Signal(ts_event=now, ts_init=now, strategy_id="b", symbol="X", name="n", value=1.0, reason="bench")
            )

    for cls in {type(e) for src in sources for e in src[:50]}:
        kernel.subscribe(cls, on_feed)
    kernel.subscribe(Signal, noop)
    kernel.subscribe(TimerFired, noop)
    kernel.start(at=first_ts)
    if timer:
        kernel.set_timer("bench", interval=max(1, span_ns // (total // produce_every)))
    kernel.run_sorted(merge_batches(sources))
    kernel.finish()
    return kernel.feed_events + kernel.scheduled_events


GOALS = {"merge": 6_000_000, "scheduled": 3_000_000}
"""Events per second (issue 19): merged, and with timers and produced events."""


def timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """Wall and process CPU seconds of one ``fn()``, from the same collector state, and the events it counted."""
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    count = fn()
    return time.perf_counter() - start, time.process_time() - start_cpu, count


def summary(count: int, seconds: list[float]) -> tuple[float, float, float]:
    """Median rate and the spread (lowest, highest rate) of the runs."""
    return count / statistics.median(seconds), count / max(seconds), count / min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", "--repeat", type=int, default=5, help="timed runs of each workload (>= 5)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5: the figures are a median and a spread")

    t0 = time.perf_counter()
    sources = build_sources(args.events, args.seed)
    flat = list(merge_sorted(sources))
    first_ts, span = flat[0].ts_init, flat[-1].ts_init - flat[0].ts_init
    print(f"input: {len(flat):,} synthetic events in {SOURCES} sources, built in {time.perf_counter() - t0:.1f} s")
    kernel_label = f"{type(Kernel()).__qualname__} ({Kernel().impl} loops) from {Path(inspect.getfile(Kernel)).name}"
    print(f"kernel: {kernel_label}; TAPEFLOW_PURE_PYTHON=1 runs the Python reference")

    work: dict[str, Callable[[], int]] = {
        "bare": lambda: bench_bare(flat),
        "merge": lambda: bench_merge(sources),
        "generic": lambda: bench_merge_generic(sources),
        "scheduled": lambda: bench_scheduled(sources, span, first_ts),
    }
    names = list(work)
    wall: dict[str, list[float]] = {w: [] for w in names}
    cpu: dict[str, list[float]] = {w: [] for w in names}
    counts: dict[str, int] = {}
    for r in range(args.runs):
        for w in names[r % len(names) :] + names[: r % len(names)]:  # rotated: no workload always runs first
            wall_s, cpu_s, counts[w] = timed(work[w])
            wall[w].append(wall_s)
            cpu[w].append(cpu_s)
    assert counts["bare"] == counts["merge"] == counts["generic"] == len(flat), counts
    scheduled_share = (counts["scheduled"] - len(flat)) / counts["scheduled"]

    labels = {
        "bare": "bare for-loop over the merged list",
        "merge": "kernel: 4-source merge + dispatch (driver path)",
        "generic": "kernel: same, generic run() checking each event",
        "scheduled": f"kernel: + timers and produced ({scheduled_share:.0%})",
    }
    print(f"{args.runs} runs of each workload, interleaved; rates in events/s: median (lowest-highest)")
    print(f"{'workload':49s} {'events':>10s} {'wall':>32s} {'CPU time':>32s}")
    results: dict[str, Any] = {
        "benchmark": "kernel",
        "python": platform.python_version(),
        "kernel": kernel_label,
        "kernel_impl": Kernel().impl,
        "events": len(flat),
        "runs": args.runs,
        "scheduled_share": round(scheduled_share, 4),
    }
    for w in names:
        n = counts[w]
        wm, wlo, whi = summary(n, wall[w])
        cm, clo, chi = summary(n, cpu[w])
        print(f"{labels[w]:49s} {n:>10,} {wm:>12,.0f} ({wlo:,.0f}-{whi:,.0f}) {cm:>12,.0f} ({clo:,.0f}-{chi:,.0f})")
        results[f"{w}_events_per_s"] = round(wm)
        results[f"{w}_events_per_s_spread"] = [round(wlo), round(whi)]
        results[f"{w}_cpu_events_per_s"] = round(cm)
        results[f"{w}_cpu_events_per_s_spread"] = [round(clo), round(chi)]
    merge_cpu = summary(counts["merge"], cpu["merge"])[0]
    bare_cpu = summary(counts["bare"], cpu["bare"])[0]
    print(
        f"kernel merge / bare loop, CPU time: {merge_cpu / bare_cpu:.3f} (the kernel costs {bare_cpu / merge_cpu:.1f}x)"
    )
    results["merge_vs_bare_cpu_ratio"] = round(merge_cpu / bare_cpu, 4)
    for w, goal in GOALS.items():
        wall_met = summary(counts[w], wall[w])[0] >= goal
        cpu_met = summary(counts[w], cpu[w])[0] >= goal
        print(
            f"goal {w} >= {goal:,} events/s: CPU time {'met' if cpu_met else 'NOT met'}, "
            f"wall {'met' if wall_met else 'NOT met'} (wall counts the wait for a core on a shared machine)"
        )
        results[f"goal_{w}_met_cpu"] = cpu_met
        results[f"goal_{w}_met_wall"] = wall_met
    print(json.dumps(results))


if __name__ == "__main__":
    main()
