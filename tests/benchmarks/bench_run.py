"""Runs one benchmark script as ``make bench`` would, for the smoke tests that keep each one from rotting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_bench(
    script: Path, *args: str, timeout: float = 300, cwd: Path | None = None
) -> tuple[list[str], dict[str, Any]]:
    """Run ``script`` with ``args``; it must exit 0 (its stderr's end is the failure message). Its output lines and
    its last line, which every benchmark prints as one JSON object."""
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    report: dict[str, Any] = json.loads(lines[-1])
    return lines, report
