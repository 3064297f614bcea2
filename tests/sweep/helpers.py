"""Small sweep files for the tests: a tiny synthetic market (a task takes ~0.1 s), written into tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

FLAKY = Path(__file__).with_name("flaky.py")

BASE = """
[data]
kind = "synthetic"

[data.synthetic]
symbols = ["AAPL"]
events_per_symbol = {events}
seed = 7

[strategy]
name = "{strategy}"
params = {{ quantity = 100, threshold = 0.3, max_position = 500 }}

[exchange]
queue_model = "PROPORTIONAL"

[risk.order]
max_quantity = 1000
"""

GRID = """
[sweep]
seed = 1
retries = {retries}

[sweep.grid]
"data.synthetic.seed" = [7, 8]
"strategy.params.threshold" = [0.2, 0.6]
"exchange.queue_model" = ["FRONT", "BACK"]
"""


def write_sweep(
    tmp_path: Path, sweep: str = GRID, *, events: int = 2000, retries: int = 1, name: str = "s.toml"
) -> Path:
    path = tmp_path / name
    text = BASE.format(events=events, strategy="imbalance_quoter") + sweep.format(retries=retries)
    path.write_text(text)
    return path


def write_flaky_sweep(tmp_path: Path, modes: Sequence[str], *, retries: int = 1) -> Path:
    """One task per mode of ``Flaky`` (never, once, always), each with its own marker file."""
    base = BASE.format(events=1000, strategy=f"{FLAKY}:Flaky").replace(
        "params = { quantity = 100, threshold = 0.3, max_position = 500 }", 'params = { marker = "" }'
    )
    grid = f"""
[sweep]
seed = 1
retries = {retries}

[sweep.grid]
"strategy.params.fail" = [{", ".join(f'"{m}"' for m in modes)}]
"strategy.params.marker" = ["{tmp_path / "marker"}"]
"""
    path = tmp_path / "flaky.toml"
    path.write_text(base + grid)
    return path


class InProcess:
    """An executor that runs tasks here, one by one, in reverse order (so nothing may depend on the order), and
    can stop with a Ctrl-C after ``interrupt_after`` results."""

    description = "in process"

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.interrupt_after = interrupt_after
        self.ran: list[int] = []

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R | BaseException]]:
        for i in reversed(range(len(items))):
            if self.interrupt_after is not None and len(self.ran) == self.interrupt_after:
                raise KeyboardInterrupt
            self.ran.append(i)
            yield i, fn(items[i])

    def close(self) -> None:
        pass
