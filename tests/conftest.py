"""Shared fixtures. Real market data comes from TAPEFLOW_DATA (default ../shared/data) and is never copied here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent

# CI replays the same generated examples on every run (derandomize), so a submission lands or fails on its own
# code, not on the draw of the day; a developer's runs keep exploring new examples, and what they find becomes a
# fixed test (tests/data/test_dbn.py has one). `HYPOTHESIS_PROFILE=ci` gives the CI behaviour locally.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


def _data_root() -> Path:
    raw = os.environ.get("TAPEFLOW_DATA", "../shared/data")
    root = Path(raw)
    if not root.is_absolute():
        root = (REPO / root).resolve()
    return root


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder; skips (or fails under TAPEFLOW_REQUIRE_DATA=1) when it is missing."""
    root = _data_root()
    if not root.is_dir():
        reason = f"real market data not found at {root}; set TAPEFLOW_DATA to the shared data folder"
        if os.environ.get("TAPEFLOW_REQUIRE_DATA") == "1":
            pytest.fail(reason + " (TAPEFLOW_REQUIRE_DATA=1 makes this a failure)")
        pytest.skip(reason)
    return root
