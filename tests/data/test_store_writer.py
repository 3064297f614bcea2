"""Store writer: bounded memory and open files give the same bytes; names from data never become paths;
``overwrite`` replaces only a store; a failure anywhere leaves nothing behind and an old store unchanged."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapeflow.data import store_writer
from tapeflow.data.parquet_store import read_store
from tapeflow.data.store_manifest import load_manifest
from tapeflow.data.store_writer import write_store
from tapeflow.model.enums import Side
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event
from tapeflow.model.market import OrderAdded, OrderDeleted, Trade


def _events(symbols: int = 20, n: int = 600) -> list[Event]:
    """Three event types over ``symbols`` symbols, interleaved as a feed interleaves them."""
    evs: list[Event] = []
    for i in range(n):
        sym = f"S{i * 7 % symbols:02d}"
        ts = 1_700_000_000_000_000_000 + i
        if i % 3 == 0:
            evs.append(OrderAdded(ts_event=ts, ts_init=ts, symbol=sym, order_id=i, side=Side.BUY, price=10_000 + i,
                                  size=100))  # fmt: skip
        elif i % 3 == 1:
            evs.append(OrderDeleted(ts_event=ts, ts_init=ts, symbol=sym, order_id=i - 1))
        else:
            evs.append(Trade(ts_event=ts, ts_init=ts, symbol=sym, price=10_000 + i, size=i))
    return evs


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_tiny_buffer_spills_keep_two_files_open_and_write_identical_bytes(tmp_path: Path) -> None:
    evs = _events()
    write_store(evs, tmp_path / "unbounded", buffer_rows=10**9)
    before = _open_fds()
    seen: list[int] = []

    def counted() -> Iterator[Event]:
        for ev in evs:
            seen.append(_open_fds())
            yield ev

    write_store(counted(), tmp_path / "bounded", buffer_rows=3)
    assert len(seen) == len(evs) == 600
    assert max(seen) <= before + 1  # the spill file, never one per partition (there are 60)
    bounded = _files(tmp_path / "bounded")
    assert len([p for p in bounded if p.endswith(".parquet")]) == 60
    assert bounded == _files(tmp_path / "unbounded")
    assert list(read_store(tmp_path / "bounded")) == evs


def test_partitions_over_a_row_group_spill_and_read_back_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row groups cut across spilled chunks (a small ROW_GROUP forces several per file)."""
    monkeypatch.setattr(store_writer, "ROW_GROUP", 7)
    evs = _events(symbols=2, n=500)
    write_store(evs, tmp_path / "a", buffer_rows=5)
    write_store(evs, tmp_path / "b", buffer_rows=10**9)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert list(read_store(tmp_path / "a")) == evs


@pytest.mark.parametrize("symbol", ["/../../X", "..", "BRK/A", "a\\b", "%2F", "_", "spy", " A", "*?:<>|"])
def test_symbol_from_data_never_leaves_the_store(tmp_path: Path, symbol: str) -> None:
    out = tmp_path / "deep" / "store"
    out.parent.mkdir()
    evs: list[Event] = [Trade(ts_event=1, ts_init=1, symbol=symbol, price=1, size=1),
                        Trade(ts_event=2, ts_init=2, symbol="X", price=2, size=1)]  # fmt: skip
    write_store(evs, out)
    outside = [p for p in tmp_path.rglob("*") if not p.resolve().is_relative_to(out.resolve()) and p != out]
    assert outside == [tmp_path / "deep"]
    parts = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(parts) == 2 and all(p.startswith("symbol=") and "/" not in p for p in parts)
    assert list(read_store(out)) == evs
    assert list(read_store(out, symbols=[symbol])) == evs[:1]


def test_symbol_outside_printable_ascii_is_refused_naming_the_event(tmp_path: Path) -> None:
    evs: list[Event] = [Trade(ts_event=1, ts_init=1, symbol="A", price=1, size=1),
                        Trade(ts_event=5, ts_init=5, symbol="B\n../x", price=1, size=1)]  # fmt: skip
    with pytest.raises(DataError) as err:
        write_store(evs, tmp_path / "out")
    assert str(err.value) == (
        f"{tmp_path / 'out'}: event #2 (Trade at ts_init=5): symbol 'B\\n../x' has a character outside printable "
        "ASCII; a store partition needs 1-32 printable ASCII characters: fix or filter the input"
    )
    assert list(tmp_path.iterdir()) == []


def _failing(after: int, evs: list[Event]) -> Iterator[Event]:
    for i, ev in enumerate(evs):
        if i == after:
            raise DataError("bad record", path="feed.itch", offset=1234)
        yield ev


def test_reader_failing_midway_leaves_no_partial_and_the_old_store_unchanged(tmp_path: Path) -> None:
    evs = _events()
    write_store(evs[:50], tmp_path / "store")
    old = _files(tmp_path / "store")
    with pytest.raises(DataError, match="bad record"):
        write_store(_failing(400, evs), tmp_path / "store", overwrite=True, buffer_rows=8)  # spilled by then
    assert [p.name for p in tmp_path.iterdir()] == ["store"]
    assert _files(tmp_path / "store") == old


