# Included by _l3_core.pyx (Cython ``include``: the same module, split only to keep each file small).
"""The verification's copy of the book's top N levels (``_Top``) and the check of one printed field (``_expect``),
used by ``apply_lobster_block`` in ``_l3_core.pyx``, whose helpers (``_as_ll``, ``_Book``) they use."""


cdef class _Top:
    """The book's top N levels as C arrays, kept between the rows of a block for the verification.

    Why: reading N levels from the ladders costs a dict lookup and an int object per level and row. Most messages
    only change the size of one level, and the loop knows which and to what; so it updates that level here
    (``touch``), and anything else (a level added or removed, a reveal, any call into the Python book) marks the
    side stale, to be read again from the ladders (``load``) before the next comparison.
    """

    cdef int levels
    cdef long long* price[2]
    cdef long long* size[2]
    cdef int count[2]
    cdef long long beyond[2]
    """The size the reference prints for the sentinel price when the other side is deeper (0 unless the book
    holds a level at the sentinel price itself, in which case the side stays stale)."""
    cdef bint stale[2]

    def __cinit__(self, int levels):
        self.levels = levels
        for side in range(2):
            self.price[side] = <long long*>PyMem_Malloc(levels * sizeof(long long))
            self.size[side] = <long long*>PyMem_Malloc(levels * sizeof(long long))
            if self.price[side] == NULL or self.size[side] == NULL:
                raise MemoryError()
            self.stale[side] = True
            self.count[side] = 0

    cdef inline void mark(self, int side):
        """The side changed in a way the loop does not follow: read it again before the next comparison."""
        self.stale[side] = True

    cdef inline void mark_all(self):
        self.stale[0] = self.stale[1] = True

    cdef inline void added(self, int side, object price, long long new_size):
        """A level at ``price`` holding ``new_size`` was added: put it in place (reading N levels again from
        the ladder cost ~1,000 instructions; LOBSTER messages all fall within the top N, so this is common)."""
        cdef long long p
        cdef int j, m, n = self.count[side]
        cdef long long* prices = self.price[side]
        cdef long long* sizes = self.size[side]
        if self.stale[side]:
            return
        if not _as_ll(price, &p) or p == 9999999999 or p == -9999999999:
            self.mark(side)
            return
        j = 0
        while j < n and ((prices[j] > p) if side else (prices[j] < p)):
            j += 1
        if j == self.levels:
            return  # beyond the deepest level shown
        if j < n and prices[j] == p:  # a level the ladder had without a queue: let the ladder say
            self.mark(side)
            return
        m = n if n < self.levels else self.levels - 1
        while m > j:
            prices[m] = prices[m - 1]
            sizes[m] = sizes[m - 1]
            m -= 1
        prices[j] = p
        sizes[j] = new_size
        if n < self.levels:
            self.count[side] = n + 1

    cdef inline int dropped(self, int side, object price, list keys, dict level_sizes) except -1:
        """The level at ``price`` was removed from the ladder (``keys``, ``level_sizes`` already without it):
        take it out, and read only the level that came into view in its place."""
        cdef long long p, key, v
        cdef int j = 0, n = self.count[side]
        cdef Py_ssize_t have = PyList_GET_SIZE(keys)
        cdef long long* prices = self.price[side]
        cdef long long* sizes = self.size[side]
        cdef PyObject* found
        if self.stale[side]:
            return 0
        if not _as_ll(price, &p):
            self.mark(side)
            return 0
        while j < n and prices[j] != p:
            j += 1
        if j == n:
            if n < self.levels:  # a side short of N levels holds every level: cannot happen
                self.mark(side)
            return 0
        while j < n - 1:
            prices[j] = prices[j + 1]
            sizes[j] = sizes[j + 1]
            j += 1
        self.count[side] = n - 1
        if n == self.levels and have >= self.levels:  # the level beyond the old deepest comes into view
            if not _as_ll(<object>PyList_GET_ITEM(keys, have - self.levels), &key) or key == -_MAX - 1:
                self.mark(side)
                return 0
            p = key if side else -key
            found = PyDict_GetItem(level_sizes, p)
            if p == 9999999999 or p == -9999999999 or found == NULL or not _as_ll(<object>found, &v):
                self.mark(side)
                return 0
            prices[n - 1] = p
            sizes[n - 1] = v
            self.count[side] = n
        return 0

    def __dealloc__(self):
        for side in range(2):
            PyMem_Free(self.price[side])
            PyMem_Free(self.size[side])

    cdef inline void touch(self, int side, object price, long long new_size):
        """The level at ``price`` (0: asks, 1: bids) now holds ``new_size`` and still exists."""
        cdef long long p
        cdef int j
        if self.stale[side]:
            return
        if not _as_ll(price, &p):
            self.mark(side)
            return
        for j in range(self.count[side]):
            if self.price[side][j] == p:
                self.size[side][j] = new_size
                return
        if self.count[side] < self.levels:  # a side short of N levels holds every level: cannot happen
            self.mark(side)

    cdef int load(self, int side, list keys, dict sizes) except -1:
        """Read the side's top N from the ladder; 0 when a value does not fit 64 bits (stays stale)."""
        cdef Py_ssize_t n = PyList_GET_SIZE(keys)
        cdef int j, m = self.levels if n >= self.levels else <int>n
        cdef long long key, p, v, sentinel = 9999999999 if side == 0 else -9999999999
        cdef PyObject* found
        for j in range(m):
            if not _as_ll(<object>PyList_GET_ITEM(keys, n - 1 - j), &key) or key == -_MAX - 1:
                return 0
            p = -key if side == 0 else key
            found = PyDict_GetItem(sizes, p)
            if found == NULL:
                v = 0
            elif not _as_ll(<object>found, &v):
                return 0
            self.price[side][j] = p
            self.size[side][j] = v
        self.count[side] = m
        found = PyDict_GetItem(sizes, sentinel)
        if found == NULL:
            self.beyond[side] = 0
        elif not _as_ll(<object>found, &self.beyond[side]):
            return 0
        self.stale[side] = found != NULL
        return 1

    cdef int matches(self, b, const char* s, Py_ssize_t end) except -1:
        """1 when the line ``s[:end]`` is exactly what the reference check prints for the book (``%d`` of each value,
        commas between); 0 when not, or when a value does not fit 64 bits (the Python check decides then).

        Reads the line rather than printing the book: a field equals ``%d`` of a value when it is that value's
        canonical decimal (no plus, no leading zero, no minus zero), which is what ``_expect`` checks."""
        cdef Py_ssize_t pos = 0
        cdef int j, na, nb
        cdef long long ap, asz, bp, bsz
        cdef _Book book = <_Book>b
        if self.stale[0] and not self.load(0, book.ask_keys, book.ask_sizes):
            return 0
        if self.stale[1] and not self.load(1, book.bid_keys, book.bid_sizes):
            return 0
        na = self.count[0]
        nb = self.count[1]
        for j in range(self.levels):
            if j >= na and j >= nb:
                ap, asz, bp, bsz = 9999999999, 0, -9999999999, 0
            else:
                if j < na:
                    ap, asz = self.price[0][j], self.size[0][j]
                else:
                    ap, asz = 9999999999, self.beyond[0]
                if j < nb:
                    bp, bsz = self.price[1][j], self.size[1][j]
                else:
                    bp, bsz = -9999999999, self.beyond[1]
            pos = _expect(s, pos, end, ap, 44)
            pos = _expect(s, pos, end, asz, 44)
            pos = _expect(s, pos, end, bp, 44)
            pos = _expect(s, pos, end, bsz, 44 if j + 1 < self.levels else 0)
            if pos < 0:
                return 0
        return pos == end


cdef inline Py_ssize_t _expect(const char* s, Py_ssize_t pos, Py_ssize_t end, long long value, char sep):
    """The position after ``%d`` of ``value`` and ``sep`` (none when 0: the line's end) at ``s[pos]``; -1 when
    the text there is anything else."""
    cdef unsigned long long v, got = 0
    cdef Py_ssize_t start
    if pos < 0:
        return -1
    if value < 0:
        if pos >= end or s[pos] != 45:
            return -1
        pos += 1
        v = <unsigned long long>(-(value + 1)) + 1
    else:
        v = <unsigned long long>value
    start = pos
    while pos < end and 48 <= s[pos] <= 57 and pos - start < 20:
        got = got * 10 + <unsigned long long>(s[pos] - 48)
        pos += 1
    if pos == start or got != v or (s[start] == 48 and pos - start > 1) or pos - start > 19:
        return -1
    if sep == 0:
        return pos if pos == end else -1
    if pos >= end or s[pos] != sep:
        return -1
    return pos + 1
