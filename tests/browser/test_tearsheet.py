"""The tear sheet in a real chromium: it opens offline with no console errors, every chart is drawn by plotly with
the traces its figure holds and is not blank on screen, and the metrics table shows the run summary's numbers.

The structure of the page (figures' JSON, table rows) is tested without a browser in tests/report; what only a
browser can show is that the page's own script draws it: an exception in the page, a figure plotly refuses or a
chart that renders as an empty box pass every structural test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tapeflow.report.tearsheet import write_tearsheet
from tests.report.tearsheet_pages import figures, synthetic_run
from tests.report.test_tearsheet import _formatted

from .harness import assert_not_blank, console_errors, open_drawn

CHARTS = ("equity", "returns", "price", "depth", "slippage", "queue", "latency", "rejections", "alerts")
"""What a quoter run with an audit trail shows (an L2 synthetic market: the depth heatmap is there)."""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any], str]]:
    folder = tmp_path_factory.mktemp("tearsheet")
    run = synthetic_run(folder / "results", audit=folder / "audit.db")
    page = write_tearsheet(folder / "results", folder / "report.html")
    yield page, run, page.read_text()


def test_the_report_opens_offline_with_every_chart_drawn_and_no_console_error(
    page: webdriver.Chrome, report: tuple[Path, dict[str, Any], str]
) -> None:
    path, _, html = report
    open_drawn(page, path)
    shown = page.execute_script("return [...document.querySelectorAll('section[id^=chart-]')].map(s => s.id)")
    assert [s.removeprefix("chart-") for s in shown] == ["metrics", *CHARTS]
    assert set(figures(html)) == set(CHARTS)
    assert console_errors(page) == []


def test_every_chart_has_the_traces_of_its_figure_and_is_not_blank_on_screen(
    page: webdriver.Chrome, report: tuple[Path, dict[str, Any], str]
) -> None:
    path, _, html = report
    open_drawn(page, path)
    embedded = figures(html)
    for name in CHARTS:
        plot = page.find_element(By.ID, f"plot-{name}")
        drawn = page.execute_script("return arguments[0].data.length", plot)
        assert drawn == len(embedded[name]["data"]) > 0, name
        svg_traces = page.execute_script(
            "return arguments[0].querySelectorAll('.trace, .heatmaplayer image, .table').length", plot
        )
        assert svg_traces > 0, f"{name}: plotly drew no trace element"
        assert_not_blank(plot)
    assert console_errors(page) == []


def test_the_metrics_table_shows_the_run_summary_numbers(
    page: webdriver.Chrome, report: tuple[Path, dict[str, Any], str]
) -> None:
    path, run, _ = report
    open_drawn(page, path)
    rows = page.find_elements(By.CSS_SELECTOR, "#metrics tr[data-key]")
    shown = {row.get_attribute("data-key"): row.find_element(By.CSS_SELECTOR, "td.value").text for row in rows}
    expected = _formatted(run["summary"])
    assert expected, "the summary should have numbers to show"
    for key, text in expected.items():
        assert shown[key] == text, key
