"""The compiled LOBSTER block apply against the Python reference: identical books, events, counts and errors.

Both implementations run on every shared LOBSTER file, on mutated copies of one (dropped rows, reused ids,
oversized cancels, malformed rows, time going backwards, a damaged orderbook row) and on hypothesis streams (a
true L3 book's order flow written as LOBSTER writes a level-N day, then mutated). After every block the two
books must hold the same levels, the same orders in the same queue order with the same sizes and times, and the
same integrity counters; the trades, status changes and verification mismatches they report must be equal,
and a bad file must fail with the same error.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tapeflow.book import L3Book
from tapeflow.book.integrity import Integrity
from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.data import lobster
from tapeflow.data.lobster import COMPILED_AVAILABLE, LobsterDecoder
from tapeflow.data.lobster_file import open_lobster
from tapeflow.model import ConfigError, DataError
from tapeflow.model.enums import Side
from tapeflow.report.book_replay import replay
from tests.data.test_lobster_sim import days

pytestmark = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")

SAMPLES = "lobster-samples-2012-06-21"
FILES = (
    "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip",
    "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip",
    "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
    "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip",
    "LOBSTER_SampleFile_GOOG_2012-06-21_5.zip",
)
EMPTY_ASK, EMPTY_BID = 9_999_999_999, -9_999_999_999


def _state(book: L3Book) -> tuple[Any, ...]:
    """Everything the Python API can read: levels with their keys and best, every queue in priority order with
    each order's side, price, size and time (every known order is in its level's queue), how many orders the book
    holds, and the integrity counters."""
    sides = []
    for ladder in (book.bids, book.asks):
        queues = book.side_queues(ladder.side)
        sides.append((ladder.best, list(ladder.keys), dict(ladder.sizes), list(ladder.sizes), queues))
    return (
        *sides,
        len(book),
        book.integrity.totals(),
        book.integrity.crossed,
        book.integrity.ts,
        book.overfills,
        book.dropped_orders,
        book.discover_misses,
    )


def _printed(book: L3Book, levels: int) -> bytes:
    parts = []
    asks, bids = book.asks.levels(levels), book.bids.levels(levels)
    for j in range(levels):
        a = asks[j] if j < len(asks) else (EMPTY_ASK, 0)
        b = bids[j] if j < len(bids) else (EMPTY_BID, 0)
        parts.append(b"%d,%d,%d,%d" % (*a, *b))
    return b",".join(parts)


def _run(
    path: Path,
    impl: lobster.Impl,
    block_bytes: int = 1 << 16,
    book_impl: lobster.Impl | None = None,
    move_orders_at: int = 0,
    integrity: Integrity | None = None,
    far_ask_at: int = 0,
) -> dict[str, Any]:
    """One replay with every hook recorded and the book's state after every block; an error ends it. The book
    keeps its level sizes and orders as ``impl`` runs (the reference in dicts, the compiled loop in the core's
    tables) unless ``book_impl`` says otherwise. ``move_orders_at``: at that trade (a hook the loop calls inside
    a block) a read of a key that is not an int moves a table book's orders into dicts for good. ``integrity``:
    the book's, instead of its own. ``far_ask_at``: at that trade the Python API adds an ask at a price past 64
    bits (the worst ask: the verified rows do not see it), which moves a compiled book's tables into dicts and its
    ask keys into a list for good."""
    lf = open_lobster(path)
    book = L3Book(lf.symbol, impl=book_impl or impl)
    if integrity is not None:
        book.integrity = integrity
    trades: list[tuple[Any, ...]] = []
    statuses: list[tuple[Any, ...]] = []
    mismatches: list[tuple[int, bytes]] = []

    def check(row: int, line: bytes) -> None:
        if _printed(book, lf.levels) != line:
            mismatches.append((row, line))

    def trade(*args: Any) -> None:
        trades.append(args)
        if len(trades) == move_orders_at:
            assert book._orders.get("x") is None  # type: ignore[arg-type]
            assert getattr(book._orders, "py", True) is not None  # moved (or dicts from the start)
        if len(trades) == far_ask_at:
            book.add(2**62, Side.SELL, 2**64, 1, args[0])

    decoder = LobsterDecoder(
        lf,
        book,
        on_trade=trade,
        on_status=lambda *a: statuses.append(a),
        check_row=check,
        block_bytes=block_bytes,
        impl=impl,
    )
    assert decoder.impl == impl
    states = []
    error = ""
    try:
        states.extend((rows, _state(book)) for rows in decoder.run())
    except DataError as exc:
        error = str(exc)
    return {
        "states": states,
        "final": _state(book),
        "trades": trades,
        "statuses": statuses,
        "mismatches": mismatches,
        "counts": decoder.counts,
        "error": error,
    }


def _same(path: Path, block_bytes: int = 1 << 16) -> dict[str, Any]:
    python = _run(path, "python", block_bytes)
    compiled = _run(path, "compiled", block_bytes)
    for key in python:
        assert compiled[key] == python[key], key
    return python


@pytest.mark.parametrize("name", FILES)
def test_compiled_replay_of_each_shared_file_equals_the_reference_after_every_block(data_dir: Path, name: str) -> None:
    result = _same(data_dir / SAMPLES / name)
    assert not result["error"]
    assert not result["mismatches"]  # and both rebuilt every orderbook row
    assert len(result["states"]) > 3


@pytest.mark.parametrize("name", FILES[1:3])
def test_compiled_replay_over_a_book_that_keeps_dicts_equals_the_reference(data_dir: Path, name: str) -> None:
    """A book built with ``impl="python"`` (its level sizes in dicts) handed to the compiled loop: the loop
    writes those very dicts, and every block ends as the reference's."""
    python = _run(data_dir / SAMPLES / name, "python")
    compiled = _run(data_dir / SAMPLES / name, "compiled", book_impl="python")
    for key in python:
        assert compiled[key] == python[key], key


