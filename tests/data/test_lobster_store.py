"""The verified L3 replay of a LOBSTER day from the Parquet store equals the zip replay, compiled and reference.

Each case converts a zip (real shared files, mutated real files, hypothesis streams) into a store and replays
both with every hook recorded: the books after every block (the store's batches end elsewhere, so the book is
compared at the end and after the day's last row), trades, statuses, mismatching rows, counts and errors must
be identical between the zip replay (Python reference), the store replay's Python reference and its compiled
loop. A damaged store gives one clear line.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tapeflow.book import L3Book
from tapeflow.data import lobster, lobster_store
from tapeflow.data.lobster import COMPILED_AVAILABLE, LobsterDecoder
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.lobster_file import open_lobster
from tapeflow.data.lobster_store import DECODE_THREAD, StoreDecoder, open_store_day, write_lobster_book
from tapeflow.data.parquet_store import read_store
from tapeflow.data.store_writer import write_store
from tapeflow.model import ConfigError, DataError
from tapeflow.report.book_replay import replay
from tests.data.test_lobster_core import (
    _REVEAL_THEN_BAD_ROW,
    FILES,
    SAMPLES,
    _mutations,
    _printed,
    _state,
    _write,
    mutated_days,
)
from tests.data.test_lobster_sim import days

pytestmark = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")
TABLE = "LobsterBook.parquet"


def _store(zip_path: Path, out: Path, *, events: bool = False) -> Path:
    """The store ``data convert`` writes (``events``: with the day's events too, as the command does)."""
    write_store(iter_events(zip_path) if events else [], out, tables=lambda w: write_lobster_book(w, zip_path))
    return out


def _hooks(book: L3Book, levels: int) -> tuple[dict[str, list[Any]], Any]:
    got: dict[str, list[Any]] = {"trades": [], "statuses": [], "mismatches": []}

    def check(row: int, line: bytes) -> None:
        if _printed(book, levels) != line:
            got["mismatches"].append((row, line))

    return got, check


def _result(decoder: LobsterDecoder, book: L3Book, got: dict[str, Any]) -> dict[str, Any]:
    error = ""
    try:
        for _ in decoder.run():
            pass
    except DataError as exc:
        error = str(exc).split(": ", 1)[-1]  # the store names its table, the zip its member
    counts = decoder.counts  # its first problem names the member, after the zip's or the table's path
    counts.first_problem = counts.first_problem.rpartition("!")[2]
    compiled = getattr(decoder, "compiled_rows", 0)
    return {**got, "final": _state(book), "counts": counts, "error": error, "compiled": compiled}


def _zip_run(path: Path, block_bytes: int) -> dict[str, Any]:
    lf = open_lobster(path)
    book = L3Book(lf.symbol, impl="python")
    got, check = _hooks(book, lf.levels)
    decoder = LobsterDecoder(
        lf, book, on_trade=lambda *a: got["trades"].append(a), on_status=lambda *a: got["statuses"].append(a),
        check_row=check, block_bytes=block_bytes, impl="python",
    )  # fmt: skip
    return _result(decoder, book, got)


def _store_run(store: Path, impl: lobster.Impl, batch_rows: int, *, thread: bool = True) -> dict[str, Any]:
    day = open_store_day(store)
    book = L3Book(day.info.symbol, impl=impl)
    got, check = _hooks(book, day.info.levels)
    decoder = StoreDecoder(
        day, book, on_trade=lambda *a: got["trades"].append(a), on_status=lambda *a: got["statuses"].append(a),
        check_row=check, batch_rows=batch_rows, impl=impl, decode_thread=thread,
    )  # fmt: skip
    assert decoder.impl == impl and decoder.decode_thread == (thread and impl == "compiled")
    result = _result(decoder, book, got)
    assert not _decoders()  # the run ended (or failed): its decode thread with it
    return result


def _decoders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == DECODE_THREAD]


