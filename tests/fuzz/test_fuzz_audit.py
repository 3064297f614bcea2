"""Every way of tampering with a keyed audit trail is detected, wherever hypothesis chooses to do it.

One trail of three runs (a few hundred records, a checkpoint per commit, a head file line per run) is built once
per module; each example tampers with a copy of it as someone holding the files but not the key could, and
``verify_store`` (what ``tapeflow audit verify --key-file`` runs) must fail, naming the damage where it has one
place. The untampered copy must verify, or a failing check would prove nothing.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tapeflow.compliance import AuditWriter, SqliteAuditStore
from tapeflow.compliance.audit_store import encode_block, verify_store
from tapeflow.compliance.chain import GENESIS, Row, VerifyResult, record_hash, stored_of
from tapeflow.compliance.head import Head, format_head, head_path, parse_expected, read_heads
from tapeflow.model import Signal

KEY = b"fuzz-checkpoint-key"
T0 = 1_718_978_400_000_000_000
RUNS = (120, 90, 110)
"""Records per run: batches of 30 with a flush after every other one, so each run has several checkpoints."""
RECORDS = sum(RUNS)
KINDS = {
    "edit": "was altered",
    "delete": "missing",
    "insert": "does not link",
    "reorder": "does not link",
    "truncate": "are missing",
    "delete-trailing-checkpoints": "are not covered by a signed checkpoint",
    "delete-all-checkpoints": "no signed checkpoint at all",
    "rehash": "differs from the signed checkpoint",
    "replace-head-file": "head file line 1 has a bad signature",
}
"""Each tamper kind, and what verify's finding must say."""


@pytest.fixture(scope="module")
def built() -> Iterator[tuple[Path, Head]]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "trail.db"
        ts = T0
        writer = None
        for n in RUNS:
            writer = AuditWriter(SqliteAuditStore(db), key=KEY)
            for i in range(0, n, 30):
                batch = []
                for _ in range(min(30, n - i)):
                    ts += 1_000
                    batch.append(
                        Signal(ts_event=ts, ts_init=ts, strategy_id="s", symbol="AAPL", name="x", value=1.0, reason="r")
                    )
                writer.submit(batch)
                if i // 30 % 2:
                    writer.flush()
            writer.close()
        assert writer is not None and writer.head is not None
        con = sqlite3.connect(db)  # one file to copy: fold the WAL in
        con.execute("PRAGMA journal_mode=DELETE")
        con.close()
        yield db, writer.head


def _copy(built: tuple[Path, Head], tmp: str) -> Path:
    db = Path(tmp) / "trail.db"
    shutil.copyfile(built[0], db)
    shutil.copyfile(head_path(built[0]), head_path(db))
    return db


def _check(db: Path, expect: Head | None = None) -> VerifyResult:
    store = SqliteAuditStore(db, readonly=True)
    try:
        expected = parse_expected(f"{expect.seq}:{expect.hash.hex()}") if expect is not None else None
        return verify_store(store, KEY, expected)
    finally:
        store.close()


def _rows(db: Path) -> list[Row]:
    store = SqliteAuditStore(db, readonly=True)
    try:
        return list(store.rows())
    finally:
        store.close()


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")  # a throwaway copy: no fsync per tampering
    return con


def _store_rows(db: Path, rows: list[Row]) -> None:
    """Put ``rows`` back one block per record (so that block boundaries cannot be what gives a change away)."""
    con = _connect(db)
    con.execute("DELETE FROM blocks")
    for row in rows:
        con.execute("INSERT INTO blocks VALUES (?,?,?)", (row.seq, row.seq, encode_block([stored_of(row)])))
    con.commit()
    con.close()


def _sql(db: Path, sql: str, *args: int) -> None:
    con = _connect(db)
    con.execute(sql, args)
    con.commit()
    con.close()


def _rehash(rows: list[Row]) -> list[Row]:
    out, prev = [], GENESIS
    for r in rows:
        digest = record_hash(prev, r.seq, r.body, r.cause)
        out.append(r._replace(prev=prev, hash=digest))
        prev = digest
    return out


def _edited(row: Row) -> Row:
    assert b"AAPL" in row.body
    return row._replace(body=row.body.replace(b"AAPL", b"MSFT"))


