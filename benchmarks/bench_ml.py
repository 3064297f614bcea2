"""What real-time ML costs the loop: feature recording per event, retrain wall time, and the loop's latency while a
model trains in the pool (issue 17's three figures).

1. Recording: the quote backtest benchmark's work (bench_backtest_quotes.py: L1 backtest, EMA 100/300 crossover,
   synthetic top of book) without and with a ``FeatureRecorder`` as an extra component, sampling every 1 s and every
   100 ms of event time, and a recorder that never samples (its per-quote part alone). Each variant runs as pairs
   (without, with) back to back in one process, the order inside a pair swapped every round; the overhead is the
   median of the per-pair ratios (goal: under 10% at 1 s, judged on CPU time: on a shared machine the wall time is
   mostly the neighbours'). 1b: the same on an L3 replay of the LOBSTER day (events materialised before timing, no
   strategy), where the loop does more per event. 1c (``--parts vol``): the realized volatility's update alone,
   ``ml.window.SquaresSum`` against ``math.fsum`` over the window, on the same feed's mid.
2. Retrain: the recorder (1 s cadence, 10 s horizon) replays a LOBSTER day (L3, book-derived quotes and trades) up
   to the trigger (default 10:30 New York), and the purged window of the last ``--window-s`` is trained per model
   kind: in this process (``ml.pool.train``, the worker's own function: fit + serialise) and through a warmed
   ``TrainingPool`` (submit to result), interleaved. The cold first task, in a pool created without warming, is
   what the warming saves (measured after the forkserver is up, as in a node, where it starts once).
3. Latency: the quote backtest (with the recorder at 1 s) is timed per batch of ``--batch`` quotes (a timer per
   quote would cost more than what it measures), in two interleaved conditions: the pool idle, and the pool's
   worker kept busy all along with a heavier training (hgb on ``--busy-rows`` rows; resubmitted from the loop, as
   the retrainer would, whenever one finishes). p50/p99 are of the per-quote time within a batch (batch wall time
   / batch size, everything the quotes cause included). Goal: p99 moves by no more than 10%.

Every figure is a median over ``--repeat`` rounds with the spread (min..max); CPU time is the process's own.
Prints the figures and, last, one JSON line.

Usage: python benchmarks/bench_ml.py [--repeat 5] [--quotes 500000] [--file PATH] [--trigger 10:30]
       [--window-s 3600] [--kinds sgd,ridge,hgb,river_linear] [--cold-repeat 3] [--busy-rows 36000]
       [--batch 100] [--parts recording,vol,flow,breakdown,recording_lobster,retrain,latency]
       [--lobster-events N] [--worker-threads N] [--chunk 20000] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import math
import os
import re
import statistics
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench_backtest_quotes import top_of_book
from profiling import timed_call
from tapeflow.backtest.engine import Backtest
from tapeflow.book.keeper import BookKeeper
from tapeflow.book.signals import SignalConfig
from tapeflow.data.lobster_events import iter_events
from tapeflow.engine.kernel import Component, Kernel
from tapeflow.engine.timers import Timer
from tapeflow.ml.features import FeatureRecorder, RecorderConfig, ny_open_ns
from tapeflow.ml.models import KINDS
from tapeflow.ml.pool import TrainingPool, TrainResult, train
from tapeflow.ml.window import SquaresSum
from tapeflow.model import Quote
from tapeflow.model.events import Event
from tapeflow.portfolio import PortfolioConfig
from tapeflow.strategy.examples.ema_quote import EmaQuoteCross

NS = 1_000_000_000
MS = 1_000_000
DEFAULT_FILE = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
WAIT_S = 600.0
"""The longest wait for one training (a hung worker fails the run instead of hanging it)."""
BUSY_PARAMS: dict[str, object] = {"max_iter": 100, "max_leaf_nodes": 63}


def spread(values: Sequence[float], digits: int = 1) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def fmt(s: dict[str, float], unit: str = "") -> str:
    return f"{s['median']:,}{unit} ({s['min']:,}..{s['max']:,})"


def load() -> float:
    return round(os.getloadavg()[0], 2)


# ---- 1. recording cost ---------------------------------------------------------------------------------------------


def make_quotes(n: int) -> list[Quote]:
    return [
        Quote(ts_event=t, ts_init=t, symbol="AAPL", bid_price=b, bid_size=bs, ask_price=a, ask_size=az, venue="XNAS")
        for t, b, bs, a, az in top_of_book(int(n * 1.02) + 10)[:n]
    ]


def quote_backtest(extra: Sequence[Component]) -> Backtest:
    """The quote backtest benchmark's assembly, plus ``extra`` components."""
    return Backtest(
        [EmaQuoteCross(fast=100, slow=300, quantity=100)],
        level="L1",
        portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000, sample_interval_ns=None),
        extra=extra,
    )


def recorder(interval_ns: int) -> FeatureRecorder:
    return FeatureRecorder(RecorderConfig(interval_ns=interval_ns, horizon_ns=10 * NS))


