"""Damaged Parquet stores: reading one either raises a DataError naming the damaged file or returns exactly the
original events; never a traceback from pyarrow, never a different stream.

The store is made from real data (the start of a LOBSTER day, six event types, and a DBN tbbo fixture, a second
symbol), and each example damages a fresh copy the way disks, copies and hand edits do: a truncated file, a
flipped byte, a partition file deleted, duplicated or renamed, an edited manifest.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tapeflow.data.detect import open_events
from tapeflow.data.files import STORE_MARKER
from tapeflow.data.parquet_store import read_store, read_table, write_store
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event

_Store = tuple[Path, list[Event], list[str]]


@pytest.fixture(scope="module")
def store(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> _Store:
    _, lobster, _ = open_events(data_dir / "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip")
    _, dbn, _ = open_events(data_dir / "databento-dbn-us-equity-fixtures/EQUS.MINI/test_data.tbbo.dbn.zst")
    events = list(itertools.islice(lobster, 1500)) + list(dbn)
    root = tmp_path_factory.mktemp("fuzz") / "store"
    write_store(events, root)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert list(read_store(root)) == events
    assert len(files) >= 6 and STORE_MARKER in files  # several partitions and types to damage
    return root, events, files


def test_store_fixture_has_two_symbols_and_several_types(store: _Store) -> None:
    _, events, _ = store
    assert len({getattr(e, "symbol", "") for e in events}) == 2
    assert len({type(e) for e in events}) >= 4


_MANIFEST_EDITS = ["rows", "bytes", "sha256", "path", "symbol", "type", "events", "drop", "dup", "swap_hash"]
_NEW_NAMES = ["Trade.parquet", "OrderAdded.parquet", "x.parquet", "../symbol=ZZ/date=2012-06-21/Trade.parquet",
              "../../symbol=GOOG/date=2012-06-22/Quote.parquet", "../../notes.txt"]  # fmt: skip

mutations = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 999), st.integers(0, 10**6)),
    st.tuples(st.just("flip"), st.integers(0, 999), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("delete"), st.integers(0, 999)),
    st.tuples(st.just("duplicate"), st.integers(0, 999), st.integers(0, 999), st.sampled_from(_NEW_NAMES)),
    st.tuples(st.just("rename"), st.integers(0, 999), st.integers(0, 999), st.sampled_from(_NEW_NAMES)),
    st.tuples(st.just("manifest"), st.sampled_from(_MANIFEST_EDITS), st.integers(0, 999), st.integers(-3, 3)),
    st.tuples(
        st.sampled_from(["copy_dir", "rename_dir"]),
        st.integers(0, 999),
        st.booleans(),
        st.integers(0, 1),
    ),
)


def _target(root: Path, files: list[str], src: str, pick: int, name: str) -> Path:
    """Another file of the store (to be overwritten) or a new name beside or near ``src``."""
    if pick % 3 == 0:
        return root / files[pick % len(files)]
    return (root / src).parent.joinpath(name).resolve()


def _edit_manifest(root: Path, kind: str, i: int, delta: int) -> None:
    marker = root / STORE_MARKER
    m: dict[str, Any] = json.loads(marker.read_text())
    entries = m["files"]
    e = entries[i % len(entries)]
    other = entries[(i + 1) % len(entries)]
    if kind in ("rows", "bytes"):
        e[kind] += delta or 1
    elif kind == "sha256":
        e["sha256"] = e["sha256"][:-1] + ("0" if e["sha256"][-1] != "0" else "1")
    elif kind == "path":
        e["path"] = other["path"]
    elif kind == "symbol":
        e["symbol"] = other["symbol"] if other["symbol"] != e["symbol"] else e["symbol"] + "X"
    elif kind == "type":
        e["type"] = other["type"] if other["type"] != e["type"] else "Trade"
    elif kind == "events":
        m["events"] += delta or 1
    elif kind == "drop":
        entries.remove(e)
    elif kind == "dup":
        entries.append(dict(e))
    else:
        e["sha256"], other["sha256"] = other["sha256"], e["sha256"]
    marker.write_text(json.dumps(m))


def _mutate(root: Path, files: list[str], mutation: tuple[Any, ...]) -> set[Path]:
    """Damage the store; returns the paths an error may name (the damaged files, or any for a manifest edit)."""
    kind = mutation[0]
    marker = root / STORE_MARKER
    if kind == "manifest":
        _edit_manifest(root, *mutation[1:])
        return {marker} | {root / f for f in files}
    if kind in ("copy_dir", "rename_dir"):
        return _move_partition(root, files, mutation)
    src = files[mutation[1] % len(files)]
    path = root / src
    named = {path} | ({marker, root} | {root / f for f in files} if src == STORE_MARKER else set())
    if kind == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: mutation[2] % (len(data) + 1)])
    elif kind == "flip":
        data = bytearray(path.read_bytes())
        if data:
            data[mutation[2] % len(data)] ^= mutation[3]
        path.write_bytes(bytes(data))
    elif kind == "delete":
        path.unlink()
    else:
        dst = _target(root, files, src, mutation[2], mutation[3])
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst != path:
            shutil.copyfile(path, dst)
            if kind == "rename":
                path.unlink()
        named |= {dst, marker, root} if dst.name == STORE_MARKER else {dst}
    return named


def _move_partition(root: Path, files: list[str], mutation: tuple[Any, ...]) -> set[Path]:
    """Copy or rename a symbol or date folder (as a hand-made "fix" of a store would); errors name its files."""
    kind, pick, symbol_level, which = mutation
    parts = sorted({f.split("/")[0] if symbol_level else f.rsplit("/", 1)[0] for f in files if "/" in f})
    src = root / parts[pick % len(parts)]
    names = ["symbol=GOOX", "symbol=%47OOG"] if symbol_level else ["date=2012-06-22", "date=2012-6-21"]
    dst = src.parent / names[which]
    assert dst != src and not dst.exists()
    shutil.copytree(src, dst)
    if kind == "rename_dir":
        shutil.rmtree(src)
    return {p for p in (*dst.rglob("*"), *(root / f for f in files)) if p.suffix == ".parquet"}


@contextmanager
def _damaged(store: _Store, mutation: tuple[Any, ...]) -> Iterator[tuple[Path, set[Path]]]:
    """A copy of the store with ``mutation`` applied: (its folder, the files a DataError may name)."""
    root0, _, files = store
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        shutil.copytree(root0, root)
        yield root, _mutate(root, files, mutation)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=mutations)
def test_damaged_store_raises_data_error_naming_the_file_or_reads_identical(
    store: _Store, mutation: tuple[Any, ...]
) -> None:
    _, original, _ = store
    with _damaged(store, mutation) as (root, named):
        try:
            got = list(read_store(root))
        except DataError as exc:
            assert exc.path is not None and str(exc).startswith(exc.path)
            assert Path(exc.path) in named, (mutation, str(exc))
            event(f"{mutation[0]}: DataError")
        else:
            assert got == original, mutation
            event(f"{mutation[0]}: identical")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=mutations)
def test_damaged_store_gives_read_table_a_data_error_naming_the_file_or_the_original_rows(
    store: _Store, mutation: tuple[Any, ...]
) -> None:
    """``read_table`` scans through ``pyarrow.dataset`` but only the files the checked manifest lists."""
    _, original, _ = store
    with _damaged(store, mutation) as (root, named):
        for name in sorted({type(e).__name__ for e in original}):
            try:
                table = read_table(root, name, columns=["ts_init"])
            except DataError as exc:
                assert exc.path is not None and str(exc).startswith(exc.path)
                assert Path(exc.path) in named, (mutation, name, str(exc))
                event(f"{mutation[0]}: DataError")
                continue
            rows = [(i, e.ts_init) for i, e in enumerate(original) if type(e).__name__ == name]
            assert rows and list(zip(table["_seq"].to_pylist(), table["ts_init"].to_pylist(), strict=True)) == rows
            event(f"{mutation[0]}: identical")
