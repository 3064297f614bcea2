# Included by _l3_core.pyx (Cython ``include``: the same module, split only to keep each file small).
"""``IdSet``: the order ids a LOBSTER day has added so far, for ``apply_lobster_block``'s duplicate and discovery
tests; ``_Prices`` and ``_Ids``: the int objects of the prices and ids a block names."""

cdef long long _NO_ID = -9223372036854775807 - 1
"""Marks an empty slot; the id equal to it is held by ``has_no_id`` instead."""
cdef Py_ssize_t _LONG_PROBE = 64
cdef int _MIN_BITS = 18
"""2**18 slots: a LOBSTER day adds ~100k ids, so a table sized for nothing in particular rehashes only past 131k."""
cdef int _MAX_BITS = 22
"""The most slots ``IdSet(expected)`` allocates up front (32 MiB, 2M ids): past them it grows as it fills, so that a
huge or wrong ``expected`` cannot allocate absurdly."""


cdef extern from *:
    void __builtin_prefetch(const void* address) nogil  # gcc and clang


@cython.final
cdef class IdSet:
    """A set of 64-bit ids in one C table (open addressing, linear probing, at most half full).

    Why not a Python ``set``: every message asks it once and every add writes it, and in CPython that is an
    int object and a hash-table probe through generic comparisons each time (~5% of the compiled replay); here it
    is one multiply and, mostly, one probe. It holds the same ids the reference's ``set`` would (the tests
    compare what both decide with them), only in less memory (8-16 bytes an id against ~60)."""

    cdef long long* slots
    cdef Py_ssize_t mask, used
    cdef int shift
    """64 - log2(slots)."""
    cdef readonly bint scrambled
    """How ids map to slots. First the id's low bits, its high bits folded in: LOBSTER's ids grow through the
    day, most messages name an order added a few messages before, and nearby ids in nearby slots stay in the
    CPU's cache (a scrambling hash missed it on most adds: ~5% of the replay). Ids that pile up in one run of
    slots (a probe longer than ``_LONG_PROBE``: a file built to collide) switch the table, for good, to the
    product's top bits (Fibonacci hashing), which spreads any pattern."""
    cdef bint has_no_id

    def __cinit__(self, expected=0):
        """Room for ``expected`` ids without a rehash (at most ``_MAX_BITS``'s): the store knows a day's rows before
        its first, and a day's adds are at most its rows. The one rehash of AMZN level 5 (2**18 -> 2**19 slots after
        131,072 ids) was 3.3M instructions and 91% of the column loop's LL write misses (callgrind)."""
        cdef int bits = _MIN_BITS
        while bits < _MAX_BITS and expected > (((<Py_ssize_t>1) << bits) - 1) // 2:  # as Python ints: any count
            bits += 1
        self.mask = ((<Py_ssize_t>1) << bits) - 1
        self.shift = 64 - bits
        self.used = 0
        self.has_no_id = False
        self.scrambled = False
        self.slots = <long long*>PyMem_Malloc((self.mask + 1) * sizeof(long long))
        if self.slots == NULL:
            raise MemoryError()
        for i in range(self.mask + 1):
            self.slots[i] = _NO_ID

    def __dealloc__(self):
        PyMem_Free(self.slots)

    def __len__(self):
        return self.used + self.has_no_id

    @property
    def capacity(self):
        """The ids it holds before its next rehash."""
        return self.mask // 2

    def __contains__(self, long long value):
        return self.contains(value)

    def add(self, long long value):
        self.insert(value)

    cdef inline Py_ssize_t slot(self, long long value) noexcept:
        """Where ``value`` is, or the empty slot where it would go."""
        cdef unsigned long long v = <unsigned long long>value
        cdef Py_ssize_t i
        if self.scrambled:
            i = <Py_ssize_t>((v * 0x9E3779B97F4A7C15ULL) >> self.shift)
        else:
            i = <Py_ssize_t>((v ^ (v >> (64 - self.shift))) & <unsigned long long>self.mask)
        while self.slots[i] != value and self.slots[i] != _NO_ID:
            i = (i + 1) & self.mask
        return i

    cdef inline void prefetch(self, long long value) noexcept:
        """Start loading the slot ``value`` maps to: a new id's slot is in no cache (~100 ns a miss under load,
        most of the table's cost), and the loop knows the ids a few messages ahead."""
        cdef unsigned long long v = <unsigned long long>value
        if self.scrambled:
            __builtin_prefetch(self.slots + <Py_ssize_t>((v * 0x9E3779B97F4A7C15ULL) >> self.shift))
        else:
            __builtin_prefetch(self.slots + <Py_ssize_t>((v ^ (v >> (64 - self.shift))) & <unsigned long long>self.mask))

    cdef inline int crowded(self, Py_ssize_t i, long long value) except -1:
        """After a probe from ``value``'s first slot to ``i``: scramble for good when it was long."""
        if not self.scrambled and ((i - self.home(value)) & self.mask) > _LONG_PROBE:
            self.scrambled = True
            self.rehash(self.mask + 1)
        return 0

    cdef inline int contains(self, long long value) except -1:
        cdef Py_ssize_t i
        if value == _NO_ID:
            return self.has_no_id
        i = self.slot(value)
        if self.slots[i] == value:
            return 1
        self.crowded(i, value)
        return 0

    cdef inline int seek(self, long long value, Py_ssize_t* at) except -1:
        """``contains``, also saying where ``value`` would be inserted (-1: ``insert_at`` probes again), valid while
        nothing else changes the set. Why: an add asked the set for its id and then probed again to insert it."""
        cdef Py_ssize_t i
        at[0] = -1
        if value == _NO_ID:
            return self.has_no_id
        i = self.slot(value)
        if self.slots[i] == value:
            return 1
        if not self.scrambled and ((i - self.home(value)) & self.mask) > _LONG_PROBE:
            self.crowded(i, value)  # rehashed: the slot is another
            return 0
        at[0] = i
        return 0

    cdef inline int insert_at(self, Py_ssize_t at, long long value) except -1:
        """``insert`` of a value ``seek`` found absent, at the slot it gave (or -1)."""
        if at < 0:
            return self.insert(value)
        self.slots[at] = value
        self.used += 1
        if 2 * self.used > self.mask:
            self.rehash(2 * (self.mask + 1))
        return 0

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
            self.rehash(2 * (self.mask + 1))
        else:
            self.crowded(i, value)
        return 0

    cdef inline Py_ssize_t home(self, long long value) noexcept:
        """The first slot ``slot`` tries for ``value`` (unscrambled)."""
        cdef unsigned long long v = <unsigned long long>value
        return <Py_ssize_t>((v ^ (v >> (64 - self.shift))) & <unsigned long long>self.mask)

    cdef int rehash(self, Py_ssize_t size) except -1:
        """Every id again into ``size`` slots (a power of two), as ``slot`` now maps them."""
        cdef long long* old = self.slots
        cdef Py_ssize_t n = self.mask + 1, i
        cdef long long* new = <long long*>PyMem_Malloc(size * sizeof(long long))
        if new == NULL:
            raise MemoryError()
        for i in range(size):
            new[i] = _NO_ID
        self.slots = new
        while self.mask + 1 < size:
            self.mask = 2 * self.mask + 1
            self.shift -= 1
        for i in range(n):
            if old[i] != _NO_ID:
                new[self.slot(old[i])] = old[i]
        PyMem_Free(old)
        return 0


