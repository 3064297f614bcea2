"""SMA 10/30 crossover on one-minute bars: tapeflow's event-driven backtest against backtrader, same work, paired.

Both sides: buy 100 when flat on an up-cross, close on a down-cross, fills at the next bar's open.

Same work. Both start from the same bars held in memory as Python row tuples (ints for tapeflow, backtrader's
datetime and float dollars for backtrader, built before timing) and load them inside the timed region: backtrader's
feed writes each row into its lines (``_load``, preloaded by ``cerebro.run``), tapeflow builds one ``Bar`` event per
row, streamed into the run (never listed). tapeflow runs its whole assembly with its default risk rules on
(``RiskConfig()``, what a configured backtest gets), results collected. backtrader runs in its fastest documented
setup (``Cerebro(stdstats=False)``: no observers) and in its default one (``Cerebro()``: preload, runonce, standard
observers). Each pair (tapeflow, backtrader fast, backtrader default) runs interleaved in this process; CPU time
(``time.process_time``) and wall time are both printed, with the median and the spread (min-max) over the pairs.
The ratio that decides is CPU-time tapeflow / backtrader ``stdstats=False``, taken pair by pair; it is printed last.

Trades are compared bar by bar (fill bar, side, price): the benchmark counts those that match and those that differ
and, at the first difference, prints why (backtrader's float SMAs against tapeflow's exact integer sums).

Usage: python benchmarks/bench_backtest_bars.py [--bars 100000] [--pairs 5] [--profile] [--rss 1000000] [--split]
[--parts] [--dispatch] [--floor] [--digest] [--once orders|no_orders] [--calls]
``--rss N`` instead measures tapeflow's peak RSS on N bars, each variant in a fresh child process: bars listed
before the run (as this benchmark did before) against bars streamed from the columns. ``--split`` runs tapeflow
alone, with the strategy and with a copy whose ``buy``/``sell``/``signal`` do nothing, and prints CPU ns per bar
without orders and us per order (the difference over the orders): run it with ``PYTHONPATH=OLD/src`` and without,
alternately, to compare two trees. ``--parts`` runs tapeflow once with the CPU time (``time.thread_time_ns``) of
each component on the order path measured around its calls, and prints it per order: where an order's time goes.
The clock read costs about 0.5 us per call on this machine (printed), and a part's time includes the parts it calls
(risk includes execution, which includes the exchange's ``send``; the bar that fills an order, ``BarFills.on_bar``,
includes the exchange's ``_fill``). ``--dispatch`` counts, per order, the events built and scheduled by type and
the subscribers each is dispatched to (a gated one is called only while its component has work). ``--floor``
prints what a bar costs before the engine does anything (its ``Bar`` event built, the strategy's own ``on_bar``)
against what 100x backtrader ``stdstats=False`` leaves a bar: the room issue 19's 100x goal has at all.
``--digest`` prints what two trees must give alike (event log digest, fills, order records, summary, counters: run
it with ``PYTHONPATH=OTHER/src`` and without); ``--once orders`` / ``--once no_orders`` is one run and nothing else,
for ``valgrind --tool=callgrind``: the two instruction counts differ by what the orders cost. ``--parts`` wraps
methods of the classes, so on a tree where those classes are compiled (mypyc) it sees only the calls made through
an attribute lookup, not the compiled code's direct calls: compare compiled trees with ``--split`` and callgrind.
``--calls`` counts, per order, the Python calls and bytecodes of each function (a traced run with orders minus one
without): where an order's interpreted work goes, by function, the same under any load (slow: run it on 30,000 bars).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import hashlib
import importlib
import inspect
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

import tapeflow
from gen_bars import MINUTE_NS, Row, columns, rows, stream
from profiling import calls_table, timed_call, traced_calls
from tapeflow.backtest.engine import Backtest
from tapeflow.engine import Kernel
from tapeflow.engine.dispatch import gated
from tapeflow.engine.kernel import Component
from tapeflow.engine.recorder import EventLog
from tapeflow.model import Bar
from tapeflow.model.codec import to_msgpack
from tapeflow.model.enums import Side
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.config import RiskConfig
from tapeflow.strategy.examples.sma_cross import SmaCross

FAST, SLOW, QTY = 10, 30, 100
Trade = tuple[int, str, int]
"""(index of the bar it filled at, "BUY"/"SELL", price in 1/10,000 dollar)."""


def tapeflow_backtest(strategy: type[SmaCross] = SmaCross, extra: Sequence[Component] = ()) -> Backtest:
    """The benchmark's backtest: ``strategy`` (the SMA crossover or its no-order copy) with the default risk rules;
    ``extra`` components observe it (``--digest``'s event log)."""
    return Backtest(
        [strategy(fast=FAST, slow=SLOW, quantity=QTY)],
        portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000, sample_interval_ns=None),
        risk=RiskConfig(),
        extra=extra,
    )