def timed_run(bt: Backtest, events: Sequence[Event], profile: bool = False) -> tuple[float, float, str]:
    """Wall and CPU seconds of one backtest run, the collector settled first and outside both clocks (issue 17's
    version read the CPU clock around ``gc.collect()`` too: a full collection walks every live quote, so both sides
    of a pair carried a constant that diluted the overhead)."""
    if profile:
        cpu = time.process_time()
        wall, text = timed_call(lambda: bt.run([events]), profile=True, top=16)
        return wall, time.process_time() - cpu, text
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    bt.run([events])
    return time.perf_counter() - start, time.process_time() - cpu, ""


def flow_handler(bt: Backtest) -> str:
    """Which handler the keeper subscribed for quotes: the compiled flow handler, or the Python ``on_quote_flow``
    (a tree before the compiled one has only that; on L3 the keeper has no quote handler)."""
    keeper = bt.books
    subscribed = getattr(keeper, "quote_handler", None)
    if subscribed is None:
        return "no quote handler"
    if subscribed == getattr(keeper, "on_quote_flow", None):
        return "Python on_quote_flow"
    if subscribed == keeper.on_quote:
        return "Python on_quote"
    return f"compiled {type(getattr(subscribed, '__self__', subscribed)).__name__}"


def lobster_backtest(extra: Sequence[Component]) -> Backtest:
    """A strategy-less L3 replay whose book emits quotes and trades (what the recorder reads), plus ``extra``."""
    return Backtest(
        [],
        level="L3",
        signals=SignalConfig(imbalance_levels=0, microprice=False, ofi=False),
        portfolio=PortfolioConfig(sample_interval_ns=None),
        extra=extra,
    )


RECORDING = {"1s": NS, "100ms": 100 * MS, "quotes_only": 0}
"""Each variant is paired with a run without a recorder. ``quotes_only`` (a recorder that never samples: its per-quote
handler alone) is the breakdown: the part of the overhead the sampling does not explain."""


class _Side:
    """One backtest run in a thread of its own, one chunk of the stream at a time when the coordinator says so
    (``step``), its thread's CPU time and the wall time summed over its turns.

    Why: a pair's two runs used to be whole runs back to back (~0.25 s each), so a neighbour's burst, the host
    taking the VM's CPU away or a frequency change landed on one side only, and on a quiet machine the pairs
    spread 50-75 points around a 10% goal (docs/PERFORMANCE.md, ML section 1). Taking turns every chunk, both
    sides meet the same conditions within milliseconds. The run itself is unchanged: the same backtest over the
    same event list, read through one ``chain`` of that list's slices (on both sides: +36 instructions a quote, 0.6%
    of the run without a recorder, so a 10.00% overhead reads as 9.94%); only the clocks stop at the chunk
    boundaries, while the other side runs."""

    def __init__(self, bt: Backtest, chunks: Sequence[Sequence[Event]]) -> None:
        self.bt = bt
        self.chunks = chunks
        self.cpu = 0.0
        self.wall = 0.0
        self._cpu0 = self._wall0 = 0.0
        self._go = threading.Semaphore(0)
        self._paused = threading.Semaphore(0)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._body, daemon=True)
        self._thread.start()

    def step(self) -> None:
        """The run goes on to its next chunk boundary (or its end) while this thread waits."""
        self._go.release()
        self._paused.acquire()
        if self._error is not None:
            raise self._error

    def join(self) -> None:
        self._thread.join()

    def _resume(self) -> None:
        self._go.acquire()
        self._wall0 = time.perf_counter()
        self._cpu0 = time.thread_time()

    def _pause(self) -> None:
        self.cpu += time.thread_time() - self._cpu0
        self.wall += time.perf_counter() - self._wall0
        self._paused.release()

    def _stream(self) -> Iterator[Sequence[Event]]:
        for i, chunk in enumerate(self.chunks):
            if i:  # the feed has read the previous chunk: the other side's turn
                self._pause()
                self._resume()
            yield chunk

    def _body(self) -> None:
        self._resume()
        try:
            self.bt.run([itertools.chain.from_iterable(self._stream())])
        except BaseException as exc:  # raised in the coordinator's thread by ``step``
            self._error = exc
        finally:
            self._pause()


def run_pair(
    make: Callable[[Sequence[Component]], Backtest],
    extra: Sequence[Component],
    chunks: Sequence[Sequence[Event]],
    with_first: bool,
) -> tuple[_Side, _Side, Backtest]:
    """A backtest without ``extra`` and one with it, taking turns chunk by chunk (the side that goes first swapped
    every chunk, ``with_first`` the first chunk's); returns (without, with, the backtest with ``extra``). The
    collector is settled before both start, outside the clocks; both then run under the same collector."""
    bt = make(extra)
    sides = (_Side(make([]), chunks), _Side(bt, chunks))
    gc.collect()
    for k in range(len(chunks)):
        for side in sides[::-1] if (k % 2 == 0) == with_first else sides:
            side.step()
    for side in sides:
        side.join()
    return sides[0], sides[1], bt


