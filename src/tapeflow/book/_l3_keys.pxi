# Included by _l3_core.pyx: ``L3Keys``, the sorted price keys of a compiled L3 book's ladders.
#
# Why not the list: each level the compiled loop added or dropped touched a Python list of int objects: a bisect
# reading an int object at every probe, an int made for an ask's ``-price``, the list's own insert and delete, and
# the verification's top and the cross check reading int objects back (~250 instructions a message on AMZN level
# 5, callgrind). Here the keys are C 64-bit values in one sorted array, in the list's order (best last: bids as
# ``price``, asks as ``-price``), so a probe is one load and a level added or dropped one ``memmove``.
#
# List semantics are kept exactly: the array holds only exact ints that fit 64 bits; the first key written that is
# anything else (through the Python API, or a price past 64 bits) moves the keys into a plain list for good, and
# from then on each operation is that list's. ``_adopt_keys`` makes a front whose list mode is a ladder's own list
# (a book of lists, ``impl="python"``, handed to the compiled loop): the loop then has one code path for both.
#
# Why this module is long: the list methods the ladders and their readers call are written out beside the few C
# calls the loop makes.

import operator

cdef extern from "Python.h":
    int PySlice_Unpack(object slice, Py_ssize_t* start, Py_ssize_t* stop, Py_ssize_t* step) except -1
    Py_ssize_t PySlice_AdjustIndices(Py_ssize_t length, Py_ssize_t* start, Py_ssize_t* stop,
                                     Py_ssize_t step) noexcept


cdef long long _LL_MIN = -9223372036854775807 - 1
cdef Py_ssize_t _NEAR_BEST = 8
"""Keys ``L3Keys.bisect`` reads one by one from the best before it searches the rest by halves."""


