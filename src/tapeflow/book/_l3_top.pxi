# Included by _l3_core.pyx (Cython ``include``: the same module, split only to keep each file small).
"""The verification's copy of the book's top N levels (``_Top``), kept printed the way LOBSTER prints a row, used
by ``apply_lobster_block`` in ``_l3_core.pyx``, whose helpers (``_as_ll``, ``_Book``) it uses."""

cdef enum:
    _SLOT = 24  # bytes a printed field's slot holds: ``%d`` of a 64-bit value is at most 20

cdef char _PAIRS[200]
"""``%02d`` of 0-99, one after another."""
cdef const char* _EMPTY_LEVEL = b"9999999999,0,-9999999999,0"


cdef void _fill_pairs() noexcept:
    cdef int i
    for i in range(100):
        _PAIRS[2 * i] = <char>(48 + i // 10)
        _PAIRS[2 * i + 1] = <char>(48 + i % 10)


_fill_pairs()


cdef inline int _print(char* out, long long value) noexcept:
    """``%d`` of ``value`` at ``out`` (at most 20 bytes); its length. Two digits a step, from a table."""
    cdef char tmp[_SLOT]
    cdef int i = _SLOT, n
    cdef unsigned long long v, q
    cdef bint neg = value < 0
    v = <unsigned long long>(-(value + 1)) + 1 if neg else <unsigned long long>value
    while v >= 100:
        q = v // 100
        i -= 2
        memcpy(tmp + i, _PAIRS + 2 * (v - q * 100), 2)
        v = q
    if v >= 10:
        i -= 2
        memcpy(tmp + i, _PAIRS + 2 * v, 2)
    else:
        i -= 1
        tmp[i] = <char>(48 + v)
    if neg:
        i -= 1
        tmp[i] = 45
    n = _SLOT - i
    memcpy(out, tmp + i, n)
    return n


@cython.final
cdef class _Top:
    """The book's top N levels as C arrays, and the row LOBSTER would print for them, kept between the rows of a
    block for the verification.

    Why: reading N levels from the ladders costs a dict lookup and an int object per level and row, and reading a
    row's ~115 bytes of digits to compare them with the levels cost ~3,500 instructions a row. Most messages only
    change the size of one level, and the loop knows which and to what; so it updates that level here (``touch``)
    and prints that one field again; a level added or removed prints the side's fields again; anything else (a
    reveal, any call into the Python book) marks the side stale, to be read again from the ladders (``load``)
    before the next comparison. A row is then verified by one ``memcmp`` against the fields joined by commas.
    """

    cdef int levels
    cdef long long* price[2]
    cdef long long* size[2]
    cdef int count[2]
    cdef long long beyond[2]
    """The size the reference prints for the sentinel price when the other side is deeper (0 unless the book
    holds a level at the sentinel price itself, in which case the side stays stale)."""
    cdef bint stale[2]
    cdef char* field[2]
    """Per side, ``2 * levels`` slots of ``_SLOT`` bytes: level j's price and size printed."""
    cdef int* width[2]
    """Each field's printed length."""
    cdef Py_ssize_t* at[2]
    """Where each field starts in ``line`` (for the levels before ``fresh``)."""
    cdef bint printed[2]
    """The side's fields hold its current levels."""
    cdef char* line
    cdef Py_ssize_t line_len
    cdef Py_ssize_t* level_at
    """Where each level starts in ``line``."""
    cdef int fresh
    """``line`` holds the levels before this one joined as LOBSTER prints them (``levels``: the whole row);
    a change at level j re-joins from j only."""

    def __cinit__(self, int levels):
        self.levels = levels
        self.line = <char*>PyMem_Malloc((4 * levels + 2) * _SLOT)
        self.level_at = <Py_ssize_t*>PyMem_Malloc((levels + 1) * sizeof(Py_ssize_t))
        if self.line == NULL or self.level_at == NULL:
            raise MemoryError()
        self.level_at[0] = 0
        for side in range(2):
            self.price[side] = <long long*>PyMem_Malloc(levels * sizeof(long long))
            self.size[side] = <long long*>PyMem_Malloc(levels * sizeof(long long))
            self.field[side] = <char*>PyMem_Malloc(2 * levels * _SLOT)
            self.width[side] = <int*>PyMem_Malloc(2 * levels * sizeof(int))
            self.at[side] = <Py_ssize_t*>PyMem_Malloc(2 * levels * sizeof(Py_ssize_t))
            if (self.price[side] == NULL or self.size[side] == NULL or self.field[side] == NULL
                    or self.width[side] == NULL or self.at[side] == NULL):
                raise MemoryError()
            self.stale[side] = True
            self.printed[side] = False
            self.count[side] = 0
        self.fresh = 0

    cdef inline void mark(self, int side) noexcept:
        """The side changed in a way the loop does not follow: read it again before the next comparison."""
        self.stale[side] = True
        self.printed[side] = False
        self.fresh = 0

    cdef inline void mark_all(self) noexcept:
        self.mark(0)
        self.mark(1)

    cdef inline void put(self, int side, int j, long long price, long long size) noexcept:
        """Print level j's fields of the side (its slots only)."""
        cdef char* field = self.field[side] + 2 * j * _SLOT
        self.width[side][2 * j] = _print(field, price)
        self.width[side][2 * j + 1] = _print(field + _SLOT, size)
        if j < self.fresh:
            self.fresh = j

    cdef inline void shift(self, int side, int to, int frm, int n) noexcept:
        """Move ``n`` levels' printed fields of the side from level ``frm`` to level ``to``."""
        if n > 0:
            memmove(self.field[side] + 2 * to * _SLOT, self.field[side] + 2 * frm * _SLOT, 2 * n * _SLOT)
            memmove(self.width[side] + 2 * to, self.width[side] + 2 * frm, 2 * n * sizeof(int))
        if to < self.fresh or frm < self.fresh:
            self.fresh = to if to < frm else frm

    cdef inline void added(self, int side, long long p, long long new_size) noexcept:
        """A level at ``p`` holding ``new_size`` was added: put it in place (reading N levels again from
        the ladder cost ~1,000 instructions; LOBSTER messages all fall within the top N, so this is common).
        Prices come as C values: reading them back from the loop's int objects was ~75 instructions a message."""
        cdef int j, m, n = self.count[side]
        cdef long long* prices = self.price[side]
        cdef long long* sizes = self.size[side]
        if self.stale[side]:
            return
        if p == 9999999999LL or p == -9999999999LL:
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
        if self.printed[side]:  # the levels from j on move one down (the deepest shown, or a sentinel, drops)
            self.shift(side, j + 1, j, self.levels - 1 - j)
            self.put(side, j, p, new_size)

    cdef inline int dropped(self, int side, long long p, L3Keys keys, L3Sizes level_sizes) except -1:
        """The level at ``p`` was removed from the ladder (``keys``, ``level_sizes`` already without it):
        take it out, and read only the level that came into view in its place."""
        cdef long long key, v
        cdef int j = 0, n = self.count[side]
        cdef Py_ssize_t have = keys.count()
        cdef long long* prices = self.price[side]
        cdef long long* sizes = self.size[side]
        if self.stale[side]:
            return 0
        while j < n and prices[j] != p:
            j += 1
        if j == n:
            if n < self.levels:  # a side short of N levels holds every level: cannot happen
                self.mark(side)
            return 0
        if self.printed[side]:  # the levels after j move one up; the deepest slot is printed below
            self.shift(side, j, j + 1, self.levels - 1 - j)
            self.put(side, self.levels - 1, 9999999999LL if side == 0 else -9999999999LL, self.beyond[side])
        while j < n - 1:
            prices[j] = prices[j + 1]
            sizes[j] = sizes[j + 1]
            j += 1
        self.count[side] = n - 1
        if n == self.levels and have >= self.levels:  # the level beyond the old deepest comes into view
            if keys._list is None:  # the array read in place: ``at`` was a call (~17 instructions)
                key = keys._k[have - self.levels]
            elif not keys.at(have - self.levels, &key):
                self.mark(side)
                return 0
            if key == -_MAX - 1:
                self.mark(side)
                return 0
            p = key if side else -key
            if p == 9999999999LL or p == -9999999999LL or level_sizes.lookup_ll(p, &v) != 1:
                self.mark(side)
                return 0
            prices[n - 1] = p
            sizes[n - 1] = v
            self.count[side] = n
            if self.printed[side]:
                self.put(side, n - 1, p, v)
        return 0

    def __dealloc__(self):
        for side in range(2):
            PyMem_Free(self.price[side])
            PyMem_Free(self.size[side])
            PyMem_Free(self.field[side])
            PyMem_Free(self.width[side])
            PyMem_Free(self.at[side])
        PyMem_Free(self.line)
        PyMem_Free(self.level_at)

    cdef inline void touch(self, int side, long long p, long long new_size) noexcept:
        """The level at ``p`` (0: asks, 1: bids) now holds ``new_size`` and still exists."""
        cdef int j
        if self.stale[side]:
            return
        for j in range(self.count[side]):
            if self.price[side][j] == p:
                self.size[side][j] = new_size
                if self.printed[side]:
                    self.resize(side, j, new_size)
                return
        if self.count[side] < self.levels:  # a side short of N levels holds every level: cannot happen
            self.mark(side)

    cdef int load(self, int side, L3Keys keys, L3Sizes sizes) except -1:
        """Read the side's top N from the ladder; 0 when a value does not fit 64 bits (stays stale)."""
        cdef Py_ssize_t n = keys.count()
        cdef int j, m = self.levels if n >= self.levels else <int>n
        cdef long long key, p, v, sentinel = 9999999999LL if side == 0 else -9999999999LL
        cdef int found
        self.printed[side] = False
        self.fresh = 0
        for j in range(m):
            if not keys.at(n - 1 - j, &key) or key == -_MAX - 1:
                return 0
            p = -key if side == 0 else key
            found = sizes.lookup_ll(p, &v)
            if found == 0:
                v = 0
            elif found == 2:
                return 0
            self.price[side][j] = p
            self.size[side][j] = v
        self.count[side] = m
        found = sizes.lookup_ll(sentinel, &self.beyond[side])
        if found == 0:
            self.beyond[side] = 0
        elif found == 2:
            return 0
        self.stale[side] = found != 0
        return 1

    cdef inline void resize(self, int side, int j, long long new_size) noexcept:
        """Print level j's size field again; the joined line is patched in place when the width is the same
        (the common case: one size changes, and most often not its number of digits)."""
        cdef int f = 2 * j + 1
        cdef int old = self.width[side][f]
        cdef char* slot = self.field[side] + f * _SLOT
        cdef int new = _print(slot, new_size)
        self.width[side][f] = new
        if j < self.fresh and new == old:
            memcpy(self.line + self.at[side][f], slot, new)
        elif j < self.fresh:
            self.fresh = j

    cdef void print_side(self, int side) noexcept:
        """Each level's price and size fields of the side; past its last level, the sentinel price and the
        size the reference prints there (``beyond``)."""
        cdef int j
        cdef long long sentinel = 9999999999LL if side == 0 else -9999999999LL
        for j in range(self.levels):
            if j < self.count[side]:
                self.put(side, j, self.price[side][j], self.size[side][j])
            else:
                self.put(side, j, sentinel, self.beyond[side])
        self.printed[side] = True
        self.fresh = 0

    cdef void join(self) noexcept:
        """The fields joined by commas from level ``fresh`` on, as the reference check prints the row (a level
        past both sides' last is the empty level, sizes 0). Whether a level is past both sides' last changes
        only with a side's count, which changes only with a level printed at or above it."""
        cdef int j, q, f, side
        cdef int deepest = self.count[0] if self.count[0] > self.count[1] else self.count[1]
        cdef Py_ssize_t pos = self.level_at[self.fresh]
        cdef char* line = self.line
        for j in range(self.fresh, self.levels):
            self.level_at[j] = pos
            if j >= deepest:
                memcpy(line + pos, _EMPTY_LEVEL, 26)
                pos += 26
            else:
                for q in range(4):  # ask price, ask size, bid price, bid size
                    f = 2 * j + (q & 1)
                    side = q >> 1
                    memcpy(line + pos, self.field[side] + f * _SLOT, _SLOT)  # the slack after the line takes it
                    self.at[side][f] = pos
                    pos += self.width[side][f]
                    line[pos] = 44
                    pos += 1
                pos -= 1
            line[pos] = 44  # overwritten by the next level, or past the row's end
            pos += 1
        self.line_len = pos - 1
        self.fresh = self.levels

    cdef int matches(self, b, const char* s, Py_ssize_t end) except -1:
        """1 when the line ``s[:end]`` is exactly what the reference check prints for the book (``%d`` of each
        value, commas between); 0 when not, or when a value does not fit 64 bits (the Python check decides)."""
        cdef _Book book = <_Book>b
        if self.stale[0] and not self.load(0, book.ask_keys, book.ask_sizes):
            return 0
        if self.stale[1] and not self.load(1, book.bid_keys, book.bid_sizes):
            return 0
        if not self.printed[0]:
            self.print_side(0)
        if not self.printed[1]:
            self.print_side(1)
        if self.fresh < self.levels:
            self.join()
        return end == self.line_len and memcmp(s, self.line, end) == 0
