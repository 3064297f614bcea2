"""The hash chain that makes the audit trail tamper-evident, HMAC-signed checkpoints, and the verifier.

Each record's hash is SHA-256 over the previous record's hash, the record's sequence number (8 bytes, big-endian),
the length of the event's encoding (4 bytes), the event as the trading loop encoded it (tapeflow's exact msgpack
encoding, ``body``) and the cause (msgpack of ``OrderCause``; nothing for records without one). Every byte of the
record is covered, nothing hashed depends on Python dict order or on the store, the length keeps bytes from moving
between event and cause unnoticed, and the writer hashes the bytes it received without decoding them. A record's
other fields (time, kind, order, strategy, symbol) are read from the event (``row_of``), so they cannot disagree
with what was hashed. Editing a record changes its hash; deleting, inserting or reordering records breaks the link
from one record to the next or the run of sequence numbers.

A chain alone proves only internal consistency: whoever can write the database can also recompute every hash
after an edit. Checkpoints close that gap: every so often the writer signs ``(seq, hash)`` with a secret key
(HMAC-SHA-256) that the database does not hold, so a rewritten chain no longer matches a signed checkpoint. A
checkpoint also bounds how much of the tail can be cut off unnoticed: records up to the last signed checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple

import msgspec

GENESIS = bytes(32)
"""``prev`` of the first record of a trail."""

_CHECKPOINT_DOMAIN = b"tapeflow-audit-checkpoint-v1"
_NIL = b"\xc0"


_HEAD_FIELDS = ("ts_init", "client_order_id", "strategy_id", "symbol")
"""The fields of an event a record is filed under (with its type, the array's first element)."""


@cache
def _head_positions() -> dict[str, tuple[int, ...]]:
    """Per event type, where each of ``_HEAD_FIELDS`` sits in its array form (-1 where the type has no such field).

    Imported here, on the readers' first use: the writer process imports this module and never reads a head, and
    its start-up is what every trail pays."""
    from tapeflow.model.codec import event_types

    out: dict[str, tuple[int, ...]] = {}
    for cls in event_types():
        names = cls.__struct_fields__
        out[cls.__name__] = tuple(names.index(f) + 1 if f in names else -1 for f in _HEAD_FIELDS)
    return out


def _read_head(body: bytes) -> tuple[str, int, str, str, str]:
    """Type, ``ts_init``, order id, strategy and symbol of an encoded event; ValueError when it is no event."""
    values = _decode_array(body)
    if not values or not isinstance(values[0], str):
        raise ValueError("not an event: an array starting with its type name was expected")
    kind = values[0]
    positions = _head_positions().get(kind)
    if positions is None:
        return kind, 0, "", "", ""  # a type this version does not know: filed under its name, hash still checked
    got = [values[p] if 0 < p < len(values) else None for p in positions]
    ts, order_id, strategy_id, symbol = got
    if not isinstance(ts, int) or not all(isinstance(v, str) or v is None for v in (order_id, strategy_id, symbol)):
        raise ValueError(f"a {kind} whose ts_init, client_order_id, strategy_id or symbol has the wrong type")
    return kind, ts, order_id or "", strategy_id or "", symbol or ""


_decode_array = msgspec.msgpack.Decoder(list[Any]).decode


class Row(NamedTuple):
    """One record as readers see it. ``ts`` (the event's ``ts_init``), ``kind`` (its type), ``order_id`` (its
    ``client_order_id``), ``strategy_id`` and ``symbol`` are read from ``body``; ``prev`` and ``hash`` link it."""

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


Stored = tuple[int, msgspec.Raw, "msgspec.Raw | None", bytes, bytes]
"""A record as the writer produces and a store keeps it: ``(seq, event, cause or None, prev, hash)``, the event
and the cause being their msgpack bytes as the trading loop encoded them."""


def row_of(seq: int, body: bytes | msgspec.Raw, cause: bytes | msgspec.Raw | None, prev: bytes, digest: bytes) -> Row:
    """The ``Row`` a stored record stands for. A record whose event does not parse becomes a row with an empty hash
    (kind ``<corrupt record>``), which ``verify`` reports as altered."""
    body_bytes = bytes(body)
    try:
        kind, ts, order_id, strategy_id, symbol = _read_head(body_bytes)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        return Row(seq, 0, f"<corrupt record: {exc}>", "", "", "", body_bytes, b"", prev, b"")
    cause_bytes = b"" if cause is None else bytes(cause)
    return Row(
        seq,
        ts,
        kind,
        order_id,
        strategy_id,
        symbol,
        body_bytes,
        b"" if cause_bytes == _NIL else cause_bytes,
        prev,
        digest,
    )


def stored_of(row: Row) -> Stored:
    """What a store keeps for ``row`` (the inverse of ``row_of``; for tools that rewrite a trail, and tests)."""
    return (row.seq, msgspec.Raw(row.body), msgspec.Raw(row.cause) if row.cause else None, row.prev, row.hash)


class Checkpoint(NamedTuple):
    seq: int
    hash: bytes
    key_id: str
    mac: bytes


RECORD_HEAD = struct.Struct(">QI").pack
"""What a record's hash covers between ``prev`` and the body: the sequence number (8 bytes) and the body's length
(4 bytes), big-endian."""


def record_hash(prev: bytes, seq: int, body: bytes, cause: bytes) -> bytes:
    """SHA-256 of ``prev``, ``seq``, the length of ``body``, ``body`` and ``cause`` (the writer inlines this)."""
    return hashlib.sha256(b"".join((prev, RECORD_HEAD(seq, len(body)), body, cause))).digest()


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
        digest = record_hash(prev, row.seq, row.body, row.cause)
        if digest != row.hash:
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