def run_tapeflow(data: list[Row], *, profile: bool = False) -> tuple[float, float, list[Trade], str]:
    """(CPU s, wall s, trades, profile text): ``Bar`` events built from ``data`` as the run reads them."""
    bt = tapeflow_backtest()
    if profile:
        wall, text = timed_call(lambda: bt.run([stream(data)]), profile=True, top=25)
        return 0.0, wall, [], text
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    bt.run([stream(data)])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    index = {row[0]: i for i, row in enumerate(data)}
    trades = [(index[f.ts_event], "BUY" if f.side is Side.BUY else "SELL", f.price) for f in bt.results.fills]
    return cpu, wall, trades, ""


def backtrader_rows(data: list[Row]) -> list[tuple[datetime.datetime, float, float, float, float, float]]:
    epoch = datetime.datetime(1970, 1, 1)
    return [
        (epoch + datetime.timedelta(microseconds=t // 1000), o / 1e4, h / 1e4, lo / 1e4, cl / 1e4, float(v))
        for t, o, h, lo, cl, v in data
    ]


def backtrader_runner(bt_rows: list[Any]) -> Callable[[bool], tuple[float, float, list[Trade]]] | str:
    """A function running backtrader over ``bt_rows`` (``stdstats`` as given), or why it cannot."""
    try:
        import backtrader as bt  # lazy: the peer is optional (the bench extra)
    except ImportError:
        return "backtrader not installed (pip install -e '.[bench]'): skipped"

    class ListFeed(bt.feed.DataBase):  # type: ignore[misc]
        params = (("rows", None),)

        def start(self) -> None:
            super().start()
            self._i = 0

        def _load(self) -> bool:
            if self._i >= len(self.p.rows):
                return False
            dt, o, h, lo, cl, v = self.p.rows[self._i]
            self._i += 1
            self.lines.datetime[0] = bt.date2num(dt)
            self.lines.open[0], self.lines.high[0], self.lines.low[0], self.lines.close[0] = o, h, lo, cl
            self.lines.volume[0], self.lines.openinterest[0] = v, 0.0
            return True

    def run(stdstats: bool) -> tuple[float, float, list[Trade]]:
        trades: list[Trade] = []

        class SmaCrossBt(bt.Strategy):  # type: ignore[misc]
            def __init__(self) -> None:
                self.crossover = bt.ind.CrossOver(bt.ind.SMA(period=FAST), bt.ind.SMA(period=SLOW))

            def notify_order(self, order: Any) -> None:
                if order.status == order.Completed:
                    side = "BUY" if order.isbuy() else "SELL"
                    trades.append((len(self.data) - 1, side, round(order.executed.price * 1e4)))

            def next(self) -> None:
                if not self.position and self.crossover > 0:
                    self.buy(size=QTY)
                elif self.position and self.crossover < 0:
                    self.close()

        cerebro = bt.Cerebro(stdstats=stdstats)
        cerebro.adddata(ListFeed(rows=bt_rows))
        cerebro.addstrategy(SmaCrossBt)
        cerebro.broker.setcash(10_000_000.0)
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        cerebro.run()
        return time.process_time() - cpu, time.perf_counter() - wall, trades

    return run


def compare(ours: list[Trade], theirs: list[Trade], data: list[Row]) -> tuple[dict[str, int], list[str]]:
    """Counts of matching and differing trades (as multisets of (bar, side, price)) and why they first differ."""
    common = sum((Counter(ours) & Counter(theirs)).values())
    counts = {"tapeflow_trades": len(ours), "backtrader_trades": len(theirs), "matching_trades": common}
    counts["differing_tapeflow"], counts["differing_backtrader"] = len(ours) - common, len(theirs) - common
    closes = [r[4] for r in data]
    ties = sum(1 for i in range(SLOW - 1, len(closes)) if _int_diff(closes, i) == 0)
    counts["bars_with_equal_integer_smas"] = ties
    lines = [f"bars where the two averages are exactly equal (integers): {ties:,}"]
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), None)
    if first is None:
        if len(ours) == len(theirs):
            lines.append("trades identical")
            return counts, lines
        first = min(len(ours), len(theirs))
    counts["first_difference"] = first + 1
    a = ours[first] if first < len(ours) else None
    b = theirs[first] if first < len(theirs) else None
    lines.append(f"trades first differ at trade {first + 1}: tapeflow {a}, backtrader {b} (bar, side, price)")
    decided = min(t[0] for t in (a, b) if t is not None) - 1  # the bar the earlier of the two orders was decided on
    for i in range(max(SLOW - 1, decided - 2), decided + 1):
        d, f = _int_diff(closes, i), _float_diff(closes, i)
        lines.append(f"  bar {i}: fast*{SLOW} - slow*{FAST} (ints) = {d}; backtrader's float SMA10 - SMA30 = {f:+.3e}")
    lines.append(
        "why: where the integer averages are exactly equal tapeflow sees no cross (touching is not crossing), while "
        "backtrader's float SMAs (fsum / period) leave a rounding residue of either sign and may cross a bar "
        "earlier or later; the trades after that follow a shifted position"
    )
    return counts, lines