def bench_recording(
    title: str,
    events: Sequence[Event],
    make: Callable[[Sequence[Component]], Backtest],
    repeat: int,
    profile: bool,
    chunk: int = 20_000,
) -> dict[str, Any]:
    """Per variant, ``repeat`` pairs (without a recorder, with it) in this process, the pairs of the variants
    interleaved round by round and the side that starts swapped every round. Inside a pair the two runs take
    turns every ``chunk`` events (``_Side``; 0: each run in one turn), so a burst of load from a neighbour hits
    both sides alike; the overhead is the median of the per-pair ratios. Before the timed rounds, one untimed
    pair per variant over the first chunk warms both sides alike (code paths taken once, the time zone's
    first load, the allocator's arenas)."""
    names = list(RECORDING)
    base: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in names}
    with_: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in names}
    samples: dict[str, int] = {}
    handler = ""
    size = chunk if chunk > 0 else max(1, len(events))
    chunks = [events[i : i + size] for i in range(0, len(events), size)] or [events]
    for name in names:
        run_pair(make, [recorder(RECORDING[name])], chunks[:1], True)
    for round_ in range(repeat):
        for name in names:
            rec = recorder(RECORDING[name])
            without, with_side, bt = run_pair(make, [rec], chunks, round_ % 2 == 1)
            for side, timed in ((base[name], without), (with_[name], with_side)):
                side["wall"].append(timed.wall)
                side["cpu"].append(timed.cpu)
            handler = flow_handler(bt)
            samples[name] = rec.samples
    n = len(events)
    timer = "callback-only" if "tick" in Timer.__slots__ else "TimerFired + callback"  # an older tree (before/after)
    # which quote path ran: on L1 the keeper keeps the recorder's quote flow (issue 19); else its own handler
    tracked = getattr(rec, "tracked", False)
    flow = f"kept by the book keeper ({handler})" if tracked else "the recorder's own quote handler"
    out: dict[str, Any] = {"events": n, "pairs": repeat, "sampling_timer": timer, "quote_flow": flow}
    out.update(handler=handler, chunk=size, turns=len(chunks))
    # which sample step ran: the compiled one (``ml._sample_core``) or the Python ``_take`` (a tree before it: Python)
    step = getattr(rec, "impl", "python")
    fallbacks = getattr(getattr(rec, "sampler", None), "fallbacks", 0)
    out["sample_step"] = step
    print(f"{title}: {n:,} events, {repeat} interleaved pairs per variant, load {load()}")
    print(f"   each pair's two runs take turns every {size:,} events ({len(chunks)} turns each), after a warm-up pair")
    print(f"   the sampling timer: {timer}; the quote flow: {flow}")
    print(f"   the sample step: {step} (samplings handed to the Python reference: {fallbacks})")
    for name in names:
        per = {
            side: {k: [v / n * 1e9 for v in d[k]] for k in d} for side, d in (("none", base[name]), (name, with_[name]))
        }
        over = [(a / b - 1) * 100 for a, b in zip(with_[name]["wall"], base[name]["wall"], strict=True)]
        over_cpu = [(a / b - 1) * 100 for a, b in zip(with_[name]["cpu"], base[name]["cpu"], strict=True)]
        ratio = [a / b for a, b in zip(with_[name]["cpu"], base[name]["cpu"], strict=True)]
        entry: dict[str, Any] = {
            "without": {"ns_per_event": spread(per["none"]["wall"]), "cpu_ns_per_event": spread(per["none"]["cpu"])},
            "with": {"ns_per_event": spread(per[name]["wall"]), "cpu_ns_per_event": spread(per[name]["cpu"])},
            "samples": samples[name],
            "overhead_pct": spread(over),
            "cpu_overhead_pct": spread(over_cpu),
        }
        print(f"   {name}: {samples[name]:,} samples")
        for side, label in (("without", "without recorder"), ("with", "with recorder")):
            e = entry[side]
            print(f"     {label:>17}: {fmt(e['cpu_ns_per_event'])} CPU ns/event, {fmt(e['ns_per_event'])} wall")
        line = f"     overhead {fmt(entry['overhead_pct'], '%')} wall, {fmt(entry['cpu_overhead_pct'], '%')} CPU"
        if RECORDING[name]:
            entry["goal_met"] = statistics.median(over_cpu) < 10.0  # CPU: a shared machine's wall is its neighbours'
            line += f" (goal < 10% CPU: {'met' if entry['goal_met'] else 'NOT met'})"
        entry["cpu_ratio"] = spread(ratio, 3)
        print(f"{line}; CPU ratio with/without {fmt(entry['cpu_ratio'])}")
        out[name] = entry
    if profile:
        _, _, text = timed_run(make([recorder(100 * MS)]), events, profile=True)
        print(text)
    return out


class _NoBus:
    """What a keeper attaches to when its handler is timed alone: it keeps the handler, emits nothing."""

    def __init__(self) -> None:
        self.handler: Callable[[Quote], None] | None = None

    def subscribe(self, event_type: Any, handler: Callable[[Quote], None]) -> None:
        self.handler = handler

    def emit(self, event: Event) -> None:
        raise AssertionError(f"a quote keeper emits nothing, got {event!r}")


