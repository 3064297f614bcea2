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

from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_ITEM
from cpython.object cimport PyObject, PyTypeObject

include "../book/_as_ll.pxi"

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


# -- the account rules' compiled group --------------------------------------------------------------------------
#
# Here, beside the ledger, because half of what the account rules read is the ledger's (its totals, a symbol's open
# notional on each side), which this module reads as C fields, not through attribute lookups.

cdef extern from *:
    """
    /* a + b, a - b, a * b in int64; 1 when the result does not fit (the caller then leaves the decision to the
       Python text, which has no overflow). */
    static inline int tf_add64(long long a, long long b, long long* out) { return __builtin_add_overflow(a, b, out); }
    static inline int tf_sub64(long long a, long long b, long long* out) { return __builtin_sub_overflow(a, b, out); }
    static inline int tf_mul64(long long a, long long b, long long* out) { return __builtin_mul_overflow(a, b, out); }
    """
    bint tf_add64(long long a, long long b, long long* out)
    bint tf_sub64(long long a, long long b, long long* out)
    bint tf_mul64(long long a, long long b, long long* out)

# the kinds, one per built-in account rule class (``risk/fast_group.py`` names them)
cdef enum:
    K_POSITION = 0
    K_SYMBOL_NET = 1
    K_SYMBOL_GROSS = 2
    K_GROSS = 3
    K_NET = 4
    K_BUYING_POWER = 5
    K_FLOOR = 6
    K_DAILY_LOSS = 7
    MAX_MEMBERS = 16

# what ``AccountGroup.check`` answers: -1 a value past int64 or a new day (the Python text of the parts decides),
# 0 a part of the text would return 0 here (before any part changed anything), 1 every part passes
cdef enum:
    UNSURE = -1
    MAY_FAIL = 0
    PASSES = 1

cdef long long INT64_MIN = -9223372036854775807 - 1


cdef inline bint _ceil_bps(long long amount, long long bps, long long* out):
    """``-(-amount * bps // 10_000)`` (Python's floor division), 1 when it does not fit int64."""
    cdef long long product, negated, quotient
    if tf_mul64(amount, bps, &product) or tf_sub64(0, product, &negated):
        return 1
    quotient = negated // 10_000  # C truncates toward zero; Python floors
    if negated % 10_000 != 0 and negated < 0:
        quotient -= 1
    return tf_sub64(0, quotient, out)


