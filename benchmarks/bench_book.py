"""L2 book benchmark: the same work on both sides, tapeflow against NautilusTrader, paired in one process.

The work, per update of the ``gen_l2`` stream (1M price-level updates by default), inside the timed loop:

- tapeflow: build the ``BookDelta`` the live and backtest paths apply (keyword constructor, sequence number,
  both clocks), ``L2Book.apply`` it with its checks on (sequence gaps and duplicates, timestamp, crossed book;
  the book has an ``emit`` as under ``BookKeeper``), read ``best_bid`` and ``best_ask`` (the ``BookView`` API);
- NautilusTrader, fastest documented way: ``OrderBookDelta.from_raw`` (11 fields from raw ints),
  ``OrderBook.apply_delta`` (L2_MBP), ``best_bid_price()`` and ``best_ask_price()`` (each allocates a
  ``Price``);
- NautilusTrader, default way: ``Price``/``Quantity``/``BookOrder``/``OrderBookDelta`` constructors, then the
  same apply and reads.

tapeflow's ``apply`` is the compiled one (``book/_l2_core.pyx``, its ladders' sizes in the core's ``LevelSizes``
table) when it is built and ``TAPEFLOW_PURE_PYTHON`` is not set; the output says which ran. The Python reference
``apply`` (``impl="python"``, the same work, dicts) is paired with Nautilus ``from_raw`` too, as context.

Pairs are interleaved (tapeflow, Nautilus from_raw, tapeflow, Nautilus constructors, tapeflow's Python reference,
Nautilus from_raw, per round); each pair's
ratio is Nautilus CPU time over tapeflow CPU time in that round, and the median and spread (min-max) of the
rounds' ratios is the result. Wall rates are printed beside CPU rates: on a loaded machine decide with CPU.
Context rows, run once a round and never a headline: tapeflow's raw ``update(side, price, size)`` (no event, no
sequence check: a different job), the loop with no book (build the delta, call a no-op ``apply``, read two
attributes: Nautilus's time over it bounds what any Python book can reach) and a naive book of two
``SortedDict``s.

Inputs are built before timing and frozen out of the garbage collector (``gc.freeze``), so that neither side
pays for traversing the other's input rows; each side still pays for the garbage its own loop makes.

Correctness, untimed, once: both books are fed the stream update by update, best bid and ask compared after
every update (mismatches counted), the top ``--levels`` levels of each side compared at the end, and every timed
book's final top levels compared to the reference. Nautilus's ``apply_delta`` does not check sequence numbers or
timestamps (an older sequence, a gap, an older timestamp all apply silently); tapeflow's ``apply`` does.

Run (about a minute on a quiet 2-core machine):
``.venv/bin/python benchmarks/bench_book.py [--n 1000000] [--pairs 5]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
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
from tapeflow.book.l2 import Impl
from tapeflow.model import BookAction, BookDelta, Event, Side

Levels = tuple[list[tuple[int, int]], list[tuple[int, int]]]
"""Top levels (price units, shares) of bids and asks, best first."""

Timed = tuple[float, float, Levels]
"""CPU seconds, wall seconds, the book's top levels at the end."""

_ACTIONS = {ADD: BookAction.ADD, DELETE: BookAction.DELETE}
TOP = 10


def _tapeflow_rows(s: L2Stream) -> list[tuple[Any, ...]]:
    sides = [Side.BUY if b else Side.SELL for b in s.is_bid]
    actions = [_ACTIONS.get(a, BookAction.UPDATE) for a in s.action]
    prices = [t * TICK for t in s.ticks]
    return list(zip(actions, sides, prices, s.size, s.ts, range(1, len(s.ts) + 1), strict=True))


def _top(book: L2Book) -> Levels:
    return book.levels(Side.BUY, TOP), book.levels(Side.SELL, TOP)


def tapeflow_apply(rows: list[tuple[Any, ...]], impl: Impl = "auto") -> tuple[float, float, Levels, L2Book]:
    emitted: list[Event] = []
    book = L2Book("BENCH", emit=emitted.append, impl=impl)
    apply = book.apply
    c0, w0 = time.process_time(), time.perf_counter()
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
        book.best_bid  # noqa: B018 - the read is part of the work
        book.best_ask  # noqa: B018
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    if emitted:
        raise SystemExit(f"tapeflow book emitted {len(emitted)} integrity events on a clean stream")
    return cpu, wall, _top(book), book