def bench_flow(quotes: Sequence[Quote], repeat: int) -> dict[str, Any]:
    """1d: the keeper's quote handler alone, as a feature recorder's keeper runs it (``track_flow``): the Python
    ``on_quote_flow`` against the compiled ``FlowQuoteHandler``, and the plain compiled handler of a keeper no one
    asks, each a fresh keeper over the same quotes, interleaved round by round (order rotated), CPU ns a quote with
    an empty loop's cost taken off. Every side checked to end with the same book."""
    sides = {
        "python flow": ("python", True),
        "compiled flow": ("compiled", True),
        "compiled plain": ("compiled", False),
    }
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    bare: list[float] = []
    ran: dict[str, str] = {}
    n = len(quotes)

    def loop(handler: Callable[[Quote], None]) -> float:
        gc.collect()
        start = time.process_time()
        for q in quotes:
            handler(q)
        return (time.process_time() - start) / n * 1e9

    names = list(sides)
    for round_ in range(repeat):
        bare.append(loop(lambda q: None))
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        books: dict[str, tuple[object, ...]] = {}
        for name in order:
            impl, tracked = sides[name]
            keeper, bus = BookKeeper("L1", impl=impl), _NoBus()  # type: ignore[arg-type]
            if tracked:
                keeper.track_flow(lambda book: None)
            keeper.attach(bus)
            assert bus.handler is not None
            cpu[name].append(loop(bus.handler))
            sub = bus.handler
            ran[name] = "Python" if sub in (keeper.on_quote, getattr(keeper, "on_quote_flow", None)) else "compiled"
            book = keeper.book(quotes[0].symbol)
            books[name] = tuple(getattr(book, k) for k in ("bid_price", "ask_price", "version", "crossings"))
        assert len(set(books.values())) == 1, books
    base = statistics.median(bare)
    per = {k: [v - b for v, b in zip(cpu[k], bare, strict=True)] for k in names}
    ratio = [c / p for c, p in zip(per["compiled flow"], per["python flow"], strict=True)]
    out: dict[str, Any] = {"quotes": n, "rounds": repeat, "empty_loop_cpu_ns": round(base, 1), "ran": ran}
    print(f"1d. the keeper's quote handler alone: {n:,} quotes, {repeat} interleaved rounds, load {load()}")
    print(f"   empty loop {base:.1f} CPU ns a quote (taken off each figure); which ran: {ran}")
    for name in names:
        out[name] = spread(per[name])
        print(f"   {name:>15}: {fmt(out[name])} CPU ns a quote")
    out["cpu_ratio"] = spread(ratio, 3)
    print(f"   CPU ratio compiled flow / python flow {fmt(out['cpu_ratio'])}")
    return out


def _noop_tick(now: int) -> None:
    return None


def bench_breakdown(quotes: Sequence[Quote], repeat: int, interval_ns: int = NS) -> dict[str, Any]:
    """1e: where the recording overhead at ``interval_ns`` goes, by difference of four backtests run interleaved in
    one process (order rotated every round), CPU time: no recorder; a recorder that never samples (the keeper's
    flow handler); one whose sampling timer fires but whose tick does nothing (the timer: the kernel's heap check
    per event and the callback); the full recorder (the rest is the tick's work: labels maturing and the sample).
    Each step is the median of the per-round differences, per quote and per sample."""

    def make(kind: str) -> tuple[Backtest, FeatureRecorder | None]:
        if kind == "none":
            return quote_backtest([]), None
        rec = recorder(0 if kind == "flow" else interval_ns)
        if kind == "timer":
            for name in ("_tick", "_on_tick"):  # the timer's tick; a tree before the compiled step: _on_tick
                with contextlib.suppress(AttributeError):  # a slotted recorder's method
                    setattr(rec, name, _noop_tick)
        return quote_backtest([rec]), rec

    kinds = ["none", "flow", "timer", "full"]
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    samples = 0
    last: FeatureRecorder | None = None
    n = len(quotes)
    for round_ in range(repeat):
        for kind in kinds[round_ % 4 :] + kinds[: round_ % 4]:
            bt, rec = make(kind)
            _, c, _ = timed_run(bt, quotes)
            cpu[kind].append(c / n * 1e9)
            if kind == "full" and rec is not None:
                samples, last = rec.samples, rec
    steps = {"flow handler": ("none", "flow"), "sampling timer": ("flow", "timer"), "tick's work": ("timer", "full")}
    base = statistics.median(cpu["none"])
    out: dict[str, Any] = {"quotes": n, "rounds": repeat, "interval_ns": interval_ns, "samples": samples}
    out["cpu_ns_per_quote"] = {k: spread(v) for k, v in cpu.items()}
    print(f"1e. the recording overhead at {interval_ns / NS:g} s, step by step: {n:,} quotes, {samples:,} samples,")
    print(f"    {repeat} interleaved rounds, load {load()}; without a recorder {base:,.1f} CPU ns a quote")
    total = [f - z for f, z in zip(cpu["full"], cpu["none"], strict=True)]
    for step, (lo, hi) in steps.items():
        diff = [b - a for a, b in zip(cpu[lo], cpu[hi], strict=True)]
        ns = statistics.median(diff)
        per_sample = ns * n / samples / 1000 if samples else 0.0
        out[step] = {
            "ns_per_quote": spread(diff),
            "us_per_sample": round(per_sample, 2),
            "pct": round(ns / base * 100, 1),
        }
        print(f"   {step:>15}: {fmt(spread(diff))} CPU ns a quote, {per_sample:.2f} us a sample, {ns / base:+.1%}")
    t = statistics.median(total)
    out["total"] = {"ns_per_quote": spread(total), "pct": round(t / base * 100, 1)}
    print(f"   {'all':>15}: {fmt(spread(total))} CPU ns a quote, {t / base:+.1%}")
    assert last is not None
    warm = warm_ticks(last, interval_ns)
    out["warm_tick_us"] = spread(warm, 2)
    print(f"   the same tick warm, back to back (no quote between, the mid unmoved): {fmt(out['warm_tick_us'])} us")
    direct = tick_in_loop(quotes, interval_ns, repeat)
    out["tick_in_loop_us"] = {k: spread(v, 2) for k, v in direct.items()}
    for impl, values in direct.items():
        what = f"the labels' backstop call, {impl[:-9]}" if impl.endswith(" backstop") else f"the tick, {impl} step"
        print(f"   {what} in the loop: {fmt(spread(values, 2))} us a sample (own CPU, probe off)")
    return out


