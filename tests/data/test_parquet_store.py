"""Parquet store: reading back gives the identical event stream; failures leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data import parquet_store
from tapeflow.data.detect import open_events
from tapeflow.data.nytime import NEW_YORK
from tapeflow.data.parquet_store import read_store, read_table, write_store
from tapeflow.data.store_manifest import partition_name
from tapeflow.model.book_events import DepthRevealed
from tapeflow.model.enums import Side
from tapeflow.model.errors import ConfigError, DataError
from tapeflow.model.events import Event
from tapeflow.model.market import BookLevel, OrderAdded, OrderDeleted, Quote, Trade


@pytest.mark.parametrize(
    "rel",
    [
        "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip",
        "databento-dbn-us-equity-fixtures/XNAS.ITCH/test_data.mbp-10.dbn.zst",
        "lean-algoseek-us-equity/minute/aapl/20140605_quote.zip",
        "zipline-test-daily/pipeline_inputs_AAPL.csv.gz",
        "nasdaq-itch50-head-fixture/sample.itch",
    ],
)
def test_round_trip_is_identical(data_dir: Path, tmp_path: Path, rel: str) -> None:
    _, events, _ = open_events(data_dir / rel, day=date(2019, 12, 30))  # the ITCH fixture's name has no day
    original = list(events)
    assert write_store(original, tmp_path / "store") == len(original)
    assert list(read_store(tmp_path / "store")) == original


def test_taq_day_with_conditions_and_ties_round_trips(tmp_path: Path) -> None:
    evs: list[Event] = [
        Trade(ts_event=t, ts_init=t, symbol=s, price=100 + t, size=1, conditions=("ODD_LOT",) if t % 2 else ())
        for t in (5, 5, 6, 6, 7)
        for s in ("B", "A")
    ]
    write_store(evs, tmp_path / "s")
    assert list(read_store(tmp_path / "s")) == evs
    assert [e.symbol for e in read_store(tmp_path / "s", symbols=["A"])] == ["A"] * 5  # type: ignore[attr-defined]


def test_failure_leaves_no_output(tmp_path: Path) -> None:
    def broken() -> Iterator[Event]:
        yield Trade(ts_event=1, ts_init=1, symbol="X", price=1, size=1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_store(broken(), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_lobster_day_read_in_small_batches_is_identical(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches far smaller than a file force the block-wise merge through many rounds across six event types."""
    _, events, _ = open_events(data_dir / "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip")
    original = list(events)
    write_store(original, tmp_path / "store")
    for batch in (97, 4096):
        monkeypatch.setattr(parquet_store, "_READ_BATCH", batch)
        assert list(read_store(tmp_path / "store")) == original


