# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled LOBSTER block reading: the message columns and the reveal flags, in one pass each over the bytes.

Why compiled: converting a block through ``pyarrow.csv`` and then to Python lists costs ~700 ns a message here,
most of it in the lists; this parser reads the six fields of a row straight into int64 arrays. It is strict on
purpose: it accepts only rows that every reader of the format reads the same way (plain digits, an optional
minus, a time of 1-6 integer digits and 1-12 decimals, a type 1-7, a direction of 1 or -1, a size >= 0, one
newline per row) and returns None for anything else, so the reference parser (``lobster_parse.parse_block``)
decides every unusual block and names its bad row. The orderbook rows stay one buffer with their newline
positions (``row_ends``). Likewise ``reveal_flags`` returns None for any orderbook row
that is not cleanly shaped, and the reference ``LobsterDecoder._reveal_flags`` decides.
"""

import numpy as np

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t
from libc.string cimport memchr, memcmp, memcpy

cdef long long _LIMIT = 9223372036854775807


cdef inline Py_ssize_t _int(const char* s, Py_ssize_t pos, Py_ssize_t end, char stop, long long* out):
    """A field of an optional minus and 1-18 digits ending in ``stop``; the position after ``stop``, or -1."""
    cdef bint neg = False
    cdef long long v = 0
    cdef int digits = 0
    cdef char c
    if pos < end and s[pos] == 45:
        neg = True
        pos += 1
    while pos < end:
        c = s[pos]
        if c == stop:
            break
        if c < 48 or c > 57 or digits == 18:
            return -1
        v = v * 10 + (c - 48)
        digits += 1
        pos += 1
    if digits == 0 or pos >= end:
        return -1
    out[0] = -v if neg else v
    return pos + 1


def parse_messages(bytes block, Py_ssize_t rows, long long base):
    """(time ns UTC, type, order id, size, price, direction) int64 arrays of ``rows`` lines, or None."""
    cdef const char* s = PyBytes_AS_STRING(block)
    cdef Py_ssize_t end = PyBytes_GET_SIZE(block), pos = 0, i
    cdef long long whole, frac, v
    cdef int digits, fdigits
    cdef char c
    secs_a = np.empty(rows, dtype=np.int64)
    kinds_a = np.empty(rows, dtype=np.int64)
    ids_a = np.empty(rows, dtype=np.int64)
    sizes_a = np.empty(rows, dtype=np.int64)
    prices_a = np.empty(rows, dtype=np.int64)
    dirs_a = np.empty(rows, dtype=np.int64)
    cdef int64_t[:] secs = secs_a, kinds = kinds_a, ids = ids_a, sizes = sizes_a, prices = prices_a
    cdef int64_t[:] dirs = dirs_a
    for i in range(rows):
        whole = 0
        digits = 0
        while pos < end and 48 <= s[pos] <= 57:
            whole = whole * 10 + (s[pos] - 48)
            digits += 1
            pos += 1
        if digits == 0 or digits > 6 or pos >= end:
            return None
        frac = 0
        fdigits = 0
        if s[pos] == 46:
            pos += 1
            while pos < end and 48 <= s[pos] <= 57:
                if fdigits < 12:
                    frac = frac * 10 + (s[pos] - 48)
                fdigits += 1
                pos += 1
            if fdigits == 0 or fdigits > 12:
                return None
            while fdigits < 12:
                frac *= 10
                fdigits += 1
        if pos >= end or s[pos] != 44:
            return None
        pos += 1
        v = whole * 1000000000 + (frac + 500) // 1000  # half up on the tenth decimal, as the reference rounds
        if v > _LIMIT - base:
            return None
        secs[i] = base + v
        pos = _int(s, pos, end, 44, &v)
        if pos < 0 or v < 1 or v > 7:
            return None
        kinds[i] = v
        pos = _int(s, pos, end, 44, &v)
        if pos < 0:
            return None
        ids[i] = v
        pos = _int(s, pos, end, 44, &v)
        if pos < 0 or v < 0:
            return None
        sizes[i] = v
        pos = _int(s, pos, end, 44, &v)
        if pos < 0:
            return None
        prices[i] = v
        pos = _int(s, pos, end, 10, &v)
        if pos < 0 or (v != 1 and v != -1):
            return None
        dirs[i] = v
    if pos != end:
        return None
    return secs_a, kinds_a, ids_a, sizes_a, prices_a, dirs_a


def row_ends(bytes data):
    """-1, then the position of every newline in ``data``: row i is ``data[ends[i] + 1 : ends[i + 1]]``.

    Why: the compiled path keeps a block of orderbook rows as one buffer; cutting it into a list of bytes
    objects cost ~150 ns a row, this scan (memchr) a few."""
    cdef const char* s = PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data), pos = 0, count = 0
    cdef const char* hit
    while pos < n:
        hit = <const char*>memchr(s + pos, 10, n - pos)
        if hit == NULL:
            break
        count += 1
        pos = hit - s + 1
    out_a = np.empty(count + 1, dtype=np.int64)
    cdef int64_t[:] out = out_a
    out[0] = -1
    pos = 0
    count = 0
    while pos < n:
        hit = <const char*>memchr(s + pos, 10, n - pos)
        if hit == NULL:
            break
        count += 1
        out[count] = hit - s
        pos = hit - s + 1
    return out_a


cdef inline bint _commas(const char* s, Py_ssize_t n, Py_ssize_t* commas) noexcept:
    """The commas in ``s[:n]``; False when it holds a NUL byte.

    Eight bytes a step: in a word, a byte's high bit is set after ``~(((x & 0x7f..) + 0x7f..) | x | 0x7f..)``
    exactly when the byte of ``x`` is 0 (no carry crosses bytes), so ``x = word ^ 0x2c..`` marks the commas and
    the word itself the NULs; a byte loop over a row's ~115 bytes was most of the reveal scan."""
    cdef unsigned long long w, x, marks, nul = 0, low = 0x7F7F7F7F7F7F7F7FULL
    cdef unsigned long long ones = 0x0101010101010101ULL, comma = 0x2C2C2C2C2C2C2C2CULL
    cdef Py_ssize_t i = 0, count = 0
    while i + 8 <= n:
        memcpy(&w, s + i, 8)
        x = w ^ comma
        marks = ~(((x & low) + low) | x | low)
        count += <Py_ssize_t>(((marks >> 7) * ones) >> 56)
        nul |= ~(((w & low) + low) | w | low)
        i += 8
    while i < n:
        count += s[i] == 44
        if s[i] == 0:
            nul = 1
        i += 1
    commas[0] = count
    return nul == 0


