# Included by _l3_core.pyx (Cython ``include``: the same module, split only to keep each file small).
"""``IdSet``: the order ids a LOBSTER day has added so far, for ``apply_lobster_block``'s duplicate and discovery
tests; ``_Prices``: the int objects of the prices a block names."""

cdef long long _NO_ID = -9223372036854775807 - 1
"""Marks an empty slot; the id equal to it is held by ``has_no_id`` instead."""


cdef class IdSet:
    """A set of 64-bit ids in one C table (open addressing, linear probing, at most half full).

    Why not a Python ``set``: every message asks it once and every add writes it, and in CPython that is an
    int object and a hash-table probe through generic comparisons each time (~5% of the compiled replay); here it
    is one multiply and, mostly, one probe. It holds the same ids the reference's ``set`` would (the tests
    compare what both decide with them), only in less memory (8-16 bytes an id against ~60)."""

    cdef long long* slots
    cdef Py_ssize_t mask, used
    cdef int shift
    """64 - log2(slots): the slot is the product's top bits (Fibonacci hashing)."""
    cdef bint has_no_id

    def __cinit__(self):
        self.mask = (1 << 16) - 1
        self.shift = 48
        self.used = 0
        self.has_no_id = False
        self.slots = <long long*>PyMem_Malloc((self.mask + 1) * sizeof(long long))
        if self.slots == NULL:
            raise MemoryError()
        for i in range(self.mask + 1):
            self.slots[i] = _NO_ID

    def __dealloc__(self):
        PyMem_Free(self.slots)

    def __len__(self):
        return self.used + self.has_no_id

    def __contains__(self, long long value):
        return self.contains(value)

    def add(self, long long value):
        self.insert(value)

    cdef inline Py_ssize_t slot(self, long long value) noexcept:
        """Where ``value`` is, or the empty slot where it would go."""
        cdef Py_ssize_t i = <Py_ssize_t>((<unsigned long long>value * 0x9E3779B97F4A7C15ULL) >> self.shift)
        while self.slots[i] != value and self.slots[i] != _NO_ID:
            i = (i + 1) & self.mask
        return i

    cdef inline bint contains(self, long long value) noexcept:
        if value == _NO_ID:
            return self.has_no_id
        return self.slots[self.slot(value)] == value

    cdef int insert(self, long long value) except -1:
        cdef Py_ssize_t i
        if value == _NO_ID:
            self.has_no_id = True
            return 0
        i = self.slot(value)
        if self.slots[i] == value:
            return 0
        self.slots[i] = value
        self.used += 1
        if 2 * self.used > self.mask:
            self.grow()
        return 0

    cdef int grow(self) except -1:
        cdef long long* old = self.slots
        cdef Py_ssize_t n = self.mask + 1, i
        cdef long long* new = <long long*>PyMem_Malloc(2 * n * sizeof(long long))
        if new == NULL:
            raise MemoryError()
        for i in range(2 * n):
            new[i] = _NO_ID
        self.slots = new
        self.mask = 2 * n - 1
        self.shift -= 1
        for i in range(n):
            if old[i] != _NO_ID:
                new[self.slot(old[i])] = old[i]
        PyMem_Free(old)
        return 0


cdef class _Prices:
    """The last int object made for each of 64 price slots.

    Why: each message names a price the loop must hand to dicts as an int object; making one costs an
    allocation and a free, and a fresh object makes every dict probe compare values, where the object the level
    was stored under matches by identity. A day's messages name few prices, so most are found here. Values are
    equal either way: only which int object carries a price changes."""

    cdef list objects
    cdef long long values[64]

    def __cinit__(self):
        self.objects = [None] * 64

    cdef inline object get(self, long long price):
        cdef int j = <int>((<unsigned long long>price * 0x9E3779B97F4A7C15ULL) >> 58)
        cdef object found = <object>PyList_GET_ITEM(self.objects, j)
        if found is not None and self.values[j] == price:
            return found
        found = PyLong_FromLongLong(price)
        self.objects[j] = found
        self.values[j] = price
        return found
