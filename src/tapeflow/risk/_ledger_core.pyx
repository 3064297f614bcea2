# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled ``OpenOrderLedger.add`` and ``remove``: the same steps as the Python reference (``risk/ledger.py``),
on the same Python objects (exact integers, the same dicts), so every reader sees what the reference would leave.

Why compiled: every passing order enters the ledger and every fill or cancel leaves it. In the risk benchmark's
pass through the kernel (docs/PERFORMANCE.md, "Risk engine", round 9) the two methods were 142 of a pass's 930
bytecodes, the largest share outside the composed check, and none of it is a call or a lookup Python code could
drop: it is the interpreter's dispatch over a tuple, two dicts and four integer sums. Here the same operations run
without it. The amounts stay Python integers (no overflow to guard, the reference's exact values).

Only ``add`` and ``remove`` are here, and ``side`` because a side must be created as the one type this module
reads; everything else (``update``, ``entry``, ``entries``, ``__len__``) is the reference's, inherited.
"""

from tapeflow.model.enums import Side

cdef object _BUY = Side.BUY


cdef class OpenSide:
    """Open shares and notional on one side of one symbol (the reference's ``_Side``)."""

    cdef public object shares
    cdef public object notional

    def __cinit__(self):
        self.shares = 0
        self.notional = 0


cdef inline OpenSide _side_in(dict sides, symbol):
    """The open side of ``symbol`` in ``sides`` (the buys or the sells), made empty when it is not there yet."""
    cdef OpenSide made
    found = sides.get(symbol)
    if found is None:
        made = OpenSide()
        sides[symbol] = made
        return made
    return <OpenSide?>found


cdef class LedgerCore:
    """The ledger's state and its two hot methods; ``ledger.CompiledLedger`` adds the reference's others."""

    cdef public dict _entries
    cdef public dict buys
    cdef public dict sells
    cdef public dict by_strategy
    cdef public object buy_notional
    cdef public object sell_notional

    def __cinit__(self):
        self._entries = {}
        self.buys = {}
        self.sells = {}
        self.by_strategy = {}
        self.buy_notional = 0
        self.sell_notional = 0

    def side(self, symbol, side):
        return _side_in(self.buys if side is _BUY else self.sells, symbol)

    def add(self, strategy, cid, symbol, side, leaves, price):
        cdef dict entries = self._entries
        cdef dict by_strategy = self.by_strategy
        cdef dict sides
        cdef OpenSide moved
        if cid in entries:
            self._remove(cid)
        entries[cid] = (strategy, symbol, side, leaves, price)
        by_strategy[strategy] = by_strategy.get(strategy, 0) + 1
        notional = leaves * price
        if side is _BUY:
            sides = self.buys
            self.buy_notional += notional
        else:
            sides = self.sells
            self.sell_notional += notional
        moved = _side_in(sides, symbol)
        moved.shares += leaves
        moved.notional += notional

    def remove(self, cid):
        self._remove(cid)

    cdef _remove(self, cid):
        cdef dict sides
        cdef OpenSide moved
        entry = self._entries.pop(cid, None)
        if entry is None:
            return
        strategy, symbol, side, leaves, price = <tuple?>entry
        self.by_strategy[strategy] -= 1
        notional = leaves * price
        if side is _BUY:
            sides = self.buys
            self.buy_notional -= notional
        else:
            sides = self.sells
            self.sell_notional -= notional
        moved = _side_in(sides, symbol)
        moved.shares -= leaves
        moved.notional -= notional
