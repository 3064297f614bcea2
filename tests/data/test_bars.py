"""Bar files: counts against an independent count of rows, close-time stamps, exact prices, adjustment."""

from __future__ import annotations

import gzip
import itertools
import json
import zipfile
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.data.adjust import FactorRow, FactorTable, adjust_bars
from tapeflow.data.bars import BarReader, daily_close_ns, parse_price
from tapeflow.model.errors import DataError
from tapeflow.model.market import Bar, Quote


def _count_rows(path: Path, header: bool) -> int:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            text = zf.read(zf.namelist()[0]).decode()
    else:
        text = gzip.decompress(path.read_bytes()).decode()
    return len([ln for ln in text.splitlines() if ln.strip()]) - (1 if header else 0)


@pytest.mark.parametrize(
    ("rel", "header", "expected"),
    [
        ("backtrader-yahoo-daily/nvda-1999-2014.txt.gz", True, 4012),
        ("backtrader-yahoo-daily/orcl-1995-2014.txt.gz", True, 5036),
        ("backtrader-yahoo-daily/yhoo-1996-2015.txt.gz", True, 4965),
        ("zipline-test-daily/csvdir_daily_AAPL.csv.gz", True, 754),
        ("zipline-test-daily/pipeline_inputs_BRK-A.csv.gz", True, 127),
        ("zipline-test-daily/QUANDL_ARCHIVE.zip", True, 916),
        ("lean-algoseek-us-equity/daily/aapl.zip", False, 5849),
        ("lean-algoseek-us-equity/minute/aapl/20140605_trade.zip", False, 686),
        ("lean-algoseek-us-equity/second/aig/20131007_trade.zip", False, 3930),
        ("lean-algoseek-us-equity/minute/aapl/20140605_quote.zip", False, 830),
    ],
)
def test_every_row_becomes_one_event_in_time_order(data_dir: Path, rel: str, header: bool, expected: int) -> None:
    path = data_dir / rel
    assert _count_rows(path, header) == expected
    reader = BarReader(path)
    events = list(reader.events())
    assert len(events) == expected and reader.stats.malformed == 0
    q = reader.quality()
    assert (q.format, q.rows, q.events, q.anomalies, q.first_problem) == ("bars", expected, expected, 0, "")
    assert all(a.ts_init <= b.ts_init for a, b in itertools.pairwise(events))


def test_daily_bar_closes_at_1600_new_york_with_the_days_offset(data_dir: Path) -> None:
    bars = list(BarReader(data_dir / "lean-algoseek-us-equity/daily/aapl.zip").events())
    first = bars[0]
    assert isinstance(first, Bar) and first.symbol == "AAPL"
    assert first.ts_event == 883_774_800 * 10**9  # 1998-01-02 16:00 EST = 21:00 UTC
    assert (first.open, first.high, first.low, first.close, first.volume) == (136300, 162500, 135000, 162500, 6315000)
    summer = next(b for b in bars if b.ts_event == daily_close_ns(date(2014, 6, 9)))
    assert summer.ts_event == 1_402_344_000 * 10**9  # 16:00 EDT = 20:00 UTC


def test_lean_minute_bar_is_stamped_at_its_end_and_quote_bars_are_quotes(data_dir: Path) -> None:
    trade = next(iter(BarReader(data_dir / "lean-algoseek-us-equity/minute/aapl/20140605_trade.zip").events()))
    # first row 15300000 ms = 04:15 EDT start -> close 04:16 EDT = 08:16 UTC
    assert trade.ts_event == 1_401_956_160 * 10**9
    quote = next(iter(BarReader(data_dir / "lean-algoseek-us-equity/minute/aapl/20140605_quote.zip").events()))
    assert isinstance(quote, Quote) and (quote.bid_price, quote.ask_price) == (6440600, 6460000)


def test_quandl_file_merges_symbols_by_date(data_dir: Path) -> None:
    reader = BarReader(data_dir / "zipline-test-daily/QUANDL_ARCHIVE.zip")
    assert reader.symbols() == ["AAPL", "BRK_A", "MSFT", "ZEN"]
    events = list(reader.events())
    counts = {s: sum(1 for e in events if isinstance(e, Bar) and e.symbol == s) for s in reader.symbols()}
    assert counts == {"AAPL": 252, "BRK_A": 252, "MSFT": 252, "ZEN": 160}


def test_yahoo_fractions_are_rounded_and_counted(data_dir: Path) -> None:
    reader = BarReader(data_dir / "backtrader-yahoo-daily/nvda-1999-2014.txt.gz")
    first = next(iter(reader.events()))
    assert isinstance(first, Bar)
    assert (first.open, first.high, first.low) == (17500, 19531, 15521)  # 1.953125 -> 1.9531 (half to even)
    assert reader.stats.rounded > 0


def test_parse_price_rounding() -> None:
    assert parse_price(b"523.4200440000001") == (5234200, True)
    assert parse_price(b"1.00005") == (10000, True)
    assert parse_price(b"1.00015") == (10002, True)
    assert parse_price(b"58.4857") == (584857, False)
    assert parse_price(b"174100.0") == (1741000000, False)


@given(st.integers(0, 10**12))
def test_price_text_round_trips(units: int) -> None:
    text = f"{units // 10_000}.{units % 10_000:04d}".encode()
    assert parse_price(text) == (units, False)


