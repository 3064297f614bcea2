"""Per-quote EMA crossover on the same quotes: tapeflow's backtest against NautilusTrader's BacktestEngine, paired.

The quotes are the top of book of the synthetic L2 stream of the book benchmark (gen_l2.py, as in
../shared/PEERS.md), moved to 09:30 New York on the stream's day so that tapeflow's default session rule lets the
orders through. Strategy on both sides, written the same way: EMA 100 and EMA 300 of the mid, updated on every
quote; on each sign change one market order that flattens the position and opens 100 shares the other way (100 for
the first crossing, 200 after). One order per crossing, not a close and then an open: tapeflow's default
duplicate-order rule refuses a second identical order in the same instant, which Nautilus has no rule for, so the
two-order form would make the sides do different work.

Same work: both sides get their quote objects built before the clock starts and run the whole engine inside it.
tapeflow runs the whole assembly (L1 book from the quotes, simulated exchange, its *default* pre-trade risk rules,
``RiskConfig()``, execution, portfolio, results); Nautilus runs venue XNAS, NETTING, MARGIN, $10M, L1 book,
``TestInstrumentProvider.equity("AAPL", "XNAS")`` in two set-ups:

- ``nautilus-risk``: its pre-trade risk engine on (the engine's default), logging at ERROR (the PEERS.md set-up),
  analysis at the end of the run on (the default). The goal (>= 10x) is against this one: risk on both sides.
- ``nautilus-fast``: its fastest documented set-up: ``bypass_logging=True``, risk engine bypassed,
  ``run_analysis=False``. tapeflow keeps its risk rules on against it, so that ratio is printed but does not
  decide the goal.

Where the sides differ: a market order larger than the quote's size (the strategy reverses 200 shares against a
top of book that may show 100) is filled for the size shown by tapeflow, the rest cancelled (an L1 book knows
nothing behind the top), while Nautilus fills the rest in a second fill; the benchmark counts those orders on both
sides, and the shares filled differ by them. The crossings and the number of orders are the same.

Runs are interleaved in one process (tapeflow, nautilus-risk, nautilus-fast, then again) ``--pairs`` times;
CPU-time rates (``time.process_time``, all threads of the process) and wall rates are printed per side with their
median and spread (min-max); the ratios are medians of the per-pair ratios, CPU first, and come last. Orders and
fills are counted on both sides and compared.

Usage: python benchmarks/bench_backtest_quotes.py [--quotes 200000] [--pairs 5] [--profile] [--alone RUNS] [--split]
``--alone RUNS``: tapeflow alone, CPU ns per quote (best of RUNS), for comparing two trees (``PYTHONPATH=OLD/src``).
``--split``: tapeflow alone, where a quote's CPU time goes (best of 3 each): the whole run, the same run with a
strategy that computes its EMAs but never orders, the keeper's quote handler alone and the strategy's ``on_quote``
alone over the same quotes, each less a bare loop; the rest is the kernel's step and fan-out, the feed's merge
and order check, and the risk engine's staleness append. Runs on an old tree too (``PYTHONPATH=OLD/src``).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tapeflow
from gen_l2 import ADD, DELETE, generate
from profiling import timed_call
from tapeflow.backtest.engine import Backtest
from tapeflow.book.keeper import BookKeeper
from tapeflow.engine import Kernel
from tapeflow.model import OrderFilled, Quote, Side
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.config import OrderChecks, RiskConfig
from tapeflow.strategy.base import Strategy

TICK = 100
OPEN_NS = 1_340_285_401_000_000_000
"""2012-06-21 09:30:01 New York: the first quote's time (the regular session; the stream lasts ~6.4 h a 1M)."""
FAST, SLOW, QUANTITY = 100, 300, 100

RISK = RiskConfig(order=OrderChecks(locates={"AAPL": 1_000}))
"""tapeflow's default pre-trade rules (as Nautilus runs its risk engine), with a locate for the shares the strategy
sells short: by default every short sale needs one (Reg SHO), and the strategy is short half of the time."""

Top = tuple[int, int, int, int, int]


