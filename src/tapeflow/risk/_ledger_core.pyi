"""Type stub of the compiled ledger methods (``_ledger_core.pyx``); the Python reference is
``tapeflow.risk.ledger.OpenOrderLedger``."""

from typing import Any

class OpenSide:
    shares: int
    notional: int

class LedgerCore:
    _entries: dict[str, tuple[str, str, Any, int, int]]
    buys: dict[str, Any]
    sells: dict[str, Any]
    by_strategy: dict[str, int]
    buy_notional: int
    sell_notional: int
    def side(self, symbol: str, side: Any) -> Any: ...
    def add(self, strategy: str, cid: str, symbol: str, side: Any, leaves: int, price: int) -> None: ...
    def remove(self, cid: str) -> None: ...

class AccountGroup:
    def __init__(self, ledger: LedgerCore, members: tuple[tuple[int, int, object, object], ...]) -> None: ...
    def check(
        self,
        is_buy: object,
        symbol: object,
        ref: int,
        value: int,
        held: int,
        size: int,
        gross: int,
        projected_gross: int,
        net: int,
        equity: int,
        now: int,
        limits: tuple[int, ...],
        own_notional: int,
        own_buy: int,
        own_sell: int,
    ) -> int: ...