def tapeflow_update(rows: list[tuple[Any, ...]]) -> Timed:
    """Context only: the raw write path a feed handler may use (no event, no sequence or timestamp)."""
    book = L2Book("BENCH")
    update = book.update
    delete = BookAction.DELETE
    c0, w0 = time.process_time(), time.perf_counter()
    for action, side, price, size, _ts, _seq in rows:
        update(side, price, 0 if action is delete else size)
        book.best_bid  # noqa: B018
        book.best_ask  # noqa: B018
    return time.process_time() - c0, time.perf_counter() - w0, _top(book)


class _NoBook:
    """A book that does nothing: what the loop, the event and the calls cost before any book work."""

    __slots__ = ("best_ask", "best_bid")

    def __init__(self) -> None:
        self.best_bid = 0
        self.best_ask = 0

    def apply(self, event: Event) -> None:
        return None


def floor(rows: list[tuple[Any, ...]]) -> Timed:
    """Context only: tapeflow's loop with the book's work taken out (build the ``BookDelta``, call a no-op
    ``apply``, read two attributes). Nautilus's time over this is the most any Python book could reach."""
    book = _NoBook()
    apply = book.apply
    c0, w0 = time.process_time(), time.perf_counter()
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
        book.best_bid  # noqa: B018
        book.best_ask  # noqa: B018
    return time.process_time() - c0, time.perf_counter() - w0, ([], [])


def naive(rows: list[tuple[Any, ...]]) -> Timed:
    """Context only: two ``SortedDict``s keyed by price, ``peekitem`` for the best."""
    from sortedcontainers import SortedDict  # lazy: the bench extra, a peer and not a dependency of tapeflow

    bids: SortedDict = SortedDict()
    asks: SortedDict = SortedDict()
    buy = Side.BUY
    c0, w0 = time.process_time(), time.perf_counter()
    for _action, side, price, size, _ts, _seq in rows:
        book = bids if side is buy else asks
        if size:
            book[price] = size
        else:
            book.pop(price, None)
        bids.peekitem(-1) if bids else None
        asks.peekitem(0) if asks else None
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    top = [(p, bids[p]) for p in reversed(bids.keys()[-TOP:])], [(p, asks[p]) for p in asks.keys()[:TOP]]
    return cpu, wall, top