def _same(path: Path, store: Path, *, block_bytes: int = 1 << 16, batch_rows: int = 5_000) -> dict[str, Any]:
    """The zip's reference against the store's reference, its compiled loop with the decode thread (the
    default) and without it: the same results, errors included."""
    reference = _zip_run(path, block_bytes)
    ran = {}
    for impl, thread in (("python", False), ("compiled", True), ("compiled", False)):
        got = _store_run(store, impl, batch_rows, thread=thread)
        for key in reference:
            if key != "compiled":
                assert got[key] == reference[key], (impl, thread, key)
        assert ran.setdefault(impl, got["compiled"]) == got["compiled"]  # the same rows by the loop either way
    return reference | ran


@pytest.mark.parametrize("name", FILES)
def test_store_replay_of_each_shared_file_equals_the_zip_replay(data_dir: Path, name: str, tmp_path: Path) -> None:
    path = data_dir / SAMPLES / name
    result = _same(path, _store(path, tmp_path / "s"))
    assert not result["error"] and not result["mismatches"]  # every orderbook row rebuilt
    assert result["compiled"] == result["counts"].rows and result["python"] == 0  # every row by the compiled loop
    assert result["counts"].rows > 40_000 and result["counts"].reveals > 0


@pytest.mark.parametrize("name", FILES[:3])
def test_store_replay_report_equals_the_zip_report_compiled_and_reference(
    data_dir: Path, name: str, tmp_path: Path
) -> None:
    path = data_dir / SAMPLES / name
    store = _store(path, tmp_path / "s", events=True)
    zipped = replay(path, verify=True, impl="compiled")
    for impl in ("python", "compiled"):
        report = replay(store, verify=True, impl=impl)
        assert report.impl == impl
        for field in zipped.__struct_fields__:
            if field not in ("elapsed_s", "msgs_per_s", "impl", "file"):
                assert getattr(report, field) == getattr(zipped, field), field
    # the store still reads as events, the table aside
    assert sum(1 for _ in read_store(store)) == json.loads((store / "_tapeflow_store.json").read_text())["events"]


@pytest.mark.parametrize("name", [f for f in FILES if f.endswith("_5.zip")])
def test_compiled_store_loop_matches_every_row_of_a_real_day_without_asking_the_reference(
    data_dir: Path, name: str, tmp_path: Path
) -> None:
    """The loop's own row check is exact: on a day whose rows all match, it hands no row to ``check_row`` (the
    reference check, which would still find the row equal and so hide a fast check that is wrong, e.g. a copy of
    the top that a size change left stale, from every other test). Level 5: levels added, dropped and revealed
    below the best."""
    path = data_dir / SAMPLES / name
    day = open_store_day(_store(path, tmp_path / "s"))
    asked: list[int] = []
    decoder = StoreDecoder(day, L3Book(day.info.symbol), check_row=lambda row, line: asked.append(row),
                           impl="compiled")  # fmt: skip
    for _ in decoder.run():
        pass
    assert decoder.compiled_rows == day.entry.rows > 40_000 and decoder.counts.reveals > 0
    assert asked == []


