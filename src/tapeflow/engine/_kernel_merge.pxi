# Included by engine/_kernel_core.pyx (its last part; it uses the core's ``_ts_slot``, ``_ts_init``, ``_ts_key`` and
# the cimports at its top): the merge, apart from the loops it feeds so that each reads on its own.

# The merge (``merge.py``'s ``merge_batches``) compiled. The Python generator there is the reference: the same
# rounds, cuts, refills and reads of each source, so this one yields the same batches and refuses an out-of-order
# source at the same point with the same error (``tests/engine/test_merge.py`` compares both batch by batch).
# Why: on bench_kernel's merged workload the Python merge was ~1,190 of ~1,910 instructions an event (callgrind,
# docs/PERFORMANCE.md "Round 8, p26-kernel"): an ``attrgetter`` call per event for the order check, one per event
# for the sort's key, and timsort's Python-int comparisons. Here ``ts_init`` is read from its slot and compared as
# a C integer; a timestamp that is not an int fitting 64 bits takes the object comparison (the check, the cut) or
# the reference's keyed sort (a round's merge), so the two agree on any value the reference accepts.

_ts_init_key = attrgetter("ts_init")


cdef inline bint _as_int64(object ts, long long *out) noexcept:
    """Whether ``ts`` is an ``int`` within 64 bits, stored in ``out``."""
    return tf_as_ll(<PyObject*>ts, out)


def check_sorted(list buf, object floor):
    """``merge._check_sorted``: the first event earlier than the one before it (or than ``floor``) is refused.

    An ``Event`` whose time is an int within 64 bits, not earlier than the one before, passes with no reference
    taken (``_ts_key``); anything else takes the objects' path, where the comparison and the error are made."""
    cdef Py_ssize_t i
    cdef long long key = 0, prev_key = 0
    cdef bint prev_fast = _as_int64(floor, &prev_key)
    cdef PyObject *event
    cdef PyObject *prev = <PyObject*>floor  # borrowed: ``floor``, or the time of an event ``buf`` holds, or ``held``
    cdef object held = None
    for i in range(len(buf)):
        event = PyList_GET_ITEM(buf, i)
        if prev_fast and _ts_slot(event) is not NULL and _ts_key(event, &key) and key >= prev_key:
            prev_key = key
            prev = _ts_slot(event)
            continue
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


cdef Py_ssize_t _first_at(list buf, object cut) except -1:
    """``bisect_left(buf, cut, key=ts_init)``: the first event not earlier than ``cut``."""
    cdef Py_ssize_t lo = 0, hi = len(buf), mid
    cdef long long key = 0, cut_key = 0
    cdef bint cut_fast = _as_int64(cut, &cut_key), before
    while lo < hi:
        mid = (lo + hi) // 2
        ts = _ts_init(<object>PyList_GET_ITEM(buf, mid))
        if cut_fast and _as_int64(ts, &key):
            before = key < cut_key
        else:
            before = ts < cut
        if before:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline bint _before(long long *keys, Py_ssize_t a, Py_ssize_t b) noexcept:
    """Source ``a``'s head comes before source ``b``'s: by timestamp, then by source position."""
    return keys[a] < keys[b] or (keys[a] == keys[b] and a < b)


