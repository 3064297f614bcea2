"""Turn a ``[data]`` section into event sources and the book level the simulated exchange needs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tapeflow.backtest.config import DataConfig, check_data, resolve_data
from tapeflow.backtest.strategies import STRATEGIES, build_strategy
from tapeflow.data.quality import CountedSource, QualityReporter, SourceQuality
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event

if TYPE_CHECKING:
    from tapeflow.data.bars import BarReader

__all__ = ["STRATEGIES", "build_sources", "build_strategy", "prices_used"]


Level = Literal["L1", "L2", "L3"]

DBN_LEVELS: dict[str, Level] = {"mbo": "L3", "mbp-10": "L2", "mbp-1": "L1", "tbbo": "L1", "trades": "L1"}
"""Book level a DBN schema feeds: orders (L3), ten levels (L2), the top of book or prints (L1); ``bbo-*`` is L1,
``ohlcv-*`` bars are L2 like every bar input."""

_L3_TYPES = frozenset({"OrderAdded", "OrderExecuted", "OrderReduced", "OrderDeleted", "OrderReplaced"})


def build_sources(data: DataConfig) -> tuple[list[Iterable[Event]], Level, int | None]:
    """(sources, book level, expected event count or None).

    Every source is also a ``QualityReporter``: after the run, ``quality()`` says what its reader saw (rows,
    malformed, out of order, ...) for the run summary. A reader that keeps its own counts is asked directly; one
    that does not yet is counted by ``CountedSource`` (events only). Which it is, is decided by ``isinstance``,
    so a reader that gains ``quality()`` is picked up here without a change.
    """
    data = resolve_data(data, base=None)  # a configuration built in code; a loaded one is absolute already
    paths = [Path(p) for p in data.paths]
    if data.kind != "synthetic" and not paths:
        raise ConfigError(f"data kind {data.kind!r} needs at least one file in `paths`", field="data.paths")
    read: list[tuple[Iterable[Event], object, str]]
    """(events, the reader object or None, source name) per source."""
    level: Level = "L2"
    total: int | None = None
    prices: dict[str, str] = {}
    """Which prices each source feeds (bars: see ``adjusted``); anything else is as traded."""
    filtered = ("taq", "bars", "dbn")  # kinds whose reader takes no symbol list: filtered here
    if data.kind == "synthetic":
        market = SyntheticMarket(data.synthetic)
        read = [(s, None, f"synthetic:{sym}") for s, sym in zip(market.sources(), data.synthetic.symbols, strict=True)]
        total = data.synthetic.events_per_symbol * len(data.synthetic.symbols)
    elif data.kind == "lobster":
        from tapeflow.data.lobster_events import iter_events  # lazy: one format's reader (all: ~40 ms)

        read = [(iter_events(p), None, str(p)) for p in paths]
        level = "L3"
    elif data.kind == "taq":
        from tapeflow.data.taq import TaqReader  # lazy: one format's reader (all: ~40 ms)

        taq = [TaqReader.for_day(p) for p in paths]
        read = [(r.events(), r, str(p)) for r, p in zip(taq, paths, strict=True)]
        level = "L1"  # consolidated quotes: the NBBO is the book
    elif data.kind == "itch":
        read = [_itch(p, data) for p in paths]
        level = "L3"
    elif data.kind == "dbn":
        read, level = _dbn(paths)
    elif data.kind == "parquet":
        read, level = _parquet(paths, data)
        prices = {name: AS_STORED for _, _, name in read} if data.adjust == "none" else {}
    else:
        read = []
        for p in paths:
            bars = _bar_reader(p)
            events, prices[str(p)] = adjusted(bars, data)
            read.append((events, bars, str(p)))
    keep = frozenset(data.symbols) if data.symbols and data.kind in filtered else None
    sources: list[Iterable[Event]] = []
    for events, reader, name in read:
        reporter = _reporter(events, reader, name, "parquet" if data.kind == "parquet" else data.kind)
        if isinstance(reporter, CountedSource):
            events = reporter
        if keep is not None:
            events = _only(events, keep)
        if data.limit is not None:
            events = islice(events, data.limit)
        sources.append(_Reported(events, reporter, prices.get(name, AS_TRADED)))
    if data.limit is not None:
        total = data.limit * len(sources) if total is None else min(total, data.limit * len(sources))
    return sources, level, total


def _itch(path: Path, data: DataConfig) -> tuple[Iterable[Event], object, str]:
    """An ITCH day: its date given or in Nasdaq's name (never guessed), only the wanted symbols decoded."""
    from tapeflow.data.detect import itch_date  # lazy: format sniffing (~3 ms, gzip), for ITCH only
    from tapeflow.data.itch import ItchReader  # lazy: one format's reader (all: ~40 ms)

    check_data(data)  # a configuration built in code: the day is known or refused before reading
    reader = ItchReader(path, date=itch_date(path, data.date), symbols=data.symbols or None)
    return reader.events(), reader, str(path)


