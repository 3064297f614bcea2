"""Turn a ``[data]`` section into event sources and the book level the simulated exchange needs."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from tapeflow.backtest.config import DataConfig
from tapeflow.backtest.strategies import STRATEGIES, build_strategy
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event

__all__ = ["STRATEGIES", "build_sources", "build_strategy"]


def build_sources(data: DataConfig) -> tuple[list[Iterable[Event]], Literal["L1", "L2", "L3"], int | None]:
    """(sources, book level, expected event count or None)."""
    paths = [Path(p) for p in data.paths]
    for p in paths:
        if not p.exists():
            raise ConfigError(f"{p}: no such file; fix the path", field="data.paths")
    if data.kind != "synthetic" and not paths:
        raise ConfigError(f"data kind {data.kind!r} needs at least one file in `paths`", field="data.paths")
    sources: list[Iterable[Event]]
    level: Literal["L1", "L2", "L3"] = "L2"
    total: int | None = None
    if data.kind == "synthetic":
        from tapeflow.data.synthetic import SyntheticMarket

        market = SyntheticMarket(data.synthetic)
        sources = list(market.sources())
        total = data.synthetic.events_per_symbol * len(data.synthetic.symbols)
    elif data.kind == "lobster":
        from tapeflow.data.lobster_events import iter_events

        sources = [iter_events(p) for p in paths]
        level = "L3"
    elif data.kind == "taq":
        from tapeflow.data.taq import read_taq

        sources = [read_taq(p) for p in paths]
        level = "L1"  # consolidated quotes: the NBBO is the book
    else:
        sources = [_bars(p) for p in paths]
    if data.symbols and data.kind in ("taq", "bars"):
        keep = frozenset(data.symbols)
        sources = [_only(s, keep) for s in sources]
    if data.limit is not None:
        sources = [islice(s, data.limit) for s in sources]
        total = data.limit * len(sources) if total is None else min(total, data.limit * len(sources))
    return sources, level, total


def _bars(path: Path) -> Iterator[Event]:
    try:
        bars = importlib.import_module("tapeflow.data.bars")
    except ImportError as exc:  # pragma: no cover - the bar readers ship with the data issue
        raise ConfigError("bar data needs tapeflow.data.bars, which this install does not have", field="data") from exc
    reader: Any = bars.read_bars
    events: Iterator[Event] = reader(path)
    return events


def _only(source: Iterable[Event], keep: frozenset[str]) -> Iterator[Event]:
    for event in source:
        if getattr(event, "symbol", None) in keep:
            yield event