@cython.final
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


cdef enum:
    _ID_SLOTS = 1 << 14


@cython.final
cdef class _Ids:
    """The last int object made for each of 16,384 order id slots (an id's low bits).

    Why: each message names its order by an id the loop must hand to the book's dicts as an int object; a fresh
    object costs an allocation and a free, and every dict probe with it compares values (``long_richcompare``),
    where the object the order was stored under (made here by its add) matches by identity: together ~7% of
    the store replay's instructions. LOBSTER's ids grow through the day and most messages name an order added a
    little before, so the low bits keep recent orders apart. Values are equal either way: only which int
    object carries an id changes; the table holds at most 16,384 of them."""

    cdef list objects
    cdef long long* values

    def __cinit__(self):
        self.objects = [None] * _ID_SLOTS
        self.values = <long long*>PyMem_Malloc(_ID_SLOTS * sizeof(long long))
        if self.values == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self.values)

    cdef inline object get(self, long long value):
        cdef Py_ssize_t j = <Py_ssize_t>(<unsigned long long>value & (_ID_SLOTS - 1))
        cdef object found = <object>PyList_GET_ITEM(self.objects, j)
        if found is not None and self.values[j] == value:
            return found
        found = PyLong_FromLongLong(value)
        self.objects[j] = found
        self.values[j] = value
        return found