def test_bad_rows_counted_and_named(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2014-01-02,1,2,0.5,1.5,1.5,100\n2014-01-03,1,x,1,1,1,1\n")
    reader = BarReader(p, symbol="X")
    assert len(list(reader.events())) == 1
    assert reader.stats.malformed == 1 and "line 3" in reader.stats.first_problem


def test_split_adjustment_from_factor_table(data_dir: Path) -> None:
    bars = [b for b in BarReader(data_dir / "lean-algoseek-us-equity/daily/aapl.zip").events() if isinstance(b, Bar)]
    table = FactorTable(
        [
            FactorRow(date(2014, 6, 6), Fraction(1), Fraction(1, 7)),
            FactorRow(date(2050, 12, 31), Fraction(1), Fraction(1)),
        ]
    )
    adjusted = [b for b in adjust_bars(bars, table) if isinstance(b, Bar)]
    by_day = {b.ts_event: b for b in adjusted}
    before = by_day[daily_close_ns(date(2014, 6, 6))]
    after = by_day[daily_close_ns(date(2014, 6, 9))]
    raw_before = next(b for b in bars if b.ts_event == before.ts_event)
    assert before.close == round(Fraction(raw_before.close, 7)) and before.volume == raw_before.volume * 7
    assert abs(after.open - before.close) < after.open // 20  # no 7:1 cliff any more
    assert list(adjust_bars(bars, None)) == bars


def test_data_info_json_reports_the_counts_of_the_pass_that_ran(data_dir: Path) -> None:
    from typer.testing import CliRunner

    from tapeflow.cli import app

    result = CliRunner().invoke(
        app, ["data", "info", str(data_dir / "backtrader-yahoo-daily/nvda-1999-2014.txt.gz"), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    stats = out["stats"]
    assert stats["rows"] == stats["bars"] == out["counts"]["Bar"] == 4012
    assert stats["rounded"] > 0 and stats["malformed"] == stats["out_of_order"] == 0


def test_stats_object_is_reset_in_place_by_each_pass(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2014-01-02,1,2,0.5,1.5,1.5,100\n2014-01-03,1,x,1,1,1,1\n")
    reader = BarReader(p, symbol="X")
    held = reader.stats
    first = list(reader.events())
    assert reader.stats is held and (held.rows, held.bars, held.malformed) == (2, 1, 1)
    assert list(reader) == first  # the reader is itself iterable: a source whose quality() can be asked
    assert reader.stats is held and (held.rows, held.bars, held.malformed) == (2, 1, 1)


YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        (YAHOO_HEADER, "the file has no data rows"),
        (YAHOO_HEADER + "\n\n", "the file has no data rows"),
    ],
)
def test_empty_or_header_only_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "x.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=rf"x\.csv: {message}"):
        list(BarReader(p, symbol="X").events())


@pytest.mark.parametrize(
    ("row", "what", "why"),
    [
        ("2014-01-03,1,2,0.5,1.5,1.5", "malformed", "expected 7 fields as in the header, found 6"),
        ("2014-01-03,1,2,0.5,1.5,1.5,100,7", "malformed", "expected 7 fields as in the header, found 8"),
        ("2014-+1-03,1,2,0.5,1.5,1.5,100", "malformed", "not a date"),
        ("2014-01-02,1,2,0.5,1.5,1.5,100", "out_of_order", "at or before the previous bar's date"),
        ("2014-01-01,1,2,0.5,1.5,1.5,100", "out_of_order", "at or before the previous bar's date"),
        ("2014-01-03,1,2,0.5,1000000000000000.5,1.5,100", "malformed", "does not fit a 64-bit integer"),
    ],
)
def test_bad_text_row_is_counted_in_its_class_with_its_line(tmp_path: Path, row: str, what: str, why: str) -> None:
    p = tmp_path / "x.csv"
    p.write_text(YAHOO_HEADER + "2014-01-02,1,2,0.5,1.5,1.5,100\n" + row + "\n2014-01-06,1,2,0.5,1.5,1.5,100\n")
    reader = BarReader(p, symbol="X")
    assert len(list(reader.events())) == 2
    q = reader.quality()
    assert (q.rows, q.anomalies, getattr(q, what)) == (3, 1, 1)
    assert q.first_problem.startswith(f"{p}, line 3: ") and why in q.first_problem


def _lean_minute(path: Path, rows: list[str], day: str = "20140605") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{day}_aapl_minute_trade.csv", "\n".join(rows) + "\n")
    return path


def test_impossible_date_in_a_lean_member_name_is_refused(tmp_path: Path) -> None:
    p = _lean_minute(tmp_path / "20141345_trade.zip", ["34200000,1,1,1,1,1"], day="20141345")
    with pytest.raises(DataError, match=r"'20141345_aapl_minute_trade\.csv': '20141345' in the name is not a calendar"):
        BarReader(p)


@pytest.mark.parametrize(
    ("row", "what", "why"),
    [
        ("34200000,6455000,6455000,6455000,6455000,10", "out_of_order", "at or before the previous row's time"),
        ("34230000,6455000,6455000,6455000,6455000,10", "malformed", "a bar starts on a whole minute"),
        ("86400000,6455000,6455000,6455000,6455000,10", "out_of_order", "outside the day"),
        ("34260000,6455000,6455000,6455000,6455000,", "malformed", "unreadable LEAN row"),
        ("34260000,6455000,6455000,6455000,6455000,99999999999999999999", "malformed", "64-bit"),
    ],
)
def test_bad_lean_row_is_counted_in_its_class_with_its_line(tmp_path: Path, row: str, what: str, why: str) -> None:
    first = "34200000,6455000,6455000,6455000,6455000,10"
    p = _lean_minute(tmp_path / "20140605_trade.zip", [first, row, "34320000,6455000,6455000,6455000,6455000,10"])
    reader = BarReader(p)
    assert len(list(reader.events())) == 2
    q = reader.quality()
    assert (q.rows, q.anomalies, getattr(q, what)) == (3, 1, 1)
    assert q.first_problem.startswith(f"{p}!20140605_aapl_minute_trade.csv, line 2: ") and why in q.first_problem
