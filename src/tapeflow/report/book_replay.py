"""Replay a LOBSTER day through the L3 book and, optionally, prove it against every orderbook row.

The proof is the point: LOBSTER's orderbook file is the exchange's view of the top N levels after each
message, so a book that matches all of them after being built from the messages (plus only what the file alone
can reveal, see ``tapeflow.data.lobster``) is right. A mismatch names the row, the message and the level.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from tapeflow.book.l3 import L3Book
from tapeflow.data.lobster import Impl, LobsterDecoder
from tapeflow.data.lobster_file import open_lobster
from tapeflow.data.lobster_store import StoreDecoder, open_store_day
from tapeflow.model.enums import Side

_EMPTY = {Side.SELL: 9_999_999_999, Side.BUY: -9_999_999_999}

Progress = Callable[[int], None]
"""Called with the number of rows done after each block."""


class Mismatch(msgspec.Struct, frozen=True, kw_only=True):
    row: int
    message: str
    side: str
    level: int
    """1-based level number on that side."""
    expected: tuple[int, int]
    """(price, size) in the orderbook file; the empty-level sentinel when the file has no level there."""
    book: tuple[int, int]


class ReplayReport(msgspec.Struct, kw_only=True):
    file: str
    symbol: str
    date: str
    levels: int
    rows: int
    verified: bool
    mismatches: int
    mismatch_examples: list[Mismatch]
    levels_from_file: int
    unknown_order_refs: int
    discovered_orders: int
    trades: int
    messages_by_type: dict[str, int]
    book_orders_at_end: int
    book_levels_at_end: tuple[int, int]
    elapsed_s: float
    msgs_per_s: float
    impl: str = "python"
    """Which block apply ran: "compiled" or "python" (the reference)."""


def _first_difference(book: L3Book, side: Side, levels: int, prices: list[int], sizes: list[int]) -> int:
    got = book.side(side).levels(levels)
    for j in range(levels):
        have = got[j] if j < len(got) else (_EMPTY[side], 0)
        if have != (prices[j], sizes[j]):
            return j
    return -1


def replay(
    path: str | Path,
    *,
    verify: bool = False,
    progress: Progress | None = None,
    max_examples: int = 10,
    impl: Impl = "auto",
    symbol: str | None = None,
    day: str | None = None,
    read_ahead: bool = True,
) -> ReplayReport:
    """Replay ``path`` (a LOBSTER zip, or a Parquet store holding a LOBSTER day: the one of ``symbol`` and
    ``day`` when it holds several); raises ``DataError`` for a bad file before any result exists.

    ``impl`` chooses the decoder's block apply (``LobsterDecoder``/``StoreDecoder``: compiled or the Python
    reference); the report says which ran. ``read_ahead``: the compiled replay reads in a thread beside its
    loop (the zip's orderbook member inflated, the store's batches decoded: less wall time where a core is free,
    the same work); False reads in the caller's thread, as the reference does."""
    store = open_store_day(path, symbol, day) if Path(path).is_dir() else None
    lf = store.lobster_file() if store is not None else open_lobster(path)
    book = L3Book(lf.symbol, impl=impl)  # the reference keeps its level sizes in dicts, the compiled loop in tables
    n = lf.levels
    examples: list[Mismatch] = []
    mismatches = 0
    asks, bids = book.asks, book.bids
    decoder: LobsterDecoder

    ask_keys, bid_keys, ask_sizes, bid_sizes = asks.keys, bids.keys, asks.sizes, bids.sizes
    empty = b"9999999999,0,-9999999999,0"

    def check(row: int, line: bytes) -> None:
        """Print the book's top N the way LOBSTER does and compare bytes: cheaper than parsing the row."""
        nonlocal mismatches
        na, nb = len(ask_keys), len(bid_keys)
        parts = []
        for j in range(1, n + 1):
            if j <= na and j <= nb:
                ap, bp = -ask_keys[-j], bid_keys[-j]
                parts.append(b"%d,%d,%d,%d" % (ap, ask_sizes[ap], bp, bid_sizes[bp]))
            elif j > na and j > nb:
                parts.append(empty)
            else:
                ap = -ask_keys[-j] if j <= na else _EMPTY[Side.SELL]
                bp = bid_keys[-j] if j <= nb else _EMPTY[Side.BUY]
                parts.append(b"%d,%d,%d,%d" % (ap, ask_sizes.get(ap, 0), bp, bid_sizes.get(bp, 0)))
        if b",".join(parts) == line:
            return
        vals = list(map(int, line.split(b",")))
        ask_p, ask_s, bid_p, bid_s = vals[0::4], vals[1::4], vals[2::4], vals[3::4]
        mismatches += 1
        if len(examples) < max_examples:
            for side, prices, sizes in ((Side.SELL, ask_p, ask_s), (Side.BUY, bid_p, bid_s)):
                j = _first_difference(book, side, n, prices, sizes)
                if j >= 0:
                    got = book.side(side).levels(n)
                    examples.append(
                        Mismatch(
                            row=row,
                            message=decoder.message_text(row),
                            side=side.value,
                            level=j + 1,
                            expected=(prices[j], sizes[j]),
                            book=got[j] if j < len(got) else (_EMPTY[side], 0),
                        )
                    )
                    break

    if store is not None:
        decoder = StoreDecoder(store, book, check_row=check if verify else None, impl=impl, decode_thread=read_ahead)
    else:
        decoder = LobsterDecoder(lf, book, check_row=check if verify else None, impl=impl, inflate_thread=read_ahead)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the book allocates millions of small lists and dicts, none of them in cycles
    t0 = time.perf_counter()
    try:
        for rows in decoder.run():
            if progress is not None:
                progress(rows)
    finally:
        if gc_was_enabled:
            gc.enable()
    elapsed = time.perf_counter() - t0
    counts = decoder.counts
    return ReplayReport(
        file=str(path),
        symbol=lf.symbol,
        date=lf.day.isoformat(),
        levels=n,
        rows=counts.rows,
        verified=verify,
        mismatches=mismatches,
        mismatch_examples=examples,
        levels_from_file=counts.levels_from_file,
        unknown_order_refs=book.unknown_order_refs,
        discovered_orders=counts.discovered,
        trades=counts.trades,
        messages_by_type={str(k): v for k, v in sorted(counts.by_type.items())},
        book_orders_at_end=len(book),
        book_levels_at_end=(len(book.bids), len(book.asks)),
        elapsed_s=elapsed,
        msgs_per_s=counts.rows / elapsed if elapsed > 0 else 0.0,
        impl=decoder.impl,
    )