def _tamper(db: Path, kind: str, where: int) -> int | None:
    """Tamper with ``db`` at record ``where`` (1-based); the first bad record verify must name, where known."""
    rows = _rows(db)
    assert len(rows) == RECORDS
    i = where - 1
    if kind == "edit":
        rows[i] = _edited(rows[i])
        _store_rows(db, rows)
        return where
    if kind == "delete":
        _store_rows(db, rows[:i] + rows[i + 1 :])
        return where
    if kind == "insert":  # a copy of another record, renumbered into place
        moved = [r._replace(seq=r.seq + 1) for r in rows[i:]]
        _store_rows(db, [*rows[:i], rows[(i + 5) % RECORDS]._replace(seq=where), *moved])
        return where
    if kind == "reorder":
        i = min(i, RECORDS - 2)
        swapped = [rows[i + 1]._replace(seq=i + 1), rows[i]._replace(seq=i + 2)]
        _store_rows(db, [*rows[:i], *swapped, *rows[i + 2 :]])
        return i + 1
    if kind == "truncate":  # the tail cut off with its checkpoints and runs, as a careful attacker would
        keep = min(i, RECORDS - 1)
        _store_rows(db, rows[:keep])
        _sql(db, "DELETE FROM checkpoints WHERE seq > ?", keep)
        _sql(db, "DELETE FROM runs WHERE first_seq > ?", keep)
        return keep + 1
    if kind == "delete-trailing-checkpoints":
        _sql(db, "DELETE FROM checkpoints WHERE seq >= ?", where)
        return None
    if kind == "delete-all-checkpoints":
        _sql(db, "DELETE FROM checkpoints")
        return 1
    if kind == "rehash":  # edit a record and recompute every hash after it, without the key
        rows[i] = _edited(rows[i])
        _store_rows(db, _rehash(rows))
        return None
    assert kind == "replace-head-file"  # a head file forged without the key, naming the edited chain's head
    rows[i] = _edited(rows[i])
    rehashed = _rehash(rows)
    _store_rows(db, rehashed)
    _sql(db, "DELETE FROM checkpoints")
    forged = Head(len(RUNS), RECORDS, rehashed[-1].hash, bytes(32))
    head_path(db).write_text(format_head(forged) + "\n")
    return None


def test_the_untampered_trail_verifies_with_its_head_file_and_kept_head(built: tuple[Path, Head]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = _copy(built, tmp)
        result = _check(db, built[1])
    assert result.ok, result.problem
    assert (result.records, result.runs, result.heads) == (RECORDS, len(RUNS), len(RUNS))
    assert result.checkpoints >= 2 * len(RUNS) and result.expected_head
    assert result.head == f"{RECORDS}:{built[1].hash.hex()}"


@pytest.mark.parametrize("kind", list(KINDS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.integers(1, RECORDS))
@example(where=1)
@example(where=RUNS[0])  # the last record of a run, where a checkpoint and a head line sit
@example(where=RECORDS)
def test_every_tamper_kind_is_detected_with_the_key(built: tuple[Path, Head], kind: str, where: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = _copy(built, tmp)
        first_bad = _tamper(db, kind, where)
        result = _check(db)
    assert not result.ok, (kind, where)
    assert KINDS[kind] in result.problem, (kind, where, result.problem)
    if first_bad is not None:
        assert result.first_bad_seq == first_bad, (kind, where, result.problem)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run=st.integers(1, len(RUNS) - 1))
def test_a_rollback_of_database_and_head_file_together_is_caught_only_by_the_kept_head(
    built: tuple[Path, Head], run: int
) -> None:
    """Cut the trail back to the end of an earlier run and drop the later head lines: every record, checkpoint and
    head line left is genuine, so only a head kept elsewhere can tell (the documented limit of the head file)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = _copy(built, tmp)
        heads = read_heads(head_path(db))
        assert len(heads) == len(RUNS)
        end = heads[run - 1].seq
        _store_rows(db, _rows(db)[:end])
        _sql(db, "DELETE FROM checkpoints WHERE seq > ?", end)
        _sql(db, "DELETE FROM runs WHERE first_seq > ?", end)
        head_path(db).write_text("".join(format_head(h) + "\n" for h in heads[:run]))
        assert _check(db).ok
        result = _check(db, built[1])
    assert not result.ok and result.first_bad_seq == end + 1
    assert f"records {end + 1}..{RECORDS} are missing" in result.problem
