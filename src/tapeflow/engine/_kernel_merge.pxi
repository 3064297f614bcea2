# Included by engine/_kernel_core.pyx (its last part; it uses the core's ``_ts_slot``, ``_ts_init`` and the cimports
# at its top): the merge, apart from the loops it feeds so that each reads on its own.

# The merge (``merge.py``'s ``merge_batches``) compiled. The Python generator there is the reference: the same
# rounds, cuts, refills and reads of each source, so this one yields the same batches and refuses an out-of-order
# source at the same point with the same error (``tests/engine/test_merge.py`` compares both batch by batch).
# Why: on bench_kernel's merged workload the Python merge was ~1,190 of ~1,910 instructions an event (callgrind,
# docs/PERFORMANCE.md "Round 8, p26-kernel"): an ``attrgetter`` call per event for the order check, one per event
# for the sort's key, and timsort's Python-int comparisons. Here ``ts_init`` is read from its slot and compared as
# a C integer; a timestamp that is not an int fitting 64 bits takes the object comparison (the check, the cut) or
# the reference's keyed sort (a round's merge), so the two agree on any value the reference accepts.
# Round 12: each source's events wait in a C array of their own (``_Run``), read from its iterator one
# ``tp_iternext`` call at a time (``islice``'s reads, no list between) with their times read once, by the order
# check, into C integers beside them; a round moves its events into the batch it yields. The lists, slices,
# ``+=`` and ``del`` of the reference's chunks were ~111 instructions an event (round 10's count).

_ts_init_key = attrgetter("ts_init")


cdef extern from *:
    """
    /* One read of an iterator, as islice makes it: its type's tp_iternext, NULL at its end or on an error. */
    static inline PyObject *tf_iter_next(PyObject *it) { return (*Py_TYPE(it)->tp_iternext)(it); }
    """
    PyObject *tf_iter_next(PyObject *it)


cdef inline bint _as_int64(object ts, long long *out) noexcept:
    """Whether ``ts`` is an ``int`` within 64 bits, stored in ``out``."""
    return tf_as_ll(<PyObject*>ts, out)


cdef class _Run:
    """One source of the merge: its iterator and the events read from it that no batch has taken yet,
    ``items[head:size]`` (references of the run's own). ``fast``: each of them is an ``Event`` whose time is an int
    within 64 bits, kept in ``keys`` at the same index (the events are frozen: their time cannot change)."""

    cdef object it
    cdef PyObject **items
    cdef long long *keys
    cdef Py_ssize_t head, size, cap
    cdef bint open, fast

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self.head, self.size):
            Py_XDECREF(self.items[i])
        PyMem_Free(self.items)
        PyMem_Free(self.keys)


cdef inline Py_ssize_t _left(_Run r) noexcept:
    return r.size - r.head


cdef int _reserve(_Run r, Py_ssize_t extra) except -1:
    """Room for ``extra`` more events after the run's own: the taken ones' places given back first."""
    cdef Py_ssize_t left = r.size - r.head, cap
    cdef PyObject **items
    cdef long long *keys
    if r.head:
        memmove(r.items, r.items + r.head, left * sizeof(PyObject*))
        memmove(r.keys, r.keys + r.head, left * sizeof(long long))
        r.head = 0
        r.size = left
    if left + extra <= r.cap:
        return 0
    cap = max(left + extra, 2 * r.cap)
    items = <PyObject**>PyMem_Realloc(r.items, cap * sizeof(PyObject*))
    if items is NULL:
        raise MemoryError()
    r.items = items
    keys = <long long*>PyMem_Realloc(r.keys, cap * sizeof(long long))
    if keys is NULL:
        raise MemoryError()
    r.keys = keys
    r.cap = cap
    return 0


