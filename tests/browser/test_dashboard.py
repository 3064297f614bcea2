"""The live dashboard in a real browser, against a live node trading on the paper venue's replay of the AAPL day
(``replay.Replay``: the "replay mode" of issue 18): the page opens without console errors, its numbers follow the
node as events arrive, the position it shows is the venue's, its chart and tables are drawn, the kill switch's
alarm counters (its chase's, its failed state writes) are the node's, and its kill button is refused without the
token (the node trades on) and engages the kill switch with it (no order reaches the venue after).

The tests share one node (starting one costs seconds) and run in file order: the kill with the token comes last.
Every wait is bounded (``wait_until``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from .harness import assert_not_blank, console_errors, wait_until
from .replay import TOKEN, Replay

WAIT_S = 30.0
"""Tape at 5x: a crossing of the strategy's EMAs, hence an order, comes every few seconds."""


@pytest.fixture(scope="module")
def replay(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    tape = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    if not tape.is_file():
        pytest.skip(f"{tape} is missing")
    with pytest.MonkeyPatch.context() as patch:
        running = Replay(data_dir, tmp_path_factory.mktemp("replay"), patch)
        try:
            yield running
        finally:
            running.close()


def _text(driver: webdriver.Chrome, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def _cells(driver: webdriver.Chrome, selector: str) -> list[str]:
    """The text of every cell matching ``selector``, read in one script: the page redraws its tables on every
    frame, so cells found by one WebDriver call may be gone by the next."""
    texts: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), td => td.textContent);", selector
    )
    return texts


def _shown_position(driver: webdriver.Chrome, symbol: str = "AAPL") -> int:
    """The quantity the page's positions table shows for ``symbol`` (0 when it has no row)."""
    cells = _cells(driver, f'#positions tbody tr[data-key="{symbol}"] td.qty')
    return int(cells[0]) if cells else 0


def _open(driver: webdriver.Chrome, replay: Replay, fragment: str = "") -> None:
    driver.get(replay.dashboard + "/" + fragment)
    wait_until(lambda: _text(driver, "status") == "live", "the page's websocket to connect")
    wait_until(lambda: int(_text(driver, "frame-seq")) > 0, "the first frame")


def test_the_dashboard_opens_without_console_errors_and_its_numbers_follow_the_node(
    page: webdriver.Chrome, replay: Replay
) -> None:
    _open(page, replay)
    first_events, first_time = int(_text(page, "feed-events")), _text(page, "event-time")
    wait_until(lambda: int(_text(page, "feed-events")) > first_events, "the event count to grow", WAIT_S)
    wait_until(lambda: _text(page, "event-time") != first_time, "the event time to move", WAIT_S)
    assert _text(page, "event-time").startswith("2012-06-21 ") and _text(page, "event-time").endswith(" EDT")
    # the page first, the node after: the node's count only grows, so a page read after the snapshot could show a
    # frame the node sent in between and seem to run ahead (it did, under load)
    shown = int(_text(page, "feed-events"))
    node = replay.snapshot()
    assert _text(page, "run-id") == node["run_id"] == replay.session.run_id
    assert _text(page, "venue") == "paper"
    assert shown <= node["node"]["feed_events"], "the page never runs ahead of the node"
    assert _text(page, "kill-state") == "off" and _text(page, "feed-connected") == "alpaca"
    reasons = wait_until(lambda: _cells(page, "#signals tbody td.reason"), "a signal with its reason", WAIT_S)
    assert any(r.startswith("EMA5 crossed") for r in reasons), reasons
    assert console_errors(page) == []


def test_the_position_shown_after_a_fill_is_the_venues(page: webdriver.Chrome, replay: Replay) -> None:
    _open(page, replay)
    wait_until(lambda: int(_text(page, "pnl-fills")) > 0, "a fill", WAIT_S)

    def agreed() -> int | None:
        # the node keeps trading: page, venue, page again, until no order moved the position in between
        before, venue, after = _shown_position(page), replay.venue_position(), _shown_position(page)
        return venue if before == venue == after and venue != 0 else None

    # no multiple of the order size is expected: the paper venue fills a resting order from the tape's trade sizes,
    # so partial fills leave positions such as 228 (seen when the replay ran slower, under load)
    wait_until(agreed, "the page's position to equal the venue's (non-zero)", WAIT_S, every=0.2)
    assert console_errors(page) == []


def test_the_equity_chart_and_the_tables_are_drawn(page: webdriver.Chrome, replay: Replay) -> None:
    _open(page, replay)
    wait_until(lambda: int(_text(page, "equity-points")) >= 8, "a few equity points", WAIT_S)
    points = page.find_element(By.ID, "equity-line").get_attribute("points") or ""
    assert len(points.split()) >= 8
    assert_not_blank(page.find_element(By.ID, "equity-chart"), min_colours=2, min_inked=0.005)
    for section in ("pnl", "risk-passed", "latency", "signals"):
        assert_not_blank(page.find_element(By.ID, section), min_colours=2, min_inked=0.005)
    assert console_errors(page) == []