def test_mixed_types_symbols_and_days_in_small_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interleaved types, two symbols (one with a single venue) and a New York midnight, ties included."""
    day = 1_700_000_000_000_000_000
    evs: list[Event] = []
    for i in range(300):
        ts = day + (i // 3) * 1_000_000_000_000  # ~28 hours in all: two New York dates
        sym = "AB" if i % 5 else "XYZ"
        kind = i % 4
        if kind == 0:
            evs.append(
                OrderAdded(ts_event=ts, ts_init=ts, symbol=sym, order_id=i, side=Side.BUY if i % 3 else Side.SELL,
                           price=1_000_000 + i, size=1 + i, mpid="" if i % 2 else "MM")
            )  # fmt: skip
        elif kind == 1:
            evs.append(OrderDeleted(ts_event=ts, ts_init=ts, symbol=sym, order_id=i - 1))
        elif kind == 2:
            levels = tuple(BookLevel(1_000_000 - j, 100 * j + 1) for j in range(i % 4))
            evs.append(
                DepthRevealed(ts_event=ts, ts_init=ts, symbol=sym, side=Side.SELL, after_price=999_999, levels=levels,
                              through_end=bool(i % 2))
            )  # fmt: skip
        else:
            evs.append(
                Quote(ts_event=ts, ts_init=ts, symbol=sym, bid_price=1, bid_size=0, ask_price=2, ask_size=3,
                      venue="XNAS")
            )  # fmt: skip
    write_store(evs, tmp_path / "s")
    assert len(list((tmp_path / "s").glob("symbol=*/date=*"))) == 4
    for batch in (1, 2, 13, 65_536):
        monkeypatch.setattr(parquet_store, "_READ_BATCH", batch)
        assert list(read_store(tmp_path / "s")) == evs
        assert list(read_store(tmp_path / "s", symbols=["XYZ"])) == [e for e in evs if e.symbol == "XYZ"]  # type: ignore[attr-defined]


def test_not_a_store_fails_when_opened(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        read_store(tmp_path)


def _small_store(root: Path) -> list[Event]:
    evs: list[Event] = [
        Trade(ts_event=t, ts_init=t, symbol=s, price=100 + t, size=1) for t in range(1, 40) for s in ("A", "B")
    ]
    evs += [OrderDeleted(ts_event=50, ts_init=50, symbol="A", order_id=3)]
    write_store(evs, root)
    return evs


def _error(root: Path) -> DataError:
    with pytest.raises(DataError) as err:
        list(read_store(root))
    return err.value


def test_manifest_lists_every_file_with_rows_size_and_hash(tmp_path: Path) -> None:
    _small_store(tmp_path / "s")
    manifest = json.loads((tmp_path / "s" / "_tapeflow_store.json").read_text())
    assert manifest["format"] == "tapeflow-parquet" and manifest["version"] == 2 and manifest["events"] == 79
    by_path = {e["path"]: e for e in manifest["files"]}
    assert sorted(by_path) == [
        "symbol=A/date=1969-12-31/OrderDeleted.parquet",
        "symbol=A/date=1969-12-31/Trade.parquet",
        "symbol=B/date=1969-12-31/Trade.parquet",
    ]
    f = tmp_path / "s" / "symbol=B/date=1969-12-31/Trade.parquet"
    assert by_path["symbol=B/date=1969-12-31/Trade.parquet"] == {
        "path": "symbol=B/date=1969-12-31/Trade.parquet", "symbol": "B", "date": "1969-12-31", "type": "Trade",
        "rows": 39, "bytes": f.stat().st_size, "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
    }  # fmt: skip


def test_partition_copied_into_the_store_is_refused_naming_the_copy(tmp_path: Path) -> None:
    _small_store(tmp_path / "s")
    shutil.copytree(tmp_path / "s" / "symbol=B", tmp_path / "s" / "symbol=C")
    err = _error(tmp_path / "s")
    assert err.path == str(tmp_path / "s" / "symbol=C/date=1969-12-31/Trade.parquet")
    assert "file is not part of the store (not in its manifest" in str(err)


def test_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    _small_store(tmp_path / "s")
    gone = tmp_path / "s" / "symbol=A/date=1969-12-31/OrderDeleted.parquet"
    gone.unlink()
    err = _error(tmp_path / "s")
    assert str(err) == f"{gone}: file of the store is missing (listed in its manifest); convert the source again"


def test_truncated_file_is_refused_before_any_event(tmp_path: Path) -> None:
    _small_store(tmp_path / "s")
    f = tmp_path / "s" / "symbol=B/date=1969-12-31/Trade.parquet"
    size = f.stat().st_size
    f.write_bytes(f.read_bytes()[:-10])
    events = read_store(tmp_path / "s")
    with pytest.raises(DataError) as err:
        next(events)  # the first event already needs every file verified
    assert str(err.value) == (
        f"{f}: store file is {size - 10} bytes, its manifest says {size}: truncated or changed since it was "
        "written; convert the source again"
    )


def test_flipped_byte_is_refused_by_its_hash(tmp_path: Path) -> None:
    _small_store(tmp_path / "s")
    f = tmp_path / "s" / "symbol=A/date=1969-12-31/Trade.parquet"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    err = _error(tmp_path / "s")
    assert err.path == str(f) and "SHA-256 differs from its manifest" in str(err)


def _relist(root: Path, rel: str) -> None:
    """Make the manifest agree with a replaced file, as a store written by another version would."""
    manifest = json.loads((root / "_tapeflow_store.json").read_text())
    f = root / rel
    for e in manifest["files"]:
        if e["path"] == rel:
            e["bytes"], e["sha256"] = f.stat().st_size, hashlib.sha256(f.read_bytes()).hexdigest()
    (root / "_tapeflow_store.json").write_text(json.dumps(manifest))


def test_file_of_another_layout_is_refused_not_misread(tmp_path: Path) -> None:
    _small_store(tmp_path / "s")
    rel = "symbol=A/date=1969-12-31/Trade.parquet"
    table = pq.read_table(tmp_path / "s" / rel).drop_columns(["size"])
    pq.write_table(table, tmp_path / "s" / rel)
    _relist(tmp_path / "s", rel)
    err = _error(tmp_path / "s")
    assert str(err) == (
        f"{tmp_path / 's' / rel}: store file does not hold 39 Trade rows of this tapeflow's layout (written by "
        "another version?); convert the source again"
    )


def test_garbage_listed_as_a_file_is_a_data_error_not_a_pyarrow_error(tmp_path: Path) -> None:
    _small_store(tmp_path / "s")
    rel = "symbol=B/date=1969-12-31/Trade.parquet"
    (tmp_path / "s" / rel).write_bytes(b"PAR1" + b"\x00" * 100)
    _relist(tmp_path / "s", rel)
    err = _error(tmp_path / "s")
    assert err.path == str(tmp_path / "s" / rel)
    assert str(err).startswith(f"{tmp_path / 's' / rel}: not a readable Parquet file (")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["files"][0].update(path="../../etc/passwd"), "is not where its symbol, date and type put it"),
        (lambda m: m["files"][0].update(symbol="../x", path="symbol=../x/date=1969-12-31/OrderDeleted.parquet"),
         "is not where its symbol, date and type put it"),
        (lambda m: m["files"][0].update(type="Exploit"), "unknown event type 'Exploit'"),
        (lambda m: m.update(events=80), "its files hold 79 rows but it says 80 events"),
        (lambda m: m.update(version=1), "store format 'tapeflow-parquet' version 1, this tapeflow reads"),
        (lambda m: m.pop("files") and m.update(version="2"), "store format 'tapeflow-parquet' version '2', this"),
        (lambda m: m["files"][0].pop("sha256"), "store manifest unreadable or damaged (Object missing required field"),
        (lambda m: m["files"].append(dict(m["files"][0])), "is listed twice"),
        (lambda m: m.update(extra=1), "store manifest unreadable or damaged (Object contains unknown field"),
    ],
)  # fmt: skip
def test_edited_manifest_is_refused_naming_it(tmp_path: Path, edit: Any, message: str) -> None:
    _small_store(tmp_path / "s")
    marker = tmp_path / "s" / "_tapeflow_store.json"
    manifest = json.loads(marker.read_text())
    edit(manifest)
    marker.write_text(json.dumps(manifest))
    err = _error(tmp_path / "s")
    assert err.path == str(marker) and message in str(err)


def test_many_files_are_read_with_one_open_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store of thousands of symbols has more files than a process may keep open."""
    evs: list[Event] = [Trade(ts_event=t, ts_init=t, symbol=f"S{t % 50}", price=t, size=1) for t in range(400)]
    write_store(evs, tmp_path / "s")
    monkeypatch.setattr(parquet_store, "_READ_BATCH", 3)
    before = len(os.listdir("/proc/self/fd"))
    seen = []
    out = []
    for ev in read_store(tmp_path / "s"):
        seen.append(len(os.listdir("/proc/self/fd")))
        out.append(ev)
    assert out == evs
    assert max(seen) <= before


