"""Our open orders as the risk engine counts them: shares and notional per symbol and side, counts per strategy.

The ledger is updated when an order passes and when the venue reports on it, so that "open orders count against
limits as if filled" costs a dict lookup instead of a walk over every open order. ``OpenOrderLedger`` is the
reference; ``CompiledLedger`` runs its ``add``, ``remove`` and ``side`` in C (``_ledger_core.pyx``, on the same
objects), chosen by ``open_order_ledger``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from tapeflow.config import compiled_core_chosen
from tapeflow.model.enums import Side
from tapeflow.model.prices import NO_PRICE

try:  # the compiled ledger methods (setup.py builds them); without them the Python reference runs
    from tapeflow.risk._ledger_core import LedgerCore

    COMPILED_AVAILABLE = True
except ImportError:  # pragma: no cover - a checkout that was not built
    COMPILED_AVAILABLE = False

if TYPE_CHECKING:
    from tapeflow.execution.orders import Order

_BUY = Side.BUY  # bound once: a read through the class costs a few times a plain global's (issue 19)


class _Side:
    """Open shares and notional on one side of one symbol."""

    __slots__ = ("notional", "shares")

    def __init__(self) -> None:
        self.shares = 0
        self.notional = 0


class OpenOrderLedger:
    """Our open orders as the risk engine must count them: what each could still add if it filled."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, str, Side, int, int]] = {}
        """client order id -> (strategy, symbol, side, leaves, price used for notional)."""
        self.buys: dict[str, _Side] = {}
        self.sells: dict[str, _Side] = {}
        """Open buys and sells by symbol, one dict per side (an enum in a tuple key costs a Python-level hash per
        lookup). Public to read on the hot path without a call; changed only through ``add``/``remove``/``update``."""
        self.by_strategy: dict[str, int] = {}
        self.buy_notional = 0
        self.sell_notional = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, client_order_id: str) -> bool:
        return client_order_id in self._entries

    def side(self, symbol: str, side: Side) -> _Side:
        sides = self.buys if side is _BUY else self.sells
        entry = sides.get(symbol)
        if entry is None:
            entry = sides[symbol] = _Side()
        return entry

    def add(self, strategy: str, cid: str, symbol: str, side: Side, leaves: int, price: int) -> None:
        entries = self._entries
        if cid in entries:
            self.remove(cid)
        entries[cid] = (strategy, symbol, side, leaves, price)
        by_strategy = self.by_strategy
        by_strategy[strategy] = by_strategy.get(strategy, 0) + 1
        # one side's totals moved here, not in a shared helper: every passed order comes here, and a call costs
        # about 0.1 us of a pass's 4 (issue 19)
        notional = leaves * price
        if side is _BUY:
            sides = self.buys
            self.buy_notional += notional
        else:
            sides = self.sells
            self.sell_notional += notional
        moved = sides.get(symbol)
        if moved is None:
            moved = sides[symbol] = _Side()
        moved.shares += leaves
        moved.notional += notional

    def remove(self, cid: str) -> None:
        entry = self._entries.pop(cid, None)
        if entry is None:
            return
        strategy, symbol, side, leaves, price = entry
        self.by_strategy[strategy] -= 1
        notional = leaves * price  # as in ``add``, no helper call: every fill and cancel
        if side is _BUY:
            sides = self.buys
            self.buy_notional -= notional
        else:
            sides = self.sells
            self.sell_notional -= notional
        moved = sides.get(symbol)
        if moved is None:
            moved = sides[symbol] = _Side()
        moved.shares -= leaves
        moved.notional -= notional

    def update(self, cid: str, order: Order | None) -> None:
        """Re-read one order after a venue report (the execution engine has already applied it)."""
        entry = self._entries.get(cid)
        if entry is None:
            return
        if order is None or not order.is_open:
            self.remove(cid)
            return
        strategy, symbol, side, _, price = entry
        new_price = order.price if order.price != NO_PRICE else price
        self.add(strategy, cid, symbol, side, order.leaves_quantity, new_price)

    def entry(self, cid: str) -> tuple[str, str, Side, int, int] | None:
        return self._entries.get(cid)

    def entries(self) -> Mapping[str, tuple[str, str, Side, int, int]]:
        """Every open order, live (the same mapping for the ledger's life): read once, ``len`` it per order."""
        return self._entries


if COMPILED_AVAILABLE:

    class CompiledLedger(LedgerCore, OpenOrderLedger):
        """``OpenOrderLedger`` with ``add``, ``remove`` and ``side`` compiled (``_ledger_core.pyx``: the same steps
        on the same objects); the reference's other methods, inherited."""


Impl = Literal["auto", "compiled", "python"]


def open_order_ledger(impl: Impl = "auto") -> OpenOrderLedger:
    """``impl``: "python" the reference; "compiled" ``CompiledLedger`` (``ConfigError`` when it was not built);
    "auto" the compiled one when built, unless the environment sets ``TAPEFLOW_PURE_PYTHON=1``."""
    if compiled_core_chosen(impl, COMPILED_AVAILABLE, "the compiled ledger"):
        return CompiledLedger()
    return OpenOrderLedger()