def _int_diff(closes: list[int], i: int) -> int:
    return sum(closes[i - FAST + 1 : i + 1]) * SLOW - sum(closes[i - SLOW + 1 : i + 1]) * FAST


def _float_diff(closes: list[int], i: int) -> float:
    f = [c / 1e4 for c in closes[i - SLOW + 1 : i + 1]]
    return math.fsum(f[-FAST:]) / FAST - math.fsum(f) / SLOW


def spread(values: Iterable[float]) -> tuple[float, float, float]:
    v = sorted(values)
    return statistics.median(v), v[0], v[-1]


def fmt(name: str, values: list[float], unit: str = "bars/s") -> str:
    med, lo, hi = spread(values)
    return f"{name:<38} median {med:>12,.0f} {unit} (min {lo:,.0f}, max {hi:,.0f})"


def rss_child(mode: str, n: int) -> None:
    """One tapeflow run over ``n`` bars, listed first or streamed from the columns; prints peak RSS in KiB."""
    c = columns(n)
    names = ("ts", "open", "high", "low", "close", "volume")
    listed: list[Bar] | None = None
    if mode == "listed":
        listed = list(_column_stream(c, names))
    bt = tapeflow_backtest()
    bt.run([listed if listed is not None else _column_stream(c, names)])
    print(json.dumps({"mode": mode, "fills": len(bt.results.fills), "peak_rss_kib": _peak_kib()}))


