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
after an edit. Checkpoints close that gap: with every transaction it commits, the writer signs ``(run, first
record of the run, seq, hash)`` of its last record with a secret key (HMAC-SHA-256) that the database does not
hold, so a rewritten chain no longer matches a signed checkpoint, and (with the key) a record after the last
checkpoint was appended by someone else or had its checkpoint deleted: the writer's window is zero records. What
checkpoints cannot show is a tail cut off together with its checkpoints; the head file and a head the user kept
(``head``) do.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import struct
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from tapeflow.compliance.head import head_mac
from tapeflow.model.codec import event_types

if TYPE_CHECKING:
    from tapeflow.compliance.head import ExpectedHead, Head

GENESIS = bytes(32)
"""``prev`` of the first record of a trail."""

_CHECKPOINT_DOMAIN = b"tapeflow-audit-checkpoint-v2"
_NIL = b"\xc0"


_HEAD_FIELDS = ("ts_init", "client_order_id", "strategy_id", "symbol")
"""The fields of an event a record is filed under (with its type, the array's first element)."""


@cache
def _head_positions() -> dict[str, tuple[int, ...]]:
    """Per event type, where each of ``_HEAD_FIELDS`` sits in its array form (-1 where the type has no such field).

    Built on the readers' first use and cached: the writer process imports this module and never reads a head, and
    its start-up is what every trail pays."""
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
    """A signed ``(seq, hash)``, and the run that wrote it with that run's first record (so that the run table,
    which CAT order ids depend on, cannot be moved either)."""

    seq: int
    hash: bytes
    key_id: str
    mac: bytes
    run: int
    run_first: int


RECORD_HEAD = struct.Struct(">QI").pack
"""What a record's hash covers between ``prev`` and the body: the sequence number (8 bytes) and the body's length
(4 bytes), big-endian."""


def record_hash(prev: bytes, seq: int, body: bytes, cause: bytes) -> bytes:
    """SHA-256 of ``prev``, ``seq``, the length of ``body``, ``body`` and ``cause`` (the writer inlines this)."""
    return hashlib.sha256(b"".join((prev, RECORD_HEAD(seq, len(body)), body, cause))).digest()


def checkpoint_mac(key: bytes, run: int, run_first: int, seq: int, chain_hash: bytes) -> bytes:
    message = _CHECKPOINT_DOMAIN + struct.pack(">QQQ", run, run_first, seq) + chain_hash
    return hmac.new(key, message, hashlib.sha256).digest()


def signed_checkpoint(key: bytes, key_id: str, run: int, run_first: int, seq: int, chain_hash: bytes) -> Checkpoint:
    return Checkpoint(seq, chain_hash, key_id, checkpoint_mac(key, run, run_first, seq, chain_hash), run, run_first)


class VerifyResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``verify`` found. ``first_bad_seq`` is the sequence number of the first record that fails (or, for
    missing records, the first number that should have been there; none when the damage has no one place, such as
    an unreadable head file line); ``problem`` says how it fails. ``head`` is the trail's head as ``SEQ:HEX``."""

    ok: bool
    records: int
    last_seq: int
    checkpoints: int
    checkpoints_signed: bool
    runs: int = 0
    heads: int = 0
    """Lines of the head file checked."""
    expected_head: bool = False
    """Whether a head the user kept was given and found."""
    unanchored: int = 0
    """Records after the last head file line (when there is one): a run that did not end cleanly wrote none."""
    head: str = ""
    first_bad_seq: int | None = None
    problem: str = ""


def run_of(first_seqs: list[int], seq: int) -> int:
    """The run (1, 2, ...) that wrote record ``seq``, given each run's first record in order (0 if none did)."""
    return bisect.bisect_right(first_seqs, seq)


