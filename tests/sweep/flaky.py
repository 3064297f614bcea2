"""A strategy that fails on purpose, for the retry tests: a sweep must survive a task that raises."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from tapeflow.strategy.examples.imbalance_quoter import ImbalanceQuoter


class FlakyParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    fail: Literal["never", "once", "always"] = "never"
    marker: str = ""
    """``once``: the first build (no file here yet) creates it and raises; every later build runs."""


class Flaky(ImbalanceQuoter):
    Params = FlakyParams

    def __init__(self, strategy_id: str = "flaky", *, fail: str = "never", marker: str = "") -> None:
        if fail == "always":
            raise RuntimeError("this task always fails")
        if fail == "once":
            path = Path(marker)
            if not path.exists():
                path.write_text("failed once\n")
                raise RuntimeError("the first attempt fails")
        super().__init__(strategy_id)
