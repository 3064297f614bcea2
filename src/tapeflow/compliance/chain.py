"""The hash chain that makes the audit trail tamper-evident, HMAC-signed checkpoints, and the verifier.

Each record's hash is SHA-256 over the previous record's hash, the record's sequence number (8 bytes, big-endian)
and its canonical encoding: the msgpack array ``[ts, kind, order_id, strategy_id, symbol, event, cause]`` with the
event and the cause (or nil) inline, exactly as the trading loop encoded the record. So every field of every
record is covered, the bytes hashed never depend on Python dict order or on the store, and the writer hashes the
bytes it received without decoding them (``Stored``: what a store keeps per record). Editing a record changes
its hash; deleting, inserting or reordering records breaks the link from one record to the next or the run of
sequence numbers. ``verify`` also requires body and cause to be one msgpack object each, so that bytes cannot
move from one to the other and keep the canonical encoding.

A chain alone proves only internal consistency: whoever can write the database can also recompute every hash
after an edit. Checkpoints close that gap: every so often the writer signs ``(seq, hash)`` with a secret key
(HMAC-SHA-256) that the database does not hold, so a rewritten chain no longer matches a signed checkpoint. A
checkpoint also bounds how much of the tail can be cut off unnoticed: records up to the last signed checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import NamedTuple

import msgspec

GENESIS = bytes(32)
"""``prev`` of the first record of a trail."""

_CHECKPOINT_DOMAIN = b"tapeflow-audit-checkpoint-v1"
_encode = msgspec.msgpack.Encoder().encode
_decode_fields = msgspec.msgpack.Decoder(tuple[int, str, str, str, str, msgspec.Raw, msgspec.Raw]).decode
_NIL = b"\xc0"


class Row(NamedTuple):
    """One stored record, as the store keeps it: the fields hashed, then the link and the hash."""

    seq: int
    ts: int
    kind: str
    order_id: str
    strategy_id: str
    symbol: str
    body: bytes
    cause: bytes
    prev: bytes
    hash: bytes


Stored = tuple[int, msgspec.Raw, bytes, bytes]
"""A record as the writer produces and a store keeps it: ``(seq, canonical, prev, hash)``."""


def canonical(ts: int, kind: str, order_id: str, strategy_id: str, symbol: str, body: bytes, cause: bytes) -> bytes:
    """The canonical encoding of a record's fields (``body`` and ``cause`` are msgpack already, inlined)."""
    return _encode((ts, kind, order_id, strategy_id, symbol, msgspec.Raw(body), msgspec.Raw(cause) if cause else None))