class _TsLog(Integrity):
    """An ``Integrity`` of another type that sees every write of ``ts``, as a subclass may."""

    __slots__ = ("written",)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "ts" and hasattr(self, "written"):
            self.written.add(value)
        object.__setattr__(self, name, value)


def _ts_log(symbol: str) -> _TsLog:
    log = _TsLog(symbol)
    log.written = set()
    return log


@pytest.mark.parametrize("name", FILES[1:3])
def test_compiled_replay_writes_an_integrity_of_another_type_through_setattr(data_dir: Path, name: str) -> None:
    """The compiled loop stores ``integrity.ts`` (and the ladders' ``best``) straight into the slots of exactly
    ``Integrity`` (``QueueLadder``); any other type is written through setattr, so a subclass sees every time
    the reference writes."""
    path = data_dir / SAMPLES / name
    python_log, compiled_log = _ts_log("X"), _ts_log("X")
    python = _run(path, "python", integrity=python_log)
    compiled = _run(path, "compiled", integrity=compiled_log)
    for key in python:
        assert compiled[key] == python[key], key
    assert compiled_log.written == python_log.written
    assert len(python_log.written) > 1_000


@pytest.mark.parametrize("name", FILES[:3])
def test_compiled_replay_report_equals_the_reference_and_says_which_ran(data_dir: Path, name: str) -> None:
    python = replay(data_dir / SAMPLES / name, verify=True, impl="python")
    compiled = replay(data_dir / SAMPLES / name, verify=True, impl="compiled")
    assert (python.impl, compiled.impl) == ("python", "compiled")
    for field in python.__struct_fields__:
        if field not in ("elapsed_s", "msgs_per_s", "impl"):
            assert getattr(compiled, field) == getattr(python, field), field


@pytest.mark.parametrize("name", FILES[1:3])
def test_compiled_replay_over_a_table_that_moves_into_dicts_midway_equals_the_reference(
    data_dir: Path, name: str
) -> None:
    """A compiled book's orders move from its ``L3Orders`` into dicts in the middle of a block (a hook reads a key
    no 64-bit table holds): the loop notices at its next message and goes on over the dicts, as the reference."""
    python = _run(data_dir / SAMPLES / name, "python", move_orders_at=500)
    compiled = _run(data_dir / SAMPLES / name, "compiled", move_orders_at=500)
    assert len(python["trades"]) > 500
    for key in python:
        assert compiled[key] == python[key], key


