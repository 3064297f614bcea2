"""The run summary's terminal form: a halt and damaged data are stated above the results, in one line each."""

from __future__ import annotations

import pytest
from rich.console import Console

from tapeflow.book.integrity import IntegrityTotals
from tapeflow.data.quality import SourceQuality
from tapeflow.report.summary import Halt, Summary, format_duration, format_ts, print_summary, warning_lines

SEC = 1_000_000_000


def _summary(**kw: object) -> Summary:
    base: dict[str, object] = dict.fromkeys(
        (
            "start_ns",
            "end_ns",
            "starting_equity_units",
            "final_equity_units",
            "pnl_units",
            "realized_pnl_units",
            "unrealized_pnl_units",
            "total_return",
            "sharpe",
            "sortino",
            "periods_per_year",
            "max_drawdown",
            "max_drawdown_units",
            "turnover",
            "hit_ratio",
            "avg_slippage_units",
            "avg_slippage_bps",
            "limit_fill_ratio",
        )
    )
    base |= {"equity_samples": 0, "fees_units": 0, "traded_notional_units": 0, "periodicity": "none"}
    base |= {"orders": 0, "orders_by_status": {}, "fills": 0, "round_trips": 0, "winning_round_trips": 0}
    base |= {"open_round_trips": 0, "limit_orders": 0}
    return Summary(**(base | kw))  # type: ignore[arg-type]


def _printed(summary: Summary) -> list[str]:
    console = Console(record=True, width=200)
    print_summary(summary, console)
    return console.export_text().splitlines()


def test_a_clean_run_prints_no_warning_line_and_starts_with_the_results() -> None:
    clean = [SourceQuality(source="day.zip", format="lobster", rows=5, events=5)]
    summary = _summary(data=clean, books=[IntegrityTotals(symbol="AAPL")])
    assert warning_lines(summary) == []
    lines = _printed(summary)
    assert "tapeflow backtest results" in lines[0]
    assert any("data read" in line for line in lines) and any("book integrity" in line for line in lines)


def test_anomalies_are_one_yellow_line_above_the_table_naming_each_damaged_source_and_book() -> None:
    summary = _summary(
        anomalies=True,
        data=[
            SourceQuality(source="day.zip", format="lobster", rows=9, events=7, malformed=2, first_problem="line 4"),
            SourceQuality(source="other.zip", format="lobster", rows=3, events=3),
        ],
        books=[
            IntegrityTotals(symbol="AAPL", crossings=1, crossed_ns=3_661 * SEC, unknown_order_refs=2),
            IntegrityTotals(symbol="MSFT"),
        ],
    )
    (line,) = warning_lines(summary)
    assert line == (
        "DATA ANOMALIES, results may be wrong: day.zip: 2 malformed; "
        "AAPL book: 1 crossing episodes, 2 unknown order refs (crossed for 1h 1m)",
        "bold yellow",
    )
    printed = _printed(summary)
    assert printed[0].startswith("DATA ANOMALIES") and "tapeflow backtest results" in printed[1]
    assert any("line 4" in row for row in printed), "the first problem is shown when there is one"


def test_a_halt_is_the_first_line_with_its_time_rule_and_reason() -> None:
    halt = Halt(ts_ns=1_718_976_600_008_397_455, reason="4 orders within 1000 ms", source="rule", rule="runaway")
    (line,) = warning_lines(_summary(halted=halt))
    assert line == (
        "HALTED: kill switch engaged at 2024-06-21 09:30:00.008397 EDT by rule runaway: 4 orders within 1000 ms",
        "bold red",
    )
    reset = Halt(ts_ns=0, reason="operator", source="manual", engaged_at_end=False)
    assert warning_lines(_summary(halted=reset))[0][0].endswith("by manual: operator (reset later in the run)")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0ns"),
        (999, "999ns"),
        (1_500, "1us"),
        (250_000_000, "250ms"),
        (61 * SEC, "1m 1s"),
        (2 * 86_400 * SEC + 3 * 3_600 * SEC + 59 * SEC, "2d 3h"),
        (3_600 * SEC + 5 * SEC, "1h 5s"),
    ],
)
def test_durations_show_their_two_largest_units(ns: int, text: str) -> None:
    assert format_duration(ns) == text


def test_event_times_print_in_new_york_time_with_the_zone_to_the_microsecond() -> None:
    assert format_ts(0) == "1969-12-31 19:00:00.000000 EST"
    assert format_ts(1_700_000_000 * SEC + 123_456_789) == "2023-11-14 17:13:20.123456 EST"
    assert format_ts(1_718_976_600 * SEC + 999) == "2024-06-21 09:30:00.000000 EDT"  # summer: daylight time
