"""Where audit records live: a small interface, and SQLite behind it.

The interface is what the writer thread and the readers (verify, show, export, surveillance) need, and nothing
more, so that a Postgres store can be added later without touching them. The SQLite store runs in WAL mode:
readers (``tapeflow audit show`` during a live run) never block the writer, and a committed transaction survives
the process being killed. ``synchronous=NORMAL`` (the default here) is durable against a process crash; against
power loss use ``FULL``, which syncs the WAL on every commit.

Records are append-only by contract: nothing in tapeflow updates or deletes a row. The store does not enforce it
(whoever holds the file can edit it); the hash chain and signed checkpoints in ``chain`` make any edit visible.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol

from tapeflow.compliance.chain import GENESIS, Checkpoint, Row
from tapeflow.model.errors import DataError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    order_id TEXT NOT NULL,
    strategy_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    body BLOB NOT NULL,
    cause BLOB NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    key_id TEXT NOT NULL,
    mac BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_ORDER_INDEX = "CREATE INDEX IF NOT EXISTS records_order ON records (order_id)"
_COLUMNS = "seq, ts, kind, order_id, strategy_id, symbol, body, cause, prev, hash"


class AuditStore(Protocol):
    """Append-only storage of chained records. ``append`` is one transaction: all rows are committed or none."""

    def last(self) -> tuple[int, bytes]:
        """Sequence number and hash of the last record (0 and ``GENESIS`` when empty): where the chain resumes."""
        ...

    def append(self, rows: Sequence[Row], checkpoint: Checkpoint | None = None) -> None: ...

    def rows(self) -> Iterator[Row]:
        """Every record in ``seq`` order."""
        ...

    def rows_for_order(self, order_id: str) -> list[Row]: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def close(self) -> None: ...


class SqliteAuditStore:
    """One SQLite file. Opened by the thread that writes (``check_same_thread=False`` lets a writer thread take
    over a connection opened elsewhere; only one thread uses it at a time)."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["OFF", "NORMAL", "FULL"] = "NORMAL",
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        if readonly:
            if not self.path.exists():
                raise DataError(f"audit database {self.path} does not exist; pass the file a run wrote")
            uri = f"file:{self.path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        else:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            self._db.execute(_ORDER_INDEX)
        try:
            self._db.execute("SELECT count(*) FROM records").fetchone()
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{self.path} is not a tapeflow audit database: {exc}") from exc

    def last(self) -> tuple[int, bytes]:
        row = self._db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))

    def append(self, rows: Sequence[Row], checkpoint: Checkpoint | None = None) -> None:
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(f"INSERT INTO records ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            if checkpoint is not None:
                db.execute("INSERT INTO checkpoints (seq, hash, key_id, mac) VALUES (?,?,?,?)", checkpoint)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def rows(self) -> Iterator[Row]:
        cursor = self._db.execute(f"SELECT {_COLUMNS} FROM records ORDER BY seq")
        while True:
            batch = cursor.fetchmany(4096)
            if not batch:
                return
            for r in batch:
                yield Row(*r)

    def rows_for_order(self, order_id: str) -> list[Row]:
        cursor = self._db.execute(f"SELECT {_COLUMNS} FROM records WHERE order_id = ? ORDER BY seq", (order_id,))
        return [Row(*r) for r in cursor.fetchall()]

    def checkpoints(self) -> list[Checkpoint]:
        cursor = self._db.execute("SELECT seq, hash, key_id, mac FROM checkpoints ORDER BY seq")
        return [Checkpoint(int(s), bytes(h), str(k), bytes(m)) for s, h, k, m in cursor.fetchall()]

    def close(self) -> None:
        self._db.close()
