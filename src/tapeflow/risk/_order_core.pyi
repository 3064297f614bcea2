"""Type stub of the order rules' compiled group (``_order_core.pyx``); the reference is the parts' Python text."""

class OrderGroup:
    def __init__(self, members: tuple[tuple[int, int, object], ...]) -> None: ...
    def check(
        self,
        q: int,
        price: int,
        stop_price: int,
        symbol: object,
        marketable: object,
        now: int,
        limits: tuple[int, ...],
    ) -> int: ...