ALARM_COUNTERS = ("kill-cancels-resent", "kill-cancel-alarms", "kill-cancels-unanswered", "kill-persist-failures")
"""The page's kill-switch chase counters and failed state writes, in the order of ``_set_alarm_counters``."""


def _set_alarm_counters(replay: Replay, resent: int, alarms: int, unanswered: int, persist_failures: int) -> None:
    """Set the node's counters on its loop, as a venue refusing or never answering the kill's cancels and a state file
    that cannot be written leave them (tests/risk/test_kill_cancels.py, tests/risk/test_kill_switch.py)."""
    risk = replay.session.node.node.risk

    def put() -> None:
        chase = risk.kill_cancels
        chase.resent, chase.alarms, chase.unanswered = resent, alarms, unanswered
        risk.persist_failures = persist_failures

    replay.on_loop(put)


def test_the_kill_switchs_chase_counters_and_failed_state_writes_are_shown_as_the_node_counts_them(
    page: webdriver.Chrome, replay: Replay
) -> None:
    _open(page, replay)
    assert [_text(page, i) for i in ALARM_COUNTERS] == ["0", "0", "0", "0"]
    _set_alarm_counters(replay, 5, 2, 1, 3)
    try:
        wait_until(lambda: [_text(page, i) for i in ALARM_COUNTERS] == ["5", "2", "1", "3"], "the counters shown")
        risk = replay.snapshot()["node"]["risk"]
        named = ("kill_cancels_resent", "kill_cancel_alarms", "kill_cancels_unanswered", "kill_persist_failures")
        assert [risk[k] for k in named] == [5, 2, 1, 3]
        # a resend is the chase working; the other three are alarms: an order or the switch's state may be wrong
        assert [page.find_element(By.ID, i).get_attribute("class") for i in ALARM_COUNTERS] == ["", "bad", "bad", "bad"]
    finally:
        _set_alarm_counters(replay, 0, 0, 0, 0)
    wait_until(lambda: [_text(page, i) for i in ALARM_COUNTERS] == ["0", "0", "0", "0"], "the counters back at 0")
    assert console_errors(page) == []


def test_the_kill_button_without_the_token_is_refused_and_the_node_keeps_trading(
    page: webdriver.Chrome, replay: Replay
) -> None:
    _open(page, replay)
    assert page.find_element(By.ID, "kill-token").get_attribute("value") == ""
    orders_before = replay.venue_orders()
    page.find_element(By.ID, "kill-reason").send_keys("no token")
    page.find_element(By.ID, "kill-button").click()
    wait_until(lambda: _text(page, "kill-result").startswith("refused (403)"), "the refusal on the page")
    wait_until(lambda: _text(page, "kill-refused") == "1", "the refusal counted on the page")
    node = replay.snapshot()
    assert node["kill_refused"] == 1 and node["node"]["risk"]["kill_switch"] is False
    assert _text(page, "kill-state") == "off" and not page.find_element(By.ID, "kill-banner").is_displayed()
    wait_until(lambda: replay.venue_orders() > orders_before, "a new order at the venue: the node trades on", WAIT_S)
    # the one error the page may log is the browser's note of the 403 itself
    errors = console_errors(page)
    assert all("/kill" in e and "403" in e for e in errors), errors


def test_the_kill_button_with_the_token_engages_the_kill_switch_and_no_order_reaches_the_venue_after(
    page: webdriver.Chrome, replay: Replay
) -> None:
    _open(page, replay, f"#token={TOKEN}")
    assert "token" not in page.current_url, "the token is taken out of the address bar"
    page.find_element(By.ID, "kill-reason").send_keys("seen on the dashboard")
    page.find_element(By.ID, "kill-button").click()
    wait_until(lambda: _text(page, "kill-result").startswith("kill switch engaged"), "the kill's answer")
    wait_until(lambda: _text(page, "kill-state") == "ENGAGED", "the risk state on the page")
    assert page.find_element(By.ID, "kill-banner").is_displayed()
    assert "seen on the dashboard" in _text(page, "kill-banner")
    risk = replay.snapshot()["node"]["risk"]
    assert risk["kill_switch"] is True and risk["kill_source"].startswith("dashboard#")
    assert risk["kill_reason"] == "seen on the dashboard"
    wait_until(lambda: replay.snapshot()["node"]["open_order_count"] == 0, "the open orders cancelled", WAIT_S)
    orders, events = replay.venue_orders(), replay.snapshot()["node"]["feed_events"]
    wait_until(lambda: replay.snapshot()["node"]["feed_events"] > events + 200, "more market data", WAIT_S)
    assert replay.venue_orders() == orders, "an order reached the venue after the kill"
    assert _shown_position(page) == replay.venue_position(), "with trading stopped, the page shows the venue's"
    assert console_errors(page) == []
