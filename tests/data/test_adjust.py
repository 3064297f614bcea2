"""Split adjustment and dividends from the actions a bar file carries (Quandl WIKI, zipline csvdir) or a factor file."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.adjust import (
    Action,
    FactorTable,
    adjust_by_symbol,
    read_actions,
    split_table,
    splits_in_prices,
    with_dividends,
)
from tapeflow.data.bars import BarReader, daily_close_ns
from tapeflow.data.nytime import NEW_YORK
from tapeflow.model.errors import DataError
from tapeflow.model.market import Bar, Dividend

QUANDL = "zipline-test-daily/QUANDL_ARCHIVE.zip"
CSVDIR = "zipline-test-daily/csvdir_daily_AAPL.csv.gz"


def _day(ev: Bar | Dividend) -> date:
    return datetime.fromtimestamp(ev.ts_event // 1_000_000_000, NEW_YORK).date()


def _quandl(data_dir: Path) -> tuple[BarReader, dict[str, list[Action]]]:
    reader = BarReader(data_dir / QUANDL)
    actions = read_actions(reader.path, reader.member, reader.layout, reader.symbol)
    assert actions is not None
    return reader, actions


def test_quandl_actions_are_the_files_splits_and_dividends(data_dir: Path) -> None:
    _, actions = _quandl(data_dir)
    aapl = actions["AAPL"]
    gap = Fraction("92.7") / Fraction("645.57")  # the ex-date open over the last close as traded
    assert [a for a in aapl if a.split != 1] == [Action(date(2014, 6, 9), Fraction(7), Fraction(0), gap)]
    assert [(a.day, a.dividend) for a in aapl if a.dividend][:2] == [
        (date(2014, 2, 6), Fraction("3.05")),
        (date(2014, 5, 8), Fraction("3.29")),
    ]


def test_quandl_aapl_split_adjusted_has_no_jump_at_the_split_and_keeps_later_prices(data_dir: Path) -> None:
    reader, actions = _quandl(data_dir)
    tables = {s: split_table(a) for s, a in actions.items()}
    raw = {_day(b): b for b in reader.events() if isinstance(b, Bar) and b.symbol == "AAPL"}
    adjusted = [b for b in adjust_by_symbol(reader.events(), tables) if isinstance(b, Bar) and b.symbol == "AAPL"]
    by_day = {_day(b): b for b in adjusted}
    before, split_day = by_day[date(2014, 6, 6)], by_day[date(2014, 6, 9)]
    assert raw[date(2014, 6, 6)].close == 6_455_700  # $645.57 as traded
    assert before.close == round(Fraction(6_455_700, 7)) == 922_243
    assert before.volume == raw[date(2014, 6, 6)].volume * 7
    assert split_day == raw[date(2014, 6, 9)]  # on and after the ex-date: unchanged
    assert len(adjusted) == len(raw) == 252
    closes = [b.close for b in adjusted]
    raw_closes = [raw[_day(b)].close for b in adjusted]
    assert min(b / a for a, b in itertools.pairwise(raw_closes)) < 0.2  # the raw file has the jump
    assert all(0.8 < b / a < 1.25 for a, b in itertools.pairwise(closes))  # adjusted: none


def test_dividends_come_before_the_ex_date_bar_in_split_adjusted_dollars(data_dir: Path) -> None:
    reader, actions = _quandl(data_dir)
    tables = {s: split_table(a) for s, a in actions.items()}
    events = list(with_dividends(adjust_by_symbol(reader.events(), tables), actions, tables))
    paid = [(i, e) for i, e in enumerate(events) if isinstance(e, Dividend) and e.symbol == "AAPL"]
    assert [(_day(e), e.amount) for _, e in paid] == [
        (date(2014, 2, 6), round(Fraction("3.05") * 10_000 / 7)),  # before the split: per post-split share
        (date(2014, 5, 8), 4_700),
        (date(2014, 8, 7), 4_700),
        (date(2014, 11, 6), 4_700),
    ]
    for i, e in paid:
        nxt = events[i + 1]
        assert isinstance(nxt, Bar) and nxt.symbol == "AAPL" and nxt.ts_init == e.ts_init


def test_csvdir_lists_its_split_on_prices_adjusted_already_and_the_prices_say_so(data_dir: Path) -> None:
    reader = BarReader(data_dir / CSVDIR)
    actions = read_actions(reader.path, reader.member, reader.layout, reader.symbol)
    assert actions is not None and set(actions) == {"AAPL"}
    (split,) = [a for a in actions["AAPL"] if a.split != 1]
    assert (split.day, split.split) == (date(2014, 6, 9), 7) and split.gap is not None and 0.99 < split.gap < 1.01
    assert splits_in_prices(actions["AAPL"]) is False  # applying the 7:1 again would divide by 49
    assert actions["AAPL"][0] == Action(date(2012, 8, 9), Fraction(1), Fraction("0.37857"), actions["AAPL"][0].gap)


def test_quandl_prices_hold_the_split_as_traded(data_dir: Path) -> None:
    _, actions = _quandl(data_dir)
    assert splits_in_prices(actions["AAPL"]) is True
    assert splits_in_prices(actions["MSFT"]) is None  # no split: nothing to tell


@pytest.mark.parametrize(("gap", "verdict"), [("0.1429", True), ("1.01", False), ("0.5", None), ("1.05", None)])
def test_splits_in_prices_is_refused_when_the_gap_fits_neither_or_both(gap: str, verdict: bool | None) -> None:
    split = Fraction(7) if verdict is not None or gap == "0.5" else Fraction("1.05")
    assert splits_in_prices([Action(date(2020, 1, 2), split, Fraction(0), Fraction(gap))]) is verdict


def test_files_without_action_columns_have_no_actions(data_dir: Path) -> None:
    for rel in ("zipline-test-daily/pipeline_inputs_AAPL.csv.gz", "backtrader-yahoo-daily/nvda-1999-2014.txt.gz"):
        reader = BarReader(data_dir / rel)
        assert read_actions(reader.path, reader.member, reader.layout, reader.symbol) is None


def test_an_unreadable_split_is_an_error_naming_the_line(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text(
        "date,open,high,low,close,volume,dividend,split\n2014-01-02,1,1,1,1,5,0.0,1.0\n2014-01-03,1,1,1,1,5,0.0,seven\n"
    )
    with pytest.raises(DataError, match=r"x.csv, line 3: unreadable dividend or split"):
        read_actions(p, None, "zipline", "X")


def test_split_table_compounds_later_splits() -> None:
    table = split_table(
        [Action(date(2020, 8, 31), Fraction(4), Fraction(0)), Action(date(2014, 6, 9), Fraction(7), Fraction(0))]
    )
    assert table.factors(date(2014, 6, 6))[1] == Fraction(1, 28)
    assert table.factors(date(2014, 6, 9))[1] == Fraction(1, 4)
    assert table.factors(date(2020, 8, 28))[1] == Fraction(1, 4)
    assert table.factors(date(2020, 8, 31)) == (Fraction(1), Fraction(1))


def test_lean_factor_file_table_read(tmp_path: Path) -> None:
    p = tmp_path / "aapl.csv"
    p.write_text("20140606,1,0.142857142857\n20501231,1,1\n")
    table = FactorTable.read(p)
    assert table.factors(date(2014, 6, 6))[1] == Fraction("0.142857142857")
    assert table.factors(date(2014, 6, 9)) == (Fraction(1), Fraction(1))


@settings(max_examples=60, deadline=None)
@given(
    ratios=st.lists(st.sampled_from([Fraction(2), Fraction(3), Fraction(7), Fraction(4), Fraction(3, 2)]), max_size=3),
    days=st.integers(min_value=4, max_value=40),
    value=st.integers(min_value=10_000, max_value=50_000_000),
    data=st.data(),
)
def test_split_adjusted_prices_of_a_constant_value_stay_constant_across_any_splits(
    ratios: list[Fraction], days: int, value: int, data: st.DataObject
) -> None:
    """A share worth ``value`` before all splits trades at ``value / splits so far``; adjusted, every bar is the
    value over all the splits (to the rounding of one unit), and the last bars are untouched."""
    start = date(2020, 1, 6)
    calendar = [date.fromordinal(start.toordinal() + i) for i in range(days)]
    ex_days = sorted(data.draw(st.lists(st.sampled_from(calendar[1:]), min_size=len(ratios), max_size=len(ratios),
                                        unique=True)))  # fmt: skip
    actions = [Action(d, r, Fraction(0)) for d, r in zip(ex_days, ratios, strict=True)]
    total = Fraction(1)
    for r in ratios:
        total *= r
    bars = []
    for d in calendar:
        held = Fraction(1)
        for a in actions:
            if a.day <= d:
                held *= a.split
        price = round(Fraction(value) / held)
        ts = daily_close_ns(d)
        bars.append(Bar(ts_event=ts, ts_init=ts, symbol="X", open=price, high=price, low=price, close=price,
                        volume=100, interval_ns=1))  # fmt: skip
    out = list(adjust_by_symbol(bars, {"X": split_table(actions)}))
    target = Fraction(value) / total
    for b in out:
        assert isinstance(b, Bar)
        assert abs(b.close - target) <= 1  # half a unit rounding the as-traded price, half rounding the result
    assert out[-1] == bars[-1]
    assert len(out) == len(bars)
