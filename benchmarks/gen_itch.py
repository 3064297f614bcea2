"""Write a synthetic NASDAQ ITCH 5.0 file with a realistic message mix, for the ITCH parse benchmark.

The mix follows a busy Nasdaq day: mostly adds, deletes, replaces, executions and partial cancels, every one
of them referring to an order that is live at that moment, so that the file also replays into a consistent L3
book. It starts like a real file (system event, stock directory per symbol, trading action) and is
deterministic for a seed. Messages are packed with the layouts of ``tapeflow.data.itch_messages`` directly,
not through the struct encoder, to write millions per minute (the tests parse a generated file to prove the
two agree). A name ending in ``.gz`` writes gzip.

    .venv/bin/python benchmarks/gen_itch.py OUT.itch --messages 5000000 [--symbols 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import bisect
import random
import sys
import time
from pathlib import Path

from tapeflow.data.itch_encoder import ItchWriter
from tapeflow.data.itch_messages import LAYOUTS

_A = LAYOUTS[ord("A")].codec.pack
_F = LAYOUTS[ord("F")].codec.pack
_E = LAYOUTS[ord("E")].codec.pack
_C = LAYOUTS[ord("C")].codec.pack
_X = LAYOUTS[ord("X")].codec.pack
_D = LAYOUTS[ord("D")].codec.pack
_U = LAYOUTS[ord("U")].codec.pack
_P = LAYOUTS[ord("P")].codec.pack
_S = LAYOUTS[ord("S")].codec.pack
_R = LAYOUTS[ord("R")].codec.pack
_H = LAYOUTS[ord("H")].codec.pack

# Cumulative weights of the order-flow actions (per 1,000 messages).
_MIX = (("A", 380), ("F", 20), ("D", 340), ("U", 110), ("E", 70), ("X", 50), ("C", 5), ("P", 20), ("Q", 0))


def _symbols(count: int) -> list[bytes]:
    rng = random.Random(7)
    seen: set[bytes] = set()
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    while len(seen) < count:
        seen.add("".join(rng.choice(letters) for _ in range(rng.randint(1, 5))).encode().ljust(8))
    return sorted(seen)


def generate(path: Path, messages: int, *, symbols: int = 200, seed: int = 1) -> int:
    """Write about ``messages`` messages (exactly that many) to ``path``; returns the count written."""
    rng = random.Random(seed)
    names = _symbols(symbols)
    kinds = [kind for kind, _ in _MIX]
    edges: list[int] = []
    total = 0
    for _, weight in _MIX:
        total += weight
        edges.append(total)
    live: list[list[int]] = [[] for _ in names]  # per locate-1: live order refs
    orders: dict[int, tuple[int, int, int, int]] = {}  # ref -> (locate, side, shares, price)
    mid = [rng.randint(50, 500) * 10_000 for _ in names]
    ts = (9 * 3600 + 30 * 60) * 1_000_000_000
    next_ref = 1
    match = 1
    with ItchWriter(path) as out:
        write = out.write_encoded
        write(_S(b"S", 0, 0, ts >> 32, ts & 0xFFFFFFFF, b"O"))
        for i, name in enumerate(names, start=1):
            write(
                _R(
                    b"R",
                    i,
                    0,
                    ts >> 32,
                    ts & 0xFFFFFFFF,
                    name,
                    b"Q",
                    b"N",
                    100,
                    b"N",
                    b"C",
                    b"Z ",
                    b"P",
                    b"N",
                    b"N",
                    b"1",
                    b"N",
                    0,
                    b"N",
                )
            )
            write(_H(b"H", i, 0, ts >> 32, ts & 0xFFFFFFFF, name, b"T", b" ", b"    "))
        write(_S(b"S", 0, 0, ts >> 32, ts & 0xFFFFFFFF, b"Q"))
        randrange = rng.randrange
        while out.count < messages:
            ts += randrange(1, 20_000)
            hi, lo = ts >> 32, ts & 0xFFFFFFFF
            k = randrange(total)
            kind = kinds[bisect.bisect_right(edges, k)]
            loc = randrange(len(names)) + 1
            book = live[loc - 1]
            if kind in "AF" or not book:
                side = randrange(2)
                price = mid[loc - 1] + (-randrange(1, 50) if side == 0 else randrange(1, 50)) * 100
                shares = randrange(1, 20) * 100
                ref = next_ref
                next_ref += 1
                orders[ref] = (loc, side, shares, price)
                book.append(ref)
                sb = b"B" if side == 0 else b"S"
                if kind == "F":
                    write(_F(b"F", loc, 0, hi, lo, ref, sb, shares, names[loc - 1], price, b"NSDQ"))
                else:
                    write(_A(b"A", loc, 0, hi, lo, ref, sb, shares, names[loc - 1], price))
                continue
            j = randrange(len(book))
            ref = book[j]
            _, side, shares, price = orders[ref]
            if kind == "D":
                book[j] = book[-1]
                book.pop()
                del orders[ref]
                write(_D(b"D", loc, 0, hi, lo, ref))
            elif kind == "U":
                new_ref = next_ref
                next_ref += 1
                new_price = price + randrange(-3, 4) * 100 or price
                new_shares = randrange(1, 20) * 100
                del orders[ref]
                orders[new_ref] = (loc, side, new_shares, new_price)
                book[j] = new_ref
                write(_U(b"U", loc, 0, hi, lo, ref, new_ref, new_shares, new_price))
            elif kind in "EXC":
                size = min(shares, randrange(1, 5) * 100)
                left = shares - size
                if kind == "E":
                    write(_E(b"E", loc, 0, hi, lo, ref, size, match))
                    match += 1
                elif kind == "C":
                    write(_C(b"C", loc, 0, hi, lo, ref, size, match, b"Y", price))
                    match += 1
                else:
                    write(_X(b"X", loc, 0, hi, lo, ref, size))
                if left:
                    orders[ref] = (loc, side, left, price)
                else:
                    book[j] = book[-1]
                    book.pop()
                    del orders[ref]
            else:  # P: a hidden-order match, the book is untouched
                write(_P(b"P", loc, 0, hi, lo, 0, b"B", 100, names[loc - 1], price, match))
                match += 1
        return out.count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    count = generate(args.out, args.messages, symbols=args.symbols, seed=args.seed)
    took = time.perf_counter() - start
    print(
        f"wrote {count:,} messages, {args.out.stat().st_size:,} bytes to {args.out} in {took:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
