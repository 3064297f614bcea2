# cython: language_level=3, boundscheck=False, wraparound=False
"""The order rules' compiled group: a run of the first built-in order checks (size, lot, tick, the restricted list,
the trading status and session) in one call on C integers, composed by ``risk/fast_group.py``.

Why: every order runs these parts first, ~35-50 bytecodes of the composed check (the session window's compare of
two list items with a three-digit timestamp alone is 13), the same few compares for every order. One call costs
about a dozen bytecodes, so the run pays as one call (docs/PERFORMANCE.md, "Risk engine", round 14).

The reference is the parts' Python text, which the composed check keeps right after the call and runs when the
answer is ``UNSURE`` (-1): a value past int64, a symbol the status table or the restricted set cannot look up, an
order outside the session window the text last kept (the text then asks the calendar and moves the window).
Otherwise the answer is the text's: 0 where one part would ``return 0`` (none changes anything before), 1 where all
pass. The group holds the very objects the text reads (the restricted set, the status table, the window list), so a
change to one is seen by both.
"""

from cpython.dict cimport PyDict_Size
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject
from cpython.set cimport PySet_Contains

include "../book/_as_ll.pxi"

from tapeflow.model.enums import MarketStatus

cdef extern from "Python.h":
    PyObject* PyDict_GetItemWithError(object mp, object key)
    PyObject* PyErr_Occurred()
    void PyErr_Clear()

cdef object _HALTED = MarketStatus.HALTED
cdef object _QUOTING = MarketStatus.QUOTING

# the kinds, one per built-in order rule class (``risk/fast_group.py`` names them)
cdef enum:
    K_MIN_QUANTITY = 0
    K_MAX_QUANTITY = 1
    K_LOT = 2
    K_TICK = 3
    K_RESTRICTED = 4
    K_HOURS = 5
    MAX_MEMBERS = 8

cdef enum:
    UNSURE = -1
    MAY_FAIL = 0
    PASSES = 1


cdef inline int _tick_fails(long long price, long long threshold, long long above, long long below):
    """The tick part's test of one price: ``price and (price < 0 or price % (above if price >= threshold else
    below))``. The divisors are positive (checked when the group is built), so C's remainder is zero exactly when
    Python's is."""
    if price == 0:
        return 0
    if price < 0:
        return 1
    return (price % (above if price >= threshold else below)) != 0