@cython.final
cdef class L3Keys:
    """The sorted keys of one side of an ``L3Book`` (``Ladder.keys``), in C; reads and writes like the list."""

    cdef long long* _k
    cdef Py_ssize_t _n  # keys held (array mode)
    cdef Py_ssize_t _cap  # keys the array holds
    cdef list _list  # None while the array holds the keys; the list that holds them otherwise

    def __cinit__(self):
        self._k = <long long*>PyMem_Malloc(16 * sizeof(long long))
        if self._k == NULL:
            raise MemoryError()
        self._cap = 16
        self._n = 0
        self._list = None

    def __dealloc__(self):
        PyMem_Free(self._k)

    cdef int _room(self) except -1:
        """Room for one key more: the array doubles when full."""
        cdef long long* k
        if self._n < self._cap:
            return 0
        k = <long long*>PyMem_Realloc(self._k, 2 * self._cap * sizeof(long long))
        if k == NULL:
            raise MemoryError()
        self._k = k
        self._cap *= 2
        return 0

    cdef inline void _shrink(self) noexcept:
        """Halve the array once it is a quarter full, so that memory follows the levels held, not the most ever
        held."""
        cdef long long* k
        if self._cap > 64 and self._n < self._cap >> 2:
            k = <long long*>PyMem_Realloc(self._k, (self._cap >> 1) * sizeof(long long))
            if k != NULL:
                self._k = k
                self._cap >>= 1

    cdef int _to_list(self) except -1:
        """Move the keys into a plain list for good (a key that is not a 64-bit int is to be written)."""
        cdef Py_ssize_t i
        if self._list is None:
            self._list = [PyLong_FromLongLong(self._k[i]) for i in range(self._n)]
            self._n = 0
        return 0

    # --- the loop's C calls ---------------------------------------------------------------------------------------

    cdef inline Py_ssize_t count(self) noexcept:
        return self._n if self._list is None else PyList_GET_SIZE(self._list)

    cdef inline bint at(self, Py_ssize_t i, long long* out) noexcept:
        """Key ``i`` (0 <= i < count) into ``out``; False when it is not a 64-bit int (list mode only)."""
        if self._list is None:
            out[0] = self._k[i]
            return True
        return _as_ll(<object>PyList_GET_ITEM(self._list, i), out)

    cdef Py_ssize_t bisect(self, long long key) except -1:
        """``bisect.bisect_left(keys, key)``, looked for first among the last ``_NEAR_BEST`` keys.

        Why: the loop adds, drops and reveals levels near the best (the last key), while a LOBSTER day's book keeps
        ~40-400 levels a side (every level once in view): a binary search from the middle took ~50 instructions a
        call, ~36 a message on AMZN level 5 (callgrind)."""
        cdef Py_ssize_t lo = 0, hi = self._n, mid
        cdef Py_ssize_t stop = hi - _NEAR_BEST if hi > _NEAR_BEST else 0
        cdef long long* k = self._k
        if self._list is not None:
            return _bisect_left_ll(self._list, key)
        while hi > stop:  # keys[hi:] are all >= key
            if k[hi - 1] < key:
                return hi
            hi -= 1
        while lo < hi:
            mid = (lo + hi) >> 1
            if k[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef bint less_at(self, long long key, Py_ssize_t i) except -1:
        """``key < keys[i]``."""
        cdef long long x
        if self.at(i, &x):
            return key < x
        return PyLong_FromLongLong(key) < <object>PyList_GET_ITEM(self._list, i)

    cdef bint add(self, object price, bint bid) except -1:
        """``Ladder.insert``'s key of a level that is not there: True when it became the last (the best)."""
        cdef long long p
        if _as_ll(price, &p):
            return self.add_ll(p, bid)
        if self._list is None:
            self._to_list()
        return self._list_add(price if bid else -price)

    cdef bint add_ll(self, long long price, bint bid) except -1:
        """``add`` of a price the caller holds as a C value (the loop: no int object unless the keys are a list)."""
        cdef long long key = price if bid else -price
        cdef Py_ssize_t i, n = self._n
        if self._list is None and price == _LL_MIN:  # its negation does not fit 64 bits
            self._to_list()
        if self._list is not None:
            key_obj = PyLong_FromLongLong(price)
            return self._list_add(key_obj if bid else -key_obj)
        self._room()
        if n and self._k[n - 1] >= key:
            # insort is bisect_right; a key equal to one present cannot be (the level is not there)
            i = self.bisect(key)
            memmove(self._k + i + 1, self._k + i, (n - i) * sizeof(long long))
            self._k[i] = key
            self._n = n + 1
            return False
        self._k[n] = key
        self._n = n + 1
        return True

    cdef bint _list_add(self, object key) except -1:
        cdef list keys = self._list
        cdef Py_ssize_t n = PyList_GET_SIZE(keys)
        if n and not _lt(<object>PyList_GET_ITEM(keys, n - 1), key):
            keys.insert(_bisect_left(keys, key), key)
            return False
        keys.append(key)
        return True

    cdef bint drop(self, object price, bint bid) except -1:
        """``Ladder.remove``'s key of a level that is there: True when it was the last (the best)."""
        cdef long long p
        if _as_ll(price, &p):
            return self.drop_ll(p, bid)
        if self._list is None:
            self._to_list()  # a price past 64 bits: the list decides (and raises)
        return self._list_drop(price, bid)

    cdef bint drop_ll(self, long long price, bint bid) except -1:
        """``drop`` of a price the caller holds as a C value."""
        cdef long long key = price if bid else -price
        cdef Py_ssize_t i, n = self._n
        if self._list is None and (n == 0 or price == _LL_MIN):
            self._to_list()  # no level at all, or a key past 64 bits: the list decides (and raises)
        if self._list is not None:
            return self._list_drop(PyLong_FromLongLong(price), bid)
        n -= 1
        self._n = n
        if self._k[n] == key:
            self._shrink()
            return True
        i = self.bisect(key)  # with the last key out of the search, as ``del keys[bisect_left(keys, key)]`` finds it
        if i < n:
            memmove(self._k + i, self._k + i + 1, (n - i) * sizeof(long long))
        else:  # a key that is not there: the list deletes its last (``bisect_left`` was len - 1) or raises
            self._n = n + 1
            self._to_list()
            return self._list_drop(PyLong_FromLongLong(price), bid)
        self._shrink()
        return False

    cdef bint _list_drop(self, object price, bint bid) except -1:
        """``_remove``'s list path: the key compared in C when it and the last key fit 64 bits, else as objects."""
        cdef list keys = self._list
        cdef Py_ssize_t n = PyList_GET_SIZE(keys)
        cdef long long p = 0, last
        cdef bint is_last
        cdef object key = None
        if n == 0:
            raise IndexError("list index out of range")
        last_obj = <object>PyList_GET_ITEM(keys, n - 1)
        if _as_ll(price, &p) and p != _LL_MIN and _as_ll(last_obj, &last):
            if not bid:
                p = -p
            is_last = last == p
        else:
            key = price if bid else -price
            is_last = key == last_obj
        if is_last:
            keys.pop()
            return True
        del keys[_bisect_left_ll(keys, p) if key is None else _bisect_left(keys, key)]
        return False

    cdef object best(self, bint bid):
        """The best price the keys say (``Ladder.best``): the last key's price, 0 (``NO_PRICE``) when empty."""
        cdef long long key
        cdef Py_ssize_t n = self.count()
        if n == 0:
            return 0
        if self.at(n - 1, &key) and (bid or key != _LL_MIN):
            return PyLong_FromLongLong(key if bid else -key)
        return self[n - 1] * (1 if bid else -1)

    # --- the list's methods, for every Python reader and writer ---------------------------------------------------

    cdef inline Py_ssize_t _index(self, object i, Py_ssize_t n, str what) except -1:
        cdef Py_ssize_t j = operator.index(i)
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexError(what)
        return j

    def __len__(self):
        return self.count()

    def __getitem__(self, i):
        cdef Py_ssize_t j, start, stop, step, count
        cdef long long at
        if self._list is not None:
            return self._list[i]
        if _as_ll(i, &at) and -self._n <= at < self._n:  # the ladder's ``keys[-1]`` and a bisect's probes
            return PyLong_FromLongLong(self._k[at + self._n if at < 0 else at])
        if isinstance(i, slice):  # the ladder's ``prices`` and ``between``: no range object, no tuple
            PySlice_Unpack(i, &start, &stop, &step)
            count = PySlice_AdjustIndices(self._n, &start, &stop, step)
            return [PyLong_FromLongLong(self._k[start + j * step]) for j in range(count)]
        return PyLong_FromLongLong(self._k[self._index(i, self._n, "list index out of range")])

    def __iter__(self):
        cdef Py_ssize_t j = 0
        while j < self.count():  # the length read at each step, as a list's iterator does
            yield self[j]
            j += 1

    def append(self, key):
        cdef long long k
        if self._list is None and _as_ll(key, &k):
            self._room()
            self._k[self._n] = k
            self._n += 1
        else:
            self._to_list()
            self._list.append(key)

    def insert(self, i, key):
        cdef long long k
        cdef Py_ssize_t j, n = self._n
        if self._list is None and _as_ll(key, &k):
            j = operator.index(i)
            if j < 0:
                j = j + n if j + n > 0 else 0
            if j > n:
                j = n
            self._room()
            memmove(self._k + j + 1, self._k + j, (n - j) * sizeof(long long))
            self._k[j] = k
            self._n = n + 1
        else:
            self._to_list()
            self._list.insert(i, key)

    def pop(self, i=-1):
        cdef Py_ssize_t j
        cdef long long k
        if self._list is not None:
            return self._list.pop(i)
        if self._n == 0:
            raise IndexError("pop from empty list")
        j = self._index(i, self._n, "pop index out of range")
        k = self._k[j]
        memmove(self._k + j, self._k + j + 1, (self._n - j - 1) * sizeof(long long))
        self._n -= 1
        self._shrink()
        return k

    def __delitem__(self, i):
        cdef Py_ssize_t j
        cdef list rest
        if self._list is not None:
            del self._list[i]
            return
        if isinstance(i, slice):
            rest = list(self)
            del rest[i]
            self._n = 0
            for k in rest:
                self.append(k)
            self._shrink()
            return
        j = self._index(i, self._n, "list assignment index out of range")
        memmove(self._k + j, self._k + j + 1, (self._n - j - 1) * sizeof(long long))
        self._n -= 1
        self._shrink()

    def clear(self):
        if self._list is not None:
            self._list.clear()
        self._n = 0
        self._shrink()

    def __eq__(self, other):
        if isinstance(other, (L3Keys, list)):
            return list(self) == list(other)
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, (L3Keys, list)):
            return list(self) != list(other)
        return NotImplemented

    def __repr__(self):
        return f"L3Keys({list(self)!r})"

    def __sizeof__(self):
        return object.__sizeof__(self) + self._cap * sizeof(long long)

    def __reduce__(self):
        return (_l3_keys, (list(self),))


cdef L3Keys _adopt_keys(object keys):
    """The keys the compiled loop writes for a ladder's ``keys``: itself when it is an ``L3Keys``, else a front
    whose list mode is that very list (a book built with ``impl="python"``), so the book's state is what changes."""
    cdef L3Keys front
    if type(keys) is L3Keys:
        return <L3Keys>keys
    if type(keys) is not list:
        raise TypeError(f"an L3 ladder's keys must be a list or an L3Keys, not {type(keys).__name__}")
    front = L3Keys()
    front._list = keys
    return front


def _l3_keys(keys):
    """Unpickles an ``L3Keys``."""
    front = L3Keys()
    for key in keys:
        front.append(key)
    return front