def _dbn(paths: list[Path]) -> tuple[list[tuple[Iterable[Event], object, str]], Level]:
    """DBN files and the level their schema feeds; the schema is in the metadata, read with the first record."""
    from tapeflow.data.dbn import DbnReader  # lazy: one format's reader (all: ~40 ms)

    read: list[tuple[Iterable[Event], object, str]] = []
    levels: dict[str, Level] = {}
    for p in paths:
        reader = DbnReader(p)
        events = reader.events()
        first = next(events, None)  # reads the metadata, so the schema is known before the run starts
        schema = reader.stats.schema
        levels[schema] = DBN_LEVELS.get(schema, "L1" if schema.startswith("bbo") else "L2")
        read.append((chain(() if first is None else (first,), events), reader, str(p)))
    return read, _one_level(levels, "schema")


def _parquet(paths: list[Path], data: DataConfig) -> tuple[list[tuple[Iterable[Event], object, str]], Level]:
    """Stores, filtered by symbol and day, and the level of the events they hold (by the manifest's types)."""
    from tapeflow.data.files import STORE_MARKER  # lazy: file helpers (gzip, zip), only for stores here
    from tapeflow.data.parquet_store import read_store  # lazy: pyarrow.parquet (~0.1 s), only for stores
    from tapeflow.data.store_manifest import load_manifest  # lazy: pyarrow.parquet (~0.1 s), only for stores

    read: list[tuple[Iterable[Event], object, str]] = []
    levels: dict[str, Level] = {}
    days = {d.isoformat() for d in data.dates} or None
    for p in paths:
        if not (p / STORE_MARKER).is_file():
            raise ConfigError(f"{p} is not a tapeflow Parquet store (no {STORE_MARKER}); write one with "
                              "`tapeflow data convert SOURCE --to DIR`", field="data.paths")  # fmt: skip
        types = {e.type for e in load_manifest(p).files}
        if "Bar" in types and data.adjust != "none":
            raise ConfigError(
                f'{p} holds bars, and a store keeps no split data to adjust them with; set adjust = "none" to use '
                'its prices as stored, or backtest the bar file it was converted from (kind = "bars")',
                field="data.adjust",
            )
        level: Level = "L3" if types & _L3_TYPES else "L2" if types & {"BookDelta", "BookSnapshot"} else "L1"
        if types <= {"Bar", "Dividend", "TradingStatus"}:
            level = "L2"  # bars alone: as the bars kind
        levels[",".join(sorted(types))] = level
        read.append((read_store(p, symbols=data.symbols or None, dates=days), None, str(p)))
    return read, _one_level(levels, "event types")


def _one_level(levels: dict[str, Level], what: str) -> Level:
    """The one book level of a run's sources; sources that need different books cannot share one run."""
    found = set(levels.values())
    if len(found) > 1:
        which = "; ".join(f"{k}: {v}" for k, v in levels.items())
        raise ConfigError(f"the files need different book levels ({which}); run files of one {what} kind together",
                          field="data.paths")  # fmt: skip
    return found.pop() if found else "L2"


class _Reported:
    """A source's events (filtered, limited) with its reader's ``quality``: what the run iterates and asks."""

    __slots__ = ("_events", "_reporter", "prices")

    def __init__(self, events: Iterable[Event], reporter: QualityReporter, prices: str = "as traded") -> None:
        self._events = events
        self._reporter = reporter
        self.prices = prices
        """Which prices this source feeds: "as traded", "split-adjusted", "split-adjusted, dividends as cash"."""

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


