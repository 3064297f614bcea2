# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled block apply of the L3 book: the per-message loop of a LOBSTER block over the book's own dicts.

Why compiled: in Python each message costs ~800 ns of interpreter work (frames, attribute loads) around a few
dict operations; here the loop and the common case of each operation (an order joining an existing level, a
partial cancel or execution, a delete that leaves its level standing) are the same dict and list operations on
the same ``L3Book`` state, without the interpreter. Everything rarer (a new level, a level emptied, an unknown
or reused id, a discovery) calls the book's own Python method, so the reference logic stays the one place where
those cases are decided; ``tapeflow.book.l3`` is the reference and the tests require identical books.

The verification of an orderbook row prints the book's top N the way LOBSTER prints it and compares bytes, as
the Python check does; only a row that differs (or a value too large for 64 bits) goes to the Python check,
which then records the mismatch exactly as the reference does.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem, PyDict_DelItem
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_FromLongLong
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.object cimport PyObject
from cpython.set cimport PySet_Add, PySet_Contains
from libc.stdint cimport int64_t
from libc.string cimport memcmp

cdef long long _MAX = 9223372036854775807


cdef inline bint _as_ll(object value, long long* out):
    """False when ``value`` is not an int that fits 64 bits (the caller then takes the Python path)."""
    cdef int overflow = 0
    if type(value) is not int:
        return False
    out[0] = PyLong_AsLongLongAndOverflow(value, &overflow)
    return overflow == 0