def row_of(seq: int, data: bytes | msgspec.Raw, prev: bytes, digest: bytes) -> Row:
    """The ``Row`` a stored record stands for. A record whose canonical bytes do not parse becomes a row that fails
    its hash check (kind ``<corrupt record>``), so that ``verify`` names it."""
    try:
        ts, kind, order_id, strategy_id, symbol, body, cause = _decode_fields(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return Row(seq, 0, f"<corrupt record: {exc}>", "", "", "", b"", b"", prev, b"")
    cause_bytes = bytes(cause)
    return Row(
        seq,
        ts,
        kind,
        order_id,
        strategy_id,
        symbol,
        bytes(body),
        b"" if cause_bytes == _NIL else cause_bytes,
        prev,
        digest,
    )


def stored_of(row: Row) -> Stored:
    """What a store keeps for ``row`` (the inverse of ``row_of``; for tools that rewrite a trail, and tests)."""
    data = canonical(row.ts, row.kind, row.order_id, row.strategy_id, row.symbol, row.body, row.cause)
    return (row.seq, msgspec.Raw(data), row.prev, row.hash)


def _one_object(data: bytes) -> bool:
    """Whether ``data`` is exactly one msgpack object: otherwise bytes could move between body and cause and keep
    the canonical encoding, hence the hash."""
    try:
        msgspec.msgpack.decode(data, type=msgspec.Raw)
    except msgspec.DecodeError:
        return False
    return True


class Checkpoint(NamedTuple):
    seq: int
    hash: bytes
    key_id: str
    mac: bytes


def record_hash(
    prev: bytes, seq: int, ts: int, kind: str, order_id: str, strategy_id: str, symbol: str, body: bytes, cause: bytes
) -> bytes:
    """SHA-256 of ``prev``, ``seq`` and the canonical encoding of the record's fields."""
    data = canonical(ts, kind, order_id, strategy_id, symbol, body, cause)
    return hashlib.sha256(prev + seq.to_bytes(8, "big") + data).digest()


def checkpoint_mac(key: bytes, seq: int, chain_hash: bytes) -> bytes:
    return hmac.new(key, _CHECKPOINT_DOMAIN + seq.to_bytes(8, "big") + chain_hash, hashlib.sha256).digest()


class VerifyResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``verify`` found. ``first_bad_seq`` is the sequence number of the first record that fails (or, for a
    missing record, the number that should have been there); ``problem`` says how it fails."""

    ok: bool
    records: int
    last_seq: int
    checkpoints: int
    checkpoints_signed: bool
    first_bad_seq: int | None = None
    problem: str = ""


def verify(rows: Iterable[Row], checkpoints: Iterable[Checkpoint] = (), key: bytes | None = None) -> VerifyResult:
    """Walk the records in ``seq`` order and recompute the chain; then check each checkpoint against it.

    Checks, in order for each record: the sequence number follows the previous one (a gap is a deletion, a
    repeat or a step back is an insertion or a reorder), ``prev`` equals the previous record's hash, and ``hash``
    equals the recomputed one (an edit). With ``key``, every checkpoint's MAC must verify and its hash must equal
    the record's at that ``seq``; a checkpoint beyond the last record means the tail was cut off.
    """
    prev = GENESIS
    expected = 1
    count = 0
    last_seq = 0
    hashes: dict[int, bytes] = {}
    cps = list(checkpoints)
    wanted = {cp.seq for cp in cps}

    def bad(seq: int, problem: str) -> VerifyResult:
        return VerifyResult(
            ok=False,
            records=count,
            last_seq=last_seq,
            checkpoints=len(cps),
            checkpoints_signed=key is not None,
            first_bad_seq=seq,
            problem=problem,
        )

    for row in rows:
        if row.seq != expected:
            if row.seq > expected:
                return bad(expected, f"record {expected} is missing (sequence jumps from {expected - 1} to {row.seq})")
            return bad(row.seq, f"record {row.seq} is out of order or duplicated (expected {expected})")
        if not row.hash:  # how a store hands over a record or block it could not decode
            return bad(row.seq, f"record {row.seq} was altered: it cannot be read ({row.kind})")
        if row.prev != prev:
            return bad(row.seq, f"record {row.seq} does not link to record {row.seq - 1} (inserted, moved or edited)")
        digest = record_hash(
            prev, row.seq, row.ts, row.kind, row.order_id, row.strategy_id, row.symbol, row.body, row.cause
        )
        if digest != row.hash or not _one_object(row.body) or (row.cause and not _one_object(row.cause)):
            return bad(row.seq, f"record {row.seq} ({row.kind}) was altered: its content does not match its hash")
        if row.seq in wanted:
            hashes[row.seq] = digest
        prev = digest
        expected = row.seq + 1
        count += 1
        last_seq = row.seq
    for cp in cps:
        if key is not None and not hmac.compare_digest(cp.mac, checkpoint_mac(key, cp.seq, cp.hash)):
            return bad(cp.seq, f"checkpoint at record {cp.seq} has a bad signature (wrong key or edited checkpoint)")
        if cp.seq > last_seq:
            return bad(last_seq + 1, f"records after {last_seq} are missing: a checkpoint was signed at {cp.seq}")
        if hashes.get(cp.seq) != cp.hash:
            return bad(cp.seq, f"record {cp.seq} differs from the signed checkpoint (the chain was rewritten)")
    return VerifyResult(
        ok=True, records=count, last_seq=last_seq, checkpoints=len(cps), checkpoints_signed=key is not None
    )
