# Included by _l2_core.pyx: ``LevelSizes``, the price -> size map of a compiled L2 book's ladders.
#
# Why not the dict: the profile of the compiled apply left two dict operations per size update as its largest cost
# (a lookup to see the level is there, a second one to store; the delta's price is a different int object from the
# dict's key, so each probe compares values through rich comparison) and, on new levels and deletes, dict resizes.
# Here a price is a C 64-bit key in an open-addressing table (Fibonacci hash, linear probing, deletion by backward
# shift, so no tombstones), and the size update is one probe and a reference swap. It is the only copy of the
# state: the Python API (``Ladder``, ``BookView``, depth walks) reads it through the mapping protocol.
#
# Dict semantics are kept exactly: the table holds only exact ints that fit 64 bits, keys and values both; the first
# key or value that is anything else (a float, a bool, an int subclass, a huge int: malformed input a raw ``update``
# can store) moves every level into a plain dict for good, and from then on each operation is that dict's. A
# lookup with such a key while the table is in use answers from a dict built for it (rare, and exact).

from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memset
from cpython.mem cimport PyMem_Malloc, PyMem_Free

from collections.abc import MutableMapping

cdef extern from "Python.h":
    bint PyLong_CheckExact_p "PyLong_CheckExact"(PyObject*)


