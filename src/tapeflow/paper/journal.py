"""The venue's journal: what lets the paper venue restart with its state intact (issue 15's last fault).

The venue is deterministic: the same tape, configuration and seed, and the same calls applied at the same event
times, give the same state, ids included. So the state is not saved; the calls are. ``Journal`` appends one JSON
line per state-changing venue call (submit, replace, cancel, cancel all, close position, step), stamped with the
venue's event time, written before the call is applied and flushed to disk (``fsync``) before the call returns, so
no client ever holds an answer the journal does not explain. An fsync a line costs well under a millisecond on a
local disk: nothing at a paper venue's request rates, and tolerable for a paced run's hundred steps a second.

``Journal.open(path, venue)`` is the restart: the lines already in the file are applied, in order, to ``venue``
(fresh, over the same tape), and new calls are appended after them. Each line's time must be the venue's time
when it is applied; a journal of another tape, configuration or seed is refused, not half-applied.

A crash can leave the last line half-written (no newline at its end). Its call was never answered (the answer
waits for the fsync), so it is reported (``Replayed.dropped``) and cut off the file before anything is appended.
Any complete line that is not a journal entry is corruption, refused with its line number: the state it would
lead to is unknown, so the venue does not start (fail closed).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from tapeflow.model.errors import DataError, RequestError
from tapeflow.paper.alpaca_orders import OrderRequest
from tapeflow.paper.venue import PaperVenue

FORMAT: Final = "tapeflow-paper-journal"
VERSION: Final = 1
OPS: Final = frozenset({"step", "step_events", "submit", "cancel", "cancel_all", "replace", "close_position"})


@dataclass(frozen=True)
class Entry:
    """One recorded call: the venue's time when it was made, its name and its arguments."""

    line: int
    ts: int
    op: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Replayed:
    """What ``Journal.open`` found: the calls applied, and the bytes of a half-written last line cut off."""

    entries: int
    dropped: int


def _encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def read_journal(path: Path) -> tuple[int, list[Entry], int]:
    """``(seed, entries, bytes of a half-written last line)`` of the journal at ``path``; DataError names a bad line.

    An empty file is a journal of nothing (seed -1: any seed fits it)."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    lines = data[:end].splitlines()
    if not lines:
        return -1, [], len(data) - end
    seed = _header(path, lines[0])
    entries = [_entry(path, number, raw) for number, raw in enumerate(lines[1:], start=2)]
    return seed, entries, len(data) - end


def _header(path: Path, raw: bytes) -> int:
    try:
        head = json.loads(raw)
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get("journal") != FORMAT:
        raise DataError("not a tapeflow paper journal (its first line is no journal header)", path=path, line=1)
    if head.get("version") != VERSION:
        raise DataError(f"journal version {head.get('version')!r}; this tapeflow reads {VERSION}", path=path, line=1)
    seed = head.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise DataError("the header's seed is not a whole number", path=path, line=1)
    return seed


def _entry(path: Path, number: int, raw: bytes) -> Entry:
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise DataError(f"corrupt journal line ({exc})", path=path, line=number) from exc
    if not isinstance(obj, dict):
        raise DataError("corrupt journal line (not a JSON object)", path=path, line=number)
    ts, op, args = obj.get("ts"), obj.get("op"), obj.get("args")
    if not isinstance(ts, int) or isinstance(ts, bool) or op not in OPS or not isinstance(args, dict):
        raise DataError("corrupt journal line (needs ts: int, op: a venue call, args: object)", path=path, line=number)
    return Entry(number, ts, str(op), args)


def apply(venue: PaperVenue, entry: Entry, path: Path) -> None:
    """Make the recorded call on ``venue``; a call the venue refused then is refused again now (and ignored)."""
    if entry.ts != venue.now:
        raise DataError(
            f"recorded at {entry.ts} but the venue is at {venue.now}: not a journal of this tape, config and seed",
            path=path,
            line=entry.line,
        )
    a = entry.args
    try:
        match entry.op:
            case "step":
                venue.step(a["until_ns"])
            case "step_events":
                venue.step_events(a["n"])
            case "submit":
                venue.submit(OrderRequest(**a))
            case "cancel":
                venue.cancel(a["order_id"])
            case "cancel_all":
                venue.cancel_all()
            case "replace":
                venue.replace(a["order_id"], **{k: v for k, v in a.items() if k != "order_id"})
            case "close_position":
                venue.close_position(a["symbol"])
    except RequestError:
        pass  # the original call was answered with this same error
    except (KeyError, TypeError) as exc:
        why = f"corrupt journal line (bad arguments of {entry.op}: {exc})"
        raise DataError(why, path=path, line=entry.line) from exc


class Journal:
    """The append side; ``record`` is what ``PaperVenue`` calls (under its lock) before applying a call."""

    def __init__(self, file: BinaryIO, *, fsync: bool = True) -> None:
        self._file = file
        self._fsync = fsync

    @classmethod
    def open(cls, path: Path, venue: PaperVenue, *, fsync: bool = True) -> tuple[Journal, Replayed]:
        """Replay ``path`` (if it exists) into ``venue``, then record the venue's further calls at its end."""
        entries: list[Entry] = []
        dropped = 0
        try:
            if path.exists():
                seed, entries, dropped = read_journal(path)
                if seed not in (-1, venue.seed):
                    raise DataError(f"journal of seed {seed}, venue of seed {venue.seed}", path=path, line=1)
                for entry in entries:
                    apply(venue, entry, path)
            file = path.open("ab")
        except OSError as exc:
            raise DataError(f"cannot use the journal ({exc.strerror})", path=path) from exc
        if dropped:
            file.truncate(file.tell() - dropped)
        journal = cls(file, fsync=fsync)
        if file.tell() == 0:
            journal._write(_encode({"journal": FORMAT, "version": VERSION, "seed": venue.seed}))
        venue.journal = journal
        return journal, Replayed(len(entries), dropped)

    def record(self, ts: int, op: str, args: dict[str, Any]) -> None:
        self._write(_encode({"ts": ts, "op": op, "args": args}))

    def _write(self, line: bytes) -> None:
        self._file.write(line)
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