@pytest.mark.parametrize("name", FILES[2:3])
def test_compiled_replay_after_a_key_past_64_bits_equals_the_reference(data_dir: Path, name: str) -> None:
    """An ask past 64 bits added through the Python API in the middle of a block: the compiled book's ask keys
    leave their C array for a list (and its sizes and orders their tables for dicts); the loop goes on over
    them, levels added, dropped and revealed, as the reference does over its lists and dicts."""
    python = _run(data_dir / SAMPLES / name, "python", far_ask_at=300)
    compiled = _run(data_dir / SAMPLES / name, "compiled", far_ask_at=300)
    assert 2**64 in python["final"][1][2] and len(python["trades"]) > 300
    for key in python:
        assert compiled[key] == python[key], key


def _members(path: Path) -> tuple[str, str, list[str], list[str]]:
    lf = open_lobster(path)
    msg, book = lf.message_member, lf.orderbook_member
    with zipfile.ZipFile(path) as zf:
        return msg, book, zf.read(msg).decode().splitlines(), zf.read(book).decode().splitlines()


def _write(path: Path, msg: str, book: str, messages: list[str], books: list[str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(msg, "\n".join(messages) + "\n")
        zf.writestr(book, "\n".join(books) + "\n")
    return path


def _field(line: str, i: int, value: str) -> str:
    f = line.split(",")
    f[i] = value
    return ",".join(f)


@pytest.fixture(scope="module")
def amzn5(data_dir: Path) -> tuple[str, str, list[str], list[str]]:
    msg, book, messages, books = _members(data_dir / SAMPLES / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip")
    return msg, book, messages[:12_000], books[:12_000]


def _mutations(messages: list[str], books: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    adds = [i for i, m in enumerate(messages) if m.split(",")[1] == "1"]
    cancels = [i for i, m in enumerate(messages) if m.split(",")[1] in ("2", "4")]
    out: dict[str, tuple[list[str], list[str]]] = {}
    m, b = list(messages), list(books)
    for i in adds[100:3000:37]:  # adds lost: their later cancels and deletes name unknown orders
        m[i] = _field(m[i], 1, "5")
    out["lost_adds"] = (m, b)
    m = list(messages)
    for j, i in enumerate(adds[200:2000:53]):  # an id added again while the first order still rests
        m[i] = _field(m[i], 2, messages[adds[100 + j]].split(",")[2])
    out["reused_ids"] = (m, b)
    m = list(messages)
    for i in cancels[50:4000:41]:  # cancels and executions larger than the order
        m[i] = _field(m[i], 3, "99999")
    out["oversized"] = (m, b)
    m = list(messages)
    for i in range(500, 9000, 97):  # orderbook rows that disagree with the book
        b = b if b is not books else list(books)
        b[i] = _field(b[i], 1, "7")
    out["bad_levels"] = (list(messages), b)
    m = list(messages)
    del m[3000:3400]  # a gap in the messages: mismatches, unknown refs, stale levels, dropped orders
    out["gap"] = (m, books[:3000] + books[3400:])
    out["malformed_row"] = ([*messages[:7000], "34300.5,1,x,100,2200000,1", *messages[7001:]], books)
    out["time_backwards"] = ([*messages[:8000], _field(messages[8000], 0, "34200.0"), *messages[8001:]], books)
    bad_book = list(books)
    bad_book[9000] = bad_book[9000].replace(",", ";", 1)
    out["damaged_orderbook_row"] = (messages, bad_book)
    out["short_orderbook_field"] = (messages, [*books[:5000], books[5000].rsplit(",", 1)[0] + ",", *books[5001:]])
    big = list(messages)
    for i in adds[10:400:7]:
        big[i] = _field(big[i], 3, "9000000000000000000")  # sizes near the 64-bit limit: the Python path decides
    out["huge_sizes"] = (big, books)
    # every id a multiple of 2**14: all share the compiled loop's id-object slot (``_Ids``), so each message
    # there finds another order's id and must make its own; discoveries still happen (the day starts mid-book)
    out["ids_sharing_low_bits"] = ([_field(x, 2, str(int(x.split(",")[2]) << 14)) for x in messages], books)
    # cancels, deletes and executions that name another price than their order's: the book changes the order's
    # own level (the compiled loops hold the message's price and the order's apart, both as C values)
    off = list(messages)
    for i in [i for i, x in enumerate(messages) if x.split(",")[1] in ("2", "3", "4")][20:6000:13]:
        off[i] = _field(off[i], 4, str(int(off[i].split(",")[4]) + 300))
    out["prices_off"] = (off, books)
    # the deepest price on a cancel's side printed with a leading zero: the rows differ as text, not as numbers,
    # so the text test flags a reveal that the numbers do not show (the compiled loop leaves it to the reference)
    padded = list(books)
    for i in [i for i, x in enumerate(messages) if x.split(",")[1] in ("2", "3", "4")][30:9000:29]:
        f = 4 * 4 + (0 if messages[i].split(",")[5] == "-1" else 2)
        padded[i] = _field(padded[i], f, "0" + padded[i].split(",")[f])
    out["zero_padded_deepest"] = (messages, padded)
    return out


@pytest.mark.parametrize(
    "mutation",
    [
        "lost_adds",
        "reused_ids",
        "oversized",
        "bad_levels",
        "gap",
        "malformed_row",
        "time_backwards",
        "damaged_orderbook_row",
        "short_orderbook_field",
        "huge_sizes",
        "ids_sharing_low_bits",
        "prices_off",
        "zero_padded_deepest",
    ],
)
def test_compiled_replay_of_a_mutated_real_file_equals_the_reference(
    tmp_path: Path, amzn5: tuple[str, str, list[str], list[str]], mutation: str
) -> None:
    msg, book, messages, books = amzn5
    m, b = _mutations(messages, books)[mutation]
    result = _same(_write(tmp_path / "mutated.zip", msg, book, m, b), block_bytes=1 << 15)
    if mutation in ("malformed_row", "time_backwards", "damaged_orderbook_row", "short_orderbook_field"):
        assert result["error"]
    elif mutation == "ids_sharing_low_bits":
        assert not result["error"] and not result["mismatches"] and result["counts"].discovered
    elif mutation in ("prices_off", "zero_padded_deepest"):  # what the reference makes of it, the loop must too
        assert not result["error"] and result["counts"].rows == len(m)
    else:
        assert not result["error"]
        assert result["mismatches"] or result["counts"].duplicates or result["final"][-3]  # the damage shows


def test_compiled_replay_of_crlf_rows_without_a_last_newline_equals_the_reference(
    tmp_path: Path, amzn5: tuple[str, str, list[str], list[str]]
) -> None:
    """The compiled path keeps the orderbook rows as one buffer (``lobster_rows``): framed as the reference."""
    msg, book, messages, books = amzn5
    path = tmp_path / "crlf.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(msg, "\r\n".join(messages[:5000]))
        zf.writestr(book, "\r\n".join(books[:5000]))
    result = _same(path, block_bytes=1 << 12)
    assert not result["error"] and not result["mismatches"]
    assert result["counts"].rows == 5000


@st.composite
def mutated_days(draw: Any) -> tuple[int, list[str], list[str]]:
    n, messages, rows = draw(days())
    for _ in range(draw(st.integers(0, 3))):
        if not messages:
            break
        i = draw(st.integers(0, len(messages) - 1))
        f = messages[i].split(",")
        what = draw(st.sampled_from(["type", "id", "size", "price", "side", "book", "drop"]))
        if what == "type":
            f[1] = str(draw(st.integers(1, 7)))
        elif what == "id":
            f[2] = str(draw(st.integers(0, 30)))
        elif what == "size":
            f[3] = str(draw(st.integers(0, 80)))
        elif what == "price":
            f[4] = str(draw(st.integers(94, 106)) * 100)
        elif what == "side":
            f[5] = str(-int(f[5]))
        elif what == "book":
            r = rows[i].split(",")
            j = draw(st.integers(0, len(r) - 1))
            r[j] = str(
                draw(st.sampled_from([0, 10, 9_400, 10_600, EMPTY_ASK, EMPTY_BID, "010", "-0", "+10", "0" + r[j]]))
            )
            rows[i] = ",".join(r)
        else:
            del messages[i], rows[i]
            continue
        messages[i] = ",".join(f)
    return n, messages, rows


_EMPTY_ROW = "9999999999,0,-9999999999,0,9999999999,0,-9999999999,0"
# Found by the test below: a level revealed (row 11) and, in the same block, a malformed deepest bid (row 12, "0"
# put before the empty-level sentinel). The compiled loop lost the block's reveal count when the row failed.
_REVEAL_THEN_BAD_ROW = (
    2,
    [
        f"34200.000000000,{kind},{oid},10,{price},1"
        for kind, oid, price in [
            (4, 7, 9600), (1, 9, 9600), (4, 8, 9600), (1, 10, 9600), (3, 1, 9500), (4, 9, 9600), (3, 2, 9500),
            (3, 3, 9500), (3, 4, 9500), (3, 5, 9500), (4, 10, 9600), (3, 6, 9500), (3, 11, 9400), (1, 12, 9400),
            (1, 13, 9400), (1, 14, 9400),
        ]
    ],
    [
        f"9999999999,0,{bid},{size},9999999999,0,{deeper},{deeper_size}"
        for bid, size, deeper, deeper_size in [
            (9600, 10, 9500, 60), (9600, 20, 9500, 60), (9600, 10, 9500, 60), (9600, 20, 9500, 60),
            (9600, 20, 9500, 50), (9600, 10, 9500, 50), (9600, 10, 9500, 40), (9600, 10, 9500, 30),
            (9600, 10, 9500, 20), (9600, 10, 9500, 10), (9500, 10, 9400, 10), (9400, 10, "0-9999999999", 0),
        ]
    ]
    + [_EMPTY_ROW]
    + [f"9999999999,0,9400,{size},9999999999,0,-9999999999,0" for size in (10, 20, 30)],
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(mutated_days(), st.sampled_from([64, 256, 1 << 16]))
@example(day=_REVEAL_THEN_BAD_ROW, block_bytes=64)
def test_compiled_replay_of_any_stream_equals_the_reference(
    tmp_path: Path, day: tuple[int, list[str], list[str]], block_bytes: int
) -> None:
    n, messages, rows = day
    if not messages:
        return
    stem = "SIM_2012-06-21_34200000_57600000"
    path = _write(tmp_path / "sim.zip", f"{stem}_message_{n}.csv", f"{stem}_orderbook_{n}.csv", messages, rows)
    _same(path, block_bytes=block_bytes)


@pytest.mark.parametrize("block_bytes", [64, 1 << 16])
def test_a_bad_orderbook_row_leaves_the_reveals_and_discoveries_before_it_counted(
    tmp_path: Path, block_bytes: int
) -> None:
    """What was applied to the book before the malformed row fails is counted, whichever block the row falls in
    (with 64 bytes the reveal of row 11 shares row 12's block; with 64 KiB the discoveries do too): the orders
    of the initial book that rows 1-12 name (7, 8, 1-6: row 12's own delete is applied before its reveal fails)
    and the level row 11 revealed."""
    n, messages, rows = _REVEAL_THEN_BAD_ROW
    stem = "SIM_2012-06-21_34200000_57600000"
    path = _write(tmp_path / "sim.zip", f"{stem}_message_{n}.csv", f"{stem}_orderbook_{n}.csv", messages, rows)
    for impl in ("python", "compiled"):
        result = _run(path, impl, block_bytes)
        counts = result["counts"]
        assert "line 12: malformed orderbook row" in result["error"]
        assert (counts.discovered, counts.reveals, counts.levels_from_file) == (8, 1, 1), impl


class _NotABook:
    pass


def test_compiled_impl_needs_an_l3book_sink_and_auto_falls_back(data_dir: Path) -> None:
    lf = open_lobster(data_dir / SAMPLES / FILES[3])
    with pytest.raises(ConfigError, match="needs an L3Book sink"):
        LobsterDecoder(lf, _NotABook(), impl="compiled")  # type: ignore[arg-type]
    assert LobsterDecoder(lf, _NotABook(), impl="auto").impl == "python"  # type: ignore[arg-type]
    assert LobsterDecoder(lf, L3Book("X")).impl == "compiled"
    with pytest.raises(ConfigError, match="not both"):
        LobsterDecoder(lf, L3Book("X"), on_row=print, check_row=print)


def test_the_environment_can_force_the_python_reference(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lf = open_lobster(data_dir / SAMPLES / FILES[3])
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert LobsterDecoder(lf, L3Book("X")).impl == "python"
    assert LobsterDecoder(lf, L3Book("X"), impl="compiled").impl == "compiled"  # an explicit choice wins
    monkeypatch.delenv(PURE_PYTHON_ENV)
    assert os.environ.get(PURE_PYTHON_ENV) is None
    assert LobsterDecoder(lf, L3Book("X")).impl == "compiled"
