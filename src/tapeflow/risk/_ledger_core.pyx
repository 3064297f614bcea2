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

The fields the fast check reads (a side's ``shares`` and ``notional``, the ledger's ``buy_notional`` and
``sell_notional``: six reads a pass) are member descriptors, as a Python class's ``__slots__`` are, not Cython's
properties: CPython 3.11 specialises a read of a member (``LOAD_ATTR_SLOT``, a type check and a load) and never a
property's, which goes through the generic lookup and a getter call every time (``_as_member``; issue 19, round 12).
"""

from cpython.object cimport PyObject, PyTypeObject

from tapeflow.model.enums import Side

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
        int flags
        const char* doc
    int T_OBJECT_EX

cdef extern from "Python.h":
    object PyDescr_NewMember(PyTypeObject* type, PyMemberDef* member)
    void PyType_Modified(PyTypeObject* type)

cdef object _BUY = Side.BUY


cdef class OpenSide:
    """Open shares and notional on one side of one symbol (the reference's ``_Side``)."""

    cdef public object shares
    cdef public object notional

    def __cinit__(self):
        self.shares = 0
        self.notional = 0

    def __delattr__(self, name):
        """A member left empty would be a NULL the compiled methods add to: refused (they are always integers)."""
        raise AttributeError(f"{type(self).__name__}.{name} cannot be deleted")


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

    def __delattr__(self, name):
        """As ``OpenSide``'s: the totals are never empty."""
        raise AttributeError(f"{type(self).__name__}.{name} cannot be deleted")

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


cdef PyMemberDef _MEMBERS[4]
cdef tuple _NAMES = (b"shares", b"notional", b"buy_notional", b"sell_notional")
"""The members' definitions and their names, for the module's life: a descriptor keeps pointers to both."""


cdef Py_ssize_t _offset(type kind, bytes name) except -1:
    """Where field ``name`` sits in an instance of ``kind``: the one pointer-sized place that holds a fresh object
    written through Cython's property (Cython does not let code take a Python field's address)."""
    cdef object probe = kind()
    cdef object marker = object()
    cdef Py_ssize_t at, found = -1
    setattr(probe, name.decode(), marker)
    for at in range(sizeof(PyObject), (<PyTypeObject*>kind).tp_basicsize, sizeof(void*)):
        if (<PyObject**>(<char*><PyObject*>probe + at))[0] == <PyObject*>marker:
            if found != -1:
                raise RuntimeError(f"{kind.__name__}.{name.decode()} found twice")
            found = at
    if found == -1:
        raise RuntimeError(f"{kind.__name__}.{name.decode()} not found")
    return found


cdef void _as_member(type kind, Py_ssize_t i) except *:
    """Field ``_NAMES[i]`` of ``kind`` as a member descriptor (``T_OBJECT_EX``: read and written as Cython's
    property was; deleting it is refused by the class's ``__delattr__``)."""
    cdef PyMemberDef* member = &_MEMBERS[i]
    cdef bytes name = _NAMES[i]
    member.name = name
    member.type = T_OBJECT_EX
    member.offset = _offset(kind, name)
    member.flags = 0
    member.doc = NULL
    (<dict>(<PyTypeObject*>kind).tp_dict)[name.decode()] = PyDescr_NewMember(<PyTypeObject*>kind, member)
    PyType_Modified(<PyTypeObject*>kind)


_as_member(OpenSide, 0)
_as_member(OpenSide, 1)
_as_member(LedgerCore, 2)
_as_member(LedgerCore, 3)
