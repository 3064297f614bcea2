"""``[calibrate]``: which L3 days, how many probes of which kind, which models; checked whole before any data is read.

```toml
[calibrate]
days = ["lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"]  # default: every LOBSTER day
root = "../shared/data"      # optional; else $TAPEFLOW_DATA, else ../shared/data beside the checkout
seed = 21
probes = 200                 # per day
levels = [1, 2, 3, 4, 5]     # 1 = the best price; levels deeper than a file's depth are not drawn for it
sizes = [100, 200, 500]
horizon_s = 300              # a probe not completely filled this long after it joined did not fill
start = "09:35"              # New York wall clock: the window probes join in
end = "15:55"
models = ["FRONT", "BACK", "PROPORTIONAL", "POWER2", "POWER3"]
```

A file holding the same symbol and day as another (LOBSTER ships levels 1, 5 and 10 of a day) is run once, the
deepest: the probes of one day must not count twice, and the deeper file sees more of the queue.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from tapeflow.config import data_root, load_config, resolve_input
from tapeflow.data.lobster_file import LobsterFile, open_lobster
from tapeflow.model.errors import ConfigError, DataError
from tapeflow.venues.sim.queue import QueueModel

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$")
MAX_LEVEL = 10
"""LOBSTER's deepest files carry ten levels."""


def clock_ns(text: str, field: str) -> int:
    """ns after midnight of an ``HH:MM[:SS]`` wall-clock time."""
    m = _CLOCK.match(text)
    if m is None:
        raise ConfigError(f"{text!r} is not a time of day; write HH:MM or HH:MM:SS (New York)", field=field)
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    return ((h * 60 + mi) * 60 + s) * 1_000_000_000


class CalibrateSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    days: tuple[str, ...] = ()
    root: str | None = None
    seed: int = 21
    probes: int = 200
    levels: tuple[int, ...] = (1, 2, 3, 4, 5)
    sizes: tuple[int, ...] = (100, 200, 500)
    horizon_s: int = 300
    start: str = "09:35"
    end: str = "15:55"
    models: tuple[QueueModel, ...] = tuple(QueueModel)

    def __post_init__(self) -> None:
        if not 1 <= self.probes <= 100_000:
            raise ConfigError(f"{self.probes} probes per day: give 1 to 100000", field="probes")
        if not self.levels or any(not 1 <= lv <= MAX_LEVEL for lv in self.levels):
            raise ConfigError(f"levels {list(self.levels)}: give levels 1 (the best) to {MAX_LEVEL}", field="levels")
        if len(set(self.levels)) != len(self.levels):
            raise ConfigError(f"levels {list(self.levels)} repeat a level", field="levels")
        if not self.sizes or any(s <= 0 for s in self.sizes):
            raise ConfigError(f"sizes {list(self.sizes)}: give positive share counts", field="sizes")
        if self.horizon_s <= 0:
            raise ConfigError(f"horizon_s {self.horizon_s}: give a positive number of seconds", field="horizon_s")
        if not self.models:
            raise ConfigError("no models: name at least one queue model", field="models")
        if len(set(self.models)) != len(self.models):
            raise ConfigError("a model is named twice", field="models")
        if clock_ns(self.start, "start") >= clock_ns(self.end, "end"):
            raise ConfigError(f"start {self.start} is not before end {self.end}", field="end")

    @property
    def start_ns(self) -> int:
        return clock_ns(self.start, "start")

    @property
    def end_ns(self) -> int:
        return clock_ns(self.end, "end")


class CalibrateFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    calibrate: CalibrateSection = CalibrateSection()


def load_calibrate_config(path: str | Path) -> CalibrateSection:
    return load_config(path, CalibrateFile).calibrate


def find_days(cfg: CalibrateSection, base: Path | None) -> list[LobsterFile]:
    """The LOBSTER days to run, one file per symbol and day (the deepest), in (symbol, day) order.

    Listed ``days`` are found like every input path (the configuration's folder, then the data root); none listed,
    every LOBSTER zip under the data root is a day. No day at all is an error: a calibration of nothing says
    nothing."""
    root, root_from = data_root(cfg.root, base)
    files: list[LobsterFile] = []
    if cfg.days:
        for raw in cfg.days:
            path = resolve_input(raw, base=base, root=root, field="calibrate.days", root_from=root_from)
            files.append(open_lobster(path))
    else:
        if root is None or not root.is_dir():
            raise ConfigError(f"no days listed and no data root to look in ({root_from}); list days", field="days")
        for path in sorted(root.rglob("*.zip")):
            try:
                files.append(open_lobster(path))
            except DataError:
                continue  # a zip that is not a LOBSTER day
        if not files:
            raise ConfigError(f"no LOBSTER day under {root} ({root_from}); list days", field="days")
    deepest: dict[tuple[str, str], LobsterFile] = {}
    for f in files:
        key = (f.symbol, f.day.isoformat())
        have = deepest.get(key)
        if have is None or (f.levels, f.path) > (have.levels, have.path):
            deepest[key] = f
    return [deepest[k] for k in sorted(deepest)]