AS_TRADED = "as traded"
AS_STORED = "as stored"
"""Bars of a Parquet store, used as converted (``adjust = "none"``): the store cannot say what they were."""
SPLIT_ADJUSTED = "split-adjusted"
WITH_DIVIDENDS = "split-adjusted, dividends as cash"
_INTRADAY = ("lean-minute-trade", "lean-minute-quote", "lean-second-trade", "lean-second-quote")


def prices_used(sources: Iterable[object]) -> str:
    """The run report's ``prices``: the one basis of every source, or each source's where they differ."""
    found = {getattr(s, "prices", AS_TRADED) for s in sources}
    return found.pop() if len(found) == 1 else "mixed: " + "; ".join(sorted(found))


def adjusted(reader: BarReader, data: DataConfig) -> tuple[Iterable[Event], str]:
    """A bar file's events in the prices ``data.adjust`` asks for, and what they are; refused when unknowable.

    Where the splits come from: a LEAN factor file given in ``factors`` for the symbol, else the file's own split
    and dividend columns (Quandl WIKI, zipline csvdir). Yahoo's prices are split-adjusted already (and carry no
    dividend amounts); intraday bars are one day and read as traded. Daily bars as traded with no split source
    are refused unless ``adjust = "none"``: a silent split is a fake loss of 6/7 of a position.
    """
    from tapeflow.data.adjust import (  # lazy: split adjustment, daily bars only
        FactorRow,
        FactorTable,
        adjust_by_symbol,
        read_actions,
        split_table,
        splits_in_prices,
        with_dividends,
    )

    mode, layout, where = data.adjust, reader.layout, reader.where
    if layout in _INTRADAY:
        return reader.events(), AS_TRADED
    if mode == "none":
        return reader.events(), SPLIT_ADJUSTED if layout == "yahoo" else AS_TRADED
    if layout == "yahoo":
        if mode == "splits+dividends":
            raise ConfigError(f"{where}: Yahoo's prices are split-adjusted but the file carries no dividend amounts "
                              '(its Adj Close is not read); use adjust = "splits"', field="data.adjust")  # fmt: skip
        return reader.events(), SPLIT_ADJUSTED
    factor_file = data.factors.get(reader.symbol)
    if factor_file is not None:
        if mode == "splits+dividends":
            raise ConfigError(f"{factor_file}: a LEAN factor file holds dividends as price factors, not the amounts "
                              'to pay as cash; use adjust = "splits"', field="data.adjust")  # fmt: skip
        table = FactorTable(FactorRow(r.day, Fraction(1), r.split_factor) for r in FactorTable.read(factor_file).rows)
        return adjust_by_symbol(reader.events(), {reader.symbol: table}), SPLIT_ADJUSTED
    actions = read_actions(reader.path, reader.member, layout, reader.symbol)
    if actions is None:
        raise ConfigError(
            f"{where}: daily bars as traded and the file carries no splits, so a split would show as a fake loss; "
            f"give its LEAN factor file (`factors = {{ {reader.symbol} = "
            f'"factor_files/{reader.symbol.lower()}.csv" }}` in [data]) or set adjust = "none" to run on these prices',
            field="data.adjust",
        )
    tables = {}
    for symbol, acts in actions.items():
        if all(a.split == 1 for a in acts):
            continue  # no split: nothing to adjust, dividends as the file states them
        held = splits_in_prices(acts)
        if held is None:
            raise ConfigError(
                f"{where}: {symbol}'s prices at its split ex-dates match neither prices as traded nor prices "
                'adjusted for the split, so tapeflow cannot tell which they are; set adjust = "none" to run on them '
                "as they are, or give a LEAN factor file in `factors`",
                field="data.adjust",
            )
        if held:
            tables[symbol] = split_table(acts)
    events = adjust_by_symbol(reader.events(), tables)
    if mode == "splits+dividends":
        return with_dividends(events, actions, tables), WITH_DIVIDENDS
    return events, SPLIT_ADJUSTED


def _bar_reader(path: Path) -> BarReader:
    from tapeflow.data.bars import BarReader  # lazy: one format's reader (all: ~40 ms)

    return BarReader(path)


def _only(source: Iterable[Event], keep: frozenset[str]) -> Iterator[Event]:
    for event in source:
        if getattr(event, "symbol", None) in keep:
            yield event
