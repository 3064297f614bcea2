"""The writer process's side of the audit trail: the frames both ends of its pipes speak, the configuration sent
first, and ``ChainWriter``, which numbers, chains, checkpoints and commits the batches.

Apart from ``audit_writer`` (the trading process's side: starting the writer, handing it batches, reading its
acknowledgements) because this part does not care about processes: ``writer_process`` runs it behind the pipe,
and a test can drive it directly on a store.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import msgspec

from tapeflow.compliance.audit_store import AuditStore
from tapeflow.compliance.chain import RECORD_HEAD, Stored, signed_checkpoint
from tapeflow.compliance.head import Head, append_head, signed_head

# Frames to the writer: header (payload length, kind) then payload. Kinds: config (msgpack WriterConfig, first
# frame only), batch (msgpack [events, [[index, cause], ...]]), flush (8-byte token), end (a flush that also writes
# the run's head line and answers with it). End of file means stop.
TO_WRITER = struct.Struct("<IB")
CONFIG, BATCH, FLUSH, END = 1, 2, 3, 4
# Frames from the writer: kind, last committed seq, batches done, flush token, length of the text that follows.
FROM_WRITER = struct.Struct("<Bqqqi")
READY, COMMITTED, FLUSHED, FAILED = 1, 2, 3, 4


class WriterConfig(msgspec.Struct, frozen=True):
    """What the writer process needs, sent over its stdin (never its command line: the key must not show in ps)."""

    store: str
    store_kwargs: dict[str, Any]
    key: bytes | None
    key_id: str


class ChainWriter:
    """Numbers, chains and commits batches into ``store`` as one run; with ``key``, signs a checkpoint with every
    commit, and ``end`` writes the run's head line. Runs in the writer process."""

    def __init__(self, store: AuditStore, key: bytes | None, key_id: str) -> None:
        self.store = store
        self.key = key
        self.key_id = key_id
        self.seq, self.prev = store.last()
        self.run = store.last_run()
        """This writer's run once it has committed records; until then the last run of the store."""
        self.run_first = 0
        self._new_run = True
        self._last_checkpoint = self.seq
        self._head_seq = -1
        self.committed_seq = self.seq
        self.transactions = 0
        self._rows: list[Stored] = []
        self._decode = msgspec.msgpack.Decoder(tuple[list[msgspec.Raw], list[tuple[int, msgspec.Raw]]]).decode

    def add(self, batch: bytes) -> None:
        """Number and chain the records of an encoded batch; they are committed by the next ``commit``.

        A batch is ``[events, [[index, cause], ...]]``: the events as the loop encoded them, and the causes of the
        order commands among them. Those bytes are hashed (``chain.record_hash``, written out here) and stored as
        they are, never decoded: this loop is the writer's whole per-record cost in Python, the rest is SQLite."""
        seq = self.seq
        prev = self.prev
        append = self._rows.append
        sha256 = hashlib.sha256
        join = b"".join
        head = RECORD_HEAD
        events, cause_list = self._decode(batch)
        get = dict(cause_list).get
        for i, raw in enumerate(events):
            seq += 1
            cause = get(i)
            digest = sha256(join((prev, head(seq, len(raw)), raw, b"" if cause is None else cause))).digest()
            append((seq, raw, cause, prev, digest))
            prev = digest
        self.seq = seq
        self.prev = prev

    def commit(self) -> int:
        """One transaction: the records added since the last commit, the run they start (the first time), and
        with a key a checkpoint over the last of them: a record is never committed without its signature."""
        rows, self._rows = self._rows, []
        seq = self.seq
        run = None
        if rows and self._new_run:
            self._new_run = False
            self.run += 1
            self.run_first = rows[0][0]
            run = (self.run, self.run_first)
        checkpoint = None
        if self.key is not None and not self._new_run and seq > self._last_checkpoint:
            checkpoint = signed_checkpoint(self.key, self.key_id, self.run, self.run_first, seq, self.prev)
            self._last_checkpoint = seq
        if rows or checkpoint is not None:
            self.store.append(rows, checkpoint, run)
            self.transactions += 1
        self.committed_seq = seq
        return seq

    def end(self) -> Head:
        """Commit, and append the run's head to the store's head file (once; not for a run that wrote nothing)."""
        seq = self.commit()
        head = signed_head(self.key, self.run, seq, self.prev)
        path = self.store.head_path()
        if path is not None and not self._new_run and seq != self._head_seq:
            append_head(path, head)
            self._head_seq = seq
        return head
