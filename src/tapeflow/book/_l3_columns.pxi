# Included at the end of _l3_core.pyx (Cython ``include``: the same module, kept apart so that the zip path's
# files stay as they are).
"""The L3 block apply over integer columns: a LOBSTER day read from the Parquet store (``data.lobster_store``).

``apply_lobster_block``'s loop, with the orderbook row given as 4 x N int64 columns instead of text: the reveal
test and the row check compare integers (``_matches_row`` against the same ``_Top`` copy of the book's top N)
rather than reading digits, which was 3,490 of the zip loop's 8,260 instructions a message. Every unusual case
calls the same reference code as the zip loop; ``tests/data/test_lobster_store.py`` requires identical books,
hooks and reports.
"""

cdef long long _ASK_EMPTY = 9999999999
cdef long long _BID_EMPTY = -9999999999
cdef long long _FIELD_MAX = 999999999999999999  # 18 digits: what the text path reads inline

cdef enum:
    _CHUNK = 64  # rows the loop copies out of the columns at a time (``_stage``)
    _MESSAGE_FIELDS = 6  # kinds, ids, sizes, prices, directions, times: staged before the orderbook's fields


cdef inline void _stage(int64_t* dst, const int64_t[:] src, Py_ssize_t start, Py_ssize_t m) noexcept:
    """Rows ``start:start + m`` of a message column into ``dst``."""
    cdef Py_ssize_t j
    if src.strides[0] == sizeof(int64_t):
        memcpy(dst, &src[start], m * sizeof(int64_t))
    else:
        for j in range(m):
            dst[j] = src[start + j]


cdef inline bint _matches_row(_Top top, _Book book, const int64_t* staged, Py_ssize_t i) except -1:
    """``_Top.matches`` for a staged row of integers (field f of row i at ``staged[f * _CHUNK + i]``): 1 when it
    is what the reference check prints for the book. The levels both sides hold are compared without a sentinel
    test; deciding each field's sentinel case per level, and reading each field's column pointer, was ~210 of
    the column loop's instructions a message (callgrind)."""
    cdef int j, na, nb, both
    cdef long long ap, asz, bp, bsz
    cdef const int64_t* v = staged + i
    cdef const long long* a_price
    cdef const long long* a_size
    cdef const long long* b_price
    cdef const long long* b_size
    if top.stale[0] and not top.load(0, book.ask_keys, book.ask_sizes):
        return 0
    if top.stale[1] and not top.load(1, book.bid_keys, book.bid_sizes):
        return 0
    na = top.count[0]
    nb = top.count[1]
    a_price, a_size, b_price, b_size = top.price[0], top.size[0], top.price[1], top.size[1]
    both = na if na < nb else nb  # each side holds at most ``levels``
    for j in range(both):
        if v[0] != a_price[j] or v[_CHUNK] != a_size[j] or v[2 * _CHUNK] != b_price[j] or v[3 * _CHUNK] != b_size[j]:
            return 0
        v += 4 * _CHUNK
    for j in range(both, top.levels):
        if j >= na and j >= nb:
            ap, asz, bp, bsz = _ASK_EMPTY, 0, _BID_EMPTY, 0
        else:
            if j < na:
                ap, asz = a_price[j], a_size[j]
            else:
                ap, asz = _ASK_EMPTY, top.beyond[0]
            if j < nb:
                bp, bsz = b_price[j], b_size[j]
            else:
                bp, bsz = _BID_EMPTY, top.beyond[1]
        if v[0] != ap or v[_CHUNK] != asz or v[2 * _CHUNK] != bp or v[3 * _CHUNK] != bsz:
            return 0
        v += 4 * _CHUNK
    return 1


