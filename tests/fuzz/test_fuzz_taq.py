"""TAQ reader under mutated real files: a DataError, counted rows, or exactly the events the mutated rows define.

Slices (the first rows) of a shared AIG day's trade and quote zips are mutated one member at a time and re-zipped
under the original names. What each outcome is allowed to be:

- any exception but ``DataError`` is a failure;
- every non-empty line is accounted for exactly once: a trade (kept or filtered), an applied, suspicious or empty
  quote, malformed or out of order; ``quality().rows`` is the number of non-empty lines of both files;
- a trade file read with nothing counted yields exactly the trades its rows define (time, price, size, exchange,
  conditions: parsed here, independently); with something counted, ``first_problem`` names the member and line;
- the other file's events do not change: quotes do not move trade prints, trades do not move quotes (only the
  trade's aggressor depends on the quotes).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tapeflow.data.quality import SourceQuality
from tapeflow.data.taq import TaqReader, TaqStats, condition_names
from tapeflow.model.errors import DataError
from tapeflow.model.market import Quote, Trade
from tests.fuzz.text_mutations import Mutation, head_lines, mutations, read_zip, write_zip

TICK = "lean-algoseek-us-equity/tick/aig"
DAY = "20131007"
ROWS = 300
MIDNIGHT_NS = int(datetime(2013, 10, 7, tzinfo=ZoneInfo("America/New_York")).timestamp()) * 10**9

Print = tuple[int, int, int, str, tuple[str, ...]]
"""A trade as the tape has it: ts, price, size, exchange, conditions (no aggressor: that is derived)."""


def _expected_trade(line: bytes) -> Print | None:
    """A trade row as AlgoSeek defines it, parsed here without the reader; None when it is not one."""
    fields = line.removesuffix(b"\r").split(b",")
    if len(fields) != 6:
        return None
    try:
        ms, price, size = int(fields[0]), int(fields[1]), int(fields[2])
        venue = fields[3].decode("ascii").strip()
        flags = int(fields[4], 16)
        suspicious = {b"0": False, b"1": True}[fields[5].strip()]
    except (ValueError, UnicodeDecodeError, KeyError):
        return None
    if not (0 <= ms < 86_400_000 and 0 < price < 2**63 and 0 < size < 2**63 and 0 <= flags < 2**63):
        return None
    if len(venue) != 1 or not "A" <= venue <= "Z":
        return None
    return MIDNIGHT_NS + ms * 1_000_000, price, size, venue, condition_names(flags, suspicious)


def _prints(events: list[Trade | Quote]) -> list[Print]:
    return [(e.ts_event, e.price, e.size, e.venue, e.conditions) for e in events if isinstance(e, Trade)]


def _quotes(events: list[Trade | Quote]) -> list[Quote]:
    return [e for e in events if isinstance(e, Quote)]


def _non_blank(data: bytes) -> int:
    """Rows: lines that are not empty (once a carriage return before the newline is dropped)."""
    return sum(1 for line in data.split(b"\n") if line.removesuffix(b"\r"))


class Day:
    """A slice of a shared TAQ day: the trade zip's path (rewritten per example), both files' members, events."""

    def __init__(self, trades: Path, members: dict[Path, tuple[str, bytes]], events: list[Trade | Quote]) -> None:
        self.trades, self.members, self.events = trades, members, events

    def __repr__(self) -> str:
        return f"Day({self.trades.name})"


def _read(trades: Path) -> tuple[list[Trade | Quote] | None, TaqStats, SourceQuality, DataError | None]:
    reader = TaqReader.for_day(trades)
    try:
        events = list(reader.events())
    except DataError as exc:
        return None, reader.stats, reader.quality(), exc
    return events, reader.stats, reader.quality(), None


@pytest.fixture(scope="module")
def day(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Day:
    folder = tmp_path_factory.mktemp("taq")
    members: dict[Path, tuple[str, bytes]] = {}
    for kind in ("trade", "quote"):
        ((name, data),) = read_zip(data_dir / TICK / f"{DAY}_{kind}.zip").items()
        path = folder / f"{DAY}_{kind}.zip"
        members[path] = (name, head_lines(data, ROWS))
        write_zip(path, {name: members[path][1]})
    trades = folder / f"{DAY}_trade.zip"
    events, stats, quality, error = _read(trades)
    assert error is None and events is not None and quality.anomalies == 0 and quality.rows == 2 * ROWS
    assert stats.trades == ROWS and stats.quotes_applied > 0
    return Day(trades, members, events)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_day_raises_counts_or_yields_what_the_rows_define(day: Day, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(sorted(day.members)), label="file")
    name, original = day.members[path]
    mutation: Mutation = data.draw(mutations(original), label="mutation")
    write_zip(path, {name: mutation.data})
    try:
        events, stats, quality, error = _read(day.trades)
    finally:
        write_zip(path, {name: original})
    is_trade = path == day.trades
    event(f"{'trade' if is_trade else 'quote'} {mutation.op}: {'DataError' if error else quality.anomalies > 0}")
    if error is not None:
        assert str(path) in str(error) and name in str(error)
        assert error.line is not None or error.offset is not None or "no rows" in str(error)
        return
    assert events is not None
    other = sum(_non_blank(data) for p, (_, data) in day.members.items() if p != path)
    assert quality.rows == _non_blank(mutation.data) + other
    assert quality.rows == (
        stats.trades + stats.filtered + stats.quotes_applied + stats.suspicious_quotes + stats.empty_quotes
        + quality.malformed + quality.out_of_order
    )  # fmt: skip
    assert quality.events == len(events)
    if quality.anomalies:
        assert f"{path}!{name}, line " in quality.first_problem
    if is_trade:
        assert _quotes(events) == _quotes(day.events), "a trade file change moved the quotes"
        if not quality.anomalies:
            lines = [line for line in mutation.data.split(b"\n") if line.removesuffix(b"\r")]
            expected = [_expected_trade(line) for line in lines]
            assert None not in expected, "the reader accepted a trade row the format does not allow"
            assert _prints(events) == expected
    else:
        assert _prints(events) == _prints(day.events), "a quote file change moved the trade prints"