cdef inline bint _last_fields(const char* s, Py_ssize_t n, int levels, Py_ssize_t* ask_start,
                              Py_ssize_t* ask_len, Py_ssize_t* bid_start, Py_ssize_t* bid_len):
    """Where the deepest level's ask and bid price fields are in the line ``s[:n]``; False for a row not
    cleanly shaped (4 * levels fields, none empty at either end, no NUL byte).

    Counts the commas in one tight pass and finds the last four fields from the end: reading every field
    from the start cost ~1,400 instructions a row."""
    cdef Py_ssize_t i, commas = 0
    cdef Py_ssize_t c[4]
    cdef int found = 0
    if n == 0 or s[0] == 44 or s[n - 1] == 44 or not _commas(s, n, &commas):
        return False
    if commas != 4 * levels - 1:
        return False
    i = n - 1
    while i >= 0 and found < 4:  # c[0]: the last comma, c[3]: the fourth from the end (-1: the line's start)
        if s[i] == 44:
            c[found] = i
            found += 1
        i -= 1
    if found < 4:
        c[3] = -1
    ask_start[0] = c[3] + 1
    ask_len[0] = c[2] - c[3] - 1
    bid_start[0] = c[1] + 1
    bid_len[0] = c[0] - c[1] - 1
    return 1 <= ask_len[0] <= 12 and 1 <= bid_len[0] <= 12


def reveal_flags(bytes rows, const int64_t[:] ends, bytes prev_line, int levels, const int64_t[:] kinds,
                 const int64_t[:] dirs, bint first_block):
    """Per row, 1 when a type 2-4 message changed the deepest price shown on its side (or that side was not
    full before it): the reference ``LobsterDecoder._reveal_flags`` over bytes; None for an unusual row.
    Row i is ``rows[ends[i] + 1 : ends[i + 1]]`` (``row_ends``)."""
    cdef Py_ssize_t n = ends.shape[0] - 1, i
    cdef const char* text = PyBytes_AS_STRING(rows)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(rows)
    cdef Py_ssize_t a0 = 0, al0 = 0, b0 = 0, bl0 = 0, a1 = 0, al1 = 0, b1 = 0, bl1 = 0
    cdef const char* prev
    cdef const char* cur
    cdef bint changed
    out = bytearray(n)
    cdef unsigned char[:] flags = out
    if n <= 0 or kinds.shape[0] != n or dirs.shape[0] != n:
        return None
    for i in range(n + 1):
        if not -1 <= ends[i] < size or (i and ends[i] <= ends[i - 1]):
            return None
    if first_block:
        if not _last_fields(text + ends[0] + 1, ends[1] - ends[0] - 1, levels, &a0, &al0, &b0, &bl0):
            return None
        prev = text + ends[0] + 1
    else:
        if not _last_fields(PyBytes_AS_STRING(prev_line), PyBytes_GET_SIZE(prev_line), levels, &a0, &al0, &b0,
                            &bl0):
            return None
        prev = PyBytes_AS_STRING(prev_line)
    for i in range(n):
        cur = text + ends[i] + 1
        if not _last_fields(cur, ends[i + 1] - ends[i] - 1, levels, &a1, &al1, &b1, &bl1):
            return None
        if 2 <= kinds[i] <= 4:
            if dirs[i] == -1:
                changed = al0 != al1 or memcmp(prev + a0, cur + a1, al1) != 0 or (
                    al0 == 10 and memcmp(prev + a0, b"9999999999", 10) == 0)
            else:
                changed = bl0 != bl1 or memcmp(prev + b0, cur + b1, bl1) != 0 or (
                    bl0 == 11 and memcmp(prev + b0, b"-9999999999", 11) == 0)
            flags[i] = changed
        prev = cur
        a0, al0, b0, bl0 = a1, al1, b1, bl1
    if first_block:
        flags[0] = 0
    return out