def test_store_of_the_first_format_without_a_file_list_is_refused(tmp_path: Path) -> None:
    _small_store(tmp_path / "s")
    marker = tmp_path / "s" / "_tapeflow_store.json"
    marker.write_text('{"format": "tapeflow-parquet", "version": 1, "events": 79}')
    err = _error(tmp_path / "s")
    assert str(err) == (
        f"{marker}: store format 'tapeflow-parquet' version 1, this tapeflow reads 'tapeflow-parquet' version 2 "
        "(with a list of its files); convert the source again"
    )


def test_merge_of_many_single_batch_files_is_one_round() -> None:
    """Files whose last batch is loaded do not bound a round: 300 small files merge in one argsort, not 300."""
    evs = [Trade(ts_event=t, ts_init=t, symbol=f"S{t % 300}", price=t, size=1) for t in range(900)]
    files = []
    for k in range(300):
        seq = np.arange(k, 900, 300, dtype=np.int64)
        files.append((iter([(seq, [evs[i] for i in seq.tolist()])]), 3))
    blocks = list(parquet_store._merge(files))
    assert len(blocks) == 1
    assert blocks[0] == evs


def test_merge_waits_for_a_file_with_rows_still_to_load() -> None:
    """A file with another batch to come bounds the round, so its next batch is merged in order."""
    evs = [Trade(ts_event=t, ts_init=t, symbol="A", price=t, size=1) for t in range(6)]
    long = iter([(np.array([0, 2], np.int64), [evs[0], evs[2]]), (np.array([3, 5], np.int64), [evs[3], evs[5]])])
    short = iter([(np.array([1, 4], np.int64), [evs[1], evs[4]])])  # 4 must wait for the long file's 3
    blocks = list(parquet_store._merge([(long, 4), (short, 2)]))
    assert blocks == [evs[:3], evs[3:]]
    assert [e for b in blocks for e in b] == evs