@pytest.mark.parametrize(
    "mutation",
    [
        "lost_adds",
        "reused_ids",
        "oversized",
        "bad_levels",
        "gap",
        "huge_sizes",
        "noncanonical_rows",
        "ids_sharing_low_bits",
        "prices_off",
    ],
)
def test_store_replay_of_a_mutated_real_file_equals_the_zip_replay(
    tmp_path: Path, amzn5: tuple[str, str, list[str], list[str]], mutation: str
) -> None:
    msg, book, messages, books = amzn5
    if mutation == "noncanonical_rows":  # text kept beside the integers: the reference decides those batches
        m, b = list(messages), list(books)
        for i in range(300, 11_000, 211):
            b[i] = b[i].replace(",", ",0", 1)
        m[700] = m[700].split(",", 1)[0] + "000," + m[700].split(",", 1)[1]
        pair = (m, b)
    else:
        pair = _mutations(messages, books)[mutation]
    path = _write(tmp_path / "mutated.zip", msg, book, *pair)
    result = _same(path, _store(path, tmp_path / "s"), block_bytes=1 << 15, batch_rows=3_000)
    assert not result["error"]
    if mutation == "ids_sharing_low_bits":  # no damage: every id shares the column loop's id-object slot
        assert not result["mismatches"] and result["counts"].discovered
    elif mutation == "prices_off":  # read to the end; what the zip replay makes of it, the store's loop must too
        assert result["counts"].rows == len(pair[0])
    else:
        assert result["mismatches"] or result["counts"].duplicates or result["final"][-3]  # the damage shows


