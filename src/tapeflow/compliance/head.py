"""The trail's anchor outside its database: an append-only head file, and the head a user keeps.

Checkpoints are signed, but they live in the database: whoever can write the file can delete the last run's
records together with their checkpoints, and what is left verifies. The head of the chain (the last record's
sequence number and hash) names everything before it, so a copy of it kept anywhere else detects that. The writer
appends one line per run to ``<database>.head`` (``trail.db.head``) when the run ends (a clean stop, or the
trading process gone), fsynced, and the trail prints the same head for the user to keep:

    run=2 seq=1234 hash=<64 hex digits> mac=<64 hex digits, or - without a key>

``mac`` is HMAC-SHA-256 over the line's values with the checkpoint key, so a head file rewritten without the key
does not verify. ``tapeflow audit verify`` checks every line against the chain, and ``--expect-head SEQ:HEX`` (or
the bare hash) against a head kept elsewhere: the one check that survives an attacker who rewrites the database
and its head file together (back to an earlier state, or without a run).

No I/O here except ``append_head`` and ``read_heads``; ``chain.verify`` does the checking.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import NamedTuple

from tapeflow.model.errors import ConfigError, DataError

_HEAD_DOMAIN = b"tapeflow-audit-head-v1"
_LINE = re.compile(r"run=(\d{1,20}) seq=(\d{1,20}) hash=([0-9a-f]{64}) mac=([0-9a-f]{64}|-)")


class Head(NamedTuple):
    """One run's end: the last run of the trail then, its last record and that record's hash. ``line`` is where
    it was read (0 when it was not read from a file); an unreadable line has an empty ``hash``."""

    run: int
    seq: int
    hash: bytes
    mac: bytes = b""
    line: int = 0


class ExpectedHead(NamedTuple):
    """A head the user kept: the hash, and the sequence number it belongs to when given (``SEQ:HEX``)."""

    seq: int | None
    hash: bytes


def head_path(db: str | Path) -> Path:
    """Where the head file of the database ``db`` lives: beside it, ``<db>.head``."""
    return Path(f"{db}.head")


def head_mac(key: bytes, run: int, seq: int, chain_hash: bytes) -> bytes:
    message = _HEAD_DOMAIN + run.to_bytes(8, "big") + seq.to_bytes(8, "big") + chain_hash
    return hmac.new(key, message, hashlib.sha256).digest()


def signed_head(key: bytes | None, run: int, seq: int, chain_hash: bytes) -> Head:
    return Head(run, seq, chain_hash, head_mac(key, run, seq, chain_hash) if key is not None else b"")


def format_head(head: Head) -> str:
    """The head file's line for ``head`` (without the newline)."""
    mac = head.mac.hex() if head.mac else "-"
    return f"run={head.run} seq={head.seq} hash={head.hash.hex()} mac={mac}"


def parse_head(text: str, line: int = 0) -> Head:
    """A head file line; an unreadable one comes back with an empty hash, which ``verify`` reports."""
    match = _LINE.fullmatch(text.strip())
    if match is None:
        return Head(0, 0, b"", b"", line)
    run, seq, digest, mac = match.groups()
    return Head(int(run), int(seq), bytes.fromhex(digest), b"" if mac == "-" else bytes.fromhex(mac), line)


def append_head(path: Path, head: Head) -> None:
    """Append ``head`` to the head file and sync it: the line must outlive the process as the records do."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (format_head(head) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_heads(path: Path) -> list[Head]:
    """The lines of a head file (none if it does not exist). An unreadable file is the user's to fix (exit 2); a
    line that does not parse is kept as an unreadable head, a sign of tampering that ``verify`` reports."""
    try:
        text = path.read_bytes().decode("ascii", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise DataError(f"cannot read the head file: {exc.strerror}; make it readable", path=path) from exc
    return [parse_head(line, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def parse_expected(text: str) -> ExpectedHead:
    """``SEQ:HEX`` or ``HEX``, as the trail printed it at the end of a run."""
    seq_text, _, digest = text.strip().rpartition(":")
    try:
        hash_bytes = bytes.fromhex(digest)
        seq = int(seq_text) if seq_text else None
    except ValueError:
        hash_bytes, seq = b"", None
    if len(hash_bytes) != 32 or (seq is not None and seq < 1):
        raise ConfigError(
            f"{text!r} is not a head; pass SEQ:HEX or HEX (64 hex digits) as printed at the end of the run",
            field="expect-head",
        )
    return ExpectedHead(seq, hash_bytes)
