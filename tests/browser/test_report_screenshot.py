"""scripts/report_screenshot.py, the README's picture of the tear sheet, still makes a picture of a drawn page."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from PIL import Image
from selenium import webdriver

from .harness import distinct_colours, inked_fraction

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "report_screenshot.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("report_screenshot", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_screenshot_script_photographs_a_drawn_report(browser: webdriver.Chrome, tmp_path: Path) -> None:
    """``browser`` only brings the harness's rule: skipped without chromium, a failure in CI."""
    out = _script().make_screenshot(tmp_path / "report.png", events=3_000, size=(1000, 1200))
    image = Image.open(out).convert("RGB")
    assert image.size == (1000, 1200)
    # text, table rules and the equity chart's lines and fills: a blank or half-loaded page has a few colours
    assert distinct_colours(image) > 200 and inked_fraction(image) > 0.05