def top_of_book(n: int) -> list[Top]:
    """(ts, bid, bid size, ask, ask size) after each update of the L2 stream, in price units, from 09:30:01."""
    s = generate(n)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    out = []
    for is_bid, action, ticks, size, ts in zip(s.is_bid, s.action, s.ticks, s.size, s.ts, strict=True):
        book = bids if is_bid else asks
        if action == DELETE:
            book.pop(ticks, None)
        elif action == ADD or ticks in book:
            book[ticks] = size
        if bids and asks:
            b, a = max(bids), min(asks)
            out.append((ts, b * TICK, bids[b], a * TICK, asks[a]))
    shift = OPEN_NS - out[0][0] if out else 0
    return [(t + shift, b, bs, a, az) for t, b, bs, a, az in out]


class EmaReverse(Strategy):
    """The benchmark's strategy, line for line the Nautilus one below: EMAs of the mid, one reversing order."""

    def __init__(self) -> None:
        super().__init__("ema-reverse")
        self.fast = self.slow = 0.0
        self.count = 0
        self.sign = 0
        self.held = 0
        self.crossings = 0
        self._af, self._as = 2.0 / (FAST + 1), 2.0 / (SLOW + 1)

    def on_quote(self, q: Quote) -> None:
        mid = (q.bid_price + q.ask_price) * 0.5
        self.count += 1
        if self.count == 1:
            self.fast = self.slow = mid
            return
        self.fast = f = self.fast + self._af * (mid - self.fast)
        self.slow = s = self.slow + self._as * (mid - self.slow)
        if self.count < SLOW:
            return
        sign = 1 if f > s else -1 if f < s else 0
        if sign == 0 or sign == self.sign:
            return
        self.sign = sign
        self.crossings += 1
        self.submit(q.symbol, Side.BUY if sign > 0 else Side.SELL, abs(self.held) + QUANTITY)

    def on_fill(self, fill: OrderFilled) -> None:
        self.held += fill.side.sign * fill.quantity


class Outcome:
    """One timed run: CPU and wall seconds, and what the strategy did."""

    def __init__(
        self, cpu: float, wall: float, crossings: int, orders: int, fills: int, shares: int, rejected: int, beyond: int
    ) -> None:
        self.cpu, self.wall = cpu, wall
        self.crossings, self.orders, self.fills, self.shares, self.rejected = crossings, orders, fills, shares, rejected
        self.beyond = beyond
        """Market orders larger than the quote's size: tapeflow fills the size shown and cancels the rest (an L1
        book knows nothing behind the top); Nautilus fills the rest too, in a second fill."""

    def work(self) -> tuple[int, int, int]:
        """What both sides must agree on: crossings, orders, shares filled (fill events may split differently)."""
        return self.crossings, self.orders, self.shares


def run_tapeflow(tops: list[Top], profile: bool = False) -> tuple[Outcome, str]:
    quotes = [
        Quote(ts_event=t, ts_init=t, symbol="AAPL", bid_price=b, bid_size=bs, ask_price=a, ask_size=az, venue="XNAS")
        for t, b, bs, a, az in tops
    ]
    strategy = EmaReverse()
    bt = Backtest(
        [strategy],
        level="L1",
        risk=RISK,
        portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000, sample_interval_ns=None),
    )
    if profile:
        wall, text = timed_call(lambda: bt.run([quotes]), profile=True, top=20)
        cpu = wall
    else:  # as for Nautilus below: a full collection first, then both clocks around the run alone
        gc.collect()
        cpu, start, text = time.process_time(), time.perf_counter(), ""
        bt.run([quotes])
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    fills = bt.results.fills
    shares = sum(f.quantity for f in fills)
    beyond = sum(1 for r in bt.results.orders.values() if 0 < r.filled_quantity < r.quantity)
    out = Outcome(cpu, wall, strategy.crossings, len(bt.results.orders), len(fills), shares, bt.risk.rejected, beyond)
    return out, text


class EmaWatch(EmaReverse):
    """``EmaReverse`` that never orders (``--split``): its quote handler's work without the order path's."""

    def submit(self, *args: Any, **kwargs: Any) -> str:
        return ""