cdef class AccountGroup:
    """The fast parts of a run of built-in account rules (``account_rules``), checked in one call on C integers.

    The reference is the rules' own Python text (``fast_check``/``fast_check_modify``), which the composed check
    keeps right after the call and runs when the answer is ``UNSURE`` (-1): a value or a limit past int64, an
    overflow on the way, a new day for the daily loss. Otherwise the answer is that text's: 0 where one part would
    return 0 (none of them changes state before), 1 where all pass. ``risk/fast_group.py`` builds it from the parts
    and their bound values (the same limits, the same ``day`` list the text reads); ``tests/risk/test_fast_group.py``
    runs both on random accounts, limits and orders, past int64 too."""

    cdef LedgerCore ledger
    cdef int count
    cdef int kind[MAX_MEMBERS]
    cdef Py_ssize_t column[MAX_MEMBERS]
    """The member's column of the per-symbol limits row, or -1 for its fixed ``limit``."""
    cdef long long limit[MAX_MEMBERS]
    cdef bint unlimited[MAX_MEMBERS]
    """A fixed limit above int64 (or the text's ``BIG``): no int64 value passes it, so the compare always holds."""
    cdef long long extra[MAX_MEMBERS]
    """Buying power: the maintenance rate (``limit`` is the initial one)."""
    cdef list day
    """The daily-loss part's ``[start, end, baseline]`` (the same list its text reads and writes)."""

    def __init__(self, LedgerCore ledger, tuple members):
        """``members``: ``(kind, column, limit, extra)`` in the parts' order; ``extra`` the maintenance rate for
        buying power, the ``day`` list for the daily loss. Raises ``ValueError`` for what this group cannot
        hold (the composer then keeps the Python text alone)."""
        cdef long long value
        cdef int i
        if not 0 < len(members) <= MAX_MEMBERS:
            raise ValueError(f"an account group holds 1 to {MAX_MEMBERS} parts")
        self.ledger = ledger
        self.count = len(members)
        self.day = None
        for i, (kind, column, limit, extra) in enumerate(members):
            if not K_POSITION <= kind <= K_DAILY_LOSS:
                raise ValueError(f"unknown account part kind {kind}")
            self.kind[i] = kind
            self.column[i] = column
            self.unlimited[i] = False
            self.limit[i] = 0
            self.extra[i] = 0
            if column < 0:
                if tf_as_ll(<PyObject*>limit, &value):
                    self.limit[i] = value
                elif (limit is None or (type(limit) is int and limit > 0)) and kind not in (K_FLOOR, K_BUYING_POWER):
                    self.unlimited[i] = True  # ``x > limit`` for every int64 x is false
                else:
                    raise ValueError(f"limit {limit!r} of part kind {kind} is not held in int64")
            if kind == K_BUYING_POWER:
                if not tf_as_ll(<PyObject*>extra, &value):
                    raise ValueError(f"maintenance rate {extra!r} is not held in int64")
                self.extra[i] = value
            elif kind == K_DAILY_LOSS:
                if type(extra) is not list or len(extra) != 3:
                    raise ValueError("the daily loss part's day is a list of three")
                self.day = extra

    cdef inline int _limit(self, int i, tuple limits, long long* out):
        """The member's limit: 1 when held in ``out``, 0 when it passes every int64 value (above int64), -1 when
        every int64 value breaks it (below int64) or it is not an exact int (the text decides)."""
        cdef Py_ssize_t at = self.column[i]
        cdef object found
        if at < 0:
            if self.unlimited[i]:
                return 0
            out[0] = self.limit[i]
            return 1
        found = limits[at]
        if tf_as_ll(<PyObject*>found, out):
            return 1
        if type(found) is int and found > 0:
            return 0
        return -1

    def check(self, is_buy, symbol, ref_, value_, held_, size_, gross_, projected_gross_, net_, equity_, now_,
              tuple limits, own_notional_, own_buy_, own_sell_):
        """1: every part passes; 0: one would return 0; -1: run the parts' text. Called only for an order that is
        not reducing (every part passes a reducing one); a name no part reads comes as 0."""
        cdef long long ref, value, held, size, gross, projected_gross, net, equity, now
        cdef long long own_notional, own_buy, own_sell
        cdef long long lim, x, y, start, end, baseline
        cdef int i, kind, known
        cdef LedgerCore ledger = self.ledger
        cdef PyObject* found
        if not (tf_as_ll(<PyObject*>ref_, &ref) and tf_as_ll(<PyObject*>value_, &value)
                and tf_as_ll(<PyObject*>held_, &held) and tf_as_ll(<PyObject*>size_, &size)
                and tf_as_ll(<PyObject*>gross_, &gross) and tf_as_ll(<PyObject*>projected_gross_, &projected_gross)
                and tf_as_ll(<PyObject*>net_, &net) and tf_as_ll(<PyObject*>equity_, &equity)
                and tf_as_ll(<PyObject*>now_, &now) and tf_as_ll(<PyObject*>own_notional_, &own_notional)
                and tf_as_ll(<PyObject*>own_buy_, &own_buy) and tf_as_ll(<PyObject*>own_sell_, &own_sell)):
            return UNSURE
        for i in range(self.count):
            kind = self.kind[i]
            if kind == K_BUYING_POWER:
                # equity < -(-gross * maintenance // 10_000) or -(-projected_gross * initial // 10_000) > equity
                if _ceil_bps(gross, self.extra[i], &x) or _ceil_bps(projected_gross, self.limit[i], &y):
                    return UNSURE
                if equity < x or y > equity:
                    return MAY_FAIL
                continue
            if kind == K_FLOOR:
                if equity < self.limit[i]:
                    return MAY_FAIL
                continue
            if kind == K_DAILY_LOSS:
                # not day[0] <= now < day[1]: the text takes the new day's baseline (a call, a write)
                if not (tf_as_ll(PyList_GET_ITEM(self.day, 0), &start) and tf_as_ll(PyList_GET_ITEM(self.day, 1), &end)
                        and tf_as_ll(PyList_GET_ITEM(self.day, 2), &baseline)):
                    return UNSURE
                if not start <= now < end:
                    return UNSURE
                if tf_sub64(baseline, equity, &x):
                    return UNSURE
                known = self._limit(i, limits, &lim)
                if known < 0:
                    return UNSURE
                if known and x > lim:
                    return MAY_FAIL
                continue
            # the rest compare a value with a limit: ``x > limit``
            if kind == K_POSITION:
                x = size
            elif kind == K_SYMBOL_NET:
                if tf_mul64(size, ref, &x):
                    return UNSURE
            elif kind == K_SYMBOL_GROSS:
                # (held if held >= 0 else -held) * ref + value + buys' notional + sells' notional [- own_notional]
                if held == INT64_MIN or tf_mul64(held if held >= 0 else -held, ref, &x):
                    return UNSURE
                if tf_add64(x, value, &x) or tf_sub64(x, own_notional, &x):
                    return UNSURE
                found = PyDict_GetItem(ledger.buys, symbol)
                if found is not NULL:
                    if not tf_as_ll(<PyObject*>(<OpenSide>found).notional, &y) or tf_add64(x, y, &x):
                        return UNSURE
                found = PyDict_GetItem(ledger.sells, symbol)
                if found is not NULL:
                    if not tf_as_ll(<PyObject*>(<OpenSide>found).notional, &y) or tf_add64(x, y, &x):
                        return UNSURE
            elif kind == K_GROSS:
                x = projected_gross
            else:  # K_NET: net + (buy_notional - own_buy) + value, or net - (sell_notional - own_sell) - value
                if is_buy is True:
                    if (not tf_as_ll(<PyObject*>ledger.buy_notional, &y) or tf_sub64(y, own_buy, &y)
                            or tf_add64(net, y, &x) or tf_add64(x, value, &x)):
                        return UNSURE
                else:
                    if (not tf_as_ll(<PyObject*>ledger.sell_notional, &y) or tf_sub64(y, own_sell, &y)
                            or tf_sub64(net, y, &x) or tf_sub64(x, value, &x)):
                        return UNSURE
                known = self._limit(i, limits, &lim)
                if known < 0:
                    return UNSURE
                if known and (x > lim or (x < 0 and -x > lim) or x == INT64_MIN):
                    return MAY_FAIL
                continue
            known = self._limit(i, limits, &lim)
            if known < 0:
                return UNSURE
            if known and x > lim:
                return MAY_FAIL
        return PASSES
