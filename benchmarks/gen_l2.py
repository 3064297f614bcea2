"""Synthetic L2 stream for the book benchmark, the stream described in /work/shared/PEERS.md.

One symbol, $0.01 ticks around $100, 5-25 levels a side, never crossed. About 74% size updates (mostly in the
top 5 levels), 13% new levels (some inside the spread), 13% level deletions (some at the touch); updates ~23
ms apart. Deterministic for a seed, so that every book in a run sees the same updates.
"""

from __future__ import annotations

import random

import msgspec

TICK = 100
"""$0.01 in tapeflow price units (1/10,000 dollar)."""

ADD, UPDATE, DELETE = 0, 1, 2


class L2Stream(msgspec.Struct, frozen=True, kw_only=True):
    """Column arrays: ``is_bid``, ``action`` (ADD/UPDATE/DELETE), ``ticks`` (price / $0.01), ``size`` (0 on
    DELETE)."""

    is_bid: list[bool]
    action: list[int]
    ticks: list[int]
    size: list[int]
    ts: list[int]


def _size(rng: random.Random) -> int:
    return rng.randint(1, 40) * 100


def generate(n: int = 1_000_000, seed: int = 7) -> L2Stream:
    rng = random.Random(seed)
    bids = {10_000 - i: _size(rng) for i in range(1, 16)}
    asks = {10_000 + i: _size(rng) for i in range(1, 16)}
    out = L2Stream(is_bid=[], action=[], ticks=[], size=[], ts=[])
    ts = 1_340_280_000_000_000_000
    for _ in range(n):
        ts += rng.randint(1, 46_000_000)
        is_bid = rng.random() < 0.5
        book, other = (bids, asks) if is_bid else (asks, bids)
        ordered = sorted(book, reverse=is_bid)
        best_other = min(other) if is_bid else max(other)
        r = rng.random()
        if r < 0.13 and len(book) < 25:
            action = ADD
            best = ordered[0]
            if abs(best_other - best) > 1 and rng.random() < 0.3:
                step = rng.randint(1, abs(best_other - best) - 1)
                ticks = best + step if is_bid else best - step
            else:
                ticks = best
                while ticks in book:
                    off = rng.randint(1, 30)
                    ticks = best - off if is_bid else best + off
            size = _size(rng)
            book[ticks] = size
        elif r < 0.26 and len(book) > 5:
            action = DELETE
            ticks = ordered[0] if rng.random() < 0.25 else rng.choice(ordered)
            size = 0
            del book[ticks]
        else:
            action = UPDATE
            top = ordered[:5] if rng.random() < 0.8 else ordered
            ticks = rng.choice(top)
            size = _size(rng)
            book[ticks] = size
        out.is_bid.append(is_bid)
        out.action.append(action)
        out.ticks.append(ticks)
        out.size.append(size)
        out.ts.append(ts)
    return out


if __name__ == "__main__":
    s = generate(100_000)
    counts = {a: s.action.count(a) for a in (ADD, UPDATE, DELETE)}
    print(f"{len(s.action)} updates: add {counts[ADD]}, update {counts[UPDATE]}, delete {counts[DELETE]}")
