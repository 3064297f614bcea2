"""The pyarrow block path of the bar reader: the row-by-row reading of a good block, or it steps aside."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import tapeflow.data.bars as bars
from tapeflow.data.bars import _day, daily_close_ns, parse_price
from tapeflow.data.bars_parse import parse_daily_rows


def _rows(lines: list[bytes], last: int = -1) -> tuple[list[tuple[int, ...]], int] | None:
    return parse_daily_rows(lines, 7, 6, last, _day, daily_close_ns)  # type: ignore[return-value]


GOOD = [b"1999-01-22,1.750000,1.953125,1.552083,1.640625,1.518424,67867200", b"1999-01-25,1.77,1.8,1.7,1.8,1.6,100"]


def test_good_yahoo_block_reads_as_the_row_reader_reads_it() -> None:
    typed = _rows(GOOD)
    assert typed is not None
    rows, rounded = typed
    day = daily_close_ns(_day(b"1999-01-22"))
    assert rows[0] == (day, 17_500, 19_531, 15_521, 16_406, 67_867_200)  # 1.953125 -> 19531.25: down
    assert rounded == 3  # 1.953125, 1.552083, 1.640625 have more than four decimals
    assert rows[1][1:] == (17_700, 18_000, 17_000, 18_000, 100)


def test_half_to_even_at_the_fifth_decimal_as_parse_price() -> None:
    lines = [b"2000-01-03,1.00005,1.00015,1.00005,1.00005,0,1", b"2000-01-04,1.000051,1.000151,1.000051,1.000051,0,1"]
    typed = _rows(lines)
    assert typed is not None
    assert [r[1:3] for r in typed[0]] == [(10_000, 10_002), (10_001, 10_002)]
    assert typed[1] == 8


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (b"1999-01-26,-1.5,2,1,1.5,1,100", "a sign"),
        (b"1999-01-26,.5,2,0.1,1.5,1,100", "a price starting with a dot"),
        (b"1999-01-26,1e1,20,1,15,1,100", "an exponent"),
        (b"1999-01-26, 1.5,2,1,1.5,1,100", "a space"),
        (b"1999-01-26,1.5000001,2,1,1.5,1,100", "seven decimals"),
        (b"19990126,1.5,2,1,1.5,1,100", "a date without dashes (the row reader reads it; the block path does not)"),
        (b"1999-02-30,1.5,2,1,1.5,1,100", "an impossible date"),
        (b"1999-01-25,1.5,2,1,1.5,1,100", "the previous row's date"),
        (b"1999-01-21,1.5,2,1,1.5,1,100", "an earlier date"),
        (b"1999-01-26,1.5,2,1.6,1.5,1,100", "a low above the close"),
        (b"1999-01-26,1.5,1.4,1,1.5,1,100", "a high below the open"),
        (b"1999-01-26,1.5,2,1,1.5,1,100.0", "a volume with a decimal point"),
        (b"1999-01-26,,2,1,1.5,1,100", "an empty price"),
        (b"1999-01-26,1.5,2,1,1.5,100", "a missing field"),
        (b"", "an empty line"),
    ],
)
def test_block_path_steps_aside_for_a_block_with_any_row_it_cannot_prove_good(bad: bytes, why: str) -> None:
    assert _rows([*GOOD, b"1999-01-27,1.5,2,1,1.5,1,100"]) is not None
    assert _rows([*GOOD, bad, b"1999-01-27,1.5,2,1,1.5,1,100"]) is None, why


def test_block_path_steps_aside_for_a_first_day_not_after_the_previous_block() -> None:
    assert _rows(GOOD, last=daily_close_ns(_day(b"1999-01-22"))) is None


prices = st.tuples(st.integers(0, 10**6), st.text("0123456789", min_size=0, max_size=8)).map(
    lambda t: f"{t[0]}.{t[1]}" if t[1] else str(t[0])
)


@settings(max_examples=200, deadline=None)
@given(st.lists(prices, min_size=4, max_size=4))
def test_prices_of_the_block_path_are_parse_price_and_its_rounding_count(texts: list[str]) -> None:
    low, o_text, c_text, high = sorted(texts, key=lambda t: parse_price(t.encode())[0])  # a bar that brackets
    ordered = [o_text, high, low, c_text]
    expected = [parse_price(t.encode()) for t in ordered]
    line = f"2001-05-04,{','.join(ordered)},0,7".encode()
    typed = _rows([line])
    event("block path" if typed is not None else "row by row")
    if typed is None:
        assert any(len(t.partition(".")[2]) > 6 for t in texts), texts
        return
    (row,), rounded = typed
    assert row[1:5] == tuple(u for u, _ in expected)
    assert rounded == sum(r for _, r in expected)


@pytest.mark.parametrize(
    "rel", ["backtrader-yahoo-daily/nvda-1999-2014.txt.gz", "zipline-test-daily/csvdir_daily_AAPL.csv.gz"]
)
def test_block_path_and_row_by_row_path_read_a_real_file_the_same(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, rel: str
) -> None:
    taken: list[int] = []

    def spy(lines: list[bytes], *args: object) -> object:
        typed = parse_daily_rows(lines, *args)  # type: ignore[arg-type]
        taken.append(0 if typed is None else len(lines))
        return typed

    monkeypatch.setattr(bars, "parse_daily_rows", spy)
    reader = bars.BarReader(data_dir / rel)
    fast = list(reader.events())
    counts = msgspec.to_builtins(reader.stats)
    assert taken and len(fast) == counts["bars"] > 100
    if rel.endswith("nvda-1999-2014.txt.gz"):
        assert sum(taken) == counts["rows"]  # every block took the block path
    monkeypatch.setattr(bars, "parse_daily_rows", lambda *args: None)
    assert list(reader.events()) == fast
    assert msgspec.to_builtins(reader.stats) == counts
