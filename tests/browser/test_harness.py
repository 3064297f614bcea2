"""The browser harness holds what the browser tests rely on: nothing but 127.0.0.1 is reachable, console errors
are seen, a blank region is told from a drawn one, and Selenium Manager is never involved."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.selenium_manager import SeleniumManager

from .harness import (
    BLOCK_ALL_BUT_LOOPBACK,
    CHROMEDRIVER,
    CHROMIUM,
    assert_not_blank,
    browser_log,
    chromium_options,
    console_errors,
    distinct_colours,
    inked_fraction,
    no_selenium_manager,
    screenshot,
    wait_until,
)

PAGES = {
    "/": b"<!doctype html><title>home</title><p>loopback</p>",
    "/ok": b"fine",
    "/blank": b"<!doctype html><style>body{margin:0;background:#fff}</style><div id=box style=width:300px;height:200px>"
    b"</div>",
    "/drawn": b"<!doctype html><style>body{margin:0;background:#fff}</style><svg id=box width=300 height=200>"
    b"<rect x=10 y=10 width=120 height=80 fill=#1f77b4 /><circle cx=200 cy=100 r=50 fill=#d62728 /></svg>",
    "/broken": b"<!doctype html><title>broken</title><script>console.error('boom'); undefinedThing();</script>",
}


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/favicon.ico":
            # the browser asks for it after the load event, so a 404 here is logged at a time no test controls: it
            # landed in the "clean page has none" read under load. Answered "no content", it is never an error
            self.send_response(204)
            self.end_headers()
            return
        body = PAGES.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(10)


def _fetch(driver: webdriver.Chrome, url: str) -> str:
    """What a page's ``fetch(url)`` came to within 5 s: "ok STATUS" or "failed ..."."""
    script = """
        const done = arguments[arguments.length - 1];
        const abort = new AbortController();
        setTimeout(() => abort.abort(), 5000);
        fetch(arguments[0], {signal: abort.signal})
            .then(r => done('ok ' + r.status)).catch(e => done('failed ' + e));
    """
    result: str = driver.execute_async_script(script, url)
    return result


def test_the_browser_reaches_127_0_0_1_and_no_other_host_name_or_address(page: webdriver.Chrome, site: str) -> None:
    page.get(site + "/")
    assert page.title == "home"
    assert _fetch(page, site + "/ok") == "ok 200"
    port = site.rsplit(":", 1)[1]
    # localhost resolves without any network (/etc/hosts), and 192.0.2.1 is an address needing no resolution at
    # all: both reach something without the rule, so their failing is the rule's doing, not a machine offline
    outside = [f"http://localhost:{port}/ok", "http://example.com/", "http://192.0.2.1/"]
    for url in outside:
        assert _fetch(page, url).startswith("failed"), url
    refused: list[str] = []

    def all_refused() -> bool:
        # the log entries come as the browser's events arrive, which may be after the fetches settled; read until
        # each refusal is there, so none is left to land in the next test's log either
        refused.extend(e["message"] for e in browser_log(page) if "ERR_NAME_NOT_RESOLVED" in e["message"])
        return all(any(url in m for m in refused) for url in outside)

    wait_until(all_refused, "a name-not-resolved refusal in the browser's log for each outside address")


def test_the_browser_is_debians_started_without_selenium_manager(browser: webdriver.Chrome, tmp_path: Path) -> None:
    caps = browser.capabilities
    assert browser.service.path == str(CHROMEDRIVER)
    # the packaged driver and browser come from one Debian source package: same major version
    assert caps["chrome"]["chromedriverVersion"].split(".")[0] == caps["browserVersion"].split(".")[0]
    options = chromium_options(tmp_path)
    assert options.binary_location == str(CHROMIUM)
    assert BLOCK_ALL_BUT_LOOPBACK in options.arguments and "--headless=new" in options.arguments
    with no_selenium_manager(), pytest.raises(AssertionError, match="Selenium Manager was asked"):
        SeleniumManager().binary_paths(["--browser", "chrome"])


def test_console_errors_are_reported_and_a_clean_page_has_none(page: webdriver.Chrome, site: str) -> None:
    page.get(site + "/")
    assert console_errors(page) == []
    page.get(site + "/broken")
    errors: list[str] = []

    def both_seen() -> bool:
        # the browser hands its log over as its events arrive, which may be after the load returned
        errors.extend(console_errors(page))
        return any("boom" in e for e in errors) and any("undefinedThing" in e for e in errors)

    wait_until(both_seen, "the page's two errors in the browser's log")


def test_a_blank_region_fails_the_pixel_check_and_a_drawn_one_passes(page: webdriver.Chrome, site: str) -> None:
    page.get(site + "/blank")
    blank = screenshot(page.find_element(By.ID, "box"))
    assert distinct_colours(blank) == 1 and inked_fraction(blank) == 0.0
    with pytest.raises(AssertionError, match="looks blank"):
        assert_not_blank(page.find_element(By.ID, "box"))
    page.get(site + "/drawn")
    drawn = assert_not_blank(page.find_element(By.ID, "box"))
    assert inked_fraction(drawn) > 0.1
