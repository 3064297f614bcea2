"""The stepped paper venue the order adapter's tests share (tests/live/paper_harness.py), served per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .paper_harness import Paper, aapl_tape


@pytest.fixture
def paper(data_dir: Path) -> Iterator[Paper]:
    tape = aapl_tape(data_dir)
    if not tape.is_file():
        pytest.skip(f"{tape} is missing")
    served = Paper(tape)
    yield served
    served.stop()
