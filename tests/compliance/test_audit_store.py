"""The audit store refuses a file it cannot trust to be a readable trail of its format with one line naming the
file and what to do (exit 2 through the CLI); a readable but tampered trail is verify's to report (exit 1)."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path
from typing import Literal

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.compliance import AuditWriter, SqliteAuditStore
from tapeflow.compliance.audit_store import FORMAT, verify_store
from tapeflow.compliance.chain import GENESIS
from tapeflow.model import DataError, Signal

runner = CliRunner()
T0 = 1_718_978_400_000_000_000
KEY = b"store-key"


def _trail(path: Path, n: int = 2000) -> Path:
    writer = AuditWriter(SqliteAuditStore(path), key=KEY)
    for i in range(0, n, 100):
        writer.submit(
            [
                Signal(ts_event=t, ts_init=t, strategy_id="s", symbol="AAPL", name="x", value=1.0, reason="r" * 40)
                for t in range(T0 + i, T0 + i + 100)
            ]
        )
    writer.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=DELETE")  # fold the WAL in: the file alone is the trail
    con.close()
    return path


def _sqlite(path: Path, *sql: str) -> Path:
    con = sqlite3.connect(path)
    for statement in sql:
        con.execute(statement)
    con.commit()
    con.close()
    return path


def _cli_error(path: Path) -> str:
    """Run `audit verify` on ``path``; it must fail as a user error with exactly one line on stderr."""
    out = runner.invoke(app, ["audit", "verify", str(path)])
    assert out.exit_code == 2, out.output
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert str(path) in lines[0]
    return lines[0]


def test_a_file_of_garbage_bytes_is_refused_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "trail.db"
    path.write_bytes(b"\x00garbage, not SQLite\xff" * 200)
    with pytest.raises(DataError, match=r"trail\.db: cannot open the audit database \(file is not a database\)"):
        SqliteAuditStore(path, readonly=True)
    with pytest.raises(DataError, match="damaged or not a tapeflow trail; restore it from a copy"):
        SqliteAuditStore(path)  # a writer refuses it too, before writing anything
    assert "damaged or not a tapeflow trail" in _cli_error(path)


def test_a_truncated_database_file_is_refused_as_damaged(tmp_path: Path) -> None:
    path = _trail(tmp_path / "trail.db")
    size = path.stat().st_size
    assert size > 64 * 1024  # several pages, so that the cut lands inside the blocks
    with path.open("r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(DataError, match="damaged or not a tapeflow trail"):
        verify_store(SqliteAuditStore(path, readonly=True), KEY)
    assert "restore it from a copy" in _cli_error(path)


def test_a_sqlite_file_that_is_no_trail_is_refused(tmp_path: Path) -> None:
    path = _sqlite(tmp_path / "other.db", "CREATE TABLE prices (symbol TEXT, price INTEGER)")
    with pytest.raises(DataError, match=r"other\.db: is not a tapeflow audit database \(no blocks table\)"):
        SqliteAuditStore(path, readonly=True)
    assert "is not a tapeflow audit database" in _cli_error(path)


@pytest.mark.parametrize(
    ("version", "says"), [(0, "has audit format 1 (before runs"), (FORMAT + 1, f"has audit format {FORMAT + 1};")]
)
def test_a_trail_of_another_format_is_refused_for_reading_and_writing(tmp_path: Path, version: int, says: str) -> None:
    path = _sqlite(_trail(tmp_path / "trail.db", 100), f"PRAGMA user_version={version}")
    with pytest.raises(DataError, match=f"{re.escape(says)}.*use the version that wrote it"):
        SqliteAuditStore(path, readonly=True)
    with pytest.raises(DataError, match=re.escape(says)):
        SqliteAuditStore(path)
    assert says in _cli_error(path)


def test_a_missing_database_or_a_directory_is_refused(tmp_path: Path) -> None:
    assert "the audit database does not exist" in _cli_error(tmp_path / "nope.db")
    (tmp_path / "dir.db").mkdir()
    assert "the audit database is not a file" in _cli_error(tmp_path / "dir.db")


def test_a_missing_empty_or_unreadable_key_file_is_a_user_error(tmp_path: Path) -> None:
    path = _trail(tmp_path / "trail.db", 100)
    empty = tmp_path / "empty.key"
    empty.write_bytes(b"\n")
    cases = {
        tmp_path / "missing.key": "cannot read the key file (No such file or directory)",
        empty: "the key file is empty",
        tmp_path: "cannot read the key file (Is a directory)",
    }
    for key_file, says in cases.items():
        for command in (["audit", "verify"], ["audit", "export"], ["surveil"]):
            out = runner.invoke(app, [*command, str(path), "--key-file", str(key_file)])
            assert out.exit_code == 2, (command, out.output)
            (line,) = out.stderr.strip().splitlines()
            assert f"{key_file}: {says}; pass the file that holds the checkpoint key" in line
            assert out.stdout == ""


def test_a_malformed_expected_head_is_a_user_error(tmp_path: Path) -> None:
    path = _trail(tmp_path / "trail.db", 100)
    out = runner.invoke(app, ["audit", "verify", str(path), "--expect-head", "12:nothex"])
    assert out.exit_code == 2
    assert "field `expect-head`: '12:nothex' is not a head" in out.stderr


def test_a_dropped_checkpoint_table_is_tampering_not_a_damaged_file(tmp_path: Path) -> None:
    path = _trail(tmp_path / "trail.db", 300)
    copy = shutil.copyfile(path, tmp_path / "copy.db")
    shutil.copyfile(f"{path}.head", f"{copy}.head")
    _sqlite(copy, "DROP TABLE checkpoints")
    key = tmp_path / "key"
    key.write_bytes(KEY)
    out = runner.invoke(app, ["audit", "verify", str(copy), "--key-file", str(key)])
    assert out.exit_code == 1
    assert "TAMPERED: first bad record 1: records 1..300 are not covered by a signed checkpoint" in out.stdout


@pytest.mark.parametrize(("asked", "level"), [("NORMAL", 1), ("FULL", 2), ("OFF", 0)])
def test_a_new_store_is_laid_out_then_writes_at_the_synchronous_level_asked(
    tmp_path: Path, asked: Literal["OFF", "NORMAL", "FULL"], level: int
) -> None:
    # The layout of a new file skips its fsyncs; the records that follow must not: the level asked is back on.
    store = SqliteAuditStore(tmp_path / "a.db", synchronous=asked)
    try:
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == level
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.last() == (0, GENESIS)
    finally:
        store.close()
    again = SqliteAuditStore(tmp_path / "a.db", synchronous=asked)  # an existing file: continued, same level
    try:
        assert again._db.execute("PRAGMA synchronous").fetchone()[0] == level
    finally:
        again.close()
