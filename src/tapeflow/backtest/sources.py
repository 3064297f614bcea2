"""Turn a ``[data]`` section into event sources and the book level the simulated exchange needs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tapeflow.backtest.config import DataConfig
from tapeflow.backtest.strategies import STRATEGIES, build_strategy
from tapeflow.data.quality import CountedSource, QualityReporter, SourceQuality
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event

if TYPE_CHECKING:
    from tapeflow.data.bars import BarReader

__all__ = ["STRATEGIES", "build_sources", "build_strategy"]


def build_sources(data: DataConfig) -> tuple[list[Iterable[Event]], Literal["L1", "L2", "L3"], int | None]:
    """(sources, book level, expected event count or None).

    Every source is also a ``QualityReporter``: after the run, ``quality()`` says what its reader saw (rows,
    malformed, out of order, ...) for the run summary. A reader that keeps its own counts is asked directly; one
    that does not yet is counted by ``CountedSource`` (events only). Which it is, is decided by ``isinstance``,
    so a reader that gains ``quality()`` is picked up here without a change.
    """
    paths = [Path(p) for p in data.paths]
    for p in paths:
        if not p.exists():
            raise ConfigError(f"{p}: no such file; fix the path", field="data.paths")
    if data.kind != "synthetic" and not paths:
        raise ConfigError(f"data kind {data.kind!r} needs at least one file in `paths`", field="data.paths")
    read: list[tuple[Iterable[Event], object, str]]
    """(events, the reader object or None, source name) per source."""
    level: Literal["L1", "L2", "L3"] = "L2"
    total: int | None = None
    if data.kind == "synthetic":
        from tapeflow.data.synthetic import SyntheticMarket

        market = SyntheticMarket(data.synthetic)
        read = [(s, None, f"synthetic:{sym}") for s, sym in zip(market.sources(), data.synthetic.symbols, strict=True)]
        total = data.synthetic.events_per_symbol * len(data.synthetic.symbols)
    elif data.kind == "lobster":
        from tapeflow.data.lobster_events import iter_events

        read = [(iter_events(p), None, str(p)) for p in paths]
        level = "L3"
    elif data.kind == "taq":
        from tapeflow.data.taq import TaqReader

        taq = [TaqReader.for_day(p) for p in paths]
        read = [(r.events(), r, str(p)) for r, p in zip(taq, paths, strict=True)]
        level = "L1"  # consolidated quotes: the NBBO is the book
    else:
        bars = [_bar_reader(p) for p in paths]
        read = [(r.events(), r, str(p)) for r, p in zip(bars, paths, strict=True)]
    keep = frozenset(data.symbols) if data.symbols and data.kind in ("taq", "bars") else None
    sources: list[Iterable[Event]] = []
    for events, reader, name in read:
        reporter = _reporter(events, reader, name, data.kind)
        if isinstance(reporter, CountedSource):
            events = reporter
        if keep is not None:
            events = _only(events, keep)
        if data.limit is not None:
            events = islice(events, data.limit)
        sources.append(_Reported(events, reporter))
    if data.limit is not None:
        total = data.limit * len(sources) if total is None else min(total, data.limit * len(sources))
    return sources, level, total


class _Reported:
    """A source's events (filtered, limited) with its reader's ``quality``: what the run iterates and asks."""

    __slots__ = ("_events", "_reporter")

    def __init__(self, events: Iterable[Event], reporter: QualityReporter) -> None:
        self._events = events
        self._reporter = reporter

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)  # the reader's own iterator: no cost per event

    def quality(self) -> SourceQuality:
        return self._reporter.quality()


def _reporter(events: Iterable[Event], reader: object, name: str, fmt: str) -> QualityReporter:
    """The reader when it reports quality, else the events when they do, else a counter around the events."""
    if isinstance(reader, QualityReporter):
        return reader
    if isinstance(events, QualityReporter):
        return events
    return CountedSource(events, name, fmt)


def _bar_reader(path: Path) -> BarReader:
    from tapeflow.data.bars import BarReader

    return BarReader(path)


def _only(source: Iterable[Event], keep: frozenset[str]) -> Iterator[Event]:
    for event in source:
        if getattr(event, "symbol", None) in keep:
            yield event