def tick_in_loop(quotes: Sequence[Quote], interval_ns: int, repeat: int) -> dict[str, list[float]]:
    """The sampling tick's own CPU time in the loop (thread CPU clock read around each tick, the cost of the reads
    taken off by an empty probe run in the same round), for each sample step the tree has: what the tick costs
    where its data is cold, without the cache misses it then causes the quotes after it (which 1e's difference
    includes). Beside it (``<impl> backstop``), the labels' backstop call's, per sample: it fires before the tick
    at a label end every few samples, and 1e counts it in the tick's work."""
    impls = ["compiled", "python"] if getattr(recorder(interval_ns), "sampler", None) is not None else ["python"]
    clock = time.thread_time_ns
    out: dict[str, list[float]] = {name: [] for impl in impls for name in (impl, f"{impl} backstop")}
    for _ in range(repeat):
        empty: list[int] = [0, 0]

        def probe_empty(now: int, acc: list[int] = empty) -> None:
            t = clock()
            acc[0] += clock() - t
            acc[1] += 1

        rec = recorder(interval_ns)
        for name in ("_tick", "_on_tick"):  # a tree before the compiled step: _on_tick
            with contextlib.suppress(AttributeError):
                setattr(rec, name, probe_empty)
        quote_backtest([rec]).run([quotes])
        for impl in impls:
            kw: dict[str, Any] = {"impl": impl} if impl != "python" or len(impls) > 1 else {}
            rec = FeatureRecorder(RecorderConfig(interval_ns=interval_ns, horizon_ns=10 * NS), **kw)
            inner = getattr(rec, "_tick", rec._on_tick)
            spent = [0]

            def probe(now: int, inner: Callable[[int], None] = inner, acc: list[int] = spent) -> None:
                t = clock()
                inner(now)
                acc[0] += clock() - t

            for name in ("_tick", "_on_tick"):
                with contextlib.suppress(AttributeError):
                    setattr(rec, name, probe)
            labels: Any = rec.labels
            field = "backstop" if hasattr(labels, "backstop") else "_backstop"  # a tree before it was compiled
            backstop = getattr(labels, field)
            calls = [0, 0]

            def probe_call(arg: Any, inner: Callable[[Any], None] = backstop, acc: list[int] = calls) -> None:
                t = clock()
                inner(arg)
                acc[0] += clock() - t
                acc[1] += 1

            setattr(labels, field, probe_call)
            quote_backtest([rec]).run([quotes])
            probe_cost = empty[0] / empty[1]
            out[impl].append((spent[0] / rec.samples - probe_cost) / 1000)
            out[f"{impl} backstop"].append((calls[0] - calls[1] * probe_cost) / rec.samples / 1000)
    return out


def warm_ticks(rec: FeatureRecorder, interval_ns: int, ticks: int = 2000, rounds: int = 5) -> list[float]:
    """CPU us of the sampling tick called back to back on a finished run's recorder, the kernel's clock moved one
    interval before each (so labels mature as in the run): its cost with its data and code warm. The quote does
    not move, so the log return and the volatility's update are skipped (~0.4 us of the run's tick)."""
    kernel = rec._kernel
    assert kernel is not None
    clock = kernel._time
    tick = getattr(rec, "_tick", rec._on_tick)  # the compiled step's tick where the recorder chose it
    out = []
    for _ in range(rounds):
        now = clock._now
        start = time.process_time()
        for i in range(1, ticks + 1):
            clock._now = now + i * interval_ns
            tick(now + i * interval_ns)
        mid = time.process_time()
        for i in range(1, ticks + 1):
            clock._now = now + (ticks + i) * interval_ns
        out.append(((mid - start) - (time.process_time() - mid)) / ticks * 1e6)
    return out


