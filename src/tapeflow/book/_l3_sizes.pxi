# Included by _l3_core.pyx: ``L3Sizes``, the price -> size map of a compiled L3 book's ladders.
#
# Why not the dict: every message the compiled loop applies reads its level's size and stores a new one; in the
# dict that is two probes and a fresh int object (allocated, and the old one freed) for each store. Here a size is
# a C 64-bit value under a C 64-bit price, found by one probe of an index and written in place. It is the only copy
# of the state: ``Ladder``, ``BookView`` and the depth walks read it through the mapping protocol.
#
# Why not the L2 book's ``LevelSizes``: it iterates in slot order, and the L3 book's readers and tests see the
# dict's insertion order (``list(ladder.sizes)``). So this table keeps the entries in insertion order, as
# CPython's dict does: an array of entries appended to, a hole where one was deleted (compacted once holes are
# half the array, so memory follows the levels held, not the levels ever seen), and an open-addressing index of
# entry numbers (Fibonacci hash, linear probing, deletion by backward shift).
#
# Dict semantics are kept exactly: the table holds only exact ints that fit 64 bits, keys and values both; the first
# key or value that is anything else moves every level into a plain dict for good (in insertion order), and from
# then on each operation is that dict's. ``_adopt`` makes a table that is a plain dict's front from the start (the
# compiled loop given a book whose ladders keep dicts): the loop then has one code path for both.
#
# Why this module is long: the mapping protocol is written out whole (every dict method a reader may call), beside
# the few C calls the loop makes.

from collections.abc import MutableMapping


