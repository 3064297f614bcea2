"""Type stub of the compiled sample step (``_sample_core.pyx``); the Python reference is ``FeatureRecorder._take``."""

from typing import Any

class Sampler:
    defer: bool
    compiled_ticks: int
    fallbacks: int
    compiled_backstops: int
    backstop_fallbacks: int
    order: list[Any]
    def __init__(self, rec: Any, state_type: type[Any], defer: bool) -> None: ...
    def tick(self, now: int) -> None: ...
    def take(self, now: int, defer: bool) -> int: ...
    def backstop(self, arg: tuple[int, bool]) -> None: ...

class ExactSum:
    def __init__(self) -> None: ...

def push_exact(squares: Any, r2: float, sums: ExactSum) -> float: ...