cdef inline Py_ssize_t _put(char* buf, Py_ssize_t pos, long long value):
    """``%d`` of ``value`` at ``buf[pos]``; returns the position after it."""
    cdef char tmp[24]
    cdef int n = 0
    cdef unsigned long long v
    if value < 0:
        buf[pos] = 45  # '-'
        pos += 1
        v = <unsigned long long>(-(value + 1)) + 1
    else:
        v = <unsigned long long>value
    while True:
        tmp[n] = <char>(48 + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    while n > 0:
        n -= 1
        buf[pos] = tmp[n]
        pos += 1
    return pos


cdef int _top_matches(list ask_keys, dict ask_sizes, list bid_keys, dict bid_sizes, int levels, char* buf,
                      bytes line) except -1:
    """1 when ``line`` is exactly the book's top ``levels`` printed as LOBSTER does, 0 when it is not (or a value
    does not fit 64 bits: the Python check decides then)."""
    cdef Py_ssize_t na = PyList_GET_SIZE(ask_keys), nb = PyList_GET_SIZE(bid_keys)
    cdef Py_ssize_t pos = 0
    cdef int j
    cdef long long ap, asz, bp, bsz, key
    cdef PyObject* found
    cdef object price
    for j in range(1, levels + 1):
        if j > 1:
            buf[pos] = 44
            pos += 1
        if j > na and j > nb:
            ap = 9999999999
            asz = 0
            bp = -9999999999
            bsz = 0
        elif j <= na:
            if not _as_ll(<object>PyList_GET_ITEM(ask_keys, na - j), &key) or key == -_MAX - 1:
                return 0
            ap = -key
            price = PyLong_FromLongLong(ap)
            found = PyDict_GetItem(ask_sizes, price)
            if found == NULL:
                asz = 0
            elif not _as_ll(<object>found, &asz):
                return 0
        else:  # a side shorter than the other: the sentinel price, and whatever size the book has there (0)
            ap = 9999999999
            found = PyDict_GetItem(ask_sizes, ap)
            if found == NULL:
                asz = 0
            elif not _as_ll(<object>found, &asz):
                return 0
        if j > na and j > nb:
            pass
        elif j <= nb:
            price = <object>PyList_GET_ITEM(bid_keys, nb - j)
            if not _as_ll(price, &bp):
                return 0
            found = PyDict_GetItem(bid_sizes, price)
            if found == NULL:
                bsz = 0
            elif not _as_ll(<object>found, &bsz):
                return 0
        else:
            bp = -9999999999
            found = PyDict_GetItem(bid_sizes, bp)
            if found == NULL:
                bsz = 0
            elif not _as_ll(<object>found, &bsz):
                return 0
        pos = _put(buf, pos, ap)
        buf[pos] = 44
        pos = _put(buf, pos + 1, asz)
        buf[pos] = 44
        pos = _put(buf, pos + 1, bp)
        buf[pos] = 44
        pos = _put(buf, pos + 1, bsz)
    if pos != PyBytes_GET_SIZE(line):
        return 0
    return memcmp(buf, PyBytes_AS_STRING(line), pos) == 0


def apply_lobster_block(
    object book,
    set known,
    const int64_t[:] kinds,
    const int64_t[:] ids,
    const int64_t[:] sizes,
    const int64_t[:] prices,
    const int64_t[:] dirs,
    const int64_t[:] secs,
    const unsigned char[:] flags,
    list lines,
    int first_row,
    int levels,
    object buy,
    object sell,
    object on_duplicate,
    object on_reveal,
    object on_other,
    object on_trade,
    object on_row,
    bint verify,
):
    """Apply one block of LOBSTER messages to ``book`` (an ``L3Book``), as ``LobsterDecoder``'s Python loop does.

    ``known``: the ids added so far that day (updated). ``flags[i]``: row i may have brought a level into view
    (``on_reveal(side, i, ts, row)``). ``on_duplicate(order_id, row)``; ``on_other(kind, price, size, side, ts)``
    for types 5-7 (None: nothing to do for 5 and 6); ``on_trade(ts, price, size, side)`` after a type 4 (or
    None). ``on_row(row, line)``: with ``verify``, only for a row whose orderbook line differs from the book's
    top ``levels``; without, for every row (or None). Returns the number of discoveries.
    """
    cdef Py_ssize_t n = kinds.shape[0], i
    cdef long long k, size, level, left, have
    cdef int row
    cdef int discovered = 0
    cdef dict orders = book._orders
    bids = book.bids
    asks = book.asks
    cdef dict bid_queues = bids.queues, ask_queues = asks.queues
    cdef dict bid_sizes = bids.sizes, ask_sizes = asks.sizes
    cdef list bid_keys = bids.keys, ask_keys = asks.keys
    cdef dict queues, level_sizes
    cdef PyObject* found
    cdef PyObject* queue_ptr
    cdef object oid, price, psize, ts, side, ladder, order
    cdef bint done
    cdef char* buf = NULL
    if (ids.shape[0] != n or sizes.shape[0] != n or prices.shape[0] != n or dirs.shape[0] != n
            or secs.shape[0] != n or flags.shape[0] != n or len(lines) != n):
        raise ValueError("columns of different lengths")
    if verify:
        buf = <char*>PyMem_Malloc(levels * 4 * 24 + 8)
        if buf == NULL:
            raise MemoryError()
    try:
        for i in range(n):
            row = first_row + i
            k = kinds[i]
            size = sizes[i]
            oid = ids[i]
            price = prices[i]
            psize = size
            ts = secs[i]
            if dirs[i] == 1:
                side = buy
                ladder = bids
                queues = bid_queues
                level_sizes = bid_sizes
            else:
                side = sell
                ladder = asks
                queues = ask_queues
                level_sizes = ask_sizes
            if k == 1:
                if PySet_Contains(known, oid):
                    on_duplicate(oid, row)
                else:
                    done = False
                    if PyDict_GetItem(orders, oid) == NULL:
                        queue_ptr = PyDict_GetItem(queues, price)
                        found = PyDict_GetItem(level_sizes, price)
                        if queue_ptr != NULL and found != NULL and _as_ll(<object>found, &level) \
                                and level <= _MAX - size:
                            order = [ladder, price, psize, ts]
                            PyDict_SetItem(orders, oid, order)
                            PyDict_SetItem(<dict>queue_ptr, oid, order)
                            PyDict_SetItem(level_sizes, price, level + size)
                            done = True
                    if not done:
                        book.add(oid, side, price, psize, ts)
                    PySet_Add(known, oid)
            elif k <= 4:
                if not PySet_Contains(known, oid):
                    book.discover(oid, side, price, psize, ts)
                    discovered += 1
                done = False
                found = PyDict_GetItem(orders, oid)
                if found != NULL:
                    order = <object>found
                    # the order's own level (its side and price), not the message's
                    if <object>PyList_GET_ITEM(order, 0) is bids:
                        queues = bid_queues
                        level_sizes = bid_sizes
                    else:
                        queues = ask_queues
                        level_sizes = ask_sizes
                    oprice = <object>PyList_GET_ITEM(order, 1)
                    found = PyDict_GetItem(level_sizes, oprice)
                    queue_ptr = PyDict_GetItem(queues, oprice)
                    if found != NULL and queue_ptr != NULL and _as_ll(<object>found, &level) \
                            and _as_ll(<object>PyList_GET_ITEM(order, 2), &have):
                        if k == 3:
                            left = level - (size if size else have)
                            if left > 0:
                                PyDict_DelItem(orders, oid)
                                PyDict_DelItem(<dict>queue_ptr, oid)
                                PyDict_SetItem(level_sizes, oprice, left)
                                done = True
                        elif level - size > 0:
                            left = have - size
                            if left > 0:
                                order[2] = left
                            else:
                                if left < 0:
                                    book.overfills += 1
                                PyDict_DelItem(orders, oid)
                                PyDict_DelItem(<dict>queue_ptr, oid)
                            PyDict_SetItem(level_sizes, oprice, level - size)
                            done = True
                if not done:
                    if k == 3:
                        book.delete(oid, ts, psize)
                    elif k == 4:
                        book.execute(oid, psize, ts)
                    else:
                        book.cancel(oid, psize, ts)
                if k == 4 and on_trade is not None:
                    on_trade(ts, price, psize, side)
                if flags[i]:
                    on_reveal(side, i, ts, row)
            elif on_other is not None:
                on_other(k, price, psize, side, ts)
            if on_row is not None:
                line = <object>PyList_GET_ITEM(lines, i)
                if not verify:
                    on_row(row, line)
                elif type(line) is not bytes or not _top_matches(
                    ask_keys, ask_sizes, bid_keys, bid_sizes, levels, buf, <bytes>line
                ):
                    on_row(row, line)
    finally:
        if buf != NULL:
            PyMem_Free(buf)
    return discovered