def bench_vol(quotes: Sequence[Quote], repeat: int, stride: int = 43) -> dict[str, Any]:
    """1c. The realized volatility's update alone, per sample: the squared log returns of the feed's mid taken every
    ``stride`` quotes (the quote backtest's 1 s cadence is ~43 quotes), pushed into ``SquaresSum`` (the exact
    running sum) and, interleaved, into a deque summed by ``math.fsum`` each time (the computation before it), 29
    held values as the default recorder; both give the same doubles (counted: any difference is printed)."""
    mids = [(q.bid_price + q.ask_price) / 2 for q in quotes[::stride]] * 10  # ten passes: a round of ~30 ms
    r2s = [math.log(m / last) ** 2 if m != last else 0.0 for last, m in itertools.pairwise(mids)]
    ns: dict[str, list[float]] = {"fsum": [], "squares": []}
    differ = 0
    for round_ in range(repeat):
        for name in ("fsum", "squares") if round_ % 2 == 0 else ("squares", "fsum"):
            gc.collect()
            cpu = time.process_time()
            if name == "fsum":  # as the recorder did before: fsum again only when the held values changed
                window: deque[float] = deque(maxlen=29)
                fsum, sqrt = math.fsum, math.sqrt
                out, vol = [], 0.0
                for r2 in r2s:
                    changed = r2 != window[0] if len(window) == 29 else r2 != 0.0
                    window.append(r2)
                    if changed:
                        vol = sqrt(fsum(window))
                    out.append(vol)
            else:
                squares = SquaresSum(29)
                push = squares.push
                out = [push(r2) for r2 in r2s]
            ns[name].append((time.process_time() - cpu) / max(1, len(r2s)) * 1e9)
            if name == "fsum":
                want = out
            else:
                got = out
        differ += sum(1 for a, b in zip(want, got, strict=True) if struct.pack("d", a) != struct.pack("d", b))
    ratio = [a / b for a, b in zip(ns["squares"], ns["fsum"], strict=True)]
    moved = sum(1 for r2 in r2s if r2)
    out_: dict[str, Any] = {
        "samples": len(r2s),
        "mid_moved": moved,
        "fsum_cpu_ns": spread(ns["fsum"]),
        "squares_cpu_ns": spread(ns["squares"]),
        "cpu_ratio": spread(ratio, 3),
        "differing_values": differ,
    }
    print(f"1c. realized volatility per sample (every {stride} quotes, 29 held): {len(r2s):,} samples, {moved:,} moves")
    print(f"   sqrt(fsum(deque)) when the values changed (before): {fmt(out_['fsum_cpu_ns'])} CPU ns per sample")
    print(f"   SquaresSum.push (exact running sum): {fmt(out_['squares_cpu_ns'])} CPU ns per sample")
    print(f"   CPU ratio push/fsum {fmt(out_['cpu_ratio'])}; differing values {differ} (must be 0)")
    return out_


# ---- 2. retrain wall time ------------------------------------------------------------------------------------------


def trigger_ns(path: Path, hhmm: str) -> int:
    found = re.search(r"(\d{4})-(\d{2})-(\d{2})", path.name)
    if found is None:
        raise SystemExit(f"{path.name}: no YYYY-MM-DD in the name to place the trigger on")
    day = date(*(int(g) for g in found.groups()))
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return ny_open_ns(day) + ((hours * 60 + minutes) - (9 * 60 + 30)) * 60 * NS


def lobster_window(path: Path, trigger: int, window_s: int) -> tuple[np.ndarray, np.ndarray, int, float]:
    """X, y of the purged window at ``trigger`` (the replay stops at the trigger: nothing later is read), the last
    event time, and the replay's wall seconds."""
    rec = FeatureRecorder(RecorderConfig(interval_ns=NS, horizon_ns=10 * NS, window_ns=window_s * NS))
    bt = lobster_backtest([rec])
    start = time.perf_counter()
    bt.run([itertools.takewhile(lambda e: e.ts_init < trigger, iter_events(path))])
    elapsed = time.perf_counter() - start
    last = bt.kernel.now
    at = min(trigger, last)  # a file that ends before the trigger: the last hour available
    ts = rec.training_set(at, window_ns=window_s * NS)
    return np.asarray(ts.X), np.asarray(ts.y), at, elapsed


def pool_result(future: Future[TrainResult]) -> TrainResult:
    result = future.result(timeout=WAIT_S)
    if not result.ok:
        raise SystemExit(f"training failed: {result.error}")
    return result


