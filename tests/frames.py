"""What Python frames a piece of code runs: for tests that a compiled or shortened path really skips a frame."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def python_frames(work: Callable[[], object]) -> list[str]:
    """The names of the Python functions ``work`` runs, in order, ``work`` itself left out (``sys.setprofile``)."""
    names: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            names.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return [name for name in names if name != getattr(work, "__name__", None)]