def split(tops: list[Top]) -> dict[str, Any]:
    """CPU ns a quote of the whole run and of its parts (see the module docstring), best of 3 each."""
    n = len(tops)
    quotes = [
        Quote(ts_event=t, ts_init=t, symbol="AAPL", bid_price=b, bid_size=bs, ask_price=a, ask_size=az, venue="XNAS")
        for t, b, bs, a, az in tops
    ]

    def run(strategy: Strategy) -> tuple[float, Backtest]:
        bt = Backtest(
            [strategy],
            level="L1",
            risk=RISK,
            portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000, sample_interval_ns=None),
        )
        gc.collect()
        cpu = time.process_time()
        bt.run([quotes])
        return (time.process_time() - cpu) / n * 1e9, bt

    def loop(handler: Callable[[Quote], object]) -> float:
        gc.collect()
        cpu = time.process_time()
        for q in quotes:
            handler(q)
        return (time.process_time() - cpu) / n * 1e9

    whole = min(run(EmaReverse())[0] for _ in range(3))
    quiet_runs = [run(EmaWatch()) for _ in range(3)]
    quiet = min(ns for ns, _ in quiet_runs)
    bt = quiet_runs[-1][1]
    bare = min(loop(lambda q: None) for _ in range(3))
    keeper_ns, strategy_ns = [], []
    impl = str(getattr(bt.books, "impl", "python"))  # a tree before the compiled handler has only the Python one
    for _ in range(3):
        books = BookKeeper("L1", impl=impl) if hasattr(bt.books, "impl") else BookKeeper("L1")  # type: ignore[arg-type]
        books.attach(_NoBus())
        keeper_ns.append(loop(getattr(books, "quote_handler", None) or books.on_quote) - bare)
        strategy_ns.append(loop(EmaWatch().on_quote) - bare)
    keeper, strategy = min(keeper_ns), min(strategy_ns)
    return {
        "whole": whole,
        "order_path": whole - quiet,
        "keeper": keeper,
        "strategy": strategy,
        "kernel_and_rest": quiet - keeper - strategy,
        "keeper_impl": impl,
        "subscribers": [repr(h) for h in getattr(bt.kernel._table[Quote], "handlers", [bt.kernel._table[Quote]])],
    }


class _NoBus:
    def subscribe(self, event_type: Any, handler: Callable[[Any], None]) -> None:
        return None

    def emit(self, event: Any) -> None:
        raise AssertionError("a quote keeper emits nothing")