@pytest.fixture(scope="module")
def amzn5(data_dir: Path) -> tuple[str, str, list[str], list[str]]:
    lf = open_lobster(data_dir / SAMPLES / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip")
    with zipfile.ZipFile(lf.path) as zf:
        messages = zf.read(lf.message_member).decode().splitlines()
        books = zf.read(lf.orderbook_member).decode().splitlines()
    return lf.message_member, lf.orderbook_member, messages[:12_000], books[:12_000]


def _sim_zip(tmp: Path, n: int, messages: list[str], rows: list[str]) -> Path:
    """A simulated day of ``n`` levels as a LOBSTER zip, named as ``open_lobster`` reads a day and its levels."""
    stem = "SIM_2012-06-21_34200000_57600000"
    return _write(tmp / "sim.zip", f"{stem}_message_{n}.csv", f"{stem}_orderbook_{n}.csv", messages, rows)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(mutated_days(), st.sampled_from([1, 7, 5_000]))
# the malformed row's batch runs the reference; one batch, as the zip replay's 256-byte blocks end at row 16 too
# (``rows`` and ``by_type`` count a whole block or batch, the rows after a failing one included)
@example(day=_REVEAL_THEN_BAD_ROW, batch_rows=5_000)
def test_store_replay_of_any_stream_equals_the_zip_replay(
    tmp_path_factory: pytest.TempPathFactory, day: tuple[int, list[str], list[str]], batch_rows: int
) -> None:
    n, messages, rows = day
    if not messages:
        return
    tmp = tmp_path_factory.mktemp("day")
    path = _sim_zip(tmp, n, messages, rows)
    try:
        store = _store(path, tmp / "s")
    except DataError:
        with pytest.raises(DataError):  # a day the zip replay cannot read either is not converted
            _zip_run(path, 256)["error"] or _raise()
        return
    _same(path, store, block_bytes=256, batch_rows=batch_rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_compiled_store_loop_asks_the_reference_about_exactly_the_rows_that_differ_on_any_day(
    tmp_path_factory: pytest.TempPathFactory, day: tuple[int, list[str], list[str]]
) -> None:
    """Simulated days at levels 1-3, whose sides often hold fewer levels than the row shows (the sentinel
    fields): the loop's own check hands ``check_row`` only rows that really differ from the book (none here)."""
    n, messages, rows = day
    if not messages:
        return
    tmp = tmp_path_factory.mktemp("day")
    path = _sim_zip(tmp, n, messages, rows)
    store_day = open_store_day(_store(path, tmp / "s"))
    book = L3Book(store_day.info.symbol)
    got, check = _hooks(book, n)
    asked: list[int] = []

    def counted(row: int, line: bytes) -> None:
        asked.append(row)
        check(row, line)

    decoder = StoreDecoder(store_day, book, check_row=counted, impl="compiled")
    for _ in decoder.run():
        pass
    assert decoder.compiled_rows == len(messages)
    assert asked == [row for row, _ in got["mismatches"]] == []


def _raise() -> None:
    raise DataError("the zip replay read it")


def _relist(root: Path, rel: str) -> None:
    manifest = json.loads((root / "_tapeflow_store.json").read_text())
    f = root / rel
    for e in manifest["files"]:
        if e["path"] == rel:
            e["bytes"], e["sha256"] = f.stat().st_size, hashlib.sha256(f.read_bytes()).hexdigest()
    (root / "_tapeflow_store.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def goog1_store(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _store(data_dir / SAMPLES / FILES[3], tmp_path_factory.mktemp("goog") / "s")


def _copy(store: Path, tmp_path: Path) -> tuple[Path, str, Path]:
    import shutil

    out = tmp_path / "s"
    shutil.copytree(store, out)
    rel = next(p.relative_to(out).as_posix() for p in out.rglob(TABLE))
    return out, rel, out / rel


def test_changed_orderbook_row_in_a_relisted_store_is_a_mismatch_at_that_row(goog1_store: Path, tmp_path: Path) -> None:
    store, rel, path = _copy(goog1_store, tmp_path)
    table = pq.read_table(path)
    sizes = table.column("ask_size_1").to_pylist()
    sizes[1234] += 1
    table = table.set_column(table.schema.get_field_index("ask_size_1"), "ask_size_1", pa.array(sizes, pa.int64()))
    pq.write_table(table, path)
    _relist(store, rel)
    for impl in ("python", "compiled"):
        report = replay(store, verify=True, impl=impl)
        assert report.mismatches == 1 and report.mismatch_examples[0].row == 1235
        assert report.mismatch_examples[0].side == "SELL" and report.mismatch_examples[0].level == 1


class _HookFailedError(Exception):
    pass


def test_a_hook_failing_mid_batch_leaves_the_same_counts_in_both_store_loops(goog1_store: Path) -> None:
    """The column loop's twin of the zip loop's lost counts: a row that fails mid-batch must leave the reveals
    and discoveries before it counted, as the reference does. (A malformed orderbook row cannot reach the column
    loop: the writer keeps its text and its batch runs the reference; a hook that raises can.)"""
    counts = {}
    batch_reveals = {}
    trades: list[tuple[Any, ...]] = []

    def trade(*args: Any) -> None:
        trades.append(args)
        if len(trades) == 2_000:
            raise _HookFailedError

    for impl in ("python", "compiled"):
        day = open_store_day(goog1_store)
        trades.clear()
        decoder = StoreDecoder(day, L3Book(day.info.symbol, impl=impl), on_trade=trade, batch_rows=5_000, impl=impl)
        done = 0  # reveals of the batches that ended
        with pytest.raises(_HookFailedError):
            for _ in decoder.run():
                done = decoder.counts.reveals
        assert decoder.compiled_rows > 0 if impl == "compiled" else decoder.compiled_rows == 0
        counts[impl] = decoder.counts
        batch_reveals[impl] = decoder.counts.reveals - done
        assert not _decoders()  # the hook's error stopped the decode thread
    assert counts["compiled"] == counts["python"]
    assert batch_reveals["python"] > 0  # the failing batch had revealed levels before the hook failed


def test_compiled_store_replay_sizes_its_id_set_for_the_day_and_still_grows_past_it(goog1_store: Path) -> None:
    """The day's adds are at most its rows, which the manifest gives before the first row: the compiled replay's
    ``IdSet`` holds them without a rehash. A day sized too small (its manifest's row count lowered here; a day
    past the set's cap is the same case) still grows the set mid-batch, and the book is the same."""
    import msgspec

    day = open_store_day(goog1_store)
    for rows, room in ((300_000, (1 << 19) - 1), (3_000_000, (1 << 21) - 1)):  # longer than the zip's 131,071 holds
        longer = msgspec.structs.replace(day, entry=msgspec.structs.replace(day.entry, rows=rows))
        decoder = StoreDecoder(longer, L3Book(day.info.symbol), impl="compiled")
        assert decoder._known.capacity == room  # type: ignore[union-attr]  # the second: the cap, 2**22 slots
    decoder = StoreDecoder(day, L3Book(day.info.symbol, impl="compiled"), impl="compiled")
    room = decoder._known.capacity  # type: ignore[union-attr]
    assert room >= day.entry.rows
    for _ in decoder.run():
        pass
    assert decoder._known.capacity == room and 0 < len(decoder._known) <= day.entry.rows
    small = msgspec.structs.replace(day, entry=msgspec.structs.replace(day.entry, rows=10))
    book = L3Book(day.info.symbol, impl="compiled")
    undersized = StoreDecoder(small, book, batch_rows=5_000, impl="compiled")
    assert undersized._known.capacity == 131_071  # type: ignore[union-attr]
    with pytest.raises(DataError, match=f"holds {day.entry.rows} rows, its manifest 10"):
        for _ in undersized.run():
            pass
    assert len(undersized._known) == len(decoder._known) and _state(book) == _state(decoder._sink)


def test_truncated_table_is_refused_in_one_line(goog1_store: Path, tmp_path: Path) -> None:
    store, _, path = _copy(goog1_store, tmp_path)
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DataError, match="truncated or changed since it was written; convert the source again"):
        replay(store, verify=True)


def test_column_of_a_wrong_type_is_refused_in_one_line(goog1_store: Path, tmp_path: Path) -> None:
    store, rel, path = _copy(goog1_store, tmp_path)
    table = pq.read_table(path)
    i = table.schema.get_field_index("bid_price_1")
    table = table.set_column(i, "bid_price_1", table.column(i).cast(pa.int32()))
    pq.write_table(table, path)
    _relist(store, rel)
    with pytest.raises(DataError) as err:
        replay(store, verify=True)
    assert str(err.value) == (
        f"{path}: LobsterBook column 'bid_price_1' is int32, expected int64; convert the source again"
    )


def test_store_of_the_previous_version_without_orderbook_rows_is_refused_in_one_line(
    data_dir: Path, tmp_path: Path
) -> None:
    path = data_dir / SAMPLES / FILES[3]
    write_store(iter_events(path), tmp_path / "s")
    assert json.loads((tmp_path / "s" / "_tapeflow_store.json").read_text())["version"] == 2
    with pytest.raises(DataError) as err:
        replay(tmp_path / "s", verify=True)
    assert str(err.value) == (
        f"{tmp_path / 's'}: store version 2 keeps no LOBSTER orderbook rows (written before version 3); convert "
        "the LOBSTER zip again with `tapeflow data convert`"
    )


def test_newer_store_version_is_refused_in_one_line(goog1_store: Path, tmp_path: Path) -> None:
    store, _, _ = _copy(goog1_store, tmp_path)
    marker = store / "_tapeflow_store.json"
    manifest = json.loads(marker.read_text())
    assert manifest["version"] == 3
    marker.write_text(json.dumps({**manifest, "version": 4}))
    with pytest.raises(DataError, match="version 4 is newer than this tapeflow reads"):
        replay(store)


def test_compiled_store_replay_needs_an_l3book_sink(goog1_store: Path) -> None:
    with pytest.raises(ConfigError, match="needs an L3Book sink"):
        StoreDecoder(open_store_day(goog1_store), object(), impl="compiled")  # type: ignore[arg-type]


def test_compiled_store_loop_reads_strided_message_columns_as_it_reads_contiguous_ones(
    goog1_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop copies its rows out of the columns a chunk at a time; a message column given as a strided view
    (any buffer the memoryview accepts) must be read element by element, not as if it were contiguous."""
    from tapeflow.book import _l3_core

    contiguous = _store_run(goog1_store, "compiled", 5_000)
    loop = _l3_core.apply_lobster_columns
    seen: list[bool] = []

    def strided(book: L3Book, known: Any, *columns: Any) -> Any:
        views = [np.repeat(np.asarray(c), 2)[::2] for c in columns[:6]]  # every other value of a doubled copy
        seen.extend(not v.flags.c_contiguous for v in views)
        return loop(book, known, *views, *columns[6:])

    monkeypatch.setattr(_l3_core, "apply_lobster_columns", strided)
    assert _store_run(goog1_store, "compiled", 5_000) == contiguous
    assert seen and all(seen) and contiguous["compiled"] == contiguous["counts"].rows


@pytest.mark.parametrize("where", [0.2, 0.45, 0.7])
def test_damaged_bytes_in_a_relisted_table_are_a_one_line_data_error_or_read_never_a_pyarrow_error(
    goog1_store: Path, tmp_path: Path, where: float
) -> None:
    store, rel, path = _copy(goog1_store, tmp_path)
    data = bytearray(path.read_bytes())
    at = int(len(data) * where)
    data[at : at + 64] = bytes(b ^ 0x5A for b in data[at : at + 64])
    path.write_bytes(bytes(data))
    _relist(store, rel)
    try:
        report = replay(store, verify=True, impl="compiled")
    except DataError as exc:
        assert str(exc).startswith(f"{path}") and "\n" not in str(exc)
    else:  # the damage fell on bytes the reader does not use (statistics) or on values still read as a day
        assert report.rows == 49_482


def _flip(path: Path, at: int, n: int = 64) -> None:
    data = bytearray(path.read_bytes())
    data[at : at + n] = bytes(b ^ 0x5A for b in data[at : at + n])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("impl", ["python", "compiled"])
@pytest.mark.parametrize("where", ["first page", "middle", "footer"])
def test_table_that_does_not_hash_as_listed_reaches_no_hook_and_the_error_is_the_hash(
    goog1_store: Path, tmp_path: Path, impl: lobster.Impl, where: str
) -> None:
    """Fail-closed: a thread decodes the table while its SHA-256 is checked, but no row of a table whose bytes
    differ from the manifest reaches the book or a hook, and the one-line error is the hash's whatever the damage
    breaks in the decode (a page of the first batch, a later one, the footer that ``open_store_day`` reads)."""
    store, _, path = _copy(goog1_store, tmp_path)
    size = path.stat().st_size
    _flip(path, {"first page": 100, "middle": size // 2, "footer": size - 300}[where])
    calls: list[str] = []
    book: L3Book | None = None
    with pytest.raises(DataError) as err:
        day = open_store_day(store)
        book = L3Book(day.info.symbol, impl=impl)
        decoder = StoreDecoder(
            day, book, on_trade=lambda *a: calls.append("trade"), on_status=lambda *a: calls.append("status"),
            check_row=lambda row, line: calls.append("row"), batch_rows=5_000, impl=impl,
        )  # fmt: skip
        calls.extend("batch" for _ in decoder.run())
    assert str(err.value) == (
        f"{path}: store file changed since it was written (SHA-256 differs from its manifest); convert the source again"
    )
    assert calls == [] and (book is None or len(book) == 0)
    assert (book is None) == (where == "footer")  # a footer that does not read: refused before the book exists
    assert not _decoders()


def _damaged(goog1_store: Path, tmp_path: Path, at: float) -> Path:
    store, rel, path = _copy(goog1_store, tmp_path)
    _flip(path, int(path.stat().st_size * at))
    _relist(store, rel)
    return store


@pytest.mark.parametrize("fail", ["damaged page", "after two batches"])
def test_error_in_the_decode_thread_is_the_same_one_line_error_as_without_it(
    goog1_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: str
) -> None:
    """A read that fails in the decode thread (a damaged page that hashes as listed: relisted by hand; an
    ``OSError`` after two batches) is raised by the loop at the batch that needed it, as the same one-line
    ``DataError`` that reading in the caller's thread gives, after the same rows; the thread is gone."""
    if fail == "damaged page":
        store = _damaged(goog1_store, tmp_path, 0.35)
    else:
        store = goog1_store
        batches = StoreDecoder._batches

        def failing(self: StoreDecoder) -> Any:
            for k, batch in enumerate(batches(self)):
                if k == 2:
                    raise OSError("disk gone")
                yield batch

        monkeypatch.setattr(StoreDecoder, "_batches", failing)
    threaded = _store_run(store, "compiled", 5_000, thread=True)
    assert threaded == _store_run(store, "compiled", 5_000, thread=False)
    row = 0 if fail == "damaged page" else 10_000
    assert threaded["error"].startswith(f"store file unreadable after row {row}: ") and "\n" not in threaded["error"]
    assert threaded["compiled"] == row  # the batches before the failing one were applied, as without the thread


def test_store_replay_stopped_early_leaves_no_decode_thread_and_reads_one_batch_ahead(
    goog1_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread decodes at most one batch ahead of the loop (one waiting, one in its hands: memory flat as a
    day grows), and closing the replay's generator stops and joins it."""
    made: list[int] = []
    batches = StoreDecoder._batches

    def counted(self: StoreDecoder) -> Any:
        for batch in batches(self):
            made.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(StoreDecoder, "_batches", counted)
    day = open_store_day(goog1_store)
    decoder = StoreDecoder(day, L3Book(day.info.symbol), batch_rows=5_000, impl="compiled")
    run = decoder.run()
    assert next(run) == 5_000
    assert _decoders()
    time.sleep(0.3)  # time for the thread to read on, were it not bounded
    assert len(made) == 3  # the batch applied, the one waiting, the one the thread holds
    run.close()
    assert not _decoders()


@pytest.mark.parametrize("thread", [False, True])
def test_a_table_replaced_between_its_hash_check_and_its_read_reaches_no_hook(
    goog1_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, thread: bool
) -> None:
    """Right after the table hashes as listed, a copy with one orderbook size changed is renamed over it (as a
    converter replaces a file); the read then opens the copy (the decode thread is held until the swap): it would
    replay as a mismatch at that row, so the read must find that the file it opened is not the one hashed."""
    store, _, path = _copy(goog1_store, tmp_path)
    table = pq.read_table(path)
    sizes = table.column("ask_size_1").to_pylist()
    sizes[1234] += 1
    table = table.set_column(table.schema.get_field_index("ask_size_1"), "ask_size_1", pa.array(sizes, pa.int64()))
    pq.write_table(table, tmp_path / "changed.parquet")
    swapped = threading.Event()
    real_digest, real_batches = lobster_store.check_digest, StoreDecoder._batches

    def digest_then_replace(where: Path, entry: Any) -> Any:
        hashed = real_digest(where, entry)
        (tmp_path / "changed.parquet").replace(where)
        swapped.set()
        return hashed

    def after_the_swap(self: StoreDecoder) -> Any:
        assert swapped.wait(30)
        yield from real_batches(self)

    monkeypatch.setattr(lobster_store, "check_digest", digest_then_replace)
    monkeypatch.setattr(StoreDecoder, "_batches", after_the_swap)
    day = open_store_day(store)
    book = L3Book(day.info.symbol, impl="compiled")
    calls: list[str] = []
    decoder = StoreDecoder(
        day, book, on_trade=lambda *a: calls.append("trade"), on_status=lambda *a: calls.append("status"),
        check_row=lambda row, line: calls.append("row"), batch_rows=5_000, impl="compiled", decode_thread=thread,
    )  # fmt: skip
    with pytest.raises(DataError) as err:
        calls.extend("batch" for _ in decoder.run())
    assert str(err.value) == (
        f"{path}: store file was replaced or written between its SHA-256 check and its read; read the store again "
        "once nothing writes to it"
    )
    assert calls == [] and len(book) == 0
    assert not _decoders()