def _mixed_store(root: Path) -> list[Event]:
    """Trades of escaped symbols and of no symbol, over a New York midnight, interleaved with quotes."""
    day = 1_700_000_000_000_000_000  # 2023-11-14 22:13 UTC, 17:13 in New York
    evs: list[Event] = []
    for i in range(60):
        ts = day + i * 600_000_000_000  # 10 minutes apart: the last ones fall on 2023-11-15 in New York
        sym = ("BRK/A", "spy", "")[i % 3]
        if i % 4 == 3:
            evs.append(Quote(ts_event=ts, ts_init=ts, symbol=sym, bid_price=1, bid_size=1, ask_price=2, ask_size=1))
        else:
            evs.append(Trade(ts_event=ts, ts_init=ts, symbol=sym, price=1_000_000 + i, size=100 + i))
    write_store(evs, root)
    return evs


def _ny_day(ts: int) -> str:
    return str(datetime.fromtimestamp(ts / 1e9, NEW_YORK).date())


def test_read_table_projects_columns_in_stream_order_with_the_partition_date(tmp_path: Path) -> None:
    evs = _mixed_store(tmp_path / "s")
    table = read_table(tmp_path / "s", "Trade", columns=["price", "symbol"])
    assert table.column_names == ["_seq", "price", "symbol", "date"]
    trades = [(i, e) for i, e in enumerate(evs) if isinstance(e, Trade)]
    assert {_ny_day(e.ts_init) for _, e in trades} == {"2023-11-14", "2023-11-15"}
    assert table.to_pylist() == [
        {"_seq": i, "price": e.price, "symbol": e.symbol, "date": _ny_day(e.ts_init)} for i, e in trades
    ]