cdef class OrderGroup:
    """The fast parts of a run of built-in order rules (``order_rules``), checked in one call on C integers.

    ``check(q, price, stop_price, symbol, marketable, now, limits)`` answers 1 (every part passes), 0 (one part's
    text would return 0 here) or -1 (run the parts' text). A name no member reads comes as 0 (``limits`` as ``()``)."""

    cdef int count
    cdef int kind[MAX_MEMBERS]
    cdef Py_ssize_t column[MAX_MEMBERS]
    """Maximum quantity: its column of the per-symbol limits row, or -1 for its fixed ``limit``."""
    cdef long long limit[MAX_MEMBERS]
    """The minimum, the maximum, the lot; the tick's threshold."""
    cdef bint unlimited[MAX_MEMBERS]
    """A fixed maximum above int64 (or the text's ``BIG``): no int64 quantity passes it."""
    cdef long long above[MAX_MEMBERS]
    cdef long long below[MAX_MEMBERS]
    cdef bint halted[MAX_MEMBERS]
    """Trading status: the part checks the status table (``block_halted``)."""
    cdef set restricted
    cdef dict status
    cdef list window

    def __init__(self, tuple members):
        """``members``: ``(kind, column, limit)`` in the parts' order; ``limit`` the minimum, maximum or lot,
        the tick rule's ``(threshold, above, below)``, the restricted set, or the trading-status part's
        ``(status, window, block_halted)``. Raises ``ValueError`` for what this group cannot hold (the composer then
        keeps the Python text alone)."""
        cdef long long value
        cdef int i
        if not 0 < len(members) <= MAX_MEMBERS:
            raise ValueError(f"an order group holds 1 to {MAX_MEMBERS} parts")
        self.count = len(members)
        for i, (kind, column, limit) in enumerate(members):
            self.kind[i] = kind
            self.column[i] = -1
            self.limit[i] = 0
            self.unlimited[i] = False
            self.above[i] = self.below[i] = 0
            self.halted[i] = False
            if kind == K_MIN_QUANTITY or kind == K_LOT:
                if not tf_as_ll(<PyObject*>limit, &value) or (kind == K_LOT and value < 1):
                    raise ValueError(f"limit {limit!r} of part kind {kind} is not held here")
                self.limit[i] = value
            elif kind == K_MAX_QUANTITY:
                self.column[i] = column
                if column < 0:
                    if tf_as_ll(<PyObject*>limit, &value):
                        self.limit[i] = value
                    elif limit is None or (type(limit) is int and limit > 0):
                        self.unlimited[i] = True  # ``q > limit`` for every int64 q is false
                    else:
                        raise ValueError(f"limit {limit!r} of the maximum quantity is not held in int64")
            elif kind == K_TICK:
                threshold, above, below = limit
                if not (tf_as_ll(<PyObject*>threshold, &self.limit[i]) and tf_as_ll(<PyObject*>above, &self.above[i])
                        and tf_as_ll(<PyObject*>below, &self.below[i])) or self.above[i] < 1 or self.below[i] < 1:
                    raise ValueError(f"tick rule {limit!r} is not held here")
            elif kind == K_RESTRICTED:
                if type(limit) is not set or (self.restricted is not None and self.restricted is not limit):
                    raise ValueError("the restricted list is one set")
                self.restricted = limit
            elif kind == K_HOURS:
                status, window, block_halted = limit
                if type(window) is not list or len(window) != 2 or self.window is not None:
                    raise ValueError("the trading-status part's window is one list of two")
                if block_halted and (type(status) is not dict or self.status is not None):
                    raise ValueError("the trading-status part's status is one dict")
                self.window = window
                self.halted[i] = block_halted
                if block_halted:
                    self.status = status
            else:
                raise ValueError(f"unknown order part kind {kind}")

    def check(self, q_, price_, stop_price_, symbol, bint marketable, now_, tuple limits):
        """1: every part passes; 0: one would return 0; -1: run the parts' text."""
        cdef long long q, price, stop_price, now, lim, start, end
        cdef int i, kind, found
        cdef PyObject* item
        cdef object st
        for i in range(self.count):
            kind = self.kind[i]
            if kind == K_MIN_QUANTITY:
                if not tf_as_ll(<PyObject*>q_, &q):
                    return UNSURE
                if q < self.limit[i]:
                    return MAY_FAIL
            elif kind == K_MAX_QUANTITY:
                if not tf_as_ll(<PyObject*>q_, &q):
                    return UNSURE
                if self.column[i] < 0:
                    if not self.unlimited[i] and q > self.limit[i]:
                        return MAY_FAIL
                else:
                    item = <PyObject*>limits[self.column[i]]
                    if tf_as_ll(item, &lim):
                        if q > lim:
                            return MAY_FAIL
                    elif not (type(<object>item) is int and <object>item > 0):
                        return UNSURE  # below int64 or not an int: the text decides
            elif kind == K_LOT:
                if not tf_as_ll(<PyObject*>q_, &q):
                    return UNSURE
                if q % self.limit[i] != 0:
                    return MAY_FAIL
            elif kind == K_TICK:
                if not (tf_as_ll(<PyObject*>price_, &price) and tf_as_ll(<PyObject*>stop_price_, &stop_price)):
                    return UNSURE
                if (_tick_fails(price, self.limit[i], self.above[i], self.below[i])
                        or _tick_fails(stop_price, self.limit[i], self.above[i], self.below[i])):
                    return MAY_FAIL
            elif kind == K_RESTRICTED:
                found = PySet_Contains(self.restricted, symbol)
                if found < 0:
                    PyErr_Clear()
                    return UNSURE
                if found:
                    return MAY_FAIL
            else:  # K_HOURS
                if self.halted[i] and PyDict_Size(self.status):
                    item = PyDict_GetItemWithError(self.status, symbol)
                    if item is NULL:
                        if PyErr_Occurred() is not NULL:
                            PyErr_Clear()
                            return UNSURE
                    else:
                        st = <object>item
                        if st is _HALTED or (st is _QUOTING and marketable):
                            return MAY_FAIL
                # outside the window the text last kept: the text asks the calendar (and may move the window)
                if PyList_GET_SIZE(self.window) != 2 or not (
                        tf_as_ll(<PyObject*>now_, &now) and tf_as_ll(PyList_GET_ITEM(self.window, 0), &start)
                        and tf_as_ll(PyList_GET_ITEM(self.window, 1), &end)):
                    return UNSURE
                if not start <= now < end:
                    return UNSURE
        return PASSES
