"""The tear sheet of a real ``tapeflow compare --out --report`` run in chromium: the vectorized-vs-event chart is
drawn by the page's plotly with both its traces and is not blank (NVDA bars; skips without the shared data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver

from tests.cli.test_compare_cmd import compare_to_folder
from tests.report.tearsheet_pages import figures

from .harness import assert_not_blank, console_errors, wait_until


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("compare") / "results"
    printed = compare_to_folder(folder, data_dir, "--report=")
    return Path(printed["report"]), printed


def test_compare_report_draws_the_comparison_chart_with_its_traces_and_not_blank(
    page: webdriver.Chrome, compared: tuple[Path, dict[str, Any]]
) -> None:
    path, printed = compared
    page.get(path.as_uri())
    plot = wait_until(
        lambda: page.execute_script(
            "const d = document.getElementById('plot-comparison');"
            "return d && d.classList.contains('js-plotly-plot') ? d : null"
        ),
        "plotly to draw the comparison chart",
        timeout=20.0,
    )
    assert page.execute_script("return arguments[0].data.length", plot) == 2  # returns' bars, paired trades
    points = page.execute_script("return arguments[0].querySelectorAll('.trace .point').length", plot)
    assert points == 2 + len(printed["paired_trades"])  # every bar and every paired trade is on screen
    assert len(figures(path.read_text())["comparison"]["data"]) == 2
    assert_not_blank(plot)
    assert console_errors(page) == []