def test_read_table_filters_by_symbol_and_day_from_the_manifest(tmp_path: Path) -> None:
    evs = _mixed_store(tmp_path / "s")
    table = read_table(tmp_path / "s", "Trade", columns=["size"], symbols=["BRK/A", ""], dates=["2023-11-15"])
    want = [
        e.size for e in evs if isinstance(e, Trade) and e.symbol in ("BRK/A", "") and _ny_day(e.ts_init) == "2023-11-15"
    ]
    assert want and table.column("size").to_pylist() == want
    assert table.column("date").to_pylist() == ["2023-11-15"] * len(want)
    empty = read_table(tmp_path / "s", "Trade", symbols=["NONE"])
    assert empty.num_rows == 0 and empty.column_names[:3] == ["_seq", "ts_event", "ts_init"]


def test_read_table_refuses_a_flipped_byte_before_scanning(tmp_path: Path) -> None:
    _small_store(tmp_path / "s")
    f = tmp_path / "s" / "symbol=A/date=1969-12-31/Trade.parquet"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(DataError) as err:
        read_table(tmp_path / "s", "Trade", columns=["price"])
    assert err.value.path == str(f) and "SHA-256 differs from its manifest" in str(err.value)
    assert read_table(tmp_path / "s", "Trade", symbols=["B"]).num_rows == 39  # the intact file alone still reads


@pytest.mark.parametrize(
    ("event_type", "columns", "message"),
    [
        ("Trades", None, "field `event_type`: unknown event type 'Trades'; one of Bar, BookCrossed, "),
        (
            "Trade",
            ["price", "bid_price"],
            "field `columns`: Trade has no column 'bid_price'; its columns are _seq, ts_event, ts_init, symbol, "
            "price, size, aggressor, venue, trade_id, conditions",
        ),
    ],
)
def test_read_table_names_a_wrong_type_or_column(
    tmp_path: Path, event_type: str, columns: list[str] | None, message: str
) -> None:
    _small_store(tmp_path / "s")
    with pytest.raises(ConfigError) as err:
        read_table(tmp_path / "s", event_type, columns=columns)
    assert str(err.value).startswith(message)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=32))
def test_hive_uri_decoding_of_a_partition_name_is_the_symbol(symbol: str) -> None:
    """pyarrow's hive reading of the folder name gives back exactly the symbol."""
    keys = ds.get_partition_keys(_HIVE.parse(f"/{partition_name(symbol)}/date=2024-01-02/Trade.parquet"))
    assert keys == {"symbol": symbol, "date": "2024-01-02"}


_HIVE = ds.HivePartitioning(pa.schema([("symbol", pa.string()), ("date", pa.string())]), segment_encoding="uri")


SWAPPED = "symbol=A/date=1969-12-31/Trade.parquet"


@pytest.mark.parametrize("reader", ["read_store", "read_table"])
def test_a_file_replaced_between_its_hash_check_and_its_read_is_refused_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """Right after the listed file hashes as listed, another store's file of the same layout and row count
    (every trade a cent dearer) is renamed over it, as a converter replaces a file: it would pass every check
    that follows the hash, so the read must find that the file it opened is not the one hashed."""
    _small_store(tmp_path / "s")
    write_store(
        [Trade(ts_event=t, ts_init=t, symbol=s, price=101 + t, size=1) for t in range(1, 40) for s in ("A", "B")]
        + [OrderDeleted(ts_event=50, ts_init=50, symbol="A", order_id=3)],
        tmp_path / "other",
    )
    target = tmp_path / "s" / SWAPPED
    real = parquet_store.verify_file

    def verify_then_replace(path: Path, entry: Any) -> Any:
        hashed = real(path, entry)
        if path == target:
            shutil.copyfile(tmp_path / "other" / SWAPPED, tmp_path / "swap")
            os.replace(tmp_path / "swap", path)
        return hashed

    monkeypatch.setattr(parquet_store, "verify_file", verify_then_replace)
    with pytest.raises(DataError) as err:
        if reader == "read_store":
            list(read_store(tmp_path / "s"))
        else:
            read_table(tmp_path / "s", "Trade", columns=["price"])
    assert err.value.path == str(target)
    assert "replaced or written between its SHA-256 check and its read" in str(err.value)