def _checkpoint_problem(cp: Checkpoint, digest: bytes, key: bytes | None, first_seqs: list[int] | None) -> str:
    """What is wrong with checkpoint ``cp`` of the record whose hash is ``digest`` ("" if nothing)."""
    if key is not None and not hmac.compare_digest(cp.mac, checkpoint_mac(key, cp.run, cp.run_first, cp.seq, cp.hash)):
        return f"checkpoint at record {cp.seq} has a bad signature (wrong key or edited checkpoint)"
    if digest != cp.hash:
        return f"record {cp.seq} differs from the signed checkpoint (the chain was rewritten)"
    if first_seqs is not None and (
        not 0 < cp.run <= len(first_seqs)
        or first_seqs[cp.run - 1] != cp.run_first
        or run_of(first_seqs, cp.seq) != cp.run
    ):
        return (
            f"the run table was edited: checkpoint {cp.seq} was signed by run {cp.run} starting at record "
            f"{cp.run_first}"
        )
    return ""


def verify(
    rows: Iterable[Row],
    checkpoints: Iterable[Checkpoint] = (),
    key: bytes | None = None,
    *,
    runs: Iterable[tuple[int, int]] | None = None,
    heads: Iterable[Head] = (),
    expect: ExpectedHead | None = None,
) -> VerifyResult:
    """Walk the records in ``seq`` order and recompute the chain, checking the checkpoints (in ``seq`` order too) as
    their records pass; then runs, heads and coverage.

    Checks, in order for each record: the sequence number follows the previous one (a gap is a deletion, a
    repeat or a step back is an insertion or a reorder), ``prev`` equals the previous record's hash, and ``hash``
    equals the recomputed one (an edit); then a checkpoint at that record: with ``key`` its MAC, its hash, and its
    run where ``runs`` (``(run, first seq)`` pairs) says. Checkpoints are read alongside the records, never held:
    the writer signs every commit, and a long trail has millions. After the walk: a checkpoint or a run beyond the
    last record means the tail was cut off; each head (a head file's lines, signed with ``key`` when one is given)
    and ``expect`` (a head the user kept) must name a record with its hash. Last, with ``key``, every record must be
    covered by a checkpoint: an uncovered tail (or a trail without checkpoints) was appended or had its checkpoints
    deleted. (A cut-off tail is named as such before the records the cut left uncovered.)
    """
    head_list = list(heads)
    run_list = list(runs) if runs is not None else None
    wanted = {h.seq for h in head_list}
    if expect is not None and expect.seq is not None:
        wanted.add(expect.seq)
    expect_at: int | None = None
    prev = GENESIS
    expected = 1
    count = 0
    last_seq = 0
    hashes: dict[int, bytes] = {}
    cp_iter = iter(checkpoints)
    cp = next(cp_iter, None)
    n_cps = 0
    covered = 0

    def bad(seq: int | None, problem: str) -> VerifyResult:
        return VerifyResult(
            ok=False,
            records=count,
            last_seq=last_seq,
            checkpoints=n_cps,
            checkpoints_signed=key is not None,
            runs=len(run_list or ()),
            heads=len(head_list),
            head=f"{last_seq}:{prev.hex()}",
            first_bad_seq=seq,
            problem=problem,
        )

    first_seqs: list[int] | None = None
    if run_list is not None:
        first_seqs = []
        for i, (run, first) in enumerate(run_list, 1):
            after = first_seqs[-1] if first_seqs else 0
            if run != i or first <= after or (i == 1 and first != 1):
                return bad(
                    max(first, 1),
                    f"the run table was edited: run {run} starting at record {first} cannot be run {i} of the trail",
                )
            first_seqs.append(first)

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
        while cp is not None and cp.seq <= row.seq:
            if cp.seq < row.seq:
                return bad(row.seq, f"checkpoint at record {cp.seq} is out of order (edited checkpoint table)")
            problem = _checkpoint_problem(cp, digest, key, first_seqs)
            if problem:
                return bad(cp.seq, problem)
            n_cps += 1
            covered = cp.seq
            cp = next(cp_iter, None)
        if row.seq in wanted:
            hashes[row.seq] = digest
        if expect is not None and expect.seq is None and digest == expect.hash:
            expect_at = row.seq
        prev = digest
        expected = row.seq + 1
        count += 1
        last_seq = row.seq

    if cp is not None:  # checkpoints beyond the last record
        if key is not None and not hmac.compare_digest(
            cp.mac, checkpoint_mac(key, cp.run, cp.run_first, cp.seq, cp.hash)
        ):
            return bad(cp.seq, f"checkpoint at record {cp.seq} has a bad signature (wrong key or edited checkpoint)")
        beyond = [cp.seq, *(c.seq for c in cp_iter)]
        n_cps += len(beyond)
        return bad(
            last_seq + 1, f"records {last_seq + 1}..{max(beyond)} are missing: a checkpoint was signed at {max(beyond)}"
        )
    if first_seqs is not None:
        if first_seqs and first_seqs[-1] > last_seq:
            cut = next(i for i, first in enumerate(first_seqs, 1) if first > last_seq)
            return bad(
                last_seq + 1,
                f"records from {last_seq + 1} on are missing: run {cut} started at record {first_seqs[cut - 1]} "
                "(the tail was cut off)",
            )
        if count and not first_seqs:
            return bad(1, f"the run table was emptied: no run wrote records 1..{last_seq}")
    last_head = 0
    for h in head_list:
        if not h.hash:
            return bad(None, f"head file line {h.line} cannot be read (edited or replaced)")
        if key is not None and not hmac.compare_digest(h.mac, head_mac(key, h.run, h.seq, h.hash)):
            unsigned = "is not signed (written without the key)" if not h.mac else "has a bad signature"
            return bad(h.seq, f"head file line {h.line} {unsigned}: the head file was edited or replaced")
        if h.seq < last_head:
            return bad(h.seq, f"head file line {h.line} goes back to record {h.seq} after {last_head} (edited)")
        last_head = h.seq
        if h.seq > last_seq:
            return bad(
                last_seq + 1,
                f"records {last_seq + 1}..{h.seq} are missing: head file line {h.line} says run {h.run} ended at "
                f"record {h.seq} (the tail was cut off)",
            )
        if hashes.get(h.seq) != h.hash:
            return bad(h.seq, f"record {h.seq} differs from head file line {h.line} (rewritten, or not this trail)")
        if first_seqs is not None and h.seq and run_of(first_seqs, h.seq) != h.run:
            return bad(h.seq, f"the run table was edited: head file line {h.line} names run {h.run} at {h.seq}")
    if expect is not None:
        if expect.seq is not None:
            if expect.seq > last_seq:
                return bad(
                    last_seq + 1,
                    f"records {last_seq + 1}..{expect.seq} are missing: the expected head is record {expect.seq}",
                )
            if hashes.get(expect.seq) != expect.hash:
                return bad(expect.seq, f"record {expect.seq} differs from the expected head (the chain was rewritten)")
        elif expect_at is None:
            return bad(
                None,
                "the expected head is not in the trail: records were rewritten or the tail cut off (pass SEQ:HEX "
                "to learn where)",
            )
    if key is not None:
        if count == 0 and not head_list:
            return bad(1, "the trail holds no records and no signed checkpoint (an empty or wiped database)")
        if covered < last_seq:
            where = "no signed checkpoint at all" if not n_cps else f"the last signed checkpoint is at {covered}"
            return bad(
                covered + 1,
                f"records {covered + 1}..{last_seq} are not covered by a signed checkpoint ({where}); the writer "
                "signs every commit, so checkpoints were deleted, records appended, or a run wrote without the key",
            )
    return VerifyResult(
        ok=True,
        records=count,
        last_seq=last_seq,
        checkpoints=n_cps,
        checkpoints_signed=key is not None,
        runs=len(run_list or ()),
        heads=len(head_list),
        expected_head=expect is not None,
        unanchored=last_seq - last_head if head_list else 0,
        head=f"{last_seq}:{prev.hex()}",
    )
