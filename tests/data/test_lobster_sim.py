"""Property: any order flow, written the way LOBSTER writes a level-N day, replays with zero mismatches.

A true L3 book runs random order flow (adds, partial cancels, deletes, executions at the touch), starting from
orders that rested before the file began. Only messages that touch the top N levels are written, with the top N
after each one, exactly as LOBSTER does; everything deeper happens unseen. The replay must rebuild the top N of
every row from the messages plus what the orderbook file reveals.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tapeflow.report.book_replay import replay

EMPTY = {1: -9_999_999_999, -1: 9_999_999_999}


class TrueBook:
    def __init__(self) -> None:
        self.orders: dict[int, list[int]] = {}  # id -> [direction, price, size]

    def levels(self, d: int) -> list[tuple[int, int]]:
        agg: dict[int, int] = {}
        for dd, p, s in self.orders.values():
            if dd == d:
                agg[p] = agg.get(p, 0) + s
        return sorted(agg.items(), reverse=d == 1)

    def rank(self, d: int, price: int) -> int:
        return sum(1 for p, _ in self.levels(d) if (p > price if d == 1 else p < price))

    def row(self, n: int) -> str:
        asks, bids = self.levels(-1), self.levels(1)
        out = []
        for j in range(n):
            a = asks[j] if j < len(asks) else (EMPTY[-1], 0)
            b = bids[j] if j < len(bids) else (EMPTY[1], 0)
            out += [a[0], a[1], b[0], b[1]]
        return ",".join(map(str, out))


@st.composite
def days(draw: Any) -> tuple[int, list[str], list[str]]:
    n = draw(st.sampled_from([1, 2, 3]))
    book = TrueBook()
    next_id = 1
    for _ in range(draw(st.integers(2, 12))):  # resting before the file begins
        d = draw(st.sampled_from([1, -1]))
        price = draw(st.integers(95, 99) if d == 1 else st.integers(101, 105)) * 100
        book.orders[next_id] = [d, price, draw(st.integers(1, 5)) * 10]
        next_id += 1
    messages: list[str] = []
    rows: list[str] = []
    t = 34_200_000_000_000
    for _ in range(draw(st.integers(1, 60))):
        t += draw(st.integers(0, 3)) * 1_000_000
        kind = draw(st.sampled_from(["add", "add", "cancel", "delete", "exec"]))
        if kind != "add" and not book.orders:
            kind = "add"
        if kind == "add":
            d = draw(st.sampled_from([1, -1]))
            best_other = book.levels(-d)
            bound = best_other[0][0] if best_other else 10_000
            price = draw(st.integers(94, 100) if d == 1 else st.integers(100, 106)) * 100
            if (d == 1 and price >= bound) or (d == -1 and price <= bound):
                continue  # never cross
            oid, size = next_id, draw(st.integers(1, 5)) * 10
            next_id += 1
            book.orders[oid] = [d, price, size]
            visible = book.rank(d, price) < n
            msg = (1, oid, size, price, d)
        else:
            oid = draw(st.sampled_from(sorted(book.orders)))
            d, price, size = book.orders[oid]
            if kind == "exec":  # executions happen at the touch
                oid = next(i for i, (dd, p, _) in book.orders.items() if dd == d and p == book.levels(d)[0][0])
                d, price, size = book.orders[oid]
            visible = book.rank(d, price) < n
            if kind == "cancel" and size > 10:
                qty = draw(st.integers(1, size // 10 - 1)) * 10
                book.orders[oid][2] -= qty
                msg = (2, oid, qty, price, d)
            elif kind == "exec":
                qty = draw(st.integers(1, size // 10)) * 10
                book.orders[oid][2] -= qty
                if not book.orders[oid][2]:
                    del book.orders[oid]
                msg = (4, oid, qty, price, d)
            else:
                del book.orders[oid]
                msg = (3, oid, size, price, d)
        if visible:
            secs, ns = divmod(t, 1_000_000_000)
            messages.append(f"{secs}.{ns:09d}," + ",".join(map(str, msg)))
            rows.append(book.row(n))
    return n, messages, rows


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(days())
def test_any_level_n_day_replays_with_zero_mismatches(tmp_path: Path, day: tuple[int, list[str], list[str]]) -> None:
    n, messages, rows = day
    if not messages:
        return
    path = tmp_path / "sim.zip"
    stem = "SIM_2012-06-21_34200000_57600000"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{stem}_message_{n}.csv", "\n".join(messages) + "\n")
        zf.writestr(f"{stem}_orderbook_{n}.csv", "\n".join(rows) + "\n")
    report = replay(path, verify=True)
    assert report.rows == len(messages)
    assert report.mismatches == 0, report.mismatch_examples[:2]
    assert report.unknown_order_refs == 0