cdef int _reveal_ints(_Book b, _Top top, bint bid, object side, long long old, long long new, long long size,
                      long long ts, _Counts counts, object on_reveal, Py_ssize_t i, int row) except -1:
    """``_reveal`` with the deepest level's fields as integers: the usual case here, anything else the reference.

    The usual case keeps the verification's copy of the top in step level by level (``_Top.added``, ``touch``,
    ``dropped``) as the add and delete paths do: reading the top N again after every reveal was 1,380
    instructions a message on AMZN level 5 (callgrind)."""
    cdef long long c_sign = 1 if bid else -1
    cdef Py_ssize_t hi
    cdef bint deeper
    cdef L3Keys keys
    cdef L3Sizes sizes
    cdef long long have
    cdef long long* held
    if old == new and old != _ASK_EMPTY and old != _BID_EMPTY:
        return 0  # the deepest price did not move: nothing came into view
    if (
        old == _ASK_EMPTY or old == _BID_EMPTY or new == _ASK_EMPTY or new == _BID_EMPTY or old == 0
        or old > _FIELD_MAX or old < -_FIELD_MAX or new > _FIELD_MAX or new < -_FIELD_MAX
        or size > _FIELD_MAX or size < -_FIELD_MAX
    ):
        top.mark_all()
        b.sync()
        on_reveal(side, i, ts, row)  # a side that was or became short of N levels, or an odd field
        return 0
    b.set_ts(ts)
    keys = <L3Keys>b.keys[bid]
    sizes = <L3Sizes>b.sizes[bid]
    hi = keys.bisect(old * c_sign)  # old and new are within 18 digits (above): no overflow
    counts.reveals += 1
    counts.levels_from_file += 1
    if hi and keys._list is None:  # the array read in place: ``less_at`` was a call (~29 instructions a reveal)
        deeper = new * c_sign < keys._k[hi - 1]
    else:
        deeper = hi and keys.less_at(new * c_sign, hi - 1)
    if deeper:
        _drop_between(b, top, bid, keys, sizes, keys.bisect(new * c_sign), hi, new, ts)
    if sizes.find_ll(new, &held, &have):
        if size > 0:
            sizes.put_ll(held, new, size)
            top.touch(bid, new, size)
        else:
            b.drop_level_ll(bid, new, ts)
            top.dropped(bid, new, keys, sizes)
    elif size > 0:
        b.open_level(bid, new)
        b.new_level(bid, new, size, ts, None)
        top.added(bid, new, size)
    return 0


def apply_lobster_columns(
    object book,
    object known,
    const int64_t[:] kinds,
    const int64_t[:] ids,
    const int64_t[:] sizes,
    const int64_t[:] prices,
    const int64_t[:] dirs,
    const int64_t[:] secs,
    list book_columns,
    const int64_t[:] prev_row,
    int first_row,
    int levels,
    object buy,
    object sell,
    object on_duplicate,
    object on_reveal,
    object on_other,
    object on_trade,
    object on_row,
    object totals,
):
    """``apply_lobster_block`` over integer orderbook rows: ``book_columns[f][i]`` is field f (ask price, ask size,
    bid price, bid size per level) of row i, each column a contiguous int64 array of at least as many rows as
    ``kinds`` (a Parquet column as it was read, no copy); ``prev_row`` the row before the block (unused in the
    day's first block).

    Reveal flags are decided here (a type 2-4 message after which its side's deepest price changed, or that
    side was not full before it). ``on_reveal(side, i, ts, row)`` as there; ``on_row(row, i)``: only for a row that
    differs from the book's top ``levels`` (None: no verification). ``totals`` as there.
    """
    cdef Py_ssize_t n = kinds.shape[0]
    cdef int f
    cdef _Counts counts = _Counts()
    cdef _Book b = _Book(book)
    cdef _Top top = _Top(levels if on_row is not None else 1)
    cdef const int64_t[::1] column
    cdef const int64_t** rows
    cdef int64_t* stage
    if (ids.shape[0] != n or sizes.shape[0] != n or prices.shape[0] != n or dirs.shape[0] != n
            or secs.shape[0] != n or len(book_columns) != 4 * levels
            or prev_row.shape[0] != 4 * levels or levels < 1):
        raise ValueError("columns of different lengths")
    if n == 0:
        return
    for column in book_columns:
        if column.shape[0] < n:
            raise ValueError("columns of different lengths")
    rows = <const int64_t**>PyMem_Malloc(2 * 4 * levels * sizeof(int64_t*))  # the columns', then the staged rows'
    stage = <int64_t*>PyMem_Malloc((_MESSAGE_FIELDS + 4 * levels) * _CHUNK * sizeof(int64_t))
    try:
        if rows == NULL or stage == NULL:
            raise MemoryError()
        for f in range(4 * levels):
            column = book_columns[f]  # the list holds the arrays for as long as the pointers are used
            rows[f] = &column[0]
        _apply_columns(book, known, kinds, ids, sizes, prices, dirs, secs, rows, stage, prev_row, first_row,
                       levels, buy, sell, on_duplicate, on_reveal, on_other, on_trade, on_row, counts, b, top)
    finally:
        PyMem_Free(rows)
        PyMem_Free(stage)
        b.sync()
        counts.add_to(totals)


