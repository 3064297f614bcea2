# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled hot loop of ``itch_fast``: one chunk of length-prefixed ITCH 5.0 to tapeflow events.

Why compiled: the pure-Python loop in ``itch_fast.fast_batches`` stops at 0.9-1.3M msgs/s on this machine,
because walking the prefixes and ``struct.unpack_from`` alone cost ~350 ns of the 500 ns that 2M msgs/s allows
(profile in docs/PERFORMANCE.md, "ITCH parse"). Here the walk, the field reads and the checks are C; what is
left is building the events themselves (through the same keyword call the Python loop makes) and the ints
they hold.

It is a line-by-line port of the Python loop, which stays the reference: the same seven types, the same
checks in the same order, the same state read and written (``mapper.symbols``, ``known``, ``last_ts``,
``live``), and everything else handed to ``itch_mapping.slow_event`` with the same ``Frame``. One addition:
trades (P, ~2% of a day's messages) are built here too, taken only when every check the generic path makes
(``check_frame``, ``EventMapper.event_for`` and ``_admit``: the exact length, a known wanted locate, non-zero
shares, time not going back) would pass, so what that path decides, counts and reports stays its own. Through
it a trade cost ~54,000 instructions, 38% of the whole read (docs/PERFORMANCE.md, "Round 9, p27-itch").
Tests run both on the shared fixture, generated files and hypothesis streams and require identical events and
counts.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.list cimport PyList_GET_ITEM
from cpython.long cimport PyLong_FromLongLong, PyLong_FromUnsignedLong
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t

from tapeflow.model.enums import Aggressor, Side
from tapeflow.model.market import OrderAdded, OrderDeleted, OrderExecuted, OrderReduced, OrderReplaced, Trade

from tapeflow.data.itch_mapping import slow_event
from tapeflow.data.itch_parser import Frame


include "../book/_as_ll.pxi"


cdef extern from "Python.h":
    object PyObject_Vectorcall(object callable, PyObject** args, size_t nargsf, object kwnames)
    object PyUnicode_FromStringAndSize(const char* u, Py_ssize_t size)


IMPLEMENTATION = "compiled"

cdef uint64_t MASK48 = (<uint64_t>1 << 48) - 1

# The keyword names of each event call, in the order the Python loop passes them.
cdef tuple KW_A = ("ts_event", "ts_init", "symbol", "order_id", "side", "price", "size")
cdef tuple KW_F = ("ts_event", "ts_init", "symbol", "order_id", "side", "price", "size", "mpid")
cdef tuple KW_D = ("ts_event", "ts_init", "symbol", "order_id")
cdef tuple KW_U = ("ts_event", "ts_init", "symbol", "order_id", "new_order_id", "price", "size")
cdef tuple KW_E = ("ts_event", "ts_init", "symbol", "order_id", "size", "trade_id")
cdef tuple KW_X = ("ts_event", "ts_init", "symbol", "order_id", "size")
cdef tuple KW_C = ("ts_event", "ts_init", "symbol", "order_id", "size", "price", "trade_id", "printable")
cdef tuple KW_P = ("ts_event", "ts_init", "symbol", "price", "size", "aggressor", "venue", "trade_id")

cdef object BUY = Side.BUY
cdef object SELL = Side.SELL
cdef object ADDED = OrderAdded
cdef object DELETED = OrderDeleted
cdef object REPLACED = OrderReplaced
cdef object EXECUTED = OrderExecuted
cdef object REDUCED = OrderReduced
cdef object TRADE = Trade
cdef object UNKNOWN_AGGRESSOR = Aggressor.UNKNOWN


cdef inline uint32_t u16(const unsigned char* p) noexcept nogil:
    return (<uint32_t>p[0] << 8) | p[1]


cdef inline uint32_t u32(const unsigned char* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef inline uint64_t u64(const unsigned char* p) noexcept nogil:
    return (<uint64_t>u32(p) << 32) | u32(p + 4)


cdef inline object match_str(uint64_t value):
    """``str(value)`` of a match number without a Python int in between."""
    cdef char buf[24]
    cdef int i = 24
    if value == 0:
        return "0"
    while value:
        i -= 1
        buf[i] = <char>(48 + value % 10)
        value //= 10
    return PyUnicode_FromStringAndSize(buf + i, 24 - i)


cdef inline bint time_ok(list last, uint32_t loc, int64_t ts) except -1:
    # The cores' shared digit read: ``PyLong_AsLongLong`` took CPython 3.11's generic byte-array path for the
    # three-digit ints times since the epoch are, ~200 instructions a message (Cython's conversion ~75).
    cdef PyObject* held = PyList_GET_ITEM(last, loc)
    cdef long long value
    if tf_as_ll(held, &value):
        return ts >= value
    return ts >= <int64_t>(<object>held)  # anything else: Python's conversion, and its error


def scan(
    bytes data, Py_ssize_t limit, Py_ssize_t offset, list out, object mapper, bint strict, str name
):
    """Decode the messages of ``data`` that start before ``limit``; returns ``(pos, filtered, slow, slow_events)``.

    ``pos`` is where the next chunk must resume (the start of the first message not taken); the counts are
    what the Python loop keeps in its locals of the same names.
    """
    cdef const unsigned char* buf = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef list syms = mapper.symbols
    cdef const unsigned char* known = <const unsigned char*>PyByteArray_AS_STRING(mapper.known)
    cdef list last = mapper.last_ts
    cdef int64_t base = mapper.base_ns
    cdef bint track = mapper.track_orders
    cdef dict live = mapper.live
    cdef str venue = mapper.venue
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t filtered = 0, slow = 0, slow_events = 0
    cdef const unsigned char* p
    cdef uint32_t ln, loc, sh, px, size
    cdef unsigned char t, side_byte
    cdef int64_t ref, new, ts
    cdef uint64_t match
    cdef Py_ssize_t mlen
    cdef object sym, sd, ts_obj, ref_obj, new_obj, sh_obj, px_obj, mpid, trade_id, printable, event, left
    cdef PyObject* args[8]
    while pos < limit:
        p = buf + pos
        t = p[2]
        ln = u16(p)
        loc = u16(p + 3)
        if t == 65 or t == 70:  # A: Add Order, F: Add Order with MPID
            sh = u32(p + 22)
            side_byte = p[21]
            if ln == (36 if t == 65 else 40) and sh and (side_byte == 66 or side_byte == 83):
                sym = <object>PyList_GET_ITEM(syms, loc)
                if sym is not None:
                    ts = base + <int64_t>(u64(p + 5) & MASK48)
                    ref = <int64_t>u64(p + 13)
                    if time_ok(last, loc, ts) and ref >= 0:
                        ref_obj = PyLong_FromLongLong(ref)
                        if not track or ref_obj not in live:
                            ts_obj = PyLong_FromLongLong(ts)
                            last[loc] = ts_obj
                            sh_obj = PyLong_FromUnsignedLong(sh)
                            if track:
                                live[ref_obj] = sh_obj
                            sd = BUY if side_byte == 66 else SELL
                            px_obj = PyLong_FromUnsignedLong(u32(p + 34))
                            args[0] = <PyObject*>ts_obj
                            args[1] = <PyObject*>ts_obj
                            args[2] = <PyObject*>sym
                            args[3] = <PyObject*>ref_obj
                            args[4] = <PyObject*>sd
                            args[5] = <PyObject*>px_obj
                            args[6] = <PyObject*>sh_obj
                            if t == 65:
                                out.append(PyObject_Vectorcall(ADDED, args, 0, KW_A))
                                pos += 38
                            else:
                                mlen = 4
                                while mlen and p[38 + mlen - 1] == 32:
                                    mlen -= 1
                                mpid = PyUnicode_DecodeLatin1(<const char*>(p + 38), mlen, NULL)
                                args[7] = <PyObject*>mpid
                                out.append(PyObject_Vectorcall(ADDED, args, 0, KW_F))
                                pos += 42
                            continue
                elif known[loc]:
                    filtered += 1
                    pos += 38 if t == 65 else 42
                    continue
        elif t == 68:  # D: Order Delete
            if ln == 19:
                sym = <object>PyList_GET_ITEM(syms, loc)
                if sym is not None:
                    ts = base + <int64_t>(u64(p + 5) & MASK48)
                    ref = <int64_t>u64(p + 13)
                    if time_ok(last, loc, ts) and ref >= 0:
                        ref_obj = PyLong_FromLongLong(ref)
                        if not track or ref_obj in live:
                            ts_obj = PyLong_FromLongLong(ts)
                            last[loc] = ts_obj
                            if track:
                                del live[ref_obj]
                            args[0] = <PyObject*>ts_obj
                            args[1] = <PyObject*>ts_obj
                            args[2] = <PyObject*>sym
                            args[3] = <PyObject*>ref_obj
                            out.append(PyObject_Vectorcall(DELETED, args, 0, KW_D))
                            pos += 21
                            continue
                elif known[loc]:
                    filtered += 1
                    pos += 21
                    continue
        elif t == 85:  # U: Order Replace
            sh = u32(p + 29)
            if ln == 35 and sh:
                sym = <object>PyList_GET_ITEM(syms, loc)
                if sym is not None:
                    ts = base + <int64_t>(u64(p + 5) & MASK48)
                    ref = <int64_t>u64(p + 13)
                    new = <int64_t>u64(p + 21)
                    if time_ok(last, loc, ts) and ref >= 0 and new >= 0:
                        ref_obj = PyLong_FromLongLong(ref)
                        new_obj = PyLong_FromLongLong(new)
                        if not track or (ref_obj in live and new_obj not in live):
                            ts_obj = PyLong_FromLongLong(ts)
                            last[loc] = ts_obj
                            sh_obj = PyLong_FromUnsignedLong(sh)
                            if track:
                                del live[ref_obj]
                                live[new_obj] = sh_obj
                            px_obj = PyLong_FromUnsignedLong(u32(p + 33))
                            args[0] = <PyObject*>ts_obj
                            args[1] = <PyObject*>ts_obj
                            args[2] = <PyObject*>sym
                            args[3] = <PyObject*>ref_obj
                            args[4] = <PyObject*>new_obj
                            args[5] = <PyObject*>px_obj
                            args[6] = <PyObject*>sh_obj
                            out.append(PyObject_Vectorcall(REPLACED, args, 0, KW_U))
                            pos += 37
                            continue
                elif known[loc]:
                    filtered += 1
                    pos += 37
                    continue
        elif t == 69 or t == 88 or t == 67:  # E: Executed, X: Cancel (partial), C: Executed With Price
            sh = u32(p + 21)
            if ln == (31 if t == 69 else (23 if t == 88 else 36)) and sh:
                sym = <object>PyList_GET_ITEM(syms, loc)
                if sym is not None:
                    ts = base + <int64_t>(u64(p + 5) & MASK48)
                    ref = <int64_t>u64(p + 13)
                    if time_ok(last, loc, ts) and ref >= 0:
                        ref_obj = PyLong_FromLongLong(ref)
                        if not track or ref_obj in live:
                            ts_obj = PyLong_FromLongLong(ts)
                            last[loc] = ts_obj
                            sh_obj = PyLong_FromUnsignedLong(sh)
                            if track:
                                left = live[ref_obj] - sh_obj
                                if left > 0:
                                    live[ref_obj] = left
                                else:
                                    del live[ref_obj]
                            args[0] = <PyObject*>ts_obj
                            args[1] = <PyObject*>ts_obj
                            args[2] = <PyObject*>sym
                            args[3] = <PyObject*>ref_obj
                            args[4] = <PyObject*>sh_obj
                            if t == 88:
                                out.append(PyObject_Vectorcall(REDUCED, args, 0, KW_X))
                                pos += 25
                            elif t == 69:
                                trade_id = match_str(u64(p + 25))
                                args[5] = <PyObject*>trade_id
                                out.append(PyObject_Vectorcall(EXECUTED, args, 0, KW_E))
                                pos += 33
                            else:
                                px_obj = PyLong_FromUnsignedLong(u32(p + 34))
                                trade_id = match_str(u64(p + 25))
                                printable = True if p[33] == 89 else False
                                args[5] = <PyObject*>px_obj
                                args[6] = <PyObject*>trade_id
                                args[7] = <PyObject*>printable
                                out.append(PyObject_Vectorcall(EXECUTED, args, 0, KW_C))
                                pos += 38
                            continue
                elif known[loc]:
                    filtered += 1
                    pos += 25 if t == 88 else (33 if t == 69 else 38)
                    continue
        elif t == 80:  # P: Trade (non-cross), the one rare type a day has enough of to be worth taking here
            sh = u32(p + 22)
            if ln == 44 and sh:
                sym = <object>PyList_GET_ITEM(syms, loc)
                if sym is not None:
                    ts = base + <int64_t>(u64(p + 5) & MASK48)
                    if time_ok(last, loc, ts):
                        ts_obj = PyLong_FromLongLong(ts)
                        last[loc] = ts_obj
                        px_obj = PyLong_FromUnsignedLong(u32(p + 34))
                        sh_obj = PyLong_FromUnsignedLong(sh)
                        trade_id = match_str(u64(p + 38))
                        args[0] = <PyObject*>ts_obj
                        args[1] = <PyObject*>ts_obj
                        args[2] = <PyObject*>sym
                        args[3] = <PyObject*>px_obj
                        args[4] = <PyObject*>sh_obj
                        args[5] = <PyObject*>UNKNOWN_AGGRESSOR
                        args[6] = <PyObject*>venue
                        args[7] = <PyObject*>trade_id
                        out.append(PyObject_Vectorcall(TRADE, args, 0, KW_P))
                        pos += 46
                        continue
                elif known[loc]:
                    filtered += 1
                    pos += 46
                    continue
        size = ln
        if pos + 2 + size > n:  # a long unknown message runs past the chunk: finish it next time
            break
        slow += 1
        event = slow_event(Frame(data, pos + 2, size, offset + pos), mapper, strict=strict, name=name)
        if event is not None:
            out.append(event)
            slow_events += 1
        pos += 2 + size
    return pos, filtered, slow, slow_events
