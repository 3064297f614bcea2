"""Where audit records live: a small interface, and SQLite behind it.

The interface is what the writer process and the readers (verify, show, export, surveillance) need, and nothing
more, so that a Postgres store can be added later without touching them. The SQLite store runs in WAL mode:
readers (``tapeflow audit show`` during a live run) never block the writer, and a committed transaction survives
the process being killed. ``synchronous=NORMAL`` (the default here) is durable against a process crash; against
power loss use ``FULL``, which syncs the WAL on every commit.

**One row per transaction, not per record.** Each ``append`` stores its records as one *block*: a row holding the
records as a msgpack array of ``[seq, event, cause or nil, prev, hash]`` (``chain.Stored``; event and cause
inline, the very bytes the trading loop encoded and the writer hashed). SQLite's cost is then per transaction
(about 2 us a record of which most is writing the bytes) instead of about 9-15 us per 10-column row, which is what
kept the writer under 100k records/s. Readers see the same ``Row`` objects as before, one per record, in ``seq``
order; ``verify`` still walks records, so it still names the first bad *record*. A block that no longer decodes is
read as a single record that fails its hash, at the block's first sequence number; a record that does not parse
fails its hash at its own number. Finding one order's records
(``rows_for_order``) lets SQLite search the blobs for the order id and decodes only the blocks that hold it.

Records are append-only by contract: nothing in tapeflow updates or deletes a row. The store does not enforce it
(whoever holds the file can edit it); the hash chain and signed checkpoints in ``chain`` make any edit visible, and
the head file beside the database (``head``) makes a shortened trail visible too.

**Runs.** Each writer session that commits records is a run, numbered 1, 2, ... in the ``runs`` table with its
first record (written in the transaction of that record, and signed into every checkpoint of the run). Readers
qualify what a run chose itself, such as client order ids, by it: a second run into the same file reuses them.

**Format.** ``PRAGMA user_version`` holds ``FORMAT`` (2: blocks, runs, run-bound checkpoints). A file of another
format, or not a tapeflow trail, or damaged so that SQLite cannot read it, is refused with one line naming the file
and what to do (``DataError``, exit 2 through the CLI): a damaged *file* is not a verdict about its records.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import msgspec

from tapeflow.compliance.chain import GENESIS, Checkpoint, Row, Stored, VerifyResult, row_of, verify
from tapeflow.compliance.head import ExpectedHead, head_path, read_heads
from tapeflow.model.errors import DataError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    first_seq INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    key_id TEXT NOT NULL,
    mac BLOB NOT NULL,
    run INTEGER NOT NULL,
    run_first INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

FORMAT = 2
"""The trail's layout, in ``PRAGMA user_version``: 2 added runs and run-bound checkpoints (0 is a file of format 1,
written before them)."""

_DAMAGED = "restore it from a copy, or pass the file a run wrote"

_PAGE_SIZE = 16384
"""Blocks are blobs of 35-280 kB (one to eight batches of ~140-byte records). Pages of 64 kB, chosen when blocks were
twice that size (events encoded as maps), made every commit rewrite a 64 kB leaf holding one or two rows: 102 MB
went to the WAL and the database for 29 MB of records, against 65 MB with 16 kB pages and 58 MB with 4 kB, at the
same CPU cost for the writer (measured 2026-11-25, writer fed 100k records/s). 16 kB rather than 4 kB: a quarter of
the system calls, and checkpoints as rare as before with ``_WAL_PAGES``."""

_WAL_PAGES = 4096
"""WAL pages between automatic checkpoints (each of which fsyncs): 64 MB, as 1,000 pages of 64 kB were."""

_encode = msgspec.msgpack.Encoder().encode
_decode_block = msgspec.msgpack.Decoder(list[tuple[int, msgspec.Raw, msgspec.Raw, bytes, bytes]]).decode


def encode_block(records: Sequence[Stored]) -> bytes:
    """The stored form of a block: a msgpack array of ``[seq, event, cause or nil, prev, hash]``, inline."""
    return _encode(records)


def decode_block(first_seq: int, data: bytes) -> list[Row]:
    """The records of a stored block; one record that cannot verify (empty hash) if the block does not decode."""
    try:
        stored = _decode_block(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return [Row(first_seq, 0, f"<corrupt block: {exc}>", "", "", "", b"", b"", b"", b"")]
    # a nil cause comes back as the Raw b"\xc0", which row_of reads as no cause
    return [row_of(*record) for record in stored]


def verify_store(store: AuditStore, key: bytes | None, expect: ExpectedHead | None = None) -> VerifyResult:
    """Everything ``verify`` can check about ``store``: its chain, checkpoints (signed with ``key``), runs, the
    head file beside it, and ``expect``, a head the user kept."""
    path = store.head_path()
    heads = read_heads(path) if path is not None else []
    return verify(store.rows(), store.checkpoints(), key, runs=store.runs(), heads=heads, expect=expect)


class AuditStore(Protocol):
    """Append-only storage of chained records. ``append`` is one transaction: all rows are committed or none."""

    def last(self) -> tuple[int, bytes]:
        """Sequence number and hash of the last record (0 and ``GENESIS`` when empty): where the chain resumes."""
        ...

    def last_run(self) -> int:
        """The number of the last run that committed records (0 when none did)."""
        ...

    def append(
        self, records: Sequence[Stored], checkpoint: Checkpoint | None = None, run: tuple[int, int] | None = None
    ) -> None:
        """Commit ``records``, ``checkpoint`` and (for a run's first records) ``run`` as ``(run, first seq)``."""
        ...

    def rows(self) -> Iterator[Row]:
        """Every record in ``seq`` order."""
        ...

    def rows_for_order(self, order_id: str) -> list[Row]: ...

    def checkpoints(self) -> Iterator[Checkpoint]:
        """Every checkpoint in ``seq`` order, read as it is consumed (the writer signs every commit)."""
        ...

    def runs(self) -> list[tuple[int, int]]:
        """``(run, first seq)`` of every run, in order."""
        ...

    def head_path(self) -> Path | None:
        """Where the writer appends a line at the end of each run (None: this store keeps no head file)."""
        ...

    def spec(self) -> tuple[str, dict[str, Any]]:
        """``("module:Class", kwargs)`` with which the writer process opens its own connection to this store."""
        ...

    def close(self) -> None: ...


class SqliteAuditStore:
    """One SQLite file. Opened by the thread that writes (``check_same_thread=False`` lets a thread take over a
    connection opened elsewhere; only one thread uses it at a time)."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["OFF", "NORMAL", "FULL"] = "NORMAL",
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        self.readonly = readonly
        if readonly and not self.path.is_file():
            what = "is not a file" if self.path.exists() else "does not exist"
            raise DataError(f"the audit database {what}; pass the file a run wrote", path=self.path)
        with self._reading("open"):
            if readonly:
                uri = f"file:{self.path}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            else:
                self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self._db.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # takes effect only when the file is new
                new = not self._tables()
                if new and synchronous != "FULL":
                    # Laid out without fsyncs (the switch to WAL and the tables: 25-40 ms of syncs, most of what the
                    # trail cost a short backtest's wall). The layout holds no record; the level asked is set before
                    # the first one, and the first checkpoint (at the latest the close's) syncs the file, which is
                    # when NORMAL makes records safe from power loss anyway. FULL keeps every sync.
                    self._db.execute("PRAGMA synchronous=OFF")
                self._db.execute("PRAGMA journal_mode=WAL")
                if new:
                    self._create()
                self._db.execute(f"PRAGMA synchronous={synchronous}")
                self._db.execute(f"PRAGMA wal_autocheckpoint={_WAL_PAGES}")
            tables = self._tables()
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if "records" in tables:
            raise DataError(
                "was written by an older tapeflow (one row per record); read it with that version", path=self.path
            )
        if "blocks" not in tables:
            raise DataError(
                "is not a tapeflow audit database (no blocks table); pass the file a run wrote", path=self.path
            )
        if version != FORMAT:
            which = "1 (before runs and run-bound checkpoints)" if version == 0 else str(version)
            raise DataError(
                f"has audit format {which}; this tapeflow reads format {FORMAT}: use the version that wrote it",
                path=self.path,
            )
        self._has = tables

    def _create(self) -> None:
        """Lay out a new file in one transaction (the check repeated under the lock: another process may have
        laid it out meanwhile), stamped with ``FORMAT``."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if not self._tables():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={FORMAT}")
        finally:
            self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """SQLite's errors on a damaged or foreign file as one ``DataError`` naming the file and what to do."""
        try:
            yield
        except sqlite3.Error as exc:
            raise DataError(
                f"cannot {what} the audit database ({exc}): the file is damaged or not a tapeflow trail; {_DAMAGED}",
                path=self.path,
            ) from exc

    def _tables(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def spec(self) -> tuple[str, dict[str, Any]]:
        if self.readonly:
            raise DataError("was opened read-only; a writer needs it writable", path=self.path)
        return f"{__name__}:SqliteAuditStore", {"path": str(self.path), "synchronous": self.synchronous}

    def head_path(self) -> Path:
        return head_path(self.path)

    def last(self) -> tuple[int, bytes]:
        with self._reading("read"):
            row = self._db.execute("SELECT first_seq, data FROM blocks ORDER BY first_seq DESC LIMIT 1").fetchone()
        if row is None:
            return 0, GENESIS
        last = decode_block(int(row[0]), bytes(row[1]))[-1]
        if not last.hash:
            raise DataError(f"the last block (record {row[0]} on) is corrupt; the chain cannot resume", path=self.path)
        return last.seq, last.hash

    def last_run(self) -> int:
        with self._reading("read"):
            row = self._db.execute("SELECT max(run) FROM runs").fetchone()
        return int(row[0] or 0)

    def append(
        self, records: Sequence[Stored], checkpoint: Checkpoint | None = None, run: tuple[int, int] | None = None
    ) -> None:
        db = self._db
        db.execute("BEGIN")
        try:
            if run is not None:
                db.execute("INSERT INTO runs (run, first_seq) VALUES (?,?)", run)
            if records:
                db.execute(
                    "INSERT INTO blocks (first_seq, last_seq, data) VALUES (?,?,?)",
                    (records[0][0], records[-1][0], encode_block(records)),
                )
            if checkpoint is not None:
                db.execute(
                    "INSERT INTO checkpoints (seq, hash, key_id, mac, run, run_first) VALUES (?,?,?,?,?,?)", checkpoint
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def rows(self) -> Iterator[Row]:
        with self._reading("read"):
            cursor = self._db.execute("SELECT first_seq, data FROM blocks ORDER BY first_seq")
            while True:
                batch = cursor.fetchmany(16)
                if not batch:
                    return
                for first, data in batch:
                    yield from decode_block(int(first), bytes(data))

    def rows_for_order(self, order_id: str) -> list[Row]:
        needle = _encode(order_id)  # the id as msgpack writes it inside a block: SQLite skips the other blocks
        with self._reading("read"):
            cursor = self._db.execute(
                "SELECT first_seq, data FROM blocks WHERE instr(data, ?) > 0 ORDER BY first_seq", (needle,)
            )
            found = cursor.fetchall()
        return [r for first, data in found for r in decode_block(int(first), bytes(data)) if r.order_id == order_id]

    def checkpoints(self) -> Iterator[Checkpoint]:
        """Every checkpoint in ``seq`` order; none if the table was dropped (``verify`` with a key then fails)."""
        if "checkpoints" not in self._has:
            return
        with self._reading("read"):
            cursor = self._db.execute("SELECT seq, hash, key_id, mac, run, run_first FROM checkpoints ORDER BY seq")
            while batch := cursor.fetchmany(256):
                for s, h, k, m, r, f in batch:
                    yield Checkpoint(int(s), bytes(h), str(k), bytes(m), int(r), int(f))

    def runs(self) -> list[tuple[int, int]]:
        """Every run in order; none if the table was dropped (``verify`` then fails for a trail with records)."""
        if "runs" not in self._has:
            return []
        with self._reading("read"):
            return [(int(r), int(f)) for r, f in self._db.execute("SELECT run, first_seq FROM runs ORDER BY run")]

    def close(self) -> None:
        self._db.close()