cdef int _apply_columns(
    object book, object known, const int64_t[:] kinds, const int64_t[:] ids, const int64_t[:] sizes,
    const int64_t[:] prices, const int64_t[:] dirs, const int64_t[:] secs, const int64_t** rows, int64_t* stage,
    const int64_t[:] prev_row, int first_row, int levels, object buy, object sell, object on_duplicate,
    object on_reveal, object on_other, object on_trade, object on_row, _Counts counts, _Book b, _Top top,
) except -1:
    """The loop of ``apply_lobster_columns`` (apart, so that the column pointers are freed whatever happens).

    It reads ``_CHUNK`` rows of every column at a time from ``stage`` (``_MESSAGE_FIELDS + 4 * levels`` runs of
    ``_CHUNK`` values, one per column), copied there first. Why: pyarrow's columns all start at the same offset
    modulo 64 KiB (every column of a batch at 0, measured), so row i of every column falls in the same cache set
    of L1 and L2, and with 26 columns a set's 8 ways cannot hold them from one row to the next: callgrind counted
    26 D1 read misses a message in the loop, each column's line fetched again for each of its 8 rows. Copied a chunk at a time, each line is read once and
    the staged rows (13 KiB at level 5) stay in L1."""
    cdef Py_ssize_t n = kinds.shape[0], i, c0, m, j
    cdef long long k, size, old, new, t, p
    cdef int row, f, nf = 4 * levels
    cdef PyObject* side
    cdef PyObject* sides[2]
    cdef bint bid, flag
    cdef _Ids id_objects = _Ids()
    cdef IdSet fast_known = known if type(known) is IdSet else None  # the zip decoder's id table, or a set
    cdef set known_set = None if fast_known is not None else known
    cdef int64_t* s_kinds = stage
    cdef int64_t* s_ids = stage + _CHUNK
    cdef int64_t* s_sizes = stage + 2 * _CHUNK
    cdef int64_t* s_prices = stage + 3 * _CHUNK
    cdef int64_t* s_dirs = stage + 4 * _CHUNK
    cdef int64_t* s_secs = stage + 5 * _CHUNK
    cdef int64_t** s_rows = <int64_t**>(rows + nf)  # the staged orderbook fields
    sides[0] = <PyObject*>sell  # the arguments hold both for the call
    sides[1] = <PyObject*>buy
    for f in range(nf):
        s_rows[f] = stage + (_MESSAGE_FIELDS + f) * _CHUNK
    for c0 in range(0, n, _CHUNK):
        m = n - c0 if n - c0 < _CHUNK else _CHUNK
        _stage(s_kinds, kinds, c0, m)
        _stage(s_ids, ids, c0, m)
        _stage(s_sizes, sizes, c0, m)
        _stage(s_prices, prices, c0, m)
        _stage(s_dirs, dirs, c0, m)
        _stage(s_secs, secs, c0, m)
        for f in range(nf):
            memcpy(s_rows[f], rows[f] + c0, m * sizeof(int64_t))
        for j in range(m):
            i = c0 + j
            row = first_row + i
            k = s_kinds[j]
            if fast_known is not None and i + 8 < n:
                fast_known.prefetch(s_ids[j + 8] if j + 8 < m else ids[i + 8])
            size = s_sizes[j]
            p = s_prices[j]
            t = s_secs[j]
            bid = s_dirs[j] == 1
            side = sides[bid]  # borrowed: an object local took and dropped a reference each message
            if k <= 4:
                _apply_order(b, top, book, fast_known, known_set, k, s_ids[j], id_objects, size, p, t, bid,
                             <object>side, on_duplicate, on_trade, counts, row)
                if k != 1 and (i or first_row != 1):  # the reveal test: did this side's deepest price change?
                    f = 4 * (levels - 1) + (2 if bid else 0)
                    old = s_rows[f][j - 1] if j else rows[f][i - 1] if i else prev_row[f]
                    new = s_rows[f][j]
                    flag = old != new or old == (_BID_EMPTY if bid else _ASK_EMPTY)
                    if flag:
                        _reveal_ints(b, top, bid, <object>side, old, new, s_rows[f + 1][j], t, counts, on_reveal, i,
                                     row)
            elif on_other is not None:
                b.sync()
                on_other(k, b.prices.get(p), size, <object>side, t)
                top.mark_all()
            if on_row is not None and not _matches_row(top, b, s_rows[0], j):
                b.sync()
                on_row(row, i)
                top.mark_all()
    return 0
