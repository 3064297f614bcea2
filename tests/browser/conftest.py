"""The ``browser`` fixture: one headless chromium for the whole session (tests/browser/harness.py).

Every test here is marked ``browser`` (``pytest -m browser`` runs only them; ``make test`` runs them with the rest).
Without chromium they skip with the line that installs it; under ``TAPEFLOW_REQUIRE_DATA=1`` (CI) a missing
browser is a failure, since CI must run them (``.ci/run`` installs the two Debian packages when missing).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from .harness import browser_log, missing, start_chromium, stop_chromium

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).resolve().parent == HERE:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    why = missing()
    if why is not None:
        if os.environ.get("TAPEFLOW_REQUIRE_DATA") == "1":
            pytest.fail(f"{why} (TAPEFLOW_REQUIRE_DATA=1: the browser tests must run)")
        pytest.skip(why)
    profile = Path(tempfile.mkdtemp(prefix="tapeflow-chromium-"))
    driver = start_chromium(profile)
    try:
        yield driver
    finally:
        stop_chromium(driver, profile)


@pytest.fixture
def page(browser: webdriver.Chrome) -> webdriver.Chrome:
    """The session's browser on a blank page with its log emptied: what a test reads is its own."""
    browser.get("about:blank")
    browser_log(browser)
    return browser