cdef Py_ssize_t _read(_Run r, Py_ssize_t chunk) except -1:
    """``list(islice(it, chunk))`` added to the run: up to ``chunk`` reads of its iterator, how many it gave. An
    error of the iterator propagates and what this read took is dropped, as the reference's list is."""
    cdef Py_ssize_t start
    cdef PyObject *item
    _reserve(r, chunk)
    start = r.size
    while r.size - start < chunk:
        item = tf_iter_next(<PyObject*>r.it)
        if item is NULL:
            if PyErr_Occurred() is not NULL:
                if not PyErr_ExceptionMatches(StopIteration):
                    while r.size > start:
                        r.size -= 1
                        Py_XDECREF(r.items[r.size])
                    return -1
                PyErr_Clear()
            break
        r.items[r.size] = item
        r.size += 1
    return r.size - start


cdef int _check(_Run r, Py_ssize_t lo, object floor) except -1:
    """``merge._check_sorted`` on the run's events from ``lo``: the first earlier than the one before it (or than
    ``floor``) is refused. An ``Event`` whose time is an int within 64 bits, not earlier than the one before,
    passes with no reference taken, its time kept in ``keys``; anything else takes the objects' path, where the
    comparison and the error are made, and the run is no longer ``fast``."""
    cdef Py_ssize_t i
    cdef long long key = 0, prev_key = 0
    cdef bint prev_fast = _as_int64(floor, &prev_key), fast = True
    cdef PyObject *event
    cdef PyObject *value
    cdef PyObject *prev = <PyObject*>floor  # borrowed: ``floor``, or the time of an event the run holds, or ``held``
    cdef object held = None
    for i in range(lo, r.size):
        event = r.items[i]
        value = _ts_slot(event)
        if prev_fast and value is not NULL and tf_as_ll(value, &key) and key >= prev_key:
            r.keys[i] = key
            prev_key = key
            prev = value
            continue
        fast = False
        ts = _ts_init(<object>event)
        if prev_fast and _as_int64(ts, &key):
            if key < prev_key:
                raise OutOfOrderError(ts, <object>prev, f"source event {type(<object>event).__name__}")
            prev_key = key
        else:
            if ts < <object>prev:
                raise OutOfOrderError(ts, <object>prev, f"source event {type(<object>event).__name__}")
            prev_fast = _as_int64(ts, &prev_key)
        held = ts  # an attribute's value may be held by nothing else
        prev = <PyObject*>held
    r.fast = fast if lo == r.head else (r.fast and fast)
    return 0


cdef Py_ssize_t _refill(_Run r, Py_ssize_t chunk, object floor) except -1:
    """``more = list(islice(it, chunk)); _check_sorted(more, floor); b += more``: how many were read."""
    cdef Py_ssize_t n = _read(r, chunk)
    _check(r, r.size - n, floor)
    return n


cdef inline object _last_ts(_Run r):
    """``b[-1].ts_init`` of a run that holds events."""
    return _ts_init(<object>r.items[r.size - 1])


cdef Py_ssize_t _first_at(_Run r, object cut, long long cut_key, bint cut_fast) except -1:
    """``bisect_left(b, cut, key=ts_init)`` over the run's events: how many are earlier than ``cut``."""
    cdef Py_ssize_t lo = r.head, hi = r.size, mid
    cdef long long key = 0
    cdef bint before
    if r.fast and cut_fast:
        while lo < hi:
            mid = (lo + hi) // 2
            if r.keys[mid] < cut_key:
                lo = mid + 1
            else:
                hi = mid
        return lo - r.head
    while lo < hi:
        mid = (lo + hi) // 2
        ts = _ts_init(<object>r.items[mid])
        if cut_fast and _as_int64(ts, &key):
            before = key < cut_key
        else:
            before = ts < cut
        if before:
            lo = mid + 1
        else:
            hi = mid
    return lo - r.head


cdef inline bint _before(long long *keys, Py_ssize_t a, Py_ssize_t b) noexcept:
    """Source ``a``'s head comes before source ``b``'s: by timestamp, then by source position."""
    return keys[a] < keys[b] or (keys[a] == keys[b] and a < b)


