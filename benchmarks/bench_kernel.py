"""Kernel throughput: 1M events from 4 interleaved sources through the k-way merge and dispatch.

Two workloads, each timed ``--repeat`` times (median and best reported):

1. ``merge``: 4 synthetic symbol streams (one source each) merged and dispatched to a no-op handler;
2. ``timers+produced``: the same feed, plus a repeating timer and a handler that emits an event for every 20th
   feed event, so that about 10% of dispatched events come from the schedule (heap) rather than the feed.

Wall-clock medians are the figures; the rate per CPU-second of this process is printed beside them because the
machine is shared and other processes' load shows up in wall time.

Baseline, in the same run: a bare ``for event in events: handler(event)`` over the already-merged list. The ratio
says what the kernel costs on top of the cheapest possible loop. Sources are materialised as lists before timing
(generation is not what is measured), each list built source by source as a streaming reader would build them.

Usage: python benchmarks/bench_kernel.py [--events 1000000] [--repeat 5]
Targets on a 2-core machine: >= 3M events/s (merge), >= 1.5M events/s (timers+produced).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
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


CPU_TIMES: dict[int, list[float]] = {}
"""CPU seconds of each timed run, by the id of its wall-time list (the machine is shared: see the module doc)."""


def timed(fn: Callable[[], int], repeat: int) -> tuple[list[float], int]:
    times: list[float] = []
    cpu: list[float] = []
    count = 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        count = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU_TIMES[id(times)] = cpu
    return times, count


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


def bench_scheduled(sources: list[list[Event]], span_ns: int, first_ts: int, produce_every: int = 20) -> int:
    kernel = Kernel()
    counter = [0]

    def on_feed(event: Event) -> None:
        counter[0] += 1
        if counter[0] % produce_every == 0:
            now = event.ts_init
            kernel.emit(
                Signal(ts_event=now, ts_init=now, strategy_id="b", symbol="X", name="n", value=1.0, reason="bench")
            )

    for cls in {type(e) for src in sources for e in src[:50]}:
        kernel.subscribe(cls, on_feed)
    kernel.subscribe(Signal, noop)
    kernel.subscribe(TimerFired, noop)
    total = sum(len(s) for s in sources)
    kernel.start(at=first_ts)
    kernel.set_timer("bench", interval=max(1, span_ns // (total // produce_every)))
    kernel.run_sorted(merge_batches(sources))
    kernel.finish()
    return kernel.feed_events + kernel.scheduled_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    t0 = time.perf_counter()
    sources = build_sources(args.events, args.seed)
    flat = list(merge_sorted(sources))
    first_ts, span = flat[0].ts_init, flat[-1].ts_init - flat[0].ts_init
    print(f"input: {len(flat):,} synthetic events in {SOURCES} sources, built in {time.perf_counter() - t0:.1f} s")

    results: dict[str, Any] = {}
    bare_t, n = timed(lambda: bench_bare(flat), args.repeat)
    merge_t, n_merge = timed(lambda: bench_merge(sources), args.repeat)
    generic_t, _ = timed(lambda: bench_merge_generic(sources), args.repeat)
    sched_t, n_sched = timed(lambda: bench_scheduled(sources, span, first_ts), args.repeat)
    assert n == n_merge == len(flat)

    def rate(times: list[float], count: int) -> tuple[float, float]:
        return count / statistics.median(times), count / min(times)

    bare_med, bare_best = rate(bare_t, n)
    merge_med, merge_best = rate(merge_t, n_merge)
    generic_med, generic_best = rate(generic_t, n_merge)
    sched_med, sched_best = rate(sched_t, n_sched)
    scheduled_share = (n_sched - len(flat)) / n_sched
    rows = [
        ("bare for-loop over merged list", bare_med, bare_best, n),
        ("kernel: 4-source merge + dispatch (driver path)", merge_med, merge_best, n_merge),
        ("kernel: same, generic run() checking each event", generic_med, generic_best, n_merge),
        (f"kernel: + timers and produced ({scheduled_share:.0%})", sched_med, sched_best, n_sched),
    ]
    cpu_rates = [
        n / statistics.median(CPU_TIMES[id(t)])
        for t, n in ((bare_t, n), (merge_t, n_merge), (generic_t, n_merge), (sched_t, n_sched))
    ]
    print(f"{'workload':50s} {'events':>10s} {'median ev/s':>13s} {'best ev/s':>13s} {'CPU-time ev/s':>14s}")
    for (name, med, best, count), cpu_rate in zip(rows, cpu_rates, strict=True):
        print(f"{name:50s} {count:>10,} {med:>13,.0f} {best:>13,.0f} {cpu_rate:>14,.0f}")
    print(
        f"kernel merge / bare loop speed: {merge_med / bare_med:.3f} (the kernel's cost: {bare_med / merge_med:.1f}x)"
    )
    print(f"targets: merge >= 3,000,000 ev/s: {'met' if merge_med >= 3e6 else 'NOT met'}; ", end="")
    print(f"timers+produced >= 1,500,000 ev/s: {'met' if sched_med >= 1.5e6 else 'NOT met'}")
    results = {
        "benchmark": "kernel",
        "python": platform.python_version(),
        "events": n,
        "repeat": args.repeat,
        "bare_loop_events_per_s": round(bare_med),
        "merge_events_per_s": round(merge_med),
        "merge_best_events_per_s": round(merge_best),
        "generic_run_events_per_s": round(generic_med),
        "scheduled_events_per_s": round(sched_med),
        "scheduled_best_events_per_s": round(sched_best),
        "scheduled_share": round(scheduled_share, 4),
        "merge_cpu_events_per_s": round(cpu_rates[1]),
        "scheduled_cpu_events_per_s": round(cpu_rates[3]),
        "merge_vs_bare_ratio": round(merge_med / bare_med, 4),
        "target_merge_met": merge_med >= 3e6,
        "target_scheduled_met": sched_med >= 1.5e6,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
