"""Bar reader under mutated real files: a DataError, counted rows, or exactly the bars the mutated rows define.

Slices (header and first rows) of a Yahoo daily CSV (gzip) and a LEAN minute trade zip are mutated and written
back in the same container under the same name. What each outcome is allowed to be:

- any exception but ``DataError`` is a failure;
- every non-blank data row is accounted for exactly once (a bar, malformed or out of order), and
  ``quality().rows`` is their number;
- a file read with nothing counted yields exactly the bars its rows define (parsed here, independently: decimal
  dollars rounded half-to-even to 1/10,000, close of day or of the minute in New York); a mutation that changed a
  row therefore either raises, is counted, or changes the bars, and only a change the rows explain;
- with something counted, ``first_problem`` names the file and the line.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tapeflow.data.bars import BarReader, BarStats
from tapeflow.data.quality import SourceQuality
from tapeflow.model.errors import DataError
from tapeflow.model.market import Bar, Quote
from tests.fuzz.text_mutations import Mutation, head_lines, mutations, read_zip, write_gzip, write_zip

NY = ZoneInfo("America/New_York")
YAHOO = "backtrader-yahoo-daily/nvda-1999-2014.txt.gz"
LEAN = "lean-algoseek-us-equity/minute/aapl/20140605_trade.zip"
LEAN_DAY = date(2014, 6, 5)
ROWS = 300

Ohlcv = tuple[int, int, int, int, int, int]
"""ts, open, high, low, close, volume."""


def _ns(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def _units(text: bytes) -> int:
    value = Decimal(text.decode("ascii"))
    if not value.is_finite() or value < 0 or text.strip().startswith((b"-", b"+")):
        raise ValueError(text)
    return int((value * 10_000).to_integral_value(ROUND_HALF_EVEN))


def _yahoo_row(line: bytes) -> Ohlcv | None:
    """Date,Open,High,Low,Close,Adj Close,Volume: a daily bar stamped at 16:00 New York."""
    f = line.removesuffix(b"\r").split(b",")
    if len(f) != 7:
        return None
    try:
        day = date.fromisoformat(f[0].strip().decode("ascii"))
        o, h, lo, c = (_units(x) for x in f[1:5])
        volume = Decimal(f[6].decode("ascii"))
        if volume != volume.to_integral_value() or volume < 0 or f[6].strip().startswith((b"-", b"+")):
            return None
    except (ValueError, UnicodeDecodeError, InvalidOperation):
        return None
    if len(f[0].strip()) != 10:
        return None
    close = _ns(datetime(day.year, day.month, day.day, 16, tzinfo=NY))
    return close, o, h, lo, c, int(volume)


def _lean_row(line: bytes) -> Ohlcv | None:
    """ms after midnight (a whole minute),open,high,low,close,volume (prices in 1/10,000 dollar): stamped at the
    minute's end."""
    f = line.removesuffix(b"\r").split(b",")
    if len(f) != 6:
        return None
    try:
        ms, o, h, lo, c, volume = (int(x) for x in f)
    except ValueError:
        return None
    if not 0 <= ms < 86_400_000 or ms % 60_000 or min(o, h, lo, c, volume) < 0 or max(o, h, lo, c, volume) >= 2**63:
        return None
    start = datetime(LEAN_DAY.year, LEAN_DAY.month, LEAN_DAY.day, tzinfo=NY) + timedelta(milliseconds=ms)
    return _ns(start) + 60 * 10**9, o, h, lo, c, volume


def _expected(data: bytes, header: bool) -> list[Ohlcv] | None:
    """The bars the rows define, or None when one row is not a valid bar or not after the one before (then the
    reader must count it)."""
    lines = [line for line in data.split(b"\n")[1 if header else 0 :] if line.strip()]
    parse = _yahoo_row if header else _lean_row
    bars = [parse(line) for line in lines]
    out: list[Ohlcv] = []
    for bar in bars:
        if bar is None or not (bar[3] <= min(bar[1], bar[4]) and bar[2] >= max(bar[1], bar[4])):
            return None
        if out and bar[0] <= out[-1][0]:
            return None
        out.append(bar)
    return out


class Source:
    """A slice of a shared bar file: its path (rewritten per example), bytes, container and bars."""

    def __init__(self, path: Path, data: bytes, member: str | None, bars: list[Bar | Quote]) -> None:
        self.path, self.data, self.member, self.bars = path, data, member, bars

    @property
    def header(self) -> bool:
        return self.member is None

    def write(self, data: bytes) -> None:
        if self.member is None:
            write_gzip(self.path, data)
        else:
            write_zip(self.path, {self.member: data})

    def __repr__(self) -> str:
        return f"Source({self.path.name})"


def _read(path: Path) -> tuple[list[Bar | Quote] | None, BarStats | None, SourceQuality | None, DataError | None]:
    try:
        reader = BarReader(path)
    except DataError as exc:
        return None, None, None, exc
    try:
        events = list(reader.events())
    except DataError as exc:
        return None, reader.stats, reader.quality(), exc
    return events, reader.stats, reader.quality(), None


@pytest.fixture(scope="module", params=[YAHOO, LEAN])
def source(request: pytest.FixtureRequest, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Source:
    original = data_dir / request.param
    path = tmp_path_factory.mktemp("bars") / original.name
    if original.suffix == ".zip":
        ((member, data),) = read_zip(original).items()
        src = Source(path, head_lines(data, ROWS), member, [])
    else:
        import gzip

        src = Source(path, head_lines(gzip.decompress(original.read_bytes()), ROWS + 1), None, [])
    src.write(src.data)
    events, _, quality, error = _read(path)
    assert error is None and events is not None and quality is not None
    assert quality.rows == ROWS and quality.anomalies == 0
    assert [(b.ts_event, b.open, b.high, b.low, b.close, b.volume) for b in events if isinstance(b, Bar)] == (
        _expected(src.data, src.header)
    )
    src.bars = events
    return src


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_file_raises_counts_or_yields_what_the_rows_define(source: Source, data: st.DataObject) -> None:
    mutation: Mutation = data.draw(mutations(source.data, first_line=1 if source.header else 0), label="mutation")
    source.write(mutation.data)
    events, stats, quality, error = _read(source.path)
    event(f"{mutation.op}: {'DataError' if error else quality is not None and quality.anomalies > 0}")
    if error is not None:
        assert str(source.path) in str(error)
        assert error.line is not None or error.offset is not None or "empty" in str(error) or "no data" in str(error)
        return
    assert events is not None and stats is not None and quality is not None
    lines = [line for line in mutation.data.split(b"\n") if line.strip()]
    assert quality.rows == len(lines) - source.header
    assert quality.rows == stats.bars + stats.quotes + quality.malformed + quality.out_of_order
    assert quality.events == len(events)
    if quality.anomalies:
        assert f"{source.path}" in quality.first_problem and ", line " in quality.first_problem
        return
    expected = _expected(mutation.data, source.header)
    assert expected is not None, "the reader accepted a row the format does not allow"
    assert [(b.ts_event, b.open, b.high, b.low, b.close, b.volume) for b in events if isinstance(b, Bar)] == expected
