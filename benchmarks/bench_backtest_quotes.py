"""Per-quote EMA crossover on 1M quotes: tapeflow's backtest against NautilusTrader's BacktestEngine, same quotes.

The quotes are the top of book of the synthetic L2 stream of the book benchmark (gen_l2.py, as in
../shared/PEERS.md). Strategy on both sides: EMA 100 and EMA 300 of the mid, updated on every quote; on each sign
change, close the position and send a 100-share market order the other way. tapeflow runs the whole assembly (L1
book from the quotes, simulated exchange, risk, execution, portfolio, results), no latency and no fees; Nautilus
runs venue XNAS, NETTING, MARGIN, $10M, L1 book, TestInstrumentProvider.equity("AAPL", "XNAS"), logging at ERROR,
quotes built before timing. The ratio is taken in this run.

Usage: python benchmarks/bench_backtest_quotes.py [--quotes 1000000] [--peer-quotes N] [--profile]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from gen_l2 import ADD, DELETE, generate
from profiling import timed_call
from tapeflow.backtest.engine import Backtest
from tapeflow.model import Quote
from tapeflow.portfolio import PortfolioConfig
from tapeflow.strategy.examples.ema_quote import EmaQuoteCross

TICK = 100


def top_of_book(n: int) -> list[tuple[int, int, int, int, int]]:
    """(ts, bid, bid size, ask, ask size) after each update of the L2 stream, in price units."""
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
    return out


def run_tapeflow(tops: list[tuple[int, int, int, int, int]], profile: bool) -> tuple[float, int, int, str]:
    quotes = [
        Quote(ts_event=t, ts_init=t, symbol="AAPL", bid_price=b, bid_size=bs, ask_price=a, ask_size=az, venue="XNAS")
        for t, b, bs, a, az in tops
    ]
    strategy = EmaQuoteCross(fast=100, slow=300, quantity=100)
    bt = Backtest(
        [strategy],
        level="L1",
        portfolio=PortfolioConfig(starting_cash=10_000_000 * 10_000, sample_interval_ns=None),
    )
    elapsed, text = timed_call(lambda: bt.run([quotes]), profile=profile, top=14)
    return elapsed, len(bt.results.orders), strategy.crossings, text


def run_nautilus(tops: list[tuple[int, int, int, int, int]]) -> tuple[float, int] | str:
    try:
        from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
        from nautilus_trader.config import LoggingConfig, StrategyConfig
        from nautilus_trader.indicators import ExponentialMovingAverage
        from nautilus_trader.model import objects
        from nautilus_trader.model.currencies import USD
        from nautilus_trader.model.data import QuoteTick
        from nautilus_trader.model.enums import AccountType, BookType, OmsType, OrderSide, PriceType
        from nautilus_trader.model.identifiers import InstrumentId, TraderId, Venue
        from nautilus_trader.model.objects import Money
        from nautilus_trader.test_kit.providers import TestInstrumentProvider
        from nautilus_trader.trading.strategy import Strategy
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

    orders = [0]

    class EmaCross(Strategy):  # type: ignore[misc]
        def __init__(self, config: EmaCrossConfig) -> None:
            super().__init__(config)
            self.fast = ExponentialMovingAverage(100, price_type=PriceType.MID)
            self.slow = ExponentialMovingAverage(300, price_type=PriceType.MID)
            self.sign = 0

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
            self.close_all_positions(self.config.instrument_id)
            side = OrderSide.BUY if sign > 0 else OrderSide.SELL
            self.submit_order(self.order_factory.market(self.config.instrument_id, side, instrument.make_qty(100)))
            orders[0] += 1

    engine = BacktestEngine(
        BacktestEngineConfig(trader_id=TraderId("BENCH-001"), logging=LoggingConfig(log_level="ERROR"))
    )
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
    engine.add_strategy(EmaCross(EmaCrossConfig(instrument_id=instrument.id)))
    start = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, orders[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=1_000_000)
    parser.add_argument("--peer-quotes", type=int, default=None, help="quotes for Nautilus (default: --quotes)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    tops = top_of_book(int(args.quotes * 1.02) + 10)[: args.quotes]
    elapsed, orders, crossings, prof = run_tapeflow(tops, args.profile)
    ours = len(tops) / elapsed
    print(f"tapeflow: {len(tops):,} quotes in {elapsed:.2f} s = {ours:,.0f} quotes/s", end=" ")
    print(f"({crossings:,} crossings, {orders:,} orders)")
    if prof:
        print(prof)
    result: dict[str, Any] = {"benchmark": "backtest_quotes", "quotes": len(tops), "tapeflow_quotes_per_s": round(ours)}
    result["tapeflow_orders"] = orders
    peer_tops = tops[: args.peer_quotes] if args.peer_quotes else tops
    peer = run_nautilus(peer_tops)
    if isinstance(peer, str):
        print(peer)
        result["nautilus"] = peer
    else:
        peer_elapsed, peer_crossings = peer
        theirs = len(peer_tops) / peer_elapsed
        ratio = ours / theirs
        print(f"NautilusTrader: {len(peer_tops):,} quotes in {peer_elapsed:.2f} s = {theirs:,.0f} quotes/s", end=" ")
        print(f"({peer_crossings:,} crossings)")
        print(f"tapeflow / Nautilus: {ratio:.2f}x (goal >= 10x: {'met' if ratio >= 10 else 'NOT met'})")
        result.update(nautilus_quotes_per_s=round(theirs), nautilus_crossings=peer_crossings, ratio=round(ratio, 2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