@pytest.mark.parametrize("at", ["third file", "manifest"])
def test_failure_while_writing_files_at_close_leaves_no_partial_and_the_old_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: str
) -> None:
    write_store(_events(n=9), tmp_path / "store")
    old = _files(tmp_path / "store")
    opened: list[Path] = []

    class DiskFull(store_writer._HashingFile):
        def __init__(self, path: Path) -> None:
            opened.append(path)
            if len(opened) == 3:
                raise OSError(28, "No space left on device")
            super().__init__(path)

    def no_manifest(root: Path, manifest: object) -> None:
        raise OSError(28, "No space left on device")

    if at == "third file":
        monkeypatch.setattr(store_writer, "_HashingFile", DiskFull)
    else:
        monkeypatch.setattr(store_writer, "write_manifest", no_manifest)
    with pytest.raises(OSError, match="No space"):
        write_store(_events(), tmp_path / "store", overwrite=True, buffer_rows=8)
    assert len(opened) == (3 if at == "third file" else 0)
    assert [p.name for p in tmp_path.iterdir()] == ["store"]
    assert _files(tmp_path / "store") == old


def test_overwrite_replaces_a_store(tmp_path: Path) -> None:
    write_store(_events(n=30), tmp_path / "store")
    evs = _events(symbols=3, n=10)
    assert write_store(evs, tmp_path / "store", overwrite=True) == 10
    assert list(read_store(tmp_path / "store")) == evs
    assert [p.name for p in tmp_path.iterdir()] == ["store"]


def test_overwrite_refuses_a_folder_that_is_not_a_store_and_deletes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(DataError, match=r"--overwrite replaces only a tapeflow Parquet store.*no _tapeflow_store"):
        write_store(_events(n=3), home, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["home"]
    assert (home / "thesis.tex").read_text() == "years of work"


def test_overwrite_refuses_a_store_holding_a_foreign_file(tmp_path: Path) -> None:
    write_store(_events(n=30), tmp_path / "store")
    (tmp_path / "store" / "notes.txt").write_text("mine")
    with pytest.raises(DataError) as err:
        write_store(_events(n=3), tmp_path / "store", overwrite=True)
    assert str(err.value) == (
        f"{tmp_path / 'store'}: --overwrite replaces only a tapeflow Parquet store, and this folder is not one "
        f"({tmp_path / 'store' / 'notes.txt'}: file is not part of the store (not in its manifest: copied in, "
        "renamed or left by another tool)); remove it yourself or give --to a new path"
    )
    assert (tmp_path / "store" / "notes.txt").read_text() == "mine"
    assert load_manifest(tmp_path / "store").events == 30


@pytest.mark.parametrize("kind", ["file", "symlink to folder", "symlink to store", "dangling symlink"])
def test_output_file_or_symlink_is_refused_even_with_overwrite(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "out"
    write_store(_events(n=3), tmp_path / "store")
    (tmp_path / "folder").mkdir()
    if kind == "file":
        out.write_text("x")
    else:
        target = {"symlink to folder": "folder", "symlink to store": "store", "dangling symlink": "nowhere"}[kind]
        out.symlink_to(tmp_path / target)
    with pytest.raises(DataError, match=r"is a symbolic link|is not a folder"):
        write_store(_events(n=3), out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "out", "store"]
    assert load_manifest(tmp_path / "store").events == 3


def test_existing_output_without_overwrite_is_refused(tmp_path: Path) -> None:
    write_store(_events(n=3), tmp_path / "store")
    with pytest.raises(DataError) as err:
        write_store(_events(n=3), tmp_path / "store")
    assert str(err.value) == (
        f"{tmp_path / 'store'}: output exists; pass --overwrite to replace a tapeflow store, or give --to a new path"
    )


@pytest.mark.parametrize("name", [".", "..", "x/.."])
def test_output_without_a_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(DataError, match="output must be a named folder"):
        write_store(_events(n=3), Path(name), overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["sub"] and list((tmp_path / "sub").iterdir()) == []


def test_real_lobster_day_spilled_every_few_rows_writes_identical_bytes(data_dir: Path, tmp_path: Path) -> None:
    """Six event types, nested book levels and conditions go through the spill's msgpack and come back exact."""
    from tapeflow.data.detect import open_events

    _, events, _ = open_events(data_dir / "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip")
    original = list(events)
    write_store(original, tmp_path / "unbounded", buffer_rows=10**9)
    write_store(original, tmp_path / "bounded", buffer_rows=97)
    files = _files(tmp_path / "bounded")
    assert len([p for p in files if p.endswith(".parquet")]) >= 5
    assert files == _files(tmp_path / "unbounded")
    assert list(read_store(tmp_path / "bounded")) == original
