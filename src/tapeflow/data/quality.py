"""What a reader saw: one shape of counts that every reader reports and every run summary carries.

A backtest on data with holes is a confident wrong answer. Each reader keeps its own detailed statistics (TAQ's
suspicious quotes, ITCH's counts by message type), but a run summary, ``data info`` and the fuzz tests need the
same few questions answered for any input: how many records were read, how many were malformed, out of order,
duplicated or referred to orders that were never seen, and where the first problem was. A reader answers them
through ``quality()``, returning a ``SourceQuality``; nothing here reads data.

A count, never a silent drop: a record that is skipped is counted in exactly one of the anomaly fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

import msgspec

from tapeflow.model.events import Event


class SourceQuality(msgspec.Struct, kw_only=True):
    """Counts of one source (a file, or a member of an archive) after it was read."""

    source: str
    """The file (and member) the counts are about, as the user named it."""
    format: str
    """The reader: ``lobster``, ``itch``, ``taq``, ``bars``, ``dbn``, ``parquet``, ``synthetic``."""
    rows: int = 0
    """Records read: lines of a text file, messages of a binary feed, rows of a store."""
    events: int = 0
    """Events yielded to the engine."""
    malformed: int = 0
    """Records that could not be decoded (bad field, wrong width, value out of range) and were skipped."""
    out_of_order: int = 0
    """Records whose time went backwards or fell outside the file's trading day; skipped."""
    duplicates: int = 0
    """Records seen twice (same order id added again, same sequence number); skipped."""
    unknown_ids: int = 0
    """Records that refer to an order id the reader never saw added; counted, handled as the format says."""
    first_problem: str = ""
    discovered: int = 0
    """Orders first seen after they were added (the book a LOBSTER day opens with, orders beyond its level N): the
    format's normal way, handled as ``OrderDiscovered``, and not an anomaly."""
    """Where the first anomaly was and what it was (file, member, line or byte offset): the place to look."""

    @property
    def anomalies(self) -> int:
        return self.malformed + self.out_of_order + self.duplicates + self.unknown_ids

    def note(self, where: str) -> None:
        """Remember ``where`` as the first problem, unless one is already known."""
        if not self.first_problem:
            self.first_problem = where


@runtime_checkable
class QualityReporter(Protocol):
    """Anything that can say what it read: readers implement it; summaries and ``data info`` call it."""

    def quality(self) -> SourceQuality: ...


class CountedSource:
    """An event iterable with the quality of what it yielded, for sources whose reader keeps no counts itself.

    Wraps a plain iterable (the synthetic market, a generator) so that every source of a run can be asked the same
    question; ``quality`` then knows only how many events passed.
    """

    __slots__ = ("_events", "_quality")

    def __init__(self, events: Iterable[Event], source: str, fmt: str) -> None:
        self._events = events
        self._quality = SourceQuality(source=source, format=fmt)

    def __iter__(self) -> Iterator[Event]:
        q = self._quality
        for event in self._events:
            q.rows += 1
            q.events += 1
            yield event

    def quality(self) -> SourceQuality:
        return self._quality