def bench_retrain(path: Path, hhmm: str, window_s: int, kinds: list[str], repeat: int, cold: int) -> dict[str, Any]:
    trigger = trigger_ns(path, hhmm)
    xs, y, at, replay_s = lobster_window(path, trigger, window_s)
    print(f"2. retrain on {path.name}: window {window_s} s before {hhmm} New York, {len(y):,} samples x")
    print(f"   {xs.shape[1]} features (replay to the trigger took {replay_s:.2f} s), load {load()}")
    out: dict[str, Any] = {"file": path.name, "trigger": hhmm, "trigger_ns": at, "window_s": window_s}
    out.update(samples=len(y), replay_s=round(replay_s, 2))
    if len(y) < 2:
        raise SystemExit("the window holds fewer than 2 samples: choose a later --trigger or a longer --window-s")
    for kind in kinds:  # the in-process path pays its imports once, outside the timing
        train(kind, {}, xs, y, 0)
    start = time.perf_counter()
    pool = TrainingPool(1)
    pool.start().result(timeout=WAIT_S)
    warm_s = time.perf_counter() - start
    out["pool_start_warm_ms"] = round(warm_s * 1000, 1)
    inproc: dict[str, list[float]] = {k: [] for k in kinds}
    pooled: dict[str, list[float]] = {k: [] for k in kinds}
    fit: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for _ in range(repeat):
            for kind in kinds:
                gc.collect()
                t0 = time.perf_counter()
                done = train(kind, {}, xs, y, 0)
                inproc[kind].append((time.perf_counter() - t0) * 1000)
                assert done.ok, done.error
                t0 = time.perf_counter()
                result = pool_result(pool.submit(kind, None, xs, y, 0))
                pooled[kind].append((time.perf_counter() - t0) * 1000)
                fit[kind].append(result.duration_ns / MS)
    finally:
        pool.close()
    cold_ms: dict[str, list[float]] = {k: [] for k in kinds}
    imported: dict[str, int] = {}
    for _ in range(cold):
        for kind in kinds:
            cold_pool = TrainingPool(1, warm=False)
            try:
                t0 = time.perf_counter()
                result = pool_result(cold_pool.submit(kind, None, xs, y, 0))
                cold_ms[kind].append((time.perf_counter() - t0) * 1000)
                imported[kind] = result.modules_imported
            finally:
                cold_pool.close()
    print(f"   warmed pool up in {warm_s * 1000:,.0f} ms (1 worker: imports + one tiny fit of every kind)")
    print("   kind          in process ms      warmed pool ms (fit in worker)         cold first task ms (saved)")
    kinds_out: dict[str, Any] = {}
    for kind in kinds:
        entry: dict[str, Any] = {
            "in_process_ms": spread(inproc[kind]),
            "pool_ms": spread(pooled[kind]),
            "worker_fit_ms": spread(fit[kind]),
        }
        line = f"   {kind:<12}  {fmt(entry['in_process_ms']):<18} {fmt(entry['pool_ms'])}"
        line += f" ({fmt(entry['worker_fit_ms'])})"
        if cold_ms[kind]:
            entry["cold_first_ms"] = spread(cold_ms[kind])
            saved = statistics.median(cold_ms[kind]) - statistics.median(pooled[kind])
            entry["warming_saves_ms"] = round(saved, 1)
            entry["cold_modules_imported"] = imported[kind]
            line += f"   {fmt(entry['cold_first_ms'])} ({saved:,.1f}, {imported[kind]} modules imported)"
        kinds_out[kind] = entry
        print(line)
    out["kinds"] = kinds_out
    return out


# ---- 3. loop latency while a retrain runs --------------------------------------------------------------------------


class BatchClock:
    """Notes the wall time after every ``batch`` quotes and calls ``tick`` there (the busy condition resubmits a
    training from it, on the loop, as the retrainer does)."""

    def __init__(self, batch: int, tick: Callable[[], None] | None = None) -> None:
        self.batch = batch
        self.tick = tick
        self.marks: list[int] = []
        self.cpu_marks: list[int] = []
        """This thread's CPU time at the same points: what the loop did, without the time it was descheduled."""
        self._n = 0

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Quote, self.on_quote)

    def on_start(self) -> None:
        self.marks.append(time.perf_counter_ns())
        self.cpu_marks.append(time.thread_time_ns())

    def on_stop(self) -> None:
        return None

    def on_quote(self, _: Quote) -> None:
        self._n += 1
        if self._n == self.batch:
            self._n = 0
            self.marks.append(time.perf_counter_ns())
            self.cpu_marks.append(time.thread_time_ns())
            if self.tick is not None:
                self.tick()

    def per_quote_ns(self, cpu: bool = False) -> list[float]:
        marks = self.cpu_marks if cpu else self.marks
        return [(b - a) / self.batch for a, b in itertools.pairwise(marks)]