def nautilus_runner(tops: list[Top]) -> Callable[[bool], Outcome] | str:
    """A function running Nautilus over ``tops`` (fast set-up when its argument is true), or why it cannot."""
    try:
        # lazy: the peer is an optional benchmark dependency
        from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
        from nautilus_trader.config import LoggingConfig, RiskEngineConfig, StrategyConfig
        from nautilus_trader.indicators import ExponentialMovingAverage
        from nautilus_trader.model import objects
        from nautilus_trader.model.currencies import USD
        from nautilus_trader.model.data import QuoteTick
        from nautilus_trader.model.enums import AccountType, BookType, OmsType, OrderSide, PriceType
        from nautilus_trader.model.identifiers import InstrumentId, TraderId, Venue
        from nautilus_trader.model.objects import Money
        from nautilus_trader.test_kit.providers import TestInstrumentProvider
        from nautilus_trader.trading.strategy import Strategy as NautilusStrategy
    except ImportError as exc:
        return f"NautilusTrader not installed ({exc}); pip install -e '.[bench]': skipped"

    instrument = TestInstrumentProvider.equity("AAPL", "XNAS")
    scalar = int(objects.FIXED_SCALAR)
    price_raw = scalar // 10_000  # one tapeflow price unit (1/10,000 dollar) at the build's fixed-point scale
    ticks = [
        QuoteTick.from_raw(instrument.id, b * price_raw, a * price_raw, 2, 2, bs * scalar, az * scalar, 0, 0, t, t)
        for t, b, bs, a, az in tops
    ]

    class EmaCrossConfig(StrategyConfig, frozen=True):  # type: ignore[misc,call-arg]
        instrument_id: InstrumentId

    class EmaReverseN(NautilusStrategy):  # type: ignore[misc]
        def __init__(self, config: EmaCrossConfig) -> None:
            super().__init__(config)
            self.fast = ExponentialMovingAverage(FAST, price_type=PriceType.MID)
            self.slow = ExponentialMovingAverage(SLOW, price_type=PriceType.MID)
            self.sign = 0
            self.held = 0
            self.crossings = 0
            self.fills = 0
            self.fills_of: dict[Any, int] = {}

        def on_start(self) -> None:
            self.register_indicator_for_quote_ticks(self.config.instrument_id, self.fast)
            self.register_indicator_for_quote_ticks(self.config.instrument_id, self.slow)
            self.subscribe_quote_ticks(self.config.instrument_id)

        def on_quote_tick(self, tick: Any) -> None:
            if not self.slow.initialized:
                return
            f, s = self.fast.value, self.slow.value
            sign = 1 if f > s else -1 if f < s else 0
            if sign == 0 or sign == self.sign:
                return
            self.sign = sign
            self.crossings += 1
            side = OrderSide.BUY if sign > 0 else OrderSide.SELL
            qty = instrument.make_qty(abs(self.held) + QUANTITY)
            self.submit_order(self.order_factory.market(self.config.instrument_id, side, qty))

        def on_order_filled(self, event: Any) -> None:
            self.fills += 1
            self.fills_of[event.client_order_id] = self.fills_of.get(event.client_order_id, 0) + 1
            q = int(event.last_qty)
            self.held += q if event.order_side == OrderSide.BUY else -q

    def run(fast: bool) -> Outcome:
        if fast:
            config = BacktestEngineConfig(
                trader_id=TraderId("BENCH-001"),
                logging=LoggingConfig(bypass_logging=True),
                risk_engine=RiskEngineConfig(bypass=True),
                run_analysis=False,
            )
        else:
            config = BacktestEngineConfig(trader_id=TraderId("BENCH-001"), logging=LoggingConfig(log_level="ERROR"))
        engine = BacktestEngine(config)
        engine.add_venue(
            venue=Venue("XNAS"),
            oms_type=OmsType.NETTING,
            account_type=AccountType.MARGIN,
            base_currency=USD,
            starting_balances=[Money(10_000_000, USD)],
            book_type=BookType.L1_MBP,
        )
        engine.add_instrument(instrument)
        engine.add_data(ticks)
        strategy = EmaReverseN(EmaCrossConfig(instrument_id=instrument.id))
        engine.add_strategy(strategy)
        gc.collect()
        cpu, start = time.process_time(), time.perf_counter()
        engine.run()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        orders = engine.cache.orders()
        denied = sum(1 for o in orders if o.status_string() == "DENIED")
        shares = sum(int(o.filled_qty) for o in orders)
        beyond = sum(1 for n in strategy.fills_of.values() if n > 1)
        out = Outcome(cpu, wall, strategy.crossings, len(orders), strategy.fills, shares, denied, beyond)
        engine.dispose()
        return out

    return run


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=200_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="one tapeflow run under cProfile, no peer")
    parser.add_argument("--alone", type=int, metavar="RUNS", help="tapeflow alone: CPU ns per quote, best of RUNS")
    parser.add_argument("--split", action="store_true", help="tapeflow alone: where a quote's CPU time goes")
    args = parser.parse_args()
    tops = top_of_book(int(args.quotes * 1.02) + 10)[: args.quotes]
    n = len(tops)
    if args.alone:  # run with PYTHONPATH=OLD/src and without, alternately, to compare two trees
        best = min(run_tapeflow(tops)[0].cpu for _ in range(args.alone))
        core = str(getattr(Kernel(), "impl", "python"))
        keeper = str(getattr(BookKeeper("L1"), "impl", "python"))  # a tree before the compiled handler: python
        where = Path(tapeflow.__file__).parents[1]
        print(
            f"tapeflow ({where}, {core} kernel, {keeper} quote handler): {best / n * 1e9:,.0f} CPU ns a quote, "
            f"best of {args.alone}"
        )
        print(
            json.dumps(
                {
                    "benchmark": "backtest_quotes_alone",
                    "quotes": n,
                    "kernel": core,
                    "quote_handler": keeper,
                    "ns_per_quote": round(best / n * 1e9),
                }
            )
        )
        return
    if args.split:
        parts = split(tops)
        print(f"tapeflow alone, {n:,} quotes, CPU ns a quote (best of 3 each); keeper: {parts['keeper_impl']} handler")
        print(f"  whole run                          {parts['whole']:6.0f}")
        print(f"  order path (768 orders, spread)    {parts['order_path']:6.0f}")
        print(f"  keeper's quote handler             {parts['keeper']:6.0f}")
        print(f"  strategy's on_quote (EMAs)         {parts['strategy']:6.0f}")
        print(f"  kernel, feed, fan-out, risk append {parts['kernel_and_rest']:6.0f}")
        print("  quote subscribers: " + ", ".join(parts["subscribers"]))
        print(json.dumps({"benchmark": "backtest_quotes_split", "quotes": n, **parts}))
        return
    if args.profile:
        out, text = run_tapeflow(tops, profile=True)
        print(f"tapeflow under cProfile: {n / out.wall:,.0f} quotes/s wall")
        print(text)
        return
    peer = nautilus_runner(tops)
    sides: dict[str, list[Outcome]] = {"tapeflow": [], "nautilus-risk": [], "nautilus-fast": []}
    for _ in range(args.pairs):  # interleaved, so the load of a shared machine falls on all sides alike
        sides["tapeflow"].append(run_tapeflow(tops)[0])
        if not isinstance(peer, str):
            sides["nautilus-risk"].append(peer(False))
            sides["nautilus-fast"].append(peer(True))
    core = str(getattr(Kernel(), "impl", "python"))  # a tree before the compiled kernel has only the Python loops
    keeper = str(getattr(BookKeeper("L1"), "impl", "python"))  # and one before the compiled quote handler, Python's
    result: dict[str, Any] = {
        "benchmark": "backtest_quotes",
        "quotes": n,
        "pairs": args.pairs,
        "kernel": core,
        "quote_handler": keeper,
    }
    print(
        f"{n:,} quotes, {args.pairs} interleaved rounds, on this machine as loaded now; tapeflow: {core} kernel, "
        f"{keeper} quote handler"
    )
    for name, runs in sides.items():
        if not runs:
            continue
        cpu = [n / r.cpu for r in runs]
        wall = [n / r.wall for r in runs]
        last = runs[-1]
        print(f"{name:14} CPU quotes/s {spread(cpu)}; wall quotes/s {spread(wall)}")
        print(
            f"{'':14} crossings {last.crossings:,}, orders {last.orders:,}, shares filled {last.shares:,} "
            f"in {last.fills:,} fills, refused by risk {last.rejected:,}; orders beyond the quote's size "
            f"{last.beyond:,}"
        )
        key = name.replace("-", "_")
        result[key] = {
            "cpu_quotes_per_s": round(statistics.median(cpu)),
            "wall_quotes_per_s": round(statistics.median(wall)),
            "crossings": last.crossings,
            "orders": last.orders,
            "fills": last.fills,
            "shares_filled": last.shares,
            "refused": last.rejected,
            "orders_beyond_top": last.beyond,
        }
    if isinstance(peer, str):
        print(peer)
        result["nautilus"] = peer
        print(json.dumps(result))
        return
    ours = sides["tapeflow"]
    for name in ("nautilus-fast", "nautilus-risk"):
        theirs = sides[name]
        a, b = ours[-1], theirs[-1]
        same = a.work() == b.work()
        print(
            f"tapeflow vs {name}: crossings {a.crossings:,} vs {b.crossings:,}, orders {a.orders:,} vs {b.orders:,}, "
            f"shares filled {a.shares:,} vs {b.shares:,}",
            end="",
        )
        if a.shares != b.shares:
            print(
                f" ({a.beyond:,} vs {b.beyond:,} market orders larger than the quote's size: tapeflow fills the size "
                "shown and cancels the rest, Nautilus fills the rest in a second fill; the positions, and so the "
                "sizes of later reversing orders, differ from there)",
                end="",
            )
        print()
        result[name.replace("-", "_")]["same_orders_and_fills"] = same
    for name in ("nautilus-fast", "nautilus-risk"):
        theirs = sides[name]
        cpu_ratio = statistics.median(t.cpu / o.cpu for o, t in zip(ours, theirs, strict=True))
        wall_ratio = statistics.median(t.wall / o.wall for o, t in zip(ours, theirs, strict=True))
        cpu_all = [t.cpu / o.cpu for o, t in zip(ours, theirs, strict=True)]
        goal = " (goal >= 10x, risk on both sides: " + ("met)" if cpu_ratio >= 10 else "NOT met)")
        note = goal if name == "nautilus-risk" else " (Nautilus without its risk engine; tapeflow keeps its rules)"
        print(
            f"tapeflow / {name}: CPU {cpu_ratio:.2f}x (pairs {min(cpu_all):.2f}-{max(cpu_all):.2f}), "
            f"wall {wall_ratio:.2f}x{note}"
        )
        result[f"ratio_cpu_{name.replace('-', '_')}"] = round(cpu_ratio, 2)
        result[f"ratio_wall_{name.replace('-', '_')}"] = round(wall_ratio, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