cdef object _merged(list bufs, Py_ssize_t *ends, Py_ssize_t total):
    """The first ``ends[i]`` events of each ``bufs[i]`` as one list in (ts_init, source, position) order, by a heap
    of the sources' heads keyed by C integers; None when a timestamp is not an int within 64 bits."""
    cdef Py_ssize_t k = len(bufs), size = 0, i, at, child, n = 0
    cdef Py_ssize_t *pos = <Py_ssize_t*>PyMem_Malloc(2 * k * sizeof(Py_ssize_t))
    cdef Py_ssize_t *heap
    cdef long long *keys = <long long*>PyMem_Malloc(k * sizeof(long long))
    cdef PyObject *event
    cdef PyObject *buf  # borrowed: ``bufs`` holds it
    if pos is NULL or keys is NULL:
        PyMem_Free(pos)
        PyMem_Free(keys)
        raise MemoryError()
    heap = pos + k
    try:
        for i in range(k):
            pos[i] = 0
            if ends[i] == 0:
                continue
            if not _ts_key(PyList_GET_ITEM(bufs[i], 0), &keys[i]):
                return None
            at = size  # sift up
            size += 1
            while at > 0 and _before(keys, i, heap[(at - 1) // 2]):
                heap[at] = heap[(at - 1) // 2]
                at = (at - 1) // 2
            heap[at] = i
        out = PyList_New(total)
        while size:
            i = heap[0]
            buf = PyList_GET_ITEM(bufs, i)
            event = PyList_GET_ITEM(<list>buf, pos[i])
            Py_INCREF(<object>event)
            PyList_SET_ITEM(out, n, <object>event)
            n += 1
            pos[i] += 1
            if pos[i] < ends[i]:
                if not _ts_key(PyList_GET_ITEM(<list>buf, pos[i]), &keys[i]):
                    return None
            else:
                size -= 1
                i = heap[size]
            at = 0  # sift ``i`` down from the root
            while True:
                child = 2 * at + 1
                if child >= size:
                    break
                if child + 1 < size and _before(keys, heap[child + 1], heap[child]):
                    child += 1
                if not _before(keys, heap[child], i):
                    break
                heap[at] = heap[child]
                at = child
            if size:
                heap[at] = i
        return out
    finally:
        PyMem_Free(pos)
        PyMem_Free(keys)


cdef inline object _last(list buf):
    """``buf[-1]`` (the cores compile with ``wraparound=False``: a negative index is not wrapped)."""
    return buf[len(buf) - 1]


def merge_batches(sources, Py_ssize_t chunk):
    """``merge.merge_batches`` (``chunk`` already checked there): the reference's rounds, step for step."""
    cdef Py_ssize_t low = max(1, chunk // 2), i, taken, total
    cdef Py_ssize_t *ends
    iters = [iter(s) for s in sources]
    cdef list bufs = []
    cdef list open_ = []
    for it in iters:
        buf = list(islice(it, chunk))
        check_sorted(buf, 0)
        bufs.append(buf)
        open_.append(len(buf) == chunk)
    if len(iters) == 1:
        it = iters[0]
        buf = bufs[0]
        while buf:
            yield buf
            last = _ts_init(_last(buf))
            buf = list(islice(it, chunk))
            check_sorted(buf, last)
        return
    cdef Py_ssize_t k = len(bufs)
    while True:
        active = [i for i in range(k) if open_[i]]
        if not active:
            rest = [e for b in bufs for e in b]
            rest.sort(key=_ts_init_key)
            if rest:
                yield rest
            return
        cut = min([_ts_init(_last(bufs[i])) for i in active])
        ends = <Py_ssize_t*>PyMem_Malloc(k * sizeof(Py_ssize_t))
        if ends is NULL:
            raise MemoryError()
        try:
            taken = 0
            total = 0
            for i in range(k):
                ends[i] = _first_at(bufs[i], cut)
                total += ends[i]
                taken += ends[i] > 0
            if taken > 1:
                merged = _merged(bufs, ends, total)
                if merged is None:  # a timestamp beyond C integers: the reference's keyed sort
                    merged = [e for i in range(k) for e in (<list>bufs[i])[:ends[i]]]
                    merged.sort(key=_ts_init_key)
            else:
                merged = [e for i in range(k) for e in (<list>bufs[i])[:ends[i]]]
            for i in range(k):
                if ends[i]:
                    del (<list>bufs[i])[:ends[i]]
        finally:
            PyMem_Free(ends)
        if merged:
            yield merged
        for i in active:
            b = <list>bufs[i]
            if len(b) < low or _ts_init(_last(b)) == cut:
                more = list(islice(iters[i], chunk))
                check_sorted(more, _ts_init(_last(b)) if b else cut)
                if len(more) < chunk:
                    open_[i] = False
                b += more