class Busy:
    """Keeps the pool's worker training: a new training whenever the last one finished."""

    def __init__(self, pool: TrainingPool, xs: np.ndarray, y: np.ndarray) -> None:
        self.pool, self.xs, self.y = pool, xs, y
        self.future: Future[TrainResult] | None = None
        self.completed = 0
        self.fit_ms: list[float] = []

    def tick(self) -> None:
        future = self.future
        if future is not None and not future.done():
            return
        if future is not None:
            self.completed += 1
            self.fit_ms.append(pool_result(future).duration_ns / MS)
        self.future = self.pool.submit("hgb", BUSY_PARAMS, self.xs, self.y, 0)

    def drain(self) -> None:
        if self.future is not None:
            pool_result(self.future)
            self.future = None


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench_latency(quotes: list[Quote], repeat: int, batch: int, busy_rows: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(busy_rows, 7))
    y = xs @ rng.normal(size=7) + rng.normal(scale=0.5, size=busy_rows)
    keys = ("p50", "p99", "max", "cpu_p50", "cpu_p99")
    stats: dict[str, dict[str, list[float]]] = {c: {k: [] for k in keys} for c in ("idle", "training")}
    busy_runs: list[int] = []
    pool = TrainingPool(1)
    try:
        pool.start().result(timeout=WAIT_S)
        busy = Busy(pool, xs, y)
        t0 = time.perf_counter()
        busy.tick()
        busy.drain()
        one_fit_s = time.perf_counter() - t0
        for round_ in range(repeat):
            conditions = ("idle", "training") if round_ % 2 == 0 else ("training", "idle")
            for condition in conditions:
                clock = BatchClock(batch, busy.tick if condition == "training" else None)
                bt = quote_backtest([recorder(NS), clock])
                if condition == "training":
                    busy.completed = 0
                    busy.tick()
                    time.sleep(0.2)  # the worker has the task and is fitting before the loop starts
                timed_run(bt, quotes)
                if condition == "training":
                    busy_runs.append(busy.completed)
                    busy.drain()
                per = clock.per_quote_ns()
                stats[condition]["p50"].append(percentile(per, 50))
                stats[condition]["p99"].append(percentile(per, 99))
                stats[condition]["max"].append(max(per))
                cpu = clock.per_quote_ns(cpu=True)
                stats[condition]["cpu_p50"].append(percentile(cpu, 50))
                stats[condition]["cpu_p99"].append(percentile(cpu, 99))
    finally:
        pool.close()
    out: dict[str, Any] = {"quotes": len(quotes), "batch": batch, "repeat": repeat, "busy_rows": busy_rows}
    out.update(busy_fit_s=round(one_fit_s, 2), trainings_finished_per_run=busy_runs, cpus=os.cpu_count())
    print(f"3. loop latency per quote (batches of {batch}; {len(quotes):,} quotes, recorder at 1 s), {repeat} rounds")
    print(f"   the busy training: hgb on {busy_rows:,} x 7, one fit {one_fit_s:.2f} s; finished per run {busy_runs}")
    for condition, values in stats.items():
        entry = {k: spread(v) for k, v in values.items()}
        out[condition] = entry
        print(f"   {condition:>8}: p50 {fmt(entry['p50'])} ns, p99 {fmt(entry['p99'])} ns, max {fmt(entry['max'])} ns")
        print(f"   {'':>8}  loop thread CPU time: p50 {fmt(entry['cpu_p50'])} ns, p99 {fmt(entry['cpu_p99'])} ns")
    change = [(b / a - 1) * 100 for a, b in zip(stats["idle"]["p99"], stats["training"]["p99"], strict=True)]
    out["p99_change_pct"] = spread(change)
    cpu_pairs = zip(stats["idle"]["cpu_p99"], stats["training"]["cpu_p99"], strict=True)
    out["cpu_p99_change_pct"] = spread([(b / a - 1) * 100 for a, b in cpu_pairs])
    out["goal_met"] = statistics.median(change) <= 10.0
    verdict = "met" if out["goal_met"] else "NOT met"
    print(f"   p99 change with a training running: {fmt(out['p99_change_pct'], '%')} (goal <= 10%: {verdict});")
    print(f"   of the loop thread's CPU time per quote: {fmt(out['cpu_p99_change_pct'], '%')}")
    print(f"   machine: {os.cpu_count()} CPUs, load average {load()}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = Path(os.environ.get("TAPEFLOW_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quotes", type=int, default=500_000)
    parser.add_argument("--file", type=Path, default=data / DEFAULT_FILE)
    parser.add_argument("--trigger", default="10:30", help="New York time of the retrain trigger (HH:MM)")
    parser.add_argument("--window-s", type=int, default=3600)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--cold-repeat", type=int, default=3)
    parser.add_argument("--busy-rows", type=int, default=36_000, help="rows of the busy hgb fit (1 h at 100 ms)")
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=0,
        help="OMP/BLAS threads of this process and its workers (set before any pool starts); 0: the libraries' default",
    )
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--parts", default="recording,recording_lobster,retrain,latency")
    parser.add_argument("--lobster-events", type=int, default=0, help="messages of --file replayed in 1b (0: all)")
    parser.add_argument(
        "--chunk", type=int, default=20_000, help="1 and 1b: events a side runs before the other's turn (0: whole runs)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one run with the recorder at 100 ms")
    args = parser.parse_args()
    if args.worker_threads:  # inherited by the forkserver and its workers, which start later
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.worker_threads)
    parts = set(args.parts.split(","))
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise SystemExit(f"unknown kinds {unknown}: use {sorted(KINDS)}")
    result: dict[str, Any] = {"benchmark": "ml", "cpus": os.cpu_count(), "load_start": load()}
    result["worker_threads"] = args.worker_threads or "default"
    quotes = make_quotes(args.quotes) if parts & {"recording", "latency", "vol", "flow", "breakdown"} else []
    if "recording" in parts:
        title = "1. feature recording on the quote backtest (an event is a quote)"
        result["recording"] = bench_recording(title, quotes, quote_backtest, args.repeat, args.profile, args.chunk)
    if "vol" in parts:
        result["vol"] = bench_vol(quotes, args.repeat)
    if "flow" in parts:
        result["flow"] = bench_flow(quotes, args.repeat)
    if "breakdown" in parts:
        result["breakdown"] = bench_breakdown(quotes, args.repeat)
    if "recording_lobster" in parts:
        if args.file.exists():
            events = list(itertools.islice(iter_events(args.file), args.lobster_events or None))
            title = f"1b. feature recording on an L3 replay of {args.file.name} (an event is a message)"
            result["recording_lobster"] = bench_recording(
                title, events, lobster_backtest, args.repeat, args.profile, args.chunk
            )
        else:
            print(f"1b. recording on LOBSTER: {args.file} not found: skipped")
            result["recording_lobster"] = {"skipped": str(args.file)}
    if "retrain" in parts:
        if args.file.exists():
            result["retrain"] = bench_retrain(
                args.file, args.trigger, args.window_s, kinds, args.repeat, args.cold_repeat
            )
        else:
            print(f"2. retrain: {args.file} not found (set TAPEFLOW_DATA or pass --file): skipped")
            result["retrain"] = {"skipped": str(args.file)}
    if "latency" in parts:
        result["latency"] = bench_latency(quotes, args.repeat, args.batch, args.busy_rows)
    result["load_end"] = load()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