class Nautilus:
    """The peer, set up as in /work/shared/PEERS.md (L2_MBP book, fixed-point raw prices and sizes)."""

    def __init__(self, s: L2Stream) -> None:
        from nautilus_trader.model import objects  # lazy: the bench extra (630 MiB), optional
        from nautilus_trader.model.book import OrderBook
        from nautilus_trader.model.data import BookOrder, OrderBookDelta
        from nautilus_trader.model.enums import BookAction as NBookAction
        from nautilus_trader.model.enums import BookType, OrderSide
        from nautilus_trader.model.identifiers import InstrumentId

        self.scalar = int(objects.FIXED_SCALAR)
        self.tick_raw = self.scalar // 100  # $0.01 at the build's fixed-point scale (1e14 with 16 decimals)
        self.iid = InstrumentId.from_str("BENCH.XNAS")
        self.OrderBook, self.BookType = OrderBook, BookType
        self.OrderBookDelta, self.BookOrder = OrderBookDelta, BookOrder
        self.Price, self.Quantity = objects.Price, objects.Quantity
        actions = {ADD: NBookAction.ADD, DELETE: NBookAction.DELETE}
        self.rows = [
            (
                actions.get(a, NBookAction.UPDATE),
                OrderSide.BUY if b else OrderSide.SELL,
                t,
                z,
                ts,
                i,
            )
            for i, (a, b, t, z, ts) in enumerate(zip(s.action, s.is_bid, s.ticks, s.size, s.ts, strict=True), 1)
        ]
        # from_raw's inputs are fixed-point ints; the constructors' are what a user has: floats and ints
        self.raw_rows = [(a, sd, t * self.tick_raw, z * self.scalar, ts, q) for a, sd, t, z, ts, q in self.rows]
        self.float_rows = [(a, sd, t / 100, z, ts, q) for a, sd, t, z, ts, q in self.rows]

    def book(self) -> Any:
        return self.OrderBook(self.iid, self.BookType.L2_MBP)

    def top(self, book: Any) -> Levels:
        tick = self.tick_raw
        bids = [(lv.price.raw // tick * TICK, round(lv.size())) for lv in book.bids()[:TOP]]
        asks = [(lv.price.raw // tick * TICK, round(lv.size())) for lv in book.asks()[:TOP]]
        return bids, asks

    def from_raw(self) -> Timed:
        book = self.book()
        iid = self.iid
        from_raw = self.OrderBookDelta.from_raw
        apply = book.apply_delta
        c0, w0 = time.process_time(), time.perf_counter()
        for action, side, price_raw, size_raw, ts, seq in self.raw_rows:
            apply(from_raw(iid, action, side, price_raw, 2, size_raw, 0, 0, 0, seq, ts, ts))
            book.best_bid_price()
            book.best_ask_price()
        return time.process_time() - c0, time.perf_counter() - w0, self.top(book)

    def constructors(self) -> Timed:
        book = self.book()
        iid = self.iid
        delta, order, price_of, qty_of = self.OrderBookDelta, self.BookOrder, self.Price, self.Quantity
        apply = book.apply_delta
        c0, w0 = time.process_time(), time.perf_counter()
        for action, side, price, size, ts, seq in self.float_rows:
            apply(delta(iid, action, order(side, price_of(price, 2), qty_of(size, 0), 0), 0, seq, ts, ts))
            book.best_bid_price()
            book.best_ask_price()
        return time.process_time() - c0, time.perf_counter() - w0, self.top(book)

    def verify(self, rows: list[tuple[Any, ...]]) -> dict[str, int]:
        """Feed both books update by update; count best-price mismatches and compare the final top levels."""
        ours = L2Book("BENCH")
        theirs = self.book()
        iid, from_raw, tick = self.iid, self.OrderBookDelta.from_raw, self.tick_raw
        mismatches = 0
        for (action, side, price, size, ts, seq), (n_action, n_side, p_raw, z_raw, _, _) in zip(
            rows, self.raw_rows, strict=True
        ):
            ours.apply(
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
            theirs.apply_delta(from_raw(iid, n_action, n_side, p_raw, 2, z_raw, 0, 0, 0, seq, ts, ts))
            bid, ask = theirs.best_bid_price(), theirs.best_ask_price()
            n_bid = bid.raw // tick * TICK if bid is not None else 0
            n_ask = ask.raw // tick * TICK if ask is not None else 0
            mismatches += (ours.best_bid, ours.best_ask) != (n_bid, n_ask)
        differing_levels = 0
        for mine, peer in zip(_top(ours), self.top(theirs), strict=True):
            differing_levels += sum(a != b for a, b in zip(mine, peer, strict=False)) + abs(len(mine) - len(peer))
        return {"best_price_mismatches": mismatches, "top_level_differences": differing_levels}


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}x, spread {min(values):.2f}-{max(values):.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="updates in the stream")
    parser.add_argument("--pairs", type=int, default=5, help="interleaved rounds (at least 5 for a figure)")
    args = parser.parse_args()

    stream = generate(args.n)
    rows = _tapeflow_rows(stream)
    peer: Nautilus | None = None
    if importlib.util.find_spec("nautilus_trader") is None:
        print("skip: NautilusTrader not installed; install the bench extra: pip install -e '.[bench]'")
    else:
        peer = Nautilus(stream)
    context: dict[str, Callable[[list[tuple[Any, ...]]], Timed]] = {
        "tapeflow_update_raw": tapeflow_update,
        "python_floor_no_book": floor,
    }
    if importlib.util.find_spec("sortedcontainers") is None:
        print("skip: naive SortedDict book (pip install -e '.[bench]')")
    else:
        context["naive_sorteddict"] = naive
    gc.collect()
    gc.freeze()  # the input rows: neither side's collector should walk them

    cpu: dict[str, list[float]] = {}
    wall: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {"nautilus_from_raw": [], "nautilus_constructors": []}
    reference_ratios: list[float] = []
    impl = L2Book("BENCH").impl
    sizes = type(L2Book("BENCH").bids.sizes).__name__  # LevelSizes: the compiled core's C table; dict: the reference
    print(
        f"tapeflow L2Book.apply: {impl} (level sizes in {sizes};"
        " the Python reference runs as context: tapeflow_apply_python)"
    )
    reference: Levels | None = None
    tops_differ = 0

    def record(name: str, result: Timed) -> float:
        nonlocal reference, tops_differ
        cpu.setdefault(name, []).append(result[0])
        wall.setdefault(name, []).append(result[1])
        if name == "python_floor_no_book":
            return result[0]
        if reference is None:
            reference = result[2]
        tops_differ += result[2] != reference
        return result[0]

    for _ in range(args.pairs):
        if peer is not None:
            for name, run in (("nautilus_from_raw", peer.from_raw), ("nautilus_constructors", peer.constructors)):
                ours = record("tapeflow_apply", tapeflow_apply(rows)[:3])
                ratios[name].append(record(name, run()) / ours)
            if impl != "python":
                ours = record("tapeflow_apply_python", tapeflow_apply(rows, "python")[:3])
                reference_ratios.append(record("nautilus_from_raw", peer.from_raw()) / ours)
        else:
            record("tapeflow_apply", tapeflow_apply(rows)[:3])
        for name, fn in context.items():
            record(name, fn(rows))

    print(f"{args.n:,} updates, {args.pairs} interleaved pairs, CPU-time and wall rates (median of runs)")
    print(f"{'book':24s} {'CPU updates/s':>15s} {'wall updates/s':>15s}")
    rates: dict[str, dict[str, float]] = {}
    for name in cpu:
        rates[name] = {
            "cpu": args.n / statistics.median(cpu[name]),
            "wall": args.n / statistics.median(wall[name]),
        }
        print(f"{name:24s} {rates[name]['cpu']:>15,.0f} {rates[name]['wall']:>15,.0f}")
    checks: dict[str, int] = {"timed_books_top_levels_differing": tops_differ}
    if peer is not None:
        checks.update(peer.verify(rows))
    print(
        f"verify: best bid/ask after each of {args.n:,} updates differ {checks.get('best_price_mismatches', '-')}"
        f" times; top {TOP} levels a side differ at {checks.get('top_level_differences', '-')} places;"
        f" timed books whose top levels differ from the first: {tops_differ}"
    )
    summary = {name: {"median": statistics.median(v), "min": min(v), "max": max(v)} for name, v in ratios.items() if v}
    context_ratio = statistics.median(cpu.get("naive_sorteddict", [0.0])) / statistics.median(cpu["tapeflow_apply"])
    print(f"context: tapeflow apply speed-up over the naive SortedDict book (raw ints, no event): {context_ratio:.2f}x")
    if peer is not None:
        ceiling = statistics.median(cpu["nautilus_from_raw"]) / statistics.median(cpu["python_floor_no_book"])
        print(f"ceiling: nautilus_from_raw CPU time over the no-book floor (event + call + reads): {ceiling:.2f}x")
        summary_ceiling = {"nautilus_from_raw_over_python_floor": ceiling}
    else:
        summary_ceiling = {}
    if reference_ratios:
        print(f"context: the Python reference apply over nautilus_from_raw, paired: {_spread(reference_ratios)}")
    for name in summary:
        print(f"tapeflow ({impl}) speed-up over {name}, CPU time, same work, paired: {_spread(ratios[name])}")
    print(
        json.dumps(
            {
                "bench": "book_l2",
                "impl": impl,
                "sizes": sizes,
                "n": args.n,
                "pairs": args.pairs,
                "rates": rates,
                "checks": checks,
                "context": summary_ceiling
                | (
                    {
                        "python_reference_over_nautilus_from_raw": {
                            "median": statistics.median(reference_ratios),
                            "min": min(reference_ratios),
                            "max": max(reference_ratios),
                        }
                    }
                    if reference_ratios
                    else {}
                ),
                "cpu_ratio_vs_tapeflow_apply": summary,
            }
        )
    )


if __name__ == "__main__":
    main()
