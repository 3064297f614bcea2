"""``tapeflow backtest``'s terminal report: which risk checks ran is stated before the results."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from tapeflow.cli.backtest_cmd import print_risk_header


def _header(report: dict[str, Any]) -> tuple[str, str]:
    """(plain text, text with ANSI styles) of the header."""
    console = Console(record=True, width=120, force_terminal=True, file=io.StringIO())
    print_risk_header(report, console)
    return console.export_text(clear=False), console.export_text(styles=True)


@pytest.mark.parametrize(
    ("risk", "line"), [("default", "Risk checks: default"), ("configured", "Risk checks: configured")]
)
def test_the_risk_mode_is_printed_when_the_report_has_one(risk: str, line: str) -> None:
    text, _ = _header({"risk": risk})
    assert text == line + "\n"


def test_risk_off_is_printed_in_bold_red() -> None:
    text, styled = _header({"risk": "off"})
    assert text == "Risk checks: OFF (no pre-trade checks ran)\n"
    assert styled.startswith("\x1b[1;31mRisk checks: OFF")


def test_a_report_without_a_risk_mode_prints_no_header() -> None:
    assert _header({})[0] == ""


def test_the_engine_table_says_what_the_kill_switchs_chase_resent_and_alarmed() -> None:
    from tapeflow.cli.backtest_cmd import _engine_table

    kill = {"engaged": True, "ts": 0, "persist_failures": 0, "cancels_resent": 7, "cancel_alarms": 2}
    for unanswered, said in ((0, "ENGAGED; 7 cancels resent, 2 alarms"), (3, "alarms, 3 unanswered")):
        report = {
            "engine": {"risk_kill_switch": {**kill, "cancels_unanswered": unanswered}},
            "elapsed_s": 1.0,
            "events_per_s": 0,
            "written": [],
        }
        screen = Console(record=True, width=200, file=io.StringIO())
        screen.print(_engine_table(report))
        text = screen.export_text()
        assert said in text and ("unanswered" in text) == bool(unanswered)
