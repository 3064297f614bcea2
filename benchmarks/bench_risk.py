"""Risk engine: per-order cost of the full pre-trade pipeline (every rule on), in microseconds.

The engine runs on the tick-to-trade path, so what matters is the time from a ``SubmitOrder`` reaching
``RiskEngine.on_command`` to the call into execution. Measured on 100k pre-built orders (building them is not
measured), the clock set per order, the execution engine replaced by a no-op so only risk is timed:

1. ``pass``: every order passes every rule (the most expensive path: nothing stops early). The order's slot in
   the open-order ledger is released right after, as a fill report would, and that cost is included;
2. ``reject-first``: every order fails the cheapest rule (minimum size), to show the floor plus the rejection
   event;
3. ``modify``: modifies of one working order, checked as the order they would become.

Baseline: a bare loop calling a no-op with each order, subtracted in the "net" column.

Usage: python benchmarks/bench_risk.py [--orders 100000] [--repeat 5] [--cpu]

``--cpu`` times with ``time.thread_time`` (CPU time of this thread) instead of the wall clock: on a machine shared
with other jobs the wall clock swings 2-3x between runs, the CPU time a few percent.
Target on a 2-core machine: < 5 us per order for ``pass`` (docs/PERFORMANCE.md, "Risk engine").
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from tapeflow.book.keeper import BookKeeper
from tapeflow.engine.kernel import Kernel
from tapeflow.model import BookLevel, BookSnapshot, ModifyOrder, OrderFilled, OrderType, Side, SubmitOrder
from tapeflow.model.enums import LiquiditySide
from tapeflow.portfolio import Portfolio, PortfolioConfig
from tapeflow.risk import RiskConfig, RiskContext, RiskEngine, build_kill_switch, build_rules, build_trips
from tapeflow.risk.config import AccountChecks, FlowChecks, KillSwitchConfig, OrderChecks, SymbolLimits

T0 = 1_718_978_400_000_000_000  # 2024-06-21 10:00 New York
SYMBOLS = ("AAPL", "MSFT", "TSLA", "SPY")
BID, ASK = 1_000_000, 1_000_100


class NullExecution:
    """Accepts everything, remembers nothing: the benchmark times risk, not order bookkeeping."""

    def __init__(self) -> None:
        self.count = 0

    def execute(self, command: Any) -> None:
        self.count += 1

    def order(self, client_order_id: str) -> Any:
        return self.working

    def open_orders(self, symbol: str | None = None, strategy_id: str | None = None) -> Any:
        return iter(())

    working: Any = None


def config() -> RiskConfig:
    """Every rule on, limits wide enough for the orders to pass (the path that runs them all)."""
    return RiskConfig(
        order=OrderChecks(
            max_quantity=10_000,
            max_notional_usd=10_000_000,
            round_lots_only=True,
            restricted=("GME",),
            hard_to_borrow=("AMC",),
            locates=dict.fromkeys(SYMBOLS, 1_000_000),
        ),
        account=AccountChecks(
            max_position=10_000_000,
            max_gross_usd=10**12,
            max_net_usd=10**12,
            max_symbol_gross_usd=10**12,
            max_symbol_net_usd=10**12,
            min_net_liquidation_usd=1,
            max_daily_loss_usd=1_000_000,
        ),
        flow=FlowChecks(
            strategy_orders_per_second=10**6,
            strategy_burst=10**6,
            symbol_orders_per_second=10**6,
            symbol_burst=10**6,
            messages_per_second=10**6,
            message_burst=10**6,
            duplicate_window_ms=1,
        ),
        kill_switch=KillSwitchConfig(runaway_orders=10**9, max_rejects=10**9, max_daily_loss_usd=10**9),
        symbols={"AAPL": SymbolLimits(max_quantity=5_000)},
    )


def build() -> tuple[Kernel, RiskEngine, NullExecution]:
    kernel = Kernel()
    books = BookKeeper("L2")
    portfolio = Portfolio(PortfolioConfig(starting_cash=10**9 * 10_000, sample_interval_ns=None))
    execution = NullExecution()
    ctx = RiskContext(books=books, portfolio=portfolio, orders=execution)  # type: ignore[arg-type]
    cfg = config()
    engine = RiskEngine(
        execution,  # type: ignore[arg-type]
        build_rules(cfg, ctx),
        context=ctx,
        kill_switch=build_kill_switch(cfg),
        trips=build_trips(cfg),
    )
    kernel.add(books)
    kernel.add(portfolio)
    kernel.add(engine)
    kernel.start(at=T0)
    snaps = [
        BookSnapshot(ts_event=T0, ts_init=T0, symbol=s, bids=(BookLevel(BID, 500),), asks=(BookLevel(ASK, 500),))
        for s in SYMBOLS
    ]
    fills = [
        OrderFilled(
            ts_event=T0,
            ts_init=T0,
            strategy_id="s",
            client_order_id=f"f{s}",
            symbol=s,
            side=Side.BUY,
            price=BID,
            quantity=300,
            leaves_quantity=0,
            liquidity_side=LiquiditySide.MAKER,
        )
        for s in SYMBOLS
    ]
    kernel.run([*snaps, *fills])
    return kernel, engine, execution


def make_orders(n: int, quantity: int = 100) -> list[SubmitOrder]:
    return [
        SubmitOrder(
            ts_event=T0 + i * 10_000,
            ts_init=T0 + i * 10_000,
            strategy_id="s",
            client_order_id=f"o{i}",
            symbol=SYMBOLS[i % 4],
            side=Side.BUY if i % 2 else Side.SELL,
            order_type=OrderType.LIMIT,
            quantity=quantity * (1 + i % 50),
            price=BID - (i % 7) * 100 if i % 2 else ASK + (i % 7) * 100,
        )
        for i in range(n)
    ]


def run_pass(orders: list[SubmitOrder]) -> int:
    kernel, engine, execution = build()
    clock = kernel._time
    remove = engine.context.ledger.remove
    on_command = engine.on_command
    for order in orders:
        clock._now = order.ts_init
        on_command(order)
        remove(order.client_order_id)
    assert execution.count == len(orders), (execution.count, engine.rejections_by_rule)
    return len(orders)


def run_reject(orders: list[SubmitOrder]) -> int:
    kernel, engine, _ = build()
    engine.rules[0].set_limit("limit", 10**9)  # type: ignore[attr-defined]  # minimum size: every order refused first
    engine.recompile()
    clock = kernel._time
    on_command = engine.on_command
    for order in orders:
        clock._now = order.ts_init
        on_command(order)
    assert engine.rejected == len(orders)
    kernel._heap.clear()
    return len(orders)


def run_modify(orders: list[SubmitOrder]) -> int:
    from tapeflow.execution.orders import Order

    kernel, engine, execution = build()
    execution.working = Order(orders[0], "SIM")
    mods = [
        ModifyOrder(
            ts_event=o.ts_init,
            ts_init=o.ts_init,
            strategy_id="s",
            client_order_id=orders[0].client_order_id,
            symbol=orders[0].symbol,
            quantity=100 + (i % 5) * 100,
            price=o.price,
        )
        for i, o in enumerate(orders)
    ]
    clock = kernel._time
    on_command = engine.on_command
    start = time.perf_counter()
    for mod in mods:
        clock._now = mod.ts_init
        on_command(mod)
    return len(mods) if start else 0


def run_bare(orders: list[SubmitOrder]) -> int:
    def noop(order: SubmitOrder) -> None:
        return None

    for order in orders:
        noop(order)
    return len(orders)


def timed(
    fn: Callable[[list[SubmitOrder]], int],
    orders: list[SubmitOrder],
    repeat: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    times = []
    for _ in range(repeat):
        start = clock()
        fn(orders)
        times.append(clock() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cpu", action="store_true", help="time CPU time of this thread, not the wall clock")
    args = parser.parse_args()
    clock = time.thread_time if args.cpu else time.perf_counter
    orders = make_orders(args.orders)
    n = len(orders)
    _, engine, _ = build()
    rules = [r.name for r in engine.rules]
    print(f"risk pipeline: {len(rules)} rules + {len(engine.trips)} trip rules + kill switch: {', '.join(rules)}")
    base = statistics.median(timed(run_bare, orders, args.repeat, clock)) / n * 1e6
    results: dict[str, Any] = {"orders": n, "rules": len(rules), "baseline_us": round(base, 3), "cpu": args.cpu}
    print(f"{'workload':<14}{'median us/order':>17}{'best':>9}{'net of loop':>13}")
    for name, fn in (("pass", run_pass), ("reject-first", run_reject), ("modify", run_modify)):
        times = timed(fn, orders, args.repeat, clock)
        med, best = statistics.median(times) / n * 1e6, min(times) / n * 1e6
        results[f"{name}_us"] = round(med, 3)
        results[f"{name}_best_us"] = round(best, 3)
        print(f"{name:<14}{med:>17.2f}{best:>9.2f}{med - base:>13.2f}")
    results["python"] = platform.python_version()
    results["machine"] = platform.machine()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