@cython.final
cdef class L3Sizes:
    """price -> aggregate size of one side of an ``L3Book``, in insertion order; a ``MutableMapping[int, int]``."""

    cdef long long* _ekeys
    cdef long long* _evals
    cdef unsigned char* _alive
    cdef Py_ssize_t _n  # entries appended, holes included
    cdef Py_ssize_t _cap  # entries the arrays hold
    cdef Py_ssize_t* _index  # entry number, or -1: an empty slot
    cdef Py_ssize_t _mask  # index slots - 1 (a power of two)
    cdef int _shift  # 64 - log2(index slots)
    cdef Py_ssize_t _used  # live entries
    cdef object _dict  # None while the table holds the levels; the dict that holds them otherwise

    def __cinit__(self):
        self._dict = None
        self._ekeys = NULL
        self._evals = NULL
        self._alive = NULL
        self._index = NULL
        self._install(8, 16)

    def __dealloc__(self):
        PyMem_Free(self._ekeys)
        PyMem_Free(self._evals)
        PyMem_Free(self._alive)
        PyMem_Free(self._index)

    cdef int _install(self, Py_ssize_t cap, Py_ssize_t slots) except -1:
        """Empty arrays of ``cap`` entries and ``slots`` index slots (a power of two) in place of the current ones;
        on ``MemoryError`` nothing changed."""
        cdef long long* ekeys = <long long*>PyMem_Malloc(cap * sizeof(long long))
        cdef long long* evals = <long long*>PyMem_Malloc(cap * sizeof(long long))
        cdef unsigned char* alive = <unsigned char*>PyMem_Malloc(cap)
        cdef Py_ssize_t* index = <Py_ssize_t*>PyMem_Malloc(slots * sizeof(Py_ssize_t))
        cdef Py_ssize_t i
        cdef int log2 = 0
        if ekeys == NULL or evals == NULL or alive == NULL or index == NULL:
            PyMem_Free(ekeys)
            PyMem_Free(evals)
            PyMem_Free(alive)
            PyMem_Free(index)
            raise MemoryError()
        for i in range(slots):
            index[i] = -1
        while ((<Py_ssize_t>1) << log2) < slots:
            log2 += 1
        PyMem_Free(self._ekeys)
        PyMem_Free(self._evals)
        PyMem_Free(self._alive)
        PyMem_Free(self._index)
        self._ekeys, self._evals, self._alive, self._index = ekeys, evals, alive, index
        self._cap = cap
        self._n = 0
        self._used = 0
        self._mask = slots - 1
        self._shift = 64 - log2
        return 0

    cdef inline Py_ssize_t _home(self, long long key) noexcept:
        return <Py_ssize_t>((<unsigned long long>key * 0x9E3779B97F4A7C15ULL) >> self._shift)

    cdef inline Py_ssize_t _slot(self, long long key) noexcept:
        """The index slot holding ``key``'s entry, or -1."""
        cdef Py_ssize_t i = self._home(key)
        cdef Py_ssize_t e
        while True:
            e = self._index[i]
            if e < 0:
                return -1
            if self._ekeys[e] == key:
                return i
            i = (i + 1) & self._mask

    cdef inline Py_ssize_t _entry(self, long long key) noexcept:
        """``key``'s entry number, or -1 (table mode only)."""
        cdef Py_ssize_t i = self._slot(key)
        return self._index[i] if i >= 0 else -1

    cdef int _rebuild(self, Py_ssize_t cap) except -1:
        """The live entries, in order, into arrays of ``cap`` entries and an index at most half full."""
        cdef long long* ekeys = self._ekeys
        cdef long long* evals = self._evals
        cdef unsigned char* alive = self._alive
        cdef Py_ssize_t* index = self._index
        cdef Py_ssize_t n = self._n, slots = 16, e, j, i
        while slots < 2 * cap:
            slots *= 2
        self._ekeys = self._evals = NULL
        self._alive = NULL
        self._index = NULL
        try:
            self._install(cap, slots)
        except MemoryError:
            self._ekeys, self._evals, self._alive, self._index = ekeys, evals, alive, index
            raise
        j = 0
        for e in range(n):
            if alive[e]:
                self._ekeys[j] = ekeys[e]
                self._evals[j] = evals[e]
                self._alive[j] = 1
                i = self._home(ekeys[e])
                while self._index[i] >= 0:
                    i = (i + 1) & self._mask
                self._index[i] = j
                j += 1
        self._n = j
        self._used = j
        PyMem_Free(ekeys)
        PyMem_Free(evals)
        PyMem_Free(alive)
        PyMem_Free(index)
        return 0

    cdef int put(self, long long key, long long value) except -1:
        """Table mode: ``self[key] = value``; a new key goes last, at the empty index slot its probe ended on (a new
        level probed the index twice, ~15 instructions, callgrind), unless the arrays were rebuilt first."""
        cdef Py_ssize_t i = self._home(key)
        cdef Py_ssize_t e = self._index[i]
        while e >= 0:
            if self._ekeys[e] == key:
                self._evals[e] = value
                return 0
            i = (i + 1) & self._mask
            e = self._index[i]
        if self._n == self._cap:  # full: squeeze out the holes, or grow when they are few
            self._rebuild(self._cap if 2 * self._used <= self._cap else 2 * self._cap)
            i = self._home(key)
            while self._index[i] >= 0:
                i = (i + 1) & self._mask
        self._index[i] = self._n
        self._ekeys[self._n] = key
        self._evals[self._n] = value
        self._alive[self._n] = 1
        self._n += 1
        self._used += 1
        return 0

    cdef bint discard(self, long long key) noexcept:
        """Table mode: remove ``key``; False when it was not there. Backward shift keeps every probe chain whole."""
        cdef Py_ssize_t i = self._slot(key)
        cdef Py_ssize_t j, home, e
        if i < 0:
            return False
        e = self._index[i]
        self._alive[e] = 0
        if e == self._n - 1:
            self._n -= 1
        j = i
        while True:
            j = (j + 1) & self._mask
            if self._index[j] < 0:
                break
            home = self._home(self._ekeys[self._index[j]])
            # the entry at j may move back to i only when its home is not cyclically within (i, j]
            if (i <= j and i < home <= j) or (i > j and (home > i or home <= j)):
                continue
            self._index[i] = self._index[j]
            i = j
        self._index[i] = -1
        self._used -= 1
        return True

    # --- what the compiled loop calls: the price is the loop's int object, exact ---------------------------------

    cdef inline int lookup(self, object price, long long* out) except -1:
        """1 and the size in ``out`` when the level is there with a 64-bit size; 0 when it is not there; 2 when it
        is there with another value (the caller then takes the reference path)."""
        cdef long long p
        cdef Py_ssize_t i
        cdef PyObject* found
        if self._dict is None:
            if not _as_ll(price, &p):  # not a 64-bit int: equal to a key only as a dict compares (True, 1.0)
                found = PyDict_GetItemWithError(self._snapshot(), price)
                return 0 if found == NULL else 1 if _as_ll(<object>found, out) else 2
            i = self._slot(p)
            if i < 0:
                return 0
            out[0] = self._evals[self._index[i]]
            return 1
        found = PyDict_GetItemWithError(<dict>self._dict, price)
        if found == NULL:
            return 0
        return 1 if _as_ll(<object>found, out) else 2

    cdef inline int lookup_ll(self, long long price, long long* out) except -1:
        """``lookup`` of a price the caller holds as a C value (the verification's top)."""
        cdef Py_ssize_t i
        if self._dict is None:
            i = self._slot(price)
            if i < 0:
                return 0
            out[0] = self._evals[self._index[i]]
            return 1
        return self.lookup(price, out)

    cdef inline long long* ref_ll(self, long long price) noexcept:
        """Where the size of the level at ``price`` is held, to be read and written in place (as ``store_ll`` of a
        level that is there writes it), valid until the next level added or removed; NULL when the level is not
        there or the levels are a dict (the caller then takes ``lookup_ll`` and ``store_ll``). Why: the loop read a
        level's size and stored the new one through two probes of the index (~60 of the column loop's ~1,014
        instructions a message, callgrind)."""
        cdef Py_ssize_t i
        if self._dict is not None:
            return NULL
        i = self._slot(price)
        return NULL if i < 0 else &self._evals[self._index[i]]

    cdef inline int find_ll(self, long long price, long long** at, long long* out) except -1:
        """``lookup_ll`` that also says where the size is held (``ref_ll``: NULL on the dict path or when the level
        is not there), so that ``put_ll`` writes the new size without probing the index again."""
        at[0] = self.ref_ll(price)
        if at[0] != NULL:
            out[0] = at[0][0]
            return 1
        if self._dict is None:
            return 0  # ``ref_ll`` probed the index: the level is not there
        return self.lookup_ll(price, out)

    cdef inline int put_ll(self, long long* at, long long price, long long value) except -1:
        """``store_ll`` of a level ``find_ll`` found held at ``at`` (NULL: through ``store_ll``)."""
        if at != NULL:
            at[0] = value
            return 0
        return self.store_ll(price, value)

    cdef inline int store(self, object price, long long value) except -1:
        """``self[price] = value``."""
        cdef long long p
        if self._dict is None and _as_ll(price, &p):
            return self.put(p, value)
        self._to_dict()
        PyDict_SetItem(<dict>self._dict, price, value)
        return 0

    cdef inline int store_ll(self, long long price, long long value) except -1:
        """``store`` of a price the caller holds as a C value (no int object unless the levels are a dict)."""
        if self._dict is None:
            return self.put(price, value)
        return self.store(PyLong_FromLongLong(price), value)

    cdef inline int remove(self, object price) except -1:
        """``del self[price]``; ``KeyError`` when it is not there."""
        cdef long long p
        if self._dict is None and _as_ll(price, &p):
            return self.remove_ll(p)
        self._to_dict()
        PyDict_DelItem(<dict>self._dict, price)
        return 0

    cdef inline int remove_ll(self, long long price) except -1:
        """``remove`` of a price the caller holds as a C value."""
        if self._dict is None:
            if not self.discard(price):
                raise KeyError(price)
            return 0
        return self.remove(PyLong_FromLongLong(price))

    cdef int _to_dict(self) except -1:
        """Move every level into a plain dict for good, in insertion order."""
        if self._dict is None:
            d = self._snapshot()
            self._install(8, 16)
            self._dict = d
        return 0

    cdef dict _snapshot(self):
        """The levels as a new dict, in insertion order."""
        if self._dict is not None:
            return dict(self._dict)
        cdef dict d = {}
        cdef Py_ssize_t e
        for e in range(self._n):
            if self._alive[e]:
                d[self._ekeys[e]] = self._evals[e]
        return d

    cdef inline bint _table_key(self, object key, long long* out):
        return self._dict is None and _as_ll(key, out)

    # --- the mapping protocol, for every Python reader and writer ------------------------------------------------

    def __len__(self):
        return self._used if self._dict is None else len(self._dict)

    def __contains__(self, key):
        cdef long long k = 0
        if self._table_key(key, &k):
            return self._slot(k) >= 0
        return key in (self._snapshot() if self._dict is None else self._dict)

    def __getitem__(self, key):
        cdef long long k = 0
        cdef Py_ssize_t i
        if self._table_key(key, &k):
            i = self._slot(k)
            if i < 0:
                raise KeyError(key)
            return self._evals[self._index[i]]
        return (self._snapshot() if self._dict is None else self._dict)[key]

    def __setitem__(self, key, value):
        cdef long long k = 0, v = 0
        if self._table_key(key, &k) and _as_ll(value, &v):
            self.put(k, v)
            return
        self._to_dict()
        self._dict[key] = value

    def __delitem__(self, key):
        cdef long long k = 0
        if self._table_key(key, &k):
            if not self.discard(k):
                raise KeyError(key)
            return
        self._to_dict()  # a key that is not a 64-bit int may still equal one (True, 1.0), as the dict compares
        del self._dict[key]

    def __sizeof__(self):
        """The object and its C arrays (what ``sys.getsizeof`` reports; the tests hold memory flat by it)."""
        return object.__sizeof__(self) + self._cap * (2 * sizeof(long long) + 1) + (self._mask + 1) * sizeof(Py_ssize_t)

    def __iter__(self):
        return iter(list(self._snapshot()))

    def __reversed__(self):
        return reversed(list(self._snapshot()))

    def __eq__(self, other):
        if isinstance(other, L3Sizes):
            return self._snapshot() == (<L3Sizes>other)._snapshot()
        if isinstance(other, dict):
            return self._snapshot() == other
        return NotImplemented

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __repr__(self):
        return f"L3Sizes({self._snapshot()!r})"

    def get(self, key, default=None):
        cdef long long k = 0
        cdef Py_ssize_t i
        if self._table_key(key, &k):
            i = self._slot(k)
            return self._evals[self._index[i]] if i >= 0 else default
        return (self._snapshot() if self._dict is None else self._dict).get(key, default)

    def keys(self):
        return self._snapshot().keys()

    def values(self):
        return self._snapshot().values()

    def items(self):
        return self._snapshot().items()

    def clear(self):
        if self._dict is not None:
            self._dict.clear()
        elif self._n:
            self._install(8, 16)

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
            raise KeyError("popitem(): dictionary is empty")  # the dict's words
        key, value = items.popitem()  # the last inserted, as the dict's
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
        return (_l3_sizes, (self._snapshot(),))


cdef L3Sizes _adopt(object sizes):
    """The table the compiled loop writes for a ladder's ``sizes``: itself when it is an ``L3Sizes``, else a front
    whose dict mode is that very dict (a book built with ``impl="python"``), so the book's state is what changes."""
    cdef L3Sizes table
    if type(sizes) is L3Sizes:
        return <L3Sizes>sizes
    if type(sizes) is not dict:
        raise TypeError(f"an L3 ladder's sizes must be a dict or an L3Sizes, not {type(sizes).__name__}")
    table = L3Sizes()
    table._dict = sizes
    return table


def _l3_sizes(levels):
    """Unpickles an ``L3Sizes``."""
    sizes = L3Sizes()
    sizes.update(levels)
    return sizes


MutableMapping.register(L3Sizes)  # what it is to readers; the .pyi says the same to mypy
