"""L2 book benchmark: 1M synthetic price-level updates, apply each, then read the best bid and ask.

Books, all fed the same stream (``gen_l2``) in one run:

- tapeflow ``L2Book.update(side, price, size)``: the feed-handler write path, raw ints in, then ``bids.best``
  and ``asks.best``;
- tapeflow ``L2Book.apply(BookDelta)`` with the events built in the timed loop (what a feed handler that emits
  events pays) and built before timing (what a book behind the kernel pays);
- NautilusTrader ``OrderBook`` (L2_MBP) with ``OrderBookDelta.from_raw`` in the timed loop and with deltas
  built before timing, ``best_bid_price()``/``best_ask_price()`` after each (set up as in
  /work/shared/PEERS.md);
- a naive book of two ``SortedDict``s with ``peekitem`` for the best.

Prints the rates, medians of ``--repeat`` runs, and the ratios; the last line is one JSON object. Run:
``.venv/bin/python benchmarks/bench_book.py [--n 1000000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_l2 import ADD, DELETE, TICK, L2Stream, generate
from tapeflow.book import L2Book
from tapeflow.model import BookAction, BookDelta, Side


def bench_tapeflow_update(s: L2Stream) -> float:
    book = L2Book("BENCH")
    sides = [Side.BUY if b else Side.SELL for b in s.is_bid]
    prices = [t * TICK for t in s.ticks]
    rows = list(zip(sides, prices, s.size, strict=True))
    update = book.update
    bids = book.bids
    asks = book.asks
    t0 = time.perf_counter()
    for side, price, size in rows:
        update(side, price, size)
        bids.best  # noqa: B018 - the read is what is measured
        asks.best  # noqa: B018
    return time.perf_counter() - t0


_ACTIONS = {ADD: BookAction.ADD, DELETE: BookAction.DELETE}


def _delta_rows(s: L2Stream) -> list[tuple[Any, ...]]:
    sides = [Side.BUY if b else Side.SELL for b in s.is_bid]
    actions = [_ACTIONS.get(a, BookAction.UPDATE) for a in s.action]
    prices = [t * TICK for t in s.ticks]
    return list(zip(actions, sides, prices, s.size, s.ts, range(1, len(s.ts) + 1), strict=True))


def bench_tapeflow_apply_built_in_loop(s: L2Stream) -> float:
    book = L2Book("BENCH")
    rows = _delta_rows(s)
    apply = book.apply
    bids = book.bids
    asks = book.asks
    t0 = time.perf_counter()
    for action, side, price, size, ts, seq in rows:
        apply(
            BookDelta(
                ts_event=ts,
                ts_init=ts,
                symbol="BENCH",
                action=action,
                side=side,
                price=price,
                size=size,
                sequence=seq,
            )
        )
        bids.best  # noqa: B018
        asks.best  # noqa: B018
    return time.perf_counter() - t0


def bench_tapeflow_apply_prebuilt(s: L2Stream) -> float:
    book = L2Book("BENCH")
    deltas = [
        BookDelta(ts_event=ts, ts_init=ts, symbol="BENCH", action=a, side=sd, price=p, size=sz, sequence=seq)
        for a, sd, p, sz, ts, seq in _delta_rows(s)
    ]
    apply = book.apply
    bids = book.bids
    asks = book.asks
    t0 = time.perf_counter()
    for delta in deltas:
        apply(delta)
        bids.best  # noqa: B018
        asks.best  # noqa: B018
    return time.perf_counter() - t0


def bench_call_floor(s: L2Stream) -> float:
    """The same loop calling a method that does nothing: what any Python book pays before doing any work."""

    class Nothing:
        __slots__ = ("best",)

        def __init__(self) -> None:
            self.best = 0

        def update(self, side: Side, price: int, size: int) -> None:
            return None

    book = Nothing()
    rows = list(zip([Side.BUY if b else Side.SELL for b in s.is_bid], s.ticks, s.size, strict=True))
    update = book.update
    t0 = time.perf_counter()
    for side, price, size in rows:
        update(side, price, size)
        book.best  # noqa: B018
        book.best  # noqa: B018
    return time.perf_counter() - t0


def bench_naive(s: L2Stream) -> float:
    from sortedcontainers import SortedDict  # the bench extra: a peer, not a dependency of tapeflow

    bids: SortedDict = SortedDict()
    asks: SortedDict = SortedDict()
    rows = list(zip(s.is_bid, [t * TICK for t in s.ticks], s.size, strict=True))
    t0 = time.perf_counter()
    for is_bid, price, size in rows:
        book = bids if is_bid else asks
        if size:
            book[price] = size
        else:
            book.pop(price, None)
        bids.peekitem(-1) if bids else None
        asks.peekitem(0) if asks else None
    return time.perf_counter() - t0


def _nautilus() -> dict[str, Callable[[L2Stream], float]] | str:
    try:
        from nautilus_trader.model import objects
        from nautilus_trader.model.book import OrderBook
        from nautilus_trader.model.data import OrderBookDelta
        from nautilus_trader.model.enums import BookAction as NBookAction
        from nautilus_trader.model.enums import BookType, OrderSide
        from nautilus_trader.model.identifiers import InstrumentId
    except ImportError as exc:
        return f"NautilusTrader not installed ({exc}); install the bench extra: pip install -e '.[bench]'"

    scalar = int(objects.FIXED_SCALAR)
    tick_raw = scalar // 100  # $0.01 at the build's fixed-point scale (1e14 with 16 decimals)
    iid = InstrumentId.from_str("BENCH.XNAS")
    n_actions = {ADD: NBookAction.ADD, DELETE: NBookAction.DELETE}

    def rows(s: L2Stream) -> list[tuple[Any, ...]]:
        return [
            (
                n_actions.get(a, NBookAction.UPDATE),
                OrderSide.BUY if b else OrderSide.SELL,
                t * tick_raw,
                z * scalar,
                ts,
                i,
            )
            for i, (a, b, t, z, ts) in enumerate(zip(s.action, s.is_bid, s.ticks, s.size, s.ts, strict=True), 1)
        ]

    def from_raw_in_loop(s: L2Stream) -> float:
        book = OrderBook(iid, BookType.L2_MBP)
        data = rows(s)
        from_raw = OrderBookDelta.from_raw
        apply = book.apply_delta
        t0 = time.perf_counter()
        for action, side, price_raw, size_raw, ts, seq in data:
            apply(from_raw(iid, action, side, price_raw, 2, size_raw, 0, 0, 0, seq, ts, ts))
            book.best_bid_price()
            book.best_ask_price()
        return time.perf_counter() - t0

    def prebuilt(s: L2Stream) -> float:
        book = OrderBook(iid, BookType.L2_MBP)
        from_raw = OrderBookDelta.from_raw
        deltas = [from_raw(iid, a, sd, p, 2, z, 0, 0, 0, q, ts, ts) for a, sd, p, z, ts, q in rows(s)]
        apply = book.apply_delta
        t0 = time.perf_counter()
        for delta in deltas:
            apply(delta)
            book.best_bid_price()
            book.best_ask_price()
        return time.perf_counter() - t0

    return {"nautilus_from_raw": from_raw_in_loop, "nautilus_prebuilt": prebuilt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    stream = generate(args.n)
    benches: dict[str, Callable[[L2Stream], float]] = {
        "tapeflow_update": bench_tapeflow_update,
        "tapeflow_apply_built_in_loop": bench_tapeflow_apply_built_in_loop,
        "tapeflow_apply_prebuilt": bench_tapeflow_apply_prebuilt,
        "python_call_floor": bench_call_floor,
    }
    if importlib.util.find_spec("sortedcontainers") is None:
        print("skip: naive SortedDict book (pip install -e '.[bench]')")
    else:
        benches["naive_sorteddict"] = bench_naive
    peers = _nautilus()
    if isinstance(peers, str):
        print(f"skip: {peers}")
    else:
        benches.update(peers)

    # Round-robin, so that a burst of load on a shared machine hits every book alike; median per book.
    times: dict[str, list[float]] = {name: [] for name in benches}
    for _ in range(args.repeat):
        for name, fn in benches.items():
            times[name].append(fn(stream))
    rates = {name: args.n / statistics.median(t) for name, t in times.items()}
    for name, rate in rates.items():
        print(f"{name:32s} {rate:>14,.0f} updates/s")

    ratios: dict[str, float] = {}
    if "nautilus_from_raw" in rates:
        ratios["update_vs_nautilus_from_raw"] = rates["tapeflow_update"] / rates["nautilus_from_raw"]
        ratios["apply_built_in_loop_vs_nautilus_from_raw"] = (
            rates["tapeflow_apply_built_in_loop"] / rates["nautilus_from_raw"]
        )
        ratios["apply_prebuilt_vs_nautilus_prebuilt"] = rates["tapeflow_apply_prebuilt"] / rates["nautilus_prebuilt"]
    if "naive_sorteddict" in rates:
        ratios["update_vs_naive"] = rates["tapeflow_update"] / rates["naive_sorteddict"]
    for name, value in ratios.items():
        print(f"{name:48s} {value:5.2f}x")
    print(json.dumps({"bench": "book_l2", "n": args.n, "repeat": args.repeat, "rates": rates, "ratios": ratios}))


if __name__ == "__main__":
    main()