cdef class _Merge:
    """The merge's state between batches: the runs, in source order, and the last round's cut."""

    cdef list runs
    cdef Py_ssize_t k, chunk, low
    cdef Py_ssize_t *ends  # per run: how many of its events the round takes
    cdef Py_ssize_t *heap  # the heap of the runs' heads, a round's merge
    cdef long long *heads  # per run: its head's time, a round's merge
    cdef PyObject ***items  # per run: its next event a round's merge moves, and that event's time
    cdef long long **keys
    cdef object cut
    cdef long long cut_key
    cdef bint cut_fast

    def __cinit__(self, list runs, Py_ssize_t chunk):
        self.runs = runs
        self.k = len(runs)
        self.chunk = chunk
        self.low = max(1, chunk // 2)
        self.ends = <Py_ssize_t*>PyMem_Malloc(2 * self.k * sizeof(Py_ssize_t) + 1)
        self.heads = <long long*>PyMem_Malloc(self.k * sizeof(long long) + 1)
        self.items = <PyObject***>PyMem_Malloc(self.k * sizeof(PyObject**) + 1)
        self.keys = <long long**>PyMem_Malloc(self.k * sizeof(long long*) + 1)
        if self.ends is NULL or self.heads is NULL or self.items is NULL or self.keys is NULL:
            raise MemoryError()
        self.heap = self.ends + self.k

    def __dealloc__(self):
        PyMem_Free(self.ends)
        PyMem_Free(self.heads)
        PyMem_Free(self.items)
        PyMem_Free(self.keys)


cdef object _take(_Merge m, Py_ssize_t total, bint by_heap):
    """The round's events (``m.ends`` of each run) moved into one new list: in (ts_init, source, position) order by
    a heap of the runs' heads (``by_heap``: every run taken from is ``fast``), else in source order."""
    cdef Py_ssize_t size = 0, i, at, child, n = 0
    cdef Py_ssize_t *ends = m.ends
    cdef Py_ssize_t *heap = m.heap
    cdef long long *heads = m.heads
    cdef PyObject ***items = m.items
    cdef long long **keys = m.keys
    cdef _Run r
    out = PyList_New(total)
    if not by_heap:
        for i in range(m.k):
            r = <_Run>PyList_GET_ITEM(m.runs, i)
            for at in range(r.head, r.head + ends[i]):
                PyList_SET_ITEM(out, n, <object>r.items[at])  # the run's reference, moved
                n += 1
            r.head += ends[i]
        return out
    for i in range(m.k):
        if ends[i] == 0:
            continue
        r = <_Run>PyList_GET_ITEM(m.runs, i)
        items[i] = r.items + r.head
        keys[i] = r.keys + r.head
        r.head += ends[i]  # given up here, each moved into ``out`` below (nothing between can fail)
        heads[i] = keys[i][0]
        at = size  # sift up
        size += 1
        while at > 0 and _before(heads, i, heap[(at - 1) // 2]):
            heap[at] = heap[(at - 1) // 2]
            at = (at - 1) // 2
        heap[at] = i
    while size:
        i = heap[0]
        PyList_SET_ITEM(out, n, <object>items[i][0])  # the run's reference, moved
        n += 1
        items[i] += 1
        keys[i] += 1
        ends[i] -= 1
        if ends[i]:
            heads[i] = keys[i][0]
        else:
            size -= 1
            i = heap[size]
        at = 0  # sift ``i`` down from the root
        while True:
            child = 2 * at + 1
            if child >= size:
                break
            if child + 1 < size and _before(heads, heap[child + 1], heap[child]):
                child += 1
            if not _before(heads, heap[child], i):
                break
            heap[at] = heap[child]
            at = child
        if size:
            heap[at] = i
    return out


cdef object _round(_Merge m, bint last):
    """One round of the reference: the events before the cut (``last``: every event left) as one sorted list."""
    cdef Py_ssize_t i, taken = 0, total = 0
    cdef bint by_heap = True
    cdef _Run r
    for i in range(m.k):
        r = <_Run>PyList_GET_ITEM(m.runs, i)
        m.ends[i] = _left(r) if last else _first_at(r, m.cut, m.cut_key, m.cut_fast)
        total += m.ends[i]
        if m.ends[i]:
            taken += 1
            by_heap = by_heap and r.fast
    if taken > 1 and not by_heap:  # a time beyond C integers: the reference's keyed sort
        merged = _take(m, total, False)
        merged.sort(key=_ts_init_key)
    else:
        merged = _take(m, total, taken > 1)
    for i in range(m.k):
        r = <_Run>PyList_GET_ITEM(m.runs, i)
        if r.head == r.size:
            r.head = r.size = 0
            r.fast = True
    return merged


cdef bint _cut(_Merge m) except -1:
    """``cut = min(b[-1].ts_init for the open runs)``; False when no run is open."""
    cdef Py_ssize_t i, at = -1
    cdef bint fast = True
    cdef _Run r
    for i in range(m.k):
        r = <_Run>PyList_GET_ITEM(m.runs, i)
        if r.open:
            fast = fast and r.fast
            if at < 0 or (fast and r.keys[r.size - 1] < m.cut_key):
                at = i
                m.cut_key = r.keys[r.size - 1] if r.fast else 0
    if at < 0:
        return False
    if fast:
        m.cut = _last_ts(<_Run>PyList_GET_ITEM(m.runs, at))
        m.cut_fast = True
        return True
    m.cut = min([_last_ts(<_Run>PyList_GET_ITEM(m.runs, i)) for i in range(m.k) if (<_Run>m.runs[i]).open])
    m.cut_fast = _as_int64(m.cut, &m.cut_key)
    return True


cdef int _refill_open(_Merge m) except -1:
    """After a round, every open run short of events (or whose last is at the cut) reads a chunk more."""
    cdef Py_ssize_t i
    cdef bint due
    cdef _Run r
    for i in range(m.k):
        r = <_Run>PyList_GET_ITEM(m.runs, i)
        if not r.open:
            continue
        if _left(r) < m.low:
            due = True
        elif r.fast and m.cut_fast:
            due = r.keys[r.size - 1] == m.cut_key
        else:
            due = _last_ts(r) == m.cut
        if due and _refill(r, m.chunk, _last_ts(r) if _left(r) else m.cut) < m.chunk:
            r.open = False
    return 0


def merge_batches(sources, Py_ssize_t chunk):
    """``merge.merge_batches`` (``chunk`` already checked there): the reference's rounds, step for step."""
    cdef _Run r
    cdef list runs = []
    for s in sources:
        r = _Run()
        r.it = iter(s)
        r.fast = True
        runs.append(r)
    for r in runs:
        r.open = _refill(r, chunk, 0) == chunk
    cdef _Merge m = _Merge(runs, chunk)
    if m.k == 1:
        r = runs[0]
        while _left(r):
            buf = _take_all(r)
            yield buf
            last = _ts_init(_last(buf))
            _refill(r, chunk, last)
        return
    while True:
        if not _cut(m):
            rest = _round(m, True)
            if rest:
                yield rest
            return
        merged = _round(m, False)
        if merged:
            yield merged
        _refill_open(m)


cdef inline object _last(list buf):
    """``buf[-1]``, an ``IndexError`` for an empty list (the cores compile with ``wraparound=False``)."""
    if not buf:
        raise IndexError("list index out of range")
    return buf[len(buf) - 1]


cdef object _take_all(_Run r):
    """The run's events moved into one new list (the one-source merge yields each chunk as read)."""
    cdef Py_ssize_t i, n = _left(r)
    out = PyList_New(n)
    for i in range(n):
        PyList_SET_ITEM(out, i, <object>r.items[r.head + i])  # the run's reference, moved
    r.head = r.size = 0
    r.fast = True
    return out
