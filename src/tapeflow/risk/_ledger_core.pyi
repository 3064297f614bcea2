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