def _column_stream(c: dict[str, Any], names: tuple[str, ...], chunk: int = 65_536) -> Iterator[Bar]:
    for start in range(0, len(c["ts"]), chunk):
        part = [c[k][start : start + chunk].tolist() for k in names]
        for t, o, h, lo, cl, v in zip(*part, strict=True):
            yield Bar(ts_event=t, ts_init=t, symbol="SYN", open=o, high=h, low=lo, close=cl, volume=v,
                      interval_ns=MINUTE_NS)  # fmt: skip


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def measure_rss(n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"benchmark": "backtest_bars_rss", "bars": n}
    for mode in ("listed", "streamed"):
        child = subprocess.run(
            [sys.executable, __file__, "--rss-child", mode, "--bars", str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        got = json.loads(child.stdout.strip().splitlines()[-1])
        mib = got["peak_rss_kib"] / 1024
        print(f"tapeflow, {n:,} bars {mode:<8}: peak RSS {mib:,.0f} MiB ({got['fills']:,} fills)")
        out[f"{mode}_peak_rss_mib"] = round(got["peak_rss_kib"] / 1024)
    return out


class _NoOrders(SmaCross):
    """The benchmark's strategy doing all its per-bar work but never ordering: the per-bar cost on its own."""

    def buy(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None

    def sell(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None

    def signal(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None


def kernel_impl() -> str:
    """Which kernel loops a backtest runs here: "compiled" or "python" (a tree before the compiled kernel)."""
    return str(getattr(Kernel(), "impl", "python"))


def split(data: list[Row], repeat: int) -> dict[str, Any]:
    """Best CPU time of ``repeat`` runs with orders and without: ns per bar and us per order."""
    best: dict[str, float] = {}
    orders = 0
    for _ in range(repeat):
        for name, cls in (("orders", SmaCross), ("no_orders", _NoOrders)):
            bt = tapeflow_backtest(cls)
            gc.collect()
            cpu = time.process_time()
            bt.run([stream(data)])
            cpu = time.process_time() - cpu
            best[name] = min(best.get(name, cpu), cpu)
            orders = len(bt.results.fills) if name == "orders" else orders
    n = len(data)
    out = {
        "ns_per_bar": round(best["orders"] / n * 1e9),
        "ns_per_bar_without_orders": round(best["no_orders"] / n * 1e9),
        "orders": orders,
        "us_per_order": round((best["orders"] - best["no_orders"]) / max(orders, 1) * 1e6, 1),
    }
    where = Path(tapeflow.__file__).parents[1]
    out["kernel"] = kernel_impl()
    print(f"tapeflow ({where}, {out['kernel']} kernel): {out['ns_per_bar']:,} ns/bar with orders, "
          f"{out['ns_per_bar_without_orders']:,} without; {orders:,} orders, "
          f"{out['us_per_order']} us each")  # fmt: skip
    return out


PARTS = (
    ("tapeflow.strategy.base", "Strategy", "signal"),
    ("tapeflow.strategy.base", "Strategy", "submit"),
    ("tapeflow.risk.engine", "RiskEngine", "on_command"),
    ("tapeflow.execution.engine", "ExecutionEngine", "execute"),
    ("tapeflow.venues.sim.exchange", "SimulatedExchange", "send"),
    ("tapeflow.venues.sim.exchange", "SimulatedExchange", "_on_submit"),
    ("tapeflow.venues.sim.bar_fills", "BarFills", "on_bar"),
    ("tapeflow.venues.sim.exchange", "SimulatedExchange", "_fill"),
    ("tapeflow.execution.engine", "ExecutionEngine", "on_report"),
    ("tapeflow.risk.engine", "RiskEngine", "on_report"),
    ("tapeflow.portfolio.portfolio", "Portfolio", "on_fill"),
    ("tapeflow.report.results", "ResultsCollector", "on_submit"),
    ("tapeflow.report.results", "ResultsCollector", "on_accepted"),
    ("tapeflow.report.results", "ResultsCollector", "on_filled"),
)
"""The order path's components timed by ``--parts`` (module, class, method)."""


def parts(data: list[Row]) -> dict[str, Any]:
    """CPU us per order spent in each of ``PARTS`` (its callees included), from one run with the methods wrapped."""
    clock = time.thread_time_ns
    spent: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    saved = []

    def timed(label: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return method(*args, **kwargs)
            finally:
                spent[label] += clock() - start
                calls[label] += 1

        return wrapper

    # the exchange's methods are wrapped on the class the run builds: the compiled order path's subclass has its own
    exchange_class = type(tapeflow_backtest().exchange)
    for module, cls_name, label in PARTS:
        cls = getattr(importlib.import_module(module), cls_name)
        if cls_name == "SimulatedExchange":
            cls = exchange_class
        saved.append((cls, label, vars(cls).get(label)))
        setattr(cls, label, timed(f"{cls_name}.{label}", getattr(cls, label)))
    try:
        bt = tapeflow_backtest()
        gc.collect()
        bt.run([stream(data)])
    finally:
        for cls, name, method in saved:
            if method is None:
                delattr(cls, name)  # inherited: the wrapper goes, the base's method shows through again
            else:
                setattr(cls, name, method)
    start = clock()
    for _ in range(10_000):
        clock()
    overhead = (clock() - start) / 10_000
    orders = calls["RiskEngine.on_command"]
    print(f"{orders:,} orders; each clock read costs ~{overhead:,.0f} ns (two per timed call, counted in its part)")
    out: dict[str, Any] = {"orders": orders, "clock_ns": round(overhead)}
    for label in spent:
        per_order = spent[label] / max(orders, 1) / 1000
        print(f"  {label:32s} {calls[label] / max(orders, 1):4.1f} calls/order {per_order:7.2f} us/order")
        out[label] = round(per_order, 2)
    return out


def digests(data: list[Row]) -> dict[str, Any]:
    """What two trees must give alike (a compiled order path against the Python one, old code against new): the
    digest of the event log, the msgpack of the fills and of the order records, the summary and the counters."""
    log = EventLog(keep=False)
    bt = tapeflow_backtest(extra=[log])
    bt.run([stream(data)])
    results = bt.results

    def sha(blob: bytes) -> str:
        return hashlib.sha256(blob).hexdigest()

    out: dict[str, Any] = {
        "orders": len(results.fills),
        "event_log": log.digest(),
        "fills": sha(b"".join(to_msgpack(f) for f in results.fills)),
        "order_records": sha(msgspec.msgpack.encode(list(results.orders.values()))),
        "summary": sha(msgspec.json.encode(bt.summary())),
        "counters": [bt.exchange.fills, bt.exchange.rejects, bt.risk.passed, bt.risk.rejected],
    }
    print(f"tapeflow ({Path(tapeflow.__file__).parents[1]}, {kernel_impl()} kernel): {out['orders']:,} orders, "
          f"event log {out['event_log'][:16]}, fills {out['fills'][:16]}, order records {out['order_records'][:16]}, "
          f"summary {out['summary'][:16]}")  # fmt: skip
    return out


def once(data: list[Row], mode: str) -> dict[str, Any]:
    """One run, with orders or without, and nothing else: for ``valgrind --tool=callgrind``, whose two instruction
    counts differ by what the orders cost (the interpreter's start and the imports are in both)."""
    bt = tapeflow_backtest(SmaCross if mode == "orders" else _NoOrders)
    bt.run([stream(data)])
    return {"mode": mode, "orders": len(bt.results.fills)}


def _traced(strategy: type[SmaCross], data: list[Row]) -> tuple[dict[str, list[int]], int]:
    """One run under ``traced_calls``: per Python function, its calls and bytecodes; and the orders filled."""
    bt = tapeflow_backtest(strategy)
    table = traced_calls(lambda: bt.run([stream(data)]))
    return table, len(bt.results.fills)


def calls(data: list[Row], top: int = 40) -> dict[str, Any]:
    """Per order, the Python calls and bytecodes of each function: a traced run with orders minus one without,
    over the orders. Counted, not timed: the same on any machine and load, so two trees compare exactly (what
    callgrind cannot split by Python function on CPython 3.11)."""
    with_orders, orders = _traced(SmaCross, data)
    without, _ = _traced(_NoOrders, data)
    title = (
        f"{orders:,} orders; per order {{calls}} Python calls, {{codes:,}} bytecodes (orders run minus\n"
        "the no-order run; inclusive counts a function's callees once):"
    )
    total_calls, total_codes = calls_table(with_orders, without, orders, title, top)
    return {"orders": orders, "calls_per_order": total_calls, "bytecodes_per_order": total_codes}


def _handler_name(handler: Any) -> str:
    """A subscriber as ``Class.method``; a gated one says so (the kernel calls it only while its container holds
    something), a kept-last store says which field."""
    inner = getattr(handler, "handler", None)  # ``Kernel.subscribe_while``'s gate, compiled
    if inner is not None and hasattr(handler, "when"):
        return f"{_handler_name(inner)} (gated)"
    if inspect.isfunction(handler) and handler.__qualname__ == f"{gated.__qualname__}.<locals>.gate":
        return f"{_handler_name(inspect.getclosurevars(handler).nonlocals['handler'])} (gated)"  # the Python gate
    if hasattr(handler, "field") and hasattr(handler, "last"):
        return f"keep last by {handler.field}"
    owner = getattr(handler, "__self__", None)
    name = getattr(handler, "__name__", type(handler).__name__)
    return f"{type(owner).__name__}.{name}" if owner is not None else name


def dispatches(data: list[Row]) -> dict[str, Any]:
    """Per order: how many events of each type are built and put on the kernel's schedule, and the subscribers
    each reaches (and the scheduled calls, by function); from one run with the kernel class's ``emit``/``call_at``
    counted."""
    emitted: Counter[type[Any]] = Counter()
    called: Counter[str] = Counter()
    kind = type(Kernel())  # the class the run's kernel is: the compiled kernel has its own emit and call_at
    emit, call_at = kind.emit, kind.call_at
    own = {name: vars(kind)[name] for name in ("emit", "call_at") if name in vars(kind)}

    def counting_emit(self: Kernel, event: Any) -> None:
        emitted[type(event)] += 1
        emit(self, event)

    def counting_call_at(self: Kernel, ts: int, fn: Callable[[Any], None], arg: Any = None) -> None:
        owner = getattr(fn, "__self__", None)  # a bound method by its object's class (a compiled function has its own)
        name = f"{type(owner).__name__}.{fn.__name__}" if owner is not None else getattr(fn, "__qualname__", repr(fn))
        called[name] += 1
        call_at(self, ts, fn, arg)

    kind.emit, kind.call_at = counting_emit, counting_call_at  # type: ignore[method-assign]
    try:
        bt = tapeflow_backtest()
        bt.run([stream(data)])
    finally:
        for name in ("emit", "call_at"):
            if name in own:
                setattr(kind, name, own[name])
            else:
                delattr(kind, name)
    orders = len(bt.results.fills)
    out: dict[str, Any] = {"orders": orders}
    print(f"{orders:,} orders; per order, events built and scheduled, and the subscribers each is dispatched to:")
    for kind, n in emitted.most_common():
        names = [_handler_name(h) for h in bt.kernel._subscriptions.handlers(kind)]
        print(f"  {kind.__name__:14s} {n / orders:5.2f} -> {len(names)} subscribers: {', '.join(names) or 'none'}")
        out[kind.__name__] = {"per_order": round(n / orders, 2), "subscribers": names}
    for name, n in called.most_common():
        print(f"  call_at {name:30s} {n / orders:5.2f}")
        out[f"call_at {name}"] = round(n / orders, 2)
    return out


def floor(data: list[Row], repeat: int) -> dict[str, Any]:
    """What a bar costs before the engine does anything, against what 100x backtrader ``stdstats=False`` leaves.

    Best CPU time of ``repeat`` runs each: the ``Bar`` events built from the rows (the benchmark's ``stream``), the
    strategy's own ``on_bar`` over those bars (the no-order copy, fresh each run), the whole backtest without
    orders and with them; and one backtrader ``stdstats=False`` run for the budget. Both floors are work the
    benchmark requires: the events are built in the loop (same work as backtrader's feed), and the strategy is
    the user's Python code."""
    n = len(data)
    best: dict[str, float] = {}

    def keep(name: str, cpu: float) -> None:
        best[name] = min(best.get(name, cpu), cpu)

    for _ in range(repeat):
        gc.collect()
        cpu = time.process_time()
        for _bar in stream(data):
            pass
        keep("build", time.process_time() - cpu)
        bars = list(stream(data))
        strategy = _NoOrders(fast=FAST, slow=SLOW, quantity=QTY)
        on_bar = strategy.on_bar
        gc.collect()
        cpu = time.process_time()
        for bar in bars:
            on_bar(bar)
        keep("strategy", time.process_time() - cpu)
        del bars
        for name, cls in (("no_orders", _NoOrders), ("orders", SmaCross)):
            bt = tapeflow_backtest(cls)
            gc.collect()
            cpu = time.process_time()
            bt.run([stream(data)])
            keep(name, time.process_time() - cpu)
            if name == "orders":
                best["fills"] = len(bt.results.fills)
    ns = {k: v / n * 1e9 for k, v in best.items() if k != "fills"}
    orders = int(best["fills"])
    out: dict[str, Any] = {
        "orders": orders,
        "build_ns_per_bar": round(ns["build"]),
        "strategy_ns_per_bar": round(ns["strategy"]),
        "run_ns_per_bar_without_orders": round(ns["no_orders"]),
        "run_ns_per_bar": round(ns["orders"]),
        "kernel": kernel_impl(),
    }
    floor_ns = ns["build"] + ns["strategy"]
    print(f"{n:,} bars, {orders:,} orders, {out['kernel']} kernel; CPU ns a bar, best of {repeat}:")
    print(f"  building the Bar events       {ns['build']:7.0f}")
    print(f"  the strategy's own on_bar     {ns['strategy']:7.0f}")
    print(f"  = the floor before the engine {floor_ns:7.0f}")
    print(f"  the backtest without orders   {ns['no_orders']:7.0f}")
    print(f"  the backtest with its orders  {ns['orders']:7.0f}")
    runner = backtrader_runner(backtrader_rows(data))
    if isinstance(runner, str):
        print(runner)
        out["backtrader"] = runner
        return out
    bt_ns = runner(False)[0] / n * 1e9
    budget = bt_ns / 100
    left = budget - floor_ns
    engine = ns["no_orders"] - floor_ns
    per_order = (ns["orders"] - ns["no_orders"]) * n / max(orders, 1) / 1e3
    out.update(
        backtrader_ns_per_bar=round(bt_ns),
        budget_100x_ns_per_bar=round(budget),
        left_ns_per_bar=round(left),
        engine_ns_per_bar=round(engine),
        us_per_order=round(per_order, 1),
    )
    print(f"backtrader stdstats=False {bt_ns:,.0f} ns a bar (one run): 100x leaves {budget:,.0f} ns a bar for "
          f"everything, {left:,.0f} after the floor, for the engine's per-bar work (today {engine:,.0f}) and the "
          f"orders (today {ns['orders'] - ns['no_orders']:,.0f} a bar, {per_order:.1f} us an order)")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print where tapeflow's time goes (one extra run)")
    parser.add_argument("--rss", type=int, default=None, metavar="N", help="peak RSS of N bars, listed vs streamed")
    parser.add_argument("--rss-child", choices=("listed", "streamed"), help=argparse.SUPPRESS)
    parser.add_argument("--split", action="store_true", help="tapeflow alone: ns per bar, us per order (best of 2)")
    parser.add_argument("--parts", action="store_true", help="tapeflow alone: CPU us per order in each component")
    parser.add_argument("--dispatch", action="store_true", help="tapeflow alone: events per order, subscribers of each")
    parser.add_argument("--floor", action="store_true", help="per-bar floor (events, strategy) vs the 100x budget")
    parser.add_argument("--digest", action="store_true", help="tapeflow alone: digests of its events and results")
    parser.add_argument("--once", choices=("orders", "no_orders"), help="one run and nothing else (for callgrind)")
    parser.add_argument("--calls", action="store_true", help="tapeflow alone: Python calls, bytecodes per order")
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.bars)
        return
    if args.rss:
        print(json.dumps(measure_rss(args.rss)))
        return
    data = rows(args.bars)
    if args.parts:
        print(json.dumps({"benchmark": "backtest_bars_parts", "bars": len(data), **parts(data)}))
        return
    if args.dispatch:
        print(json.dumps({"benchmark": "backtest_bars_dispatch", "bars": len(data), **dispatches(data)}))
        return
    if args.floor:
        print(json.dumps({"benchmark": "backtest_bars_floor", "bars": len(data), **floor(data, 3)}))
        return
    if args.digest:
        print(json.dumps({"benchmark": "backtest_bars_digest", "bars": len(data), **digests(data)}))
        return
    if args.calls:
        print(json.dumps({"benchmark": "backtest_bars_calls", "bars": len(data), **calls(data)}))
        return
    if args.once:
        print(json.dumps({"benchmark": "backtest_bars_once", "bars": len(data), **once(data, args.once)}))
        return
    if args.split:
        print(json.dumps({"benchmark": "backtest_bars_split", "bars": len(data), **split(data, 2)}))
        return
    n = len(data)
    core = kernel_impl()
    print(f"{n:,} one-minute bars, SMA {FAST}/{SLOW} crossover, {args.pairs} interleaved pairs; {core} kernel")
    runner = backtrader_runner(backtrader_rows(data))
    if args.profile:
        print(run_tapeflow(data, profile=True)[3])
    tf_cpu: list[float] = []
    tf_wall: list[float] = []
    peer: dict[str, tuple[list[float], list[float]]] = {"fast": ([], []), "default": ([], [])}
    ratios: dict[str, list[float]] = {"fast": [], "default": []}
    ours: list[Trade] = []
    theirs: list[Trade] = []
    for _ in range(args.pairs):
        cpu, wall, ours, _ = run_tapeflow(data)
        tf_cpu.append(n / cpu)
        tf_wall.append(n / wall)
        if isinstance(runner, str):
            continue
        for key, stdstats in (("fast", False), ("default", True)):
            bcpu, bwall, got = runner(stdstats)
            theirs = got if key == "fast" else theirs
            peer[key][0].append(n / bcpu)
            peer[key][1].append(n / bwall)
            ratios[key].append(bcpu / cpu)
    result: dict[str, Any] = {"benchmark": "backtest_bars", "bars": n, "pairs": args.pairs, "core": core}
    print(fmt("tapeflow (default risk rules) CPU", tf_cpu))
    print(fmt("tapeflow wall", tf_wall))
    result.update(tapeflow_cpu_bars_per_s=round(spread(tf_cpu)[0]), tapeflow_wall_bars_per_s=round(spread(tf_wall)[0]))
    if isinstance(runner, str):
        print(runner)
        result["backtrader"] = runner
        print(json.dumps(result))
        return
    for key, label in (("fast", "stdstats=False"), ("default", "default Cerebro()")):
        print(fmt(f"backtrader {label} CPU", peer[key][0]))
        print(fmt(f"backtrader {label} wall", peer[key][1]))
        result[f"backtrader_{key}_cpu_bars_per_s"] = round(spread(peer[key][0])[0])
        result[f"backtrader_{key}_wall_bars_per_s"] = round(spread(peer[key][1])[0])
    counts, why = compare(ours, theirs, data)
    print(f"trades: {counts['matching_trades']:,} match; tapeflow {counts['tapeflow_trades']:,}, backtrader "
          f"{counts['backtrader_trades']:,} ({counts['differing_tapeflow']:,} / {counts['differing_backtrader']:,} "
          "differ)")  # fmt: skip
    print("\n".join(why))
    result.update(counts)
    med_d, lo_d, hi_d = spread(ratios["default"])
    print(f"CPU-time ratio tapeflow / backtrader default: median {med_d:.1f}x (min {lo_d:.1f}, max {hi_d:.1f})")
    med, lo, hi = spread(ratios["fast"])
    result.update(ratio_vs_default=round(med_d, 2), ratio=round(med, 2), ratio_min=round(lo, 2), ratio_max=round(hi, 2))
    print(f"CPU-time ratio tapeflow / backtrader stdstats=False: median {med:.1f}x (min {lo:.1f}, max {hi:.1f}); "
          f"goal >= 100x: {'met' if med >= 100 else 'NOT met'}")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