cdef class LevelSizes:
    """price -> aggregate size of one side of a compiled ``L2Book``; a ``MutableMapping[int, int]`` for readers."""

    cdef int64_t* _keys
    cdef PyObject** _vals  # NULL: an empty slot; otherwise an owned reference to an exact int
    cdef Py_ssize_t _mask  # capacity - 1 (capacity a power of two)
    cdef int _shift  # 64 - log2(capacity): the Fibonacci hash's top bits
    cdef Py_ssize_t _used
    cdef object _dict  # None while the table holds the levels; the dict that holds them once one was not a 64-bit int

    def __cinit__(self):
        self._dict = None
        self._keys = NULL
        self._vals = NULL
        self._mask = -1
        self._install(3)

    def __dealloc__(self):
        _free_slots(self._keys, self._vals, self._mask + 1, True)

    cdef int _install(self, int log2) except -1:
        """Put in empty arrays of 2**log2 slots and empty the table; the old arrays are freed, their references
        dropped. Allocation comes first, so a ``MemoryError`` leaves the table as it was."""
        cdef int64_t* keys = self._keys
        cdef PyObject** vals = self._vals
        cdef Py_ssize_t cap = self._mask + 1
        self._fresh(log2)
        _free_slots(keys, vals, cap, True)
        return 0

    cdef int _fresh(self, int log2) except -1:
        """Empty arrays of 2**log2 slots in place of the current ones, which the caller frees; on ``MemoryError``
        nothing changed."""
        cdef Py_ssize_t cap = (<Py_ssize_t>1) << log2
        cdef int64_t* keys = <int64_t*>PyMem_Malloc(cap * sizeof(int64_t))
        cdef PyObject** vals = <PyObject**>PyMem_Malloc(cap * sizeof(PyObject*))
        if keys is NULL or vals is NULL:
            PyMem_Free(keys)
            PyMem_Free(vals)
            raise MemoryError()
        memset(vals, 0, cap * sizeof(PyObject*))
        self._keys = keys
        self._vals = vals
        self._mask = cap - 1
        self._shift = 64 - log2
        self._used = 0
        return 0

    cdef inline Py_ssize_t _home(self, int64_t key) noexcept:
        return <Py_ssize_t>((<uint64_t>key * <uint64_t>0x9E3779B97F4A7C15ULL) >> self._shift)

    cdef inline Py_ssize_t _find(self, int64_t key) noexcept:
        """The slot holding ``key``, or -1."""
        cdef Py_ssize_t i = self._home(key)
        while self._vals[i] is not NULL:
            if self._keys[i] == key:
                return i
            i = (i + 1) & self._mask
        return -1

    cdef inline bint _replace(self, int64_t key, object value) noexcept:
        """The compiled apply's size update: True when ``key`` was there and now maps to ``value`` (an exact int)."""
        cdef Py_ssize_t i
        cdef PyObject* old
        if self._dict is not None:
            return False
        i = self._find(key)
        if i < 0:
            return False
        old = self._vals[i]
        Py_INCREF(value)
        self._vals[i] = <PyObject*>value
        Py_XDECREF(old)
        return True

    cdef int _store(self, int64_t key, object value) except -1:
        """Table mode: ``self[key] = value`` (an exact int)."""
        cdef Py_ssize_t i = self._home(key)
        cdef PyObject* old
        while self._vals[i] is not NULL:
            if self._keys[i] == key:
                old = self._vals[i]
                Py_INCREF(value)
                self._vals[i] = <PyObject*>value
                Py_XDECREF(old)
                return 0
            i = (i + 1) & self._mask
        if 2 * (self._used + 1) > self._mask + 1:  # keep the load at or under a half: probes stay short
            self._grow()
            return self._store(key, value)
        Py_INCREF(value)
        self._keys[i] = key
        self._vals[i] = <PyObject*>value
        self._used += 1
        return 0

    cdef int _grow(self) except -1:
        """Twice the slots, every entry rehashed into them (their references move)."""
        cdef int64_t* keys = self._keys
        cdef PyObject** vals = self._vals
        cdef Py_ssize_t cap = self._mask + 1
        cdef Py_ssize_t used = self._used
        cdef Py_ssize_t i, j
        self._fresh(64 - self._shift + 1)
        for i in range(cap):
            if vals[i] is not NULL:
                j = self._home(keys[i])
                while self._vals[j] is not NULL:
                    j = (j + 1) & self._mask
                self._keys[j] = keys[i]
                self._vals[j] = vals[i]
        self._used = used
        _free_slots(keys, vals, cap, False)
        return 0

    cdef bint _discard(self, int64_t key) noexcept:
        """Table mode: remove ``key``; False when it was not there. Backward shift keeps every probe chain whole."""
        cdef Py_ssize_t i = self._find(key)
        cdef Py_ssize_t j, home
        cdef PyObject* old
        if i < 0:
            return False
        old = self._vals[i]
        j = i
        while True:
            j = (j + 1) & self._mask
            if self._vals[j] is NULL:
                break
            home = self._home(self._keys[j])
            # the entry at j may move back to i only when its home is not cyclically within (i, j]
            if (i <= j and i < home <= j) or (i > j and (home > i or home <= j)):
                continue
            self._keys[i] = self._keys[j]
            self._vals[i] = self._vals[j]
            i = j
        self._vals[i] = NULL
        self._used -= 1
        Py_XDECREF(old)
        return True

    cdef int _to_dict(self) except -1:
        """Move every level into a plain dict for good (a key or value the table does not hold arrived)."""
        if self._dict is None:
            d = self._snapshot()
            self._install(3)
            self._dict = d
        return 0

    cdef dict _snapshot(self):
        """The levels as a new dict (the table's order, not insertion order: no reader depends on order)."""
        if self._dict is not None:
            return dict(self._dict)
        cdef dict d = {}
        cdef Py_ssize_t i
        for i in range(self._mask + 1):
            if self._vals[i] is not NULL:
                d[self._keys[i]] = <object>self._vals[i]
        return d

    cdef inline bint _table_key(self, object key, long long* out):
        """True when the table answers for ``key``: table mode and an exact int that fits 64 bits."""
        return self._dict is None and _as_ll(<PyObject*>key, out)

    def __len__(self):
        return self._used if self._dict is None else len(self._dict)

    def __contains__(self, key):
        cdef long long k = 0
        if self._table_key(key, &k):
            return self._find(k) >= 0
        return key in (self._snapshot() if self._dict is None else self._dict)

    def __getitem__(self, key):
        cdef long long k = 0
        cdef Py_ssize_t i
        if self._table_key(key, &k):
            i = self._find(k)
            if i < 0:
                raise KeyError(key)
            return <object>self._vals[i]
        return (self._snapshot() if self._dict is None else self._dict)[key]

    def __setitem__(self, key, value):
        cdef long long k = 0
        if self._table_key(key, &k) and PyLong_CheckExact_p(<PyObject*>value):
            self._store(k, value)
            return
        self._to_dict()
        self._dict[key] = value

    def __delitem__(self, key):
        cdef long long k = 0
        if self._table_key(key, &k):
            if not self._discard(k):
                raise KeyError(key)
            return
        self._to_dict()
        del self._dict[key]

    def __iter__(self):
        return iter(self._snapshot())

    def __eq__(self, other):
        if isinstance(other, LevelSizes):
            return self._snapshot() == (<LevelSizes>other)._snapshot()
        if isinstance(other, dict):
            return self._snapshot() == other
        return NotImplemented

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __repr__(self):
        return f"LevelSizes({self._snapshot()!r})"

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self):
        return self._snapshot().keys()

    def values(self):
        return self._snapshot().values()

    def items(self):
        return self._snapshot().items()

    def clear(self):
        if self._dict is not None:
            self._dict.clear()
        elif self._used:
            self._install(3)

    def pop(self, key, *default):
        if len(default) > 1:
            raise TypeError(f"pop expected at most 2 arguments, got {1 + len(default)}")
        try:
            value = self[key]
        except KeyError:
            if default:
                return default[0]
            raise
        del self[key]
        return value

    def popitem(self):
        items = self._snapshot()
        if not items:
            raise KeyError("popitem(): LevelSizes is empty")
        key, value = items.popitem()
        del self[key]
        return key, value

    def setdefault(self, key, default=None):
        if key in self:
            return self[key]
        self[key] = default
        return default

    def update(self, other=(), **kwargs):
        for key, value in dict(other, **kwargs).items():
            self[key] = value

    def copy(self):
        return self._snapshot()

    def __reduce__(self):
        return (_level_sizes, (self._snapshot(),))


cdef void _free_slots(int64_t* keys, PyObject** vals, Py_ssize_t cap, bint drop) noexcept:
    """Free a table's arrays; ``drop``: release the references its values hold (exact ints: no code runs)."""
    cdef Py_ssize_t i
    if drop and vals is not NULL:
        for i in range(cap):
            Py_XDECREF(vals[i])
    PyMem_Free(keys)
    PyMem_Free(vals)


def _level_sizes(levels):
    """Unpickles a ``LevelSizes``."""
    sizes = LevelSizes()
    sizes.update(levels)
    return sizes


MutableMapping.register(LevelSizes)  # what it is to readers; the .pyi says the same to mypy
