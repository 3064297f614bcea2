"""A real browser for the tests: Debian's chromium, driven by selenium through Debian's chromedriver.

Why this way: the pages under test (the tear sheet, the live dashboard) are judged by what a person sees, so they
run in a real browser, not a DOM emulation. The driver's path is given (``Service(executable_path=...)``) and the
browser's binary set, so Selenium Manager, which would download a driver and a browser from the network, is never
asked; ``start_chromium`` makes sure of it by refusing any call into it while the browser starts.

The browser reaches nothing but 127.0.0.1: ``--host-resolver-rules`` maps every other name, and every other address
literal, to "not found" (``tests/browser/test_harness.py`` proves it), and the background services that would call
home (sync, component updates, QUIC, first-run pings) are off.

Every wait is bounded: page loads, scripts, ``wait_until`` and the WebDriver connection itself time out, so a page
that never settles fails its test instead of hanging CI.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common import selenium_manager
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install -y chromium chromium-driver (with sudo when not root)"
BLOCK_ALL_BUT_LOOPBACK = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--window-size=1280,1000",
    BLOCK_ALL_BUT_LOOPBACK,
)
PAGE_LOAD_S = 20.0
SCRIPT_S = 10.0
COMMAND_S = 60.0
"""One WebDriver command at most (selenium's own default is 120 s)."""

T = TypeVar("T")


def missing() -> str | None:
    """Why no browser can be started here (None: both binaries are installed)."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    return None if not absent else f"{' and '.join(absent)} not installed; install them with: {INSTALL}"


@contextmanager
def no_selenium_manager() -> Iterator[None]:
    """Selenium Manager must not run: it would fetch a driver and a browser from the network."""
    real = selenium_manager.SeleniumManager.binary_paths

    def refuse(self: Any, args: list[str]) -> dict[str, str]:
        raise AssertionError(f"Selenium Manager was asked for {args}: the driver's path must be given")

    selenium_manager.SeleniumManager.binary_paths = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        selenium_manager.SeleniumManager.binary_paths = real  # type: ignore[method-assign]


def chromium_options(profile: Path) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (*ARGS, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


def start_chromium(profile: Path) -> webdriver.Chrome:
    """Headless chromium on a fresh profile folder, with bounded page-load, script and command timeouts."""
    service = Service(executable_path=str(CHROMEDRIVER))
    with no_selenium_manager():
        driver = webdriver.Chrome(service=service, options=chromium_options(profile))
    driver.command_executor.client_config.timeout = COMMAND_S
    driver.set_page_load_timeout(PAGE_LOAD_S)
    driver.set_script_timeout(SCRIPT_S)
    return driver


def stop_chromium(driver: webdriver.Chrome, profile: Path) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def browser_log(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The console and network messages since the last call (reading them empties the browser's buffer)."""
    entries: list[dict[str, Any]] = driver.get_log("browser")
    return entries


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """The errors the page logged since the last read: console.error, uncaught exceptions, failed loads."""
    return [e["message"] for e in browser_log(driver) if e.get("level") == "SEVERE"]


def wait_until(condition: Callable[[], T | None], what: str, timeout: float = 10.0, every: float = 0.05) -> T:
    """``condition()``'s first truthy value; fails the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(every)


def screenshot(element: WebElement) -> Image.Image:
    """The element as drawn, scrolled into the viewport first (outside it, the capture is blank)."""
    element.parent.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    return Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB")


def distinct_colours(image: Image.Image) -> int:
    colours = image.getcolors(maxcolors=1 << 20)
    return len(colours) if colours is not None else 1 << 20


def inked_fraction(image: Image.Image, background: tuple[int, int, int] | None = None) -> float:
    """The share of pixels that differ from ``background`` (default: the most common colour, the page behind)."""
    colours = image.getcolors(maxcolors=1 << 20) or []
    total = image.width * image.height
    if not total or not colours:
        return 0.0
    if background is None:
        background = max(colours)[1]
    behind = sum(n for n, c in colours if c == background)
    return 1.0 - behind / total


def assert_not_blank(element: WebElement, *, min_colours: int = 3, min_inked: float = 0.01) -> Image.Image:
    """The element, as drawn, shows something: several colours and some pixels unlike its background."""
    image = screenshot(element)
    colours, inked = distinct_colours(image), inked_fraction(image)
    assert colours >= min_colours and inked >= min_inked, (
        f"{element.tag_name}#{element.get_attribute('id')} looks blank: {colours} colours, {inked:.2%} inked"
    )
    return image


def open_drawn(page: webdriver.Chrome, path: Path) -> None:
    """Open an offline page in the tear sheet's shell and wait until plotly has drawn every chart section's plot
    (the tear sheet, the sweep page and the calibration pages share that shell)."""
    page.get(path.as_uri())
    wait_until(
        lambda: (
            page.execute_script(
                "return [...document.querySelectorAll('section[id^=chart-] div[id^=plot-]')]"
                ".every(d => d.classList.contains('js-plotly-plot'))"
            )
            or None
        ),
        "plotly to draw every chart",
        timeout=20.0,
    )
