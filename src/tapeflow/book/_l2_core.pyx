# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled ``L2Book.apply``: the same steps as the Python method, on the same book state, without the interpreter.

Why compiled: Nautilus's whole update (build its delta, apply, two best-price reads) costs ~305 ns CPU here and
tapeflow's loop before any book work (build the ``BookDelta``, one call, two attribute reads) ~97 ns, so a book
twice as fast as Nautilus has ~50 ns for its own work; the interpreted ``apply`` needs ~150 ns for the checks and
one dict store (see docs/PERFORMANCE.md, "Order book").

Why slot offsets: a generic attribute load from C (``PyObject_GetAttr``: type lookup, descriptor call) costs about
what the whole budget allows for one field, while the interpreter's specialised slot load is a pointer read. The
event's fields, the book's, its ``Integrity``'s and its ``Ladder``s' are all slots (msgspec fields are slot member
descriptors too), so ``bind`` reads each descriptor's offset once and the apply reads and writes the slots the way
the descriptors do (a missing value falls back, a write swaps references). Every object is checked to be exactly
the type whose offsets were read before any slot of it is touched.

Why ``LevelSizes`` (``_l2_sizes.pxi``): with the checks and slot reads compiled, the two dict lookups of a size
update (the delta's price is another int object than the dict's key, so each probe compares values) and the dict
resizes of new levels and deletes were the largest cost left; a compiled book's ladders keep their sizes in this C
table instead, the only copy, which the Python API reads as a mapping.

What stays in Python: anything that is not a plain ``BookDelta`` with int fields (the reference method
``L2Book._reference_apply`` takes it whole, before anything is written), out-of-sequence bookkeeping
(``_accept``), ``clear``, and the integrity events (``on_crossed``, ``uncross``): rare, and decided in one place.
"""

from cpython.list cimport PyList_Append, PyList_Insert, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_INCREF, Py_XDECREF

from bisect import bisect_left, insort

from tapeflow.book.integrity import Integrity
from tapeflow.book.ladder import Ladder
from tapeflow.model.enums import BookAction, Side
from tapeflow.model.market import BookDelta
from tapeflow.model.prices import NO_PRICE


cdef extern from "Python.h":
    bint PyList_CheckExact(object)
    int PyList_SetSlice(object, Py_ssize_t, Py_ssize_t, PyObject*) except -1

include "_slots.pxi"

cdef long long _LLONG_MAX = 9223372036854775807
cdef long long _SAFE = 1 << 62  # |price| below this: price * sign fits 64 bits

cdef object _UPDATE = BookAction.UPDATE
cdef object _DELETE = BookAction.DELETE
cdef object _CLEAR = BookAction.CLEAR
cdef object _BUY = Side.BUY
cdef object _NO_PRICE = NO_PRICE
cdef long long _NO_PRICE_LL = NO_PRICE

cdef PyTypeObject* _DELTA_T = <PyTypeObject*>BookDelta
cdef PyTypeObject* _INTEGRITY_T = <PyTypeObject*>Integrity
cdef PyTypeObject* _LADDER_T = <PyTypeObject*>Ladder
cdef PyTypeObject* _BOOK_T = NULL  # set by ``bind``; until then every call takes the reference path

# slot offsets, read from the member descriptors by ``_required_slot_offset``
cdef Py_ssize_t D_TS, D_ACTION, D_SIDE, D_PRICE, D_SIZE, D_SEQ
cdef Py_ssize_t I_SEQ, I_TS, I_CROSSED
cdef Py_ssize_t L_SIZES, L_KEYS, L_SIGN, L_BEST
cdef Py_ssize_t B_INTEGRITY, B_BIDS, B_ASKS, B_BID_SIZES, B_ASK_SIZES, B_BEST_BID, B_BEST_ASK


def bind(object book_type):
    """Read the slot offsets of the event, integrity, ladder and book types; ``book_type`` gets this apply."""
    global D_TS, D_ACTION, D_SIDE, D_PRICE, D_SIZE, D_SEQ, I_SEQ, I_TS, I_CROSSED, L_SIZES, L_KEYS, L_SIGN
    global L_BEST, B_INTEGRITY, B_BIDS, B_ASKS, B_BID_SIZES, B_ASK_SIZES, B_BEST_BID, B_BEST_ASK, _BOOK_T
    D_TS = _required_slot_offset(BookDelta, "ts_event")
    D_ACTION = _required_slot_offset(BookDelta, "action")
    D_SIDE = _required_slot_offset(BookDelta, "side")
    D_PRICE = _required_slot_offset(BookDelta, "price")
    D_SIZE = _required_slot_offset(BookDelta, "size")
    D_SEQ = _required_slot_offset(BookDelta, "sequence")
    I_SEQ = _required_slot_offset(Integrity, "sequence")
    I_TS = _required_slot_offset(Integrity, "ts")
    I_CROSSED = _required_slot_offset(Integrity, "crossed")
    L_SIZES = _required_slot_offset(Ladder, "sizes")
    L_KEYS = _required_slot_offset(Ladder, "keys")
    L_SIGN = _required_slot_offset(Ladder, "sign")
    L_BEST = _required_slot_offset(Ladder, "best")
    B_INTEGRITY = _required_slot_offset(book_type, "integrity")
    B_BIDS = _required_slot_offset(book_type, "bids")
    B_ASKS = _required_slot_offset(book_type, "asks")
    B_BID_SIZES = _required_slot_offset(book_type, "_bid_sizes")
    B_ASK_SIZES = _required_slot_offset(book_type, "_ask_sizes")
    B_BEST_BID = _required_slot_offset(book_type, "best_bid")
    B_BEST_ASK = _required_slot_offset(book_type, "best_ask")
    _BOOK_T = <PyTypeObject*>book_type


include "_as_ll.pxi"

cdef extern from *:
    bint _as_ll "tf_as_ll"(PyObject* value, long long* out)


include "_l2_sizes.pxi"

cdef PyTypeObject* _SIZES_T = <PyTypeObject*>LevelSizes


def apply(self, event):
    """``L2Book.apply`` (see ``tapeflow.book.l2``): identical books, events and errors, checked by the tests."""
    cdef PyObject* integrity
    cdef PyObject* seq_o
    cdef PyObject* last_o
    cdef PyObject* ts_o
    cdef PyObject* action
    cdef PyObject* side
    cdef PyObject* price_o
    cdef PyObject* size_o
    cdef PyObject* sizes
    cdef long long seq = 0, last = 0, price = 0, size = 0
    if <PyTypeObject*>Py_TYPE(event) is not _DELTA_T or <PyTypeObject*>Py_TYPE(self) is not _BOOK_T:
        return self._reference_apply(event)
    integrity = _get(self, B_INTEGRITY)
    if integrity is NULL or <PyTypeObject*>Py_TYPE(<object>integrity) is not _INTEGRITY_T:
        return self._reference_apply(event)
    seq_o = _get(event, D_SEQ)
    last_o = _get(<object>integrity, I_SEQ)
    ts_o = _get(event, D_TS)
    action = _get(event, D_ACTION)
    side = _get(event, D_SIDE)
    price_o = _get(event, D_PRICE)
    size_o = _get(event, D_SIZE)
    # everything the compiled steps read, checked before anything is written; the rest is the reference's
    if (
        ts_o is NULL
        or action is NULL
        or side is NULL
        or not _as_ll(seq_o, &seq)
        or not _as_ll(last_o, &last)
        or not _as_ll(price_o, &price)
        or not _as_ll(size_o, &size)
        or price >= _SAFE
        or price <= -_SAFE
    ):
        return self._reference_apply(event)
    # the common case inline: next in sequence (0, "no sequence", never equals last + 1 >= 1) ...
    if last < _LLONG_MAX and seq == last + 1:
        _put(<object>integrity, I_SEQ, <object>seq_o)
        _put(<object>integrity, I_TS, <object>ts_o)
        if action == <PyObject*>_UPDATE:  # ... and a new size for a level that is there
            sizes = _get(self, B_BID_SIZES if side == <PyObject*>_BUY else B_ASK_SIZES)
            if size > 0 and sizes is not NULL:
                if <PyTypeObject*>Py_TYPE(<object>sizes) is _SIZES_T:
                    if (<LevelSizes><object>sizes)._replace(price, <object>size_o):
                        return None
    elif not self._accept(<object>seq_o, <object>ts_o):
        return None
    _write(self, <object>action, <object>side, <object>price_o, price, <object>size_o, size)
    return None


cdef _write(object book, object action, object side, object price_o, long long price, object size_o, long long size):
    """``L2Book._write``: a delta whose sequence was accepted and that is not the inline case of ``apply``."""
    if action is _CLEAR:
        book.clear()
        return
    cdef PyObject* ladder = _get(book, B_BIDS if side is _BUY else B_ASKS)
    if action is _DELETE:
        size = 0
        size_o = 0
    if ladder is NULL or <PyTypeObject*>Py_TYPE(<object>ladder) is not _LADDER_T:
        moved = (book.bids if side is _BUY else book.asks).set(price_o, size_o)
    else:
        moved = _ladder_set(<object>ladder, price_o, price, size_o, size)
    if moved:
        _best_moved(book)


cdef bint _ladder_set(object ladder, object price_o, long long price, object size_o, long long size) except -1:
    """``Ladder.set`` on the ladder's own slots: True when the best price changed. A ladder this path cannot read
    (sizes that are not a ``LevelSizes`` table, or a key that is not a 64-bit int, put there by a raw ``update``)
    goes to ``Ladder.set`` before any write."""
    cdef PyObject* sizes_p = _get(ladder, L_SIZES)
    cdef PyObject* keys_p = _get(ladder, L_KEYS)
    cdef PyObject* sign_p = _get(ladder, L_SIGN)
    cdef long long sign = 0
    cdef long long top = 0
    cdef Py_ssize_t n = 0
    if (
        sizes_p is NULL
        or keys_p is NULL
        or <PyTypeObject*>Py_TYPE(<object>sizes_p) is not _SIZES_T
        or (<LevelSizes><object>sizes_p)._dict is not None
        or not PyList_CheckExact(<object>keys_p)
        or not _as_ll(sign_p, &sign)
        or (sign != 1 and sign != -1)
    ):
        return ladder.set(price_o, size_o)
    n = PyList_GET_SIZE(<object>keys_p)
    if n > 0 and not _as_ll(PyList_GET_ITEM(<object>keys_p, n - 1), &top):
        return ladder.set(price_o, size_o)
    cdef LevelSizes sizes = <LevelSizes><object>sizes_p
    keys = <object>keys_p
    cdef Py_ssize_t at
    if sizes._find(price) >= 0:
        if size > 0:
            sizes._replace(price, size_o)
            return False
        if price * sign != top:
            at = _bisect(keys, price * sign, False)
            if at < 0:
                at = bisect_left(keys, price * sign)
            sizes._discard(price)
            del keys[at]
            return False
        sizes._discard(price)
        PyList_SetSlice(keys, n - 1, n, NULL)
        _put(ladder, L_BEST, keys[n - 2] * sign if n > 1 else _NO_PRICE)
        return True
    if size <= 0:
        return False
    sizes._store(price, size_o)
    if n > 0 and price * sign <= top:
        at = _bisect(keys, price * sign, True)
        if at < 0:
            insort(keys, price * sign)
        else:
            PyList_Insert(keys, at, price * sign)
        return False
    PyList_Append(keys, price * sign)
    _put(ladder, L_BEST, price_o)
    return True


cdef Py_ssize_t _bisect(object keys, long long key, bint right):
    """``bisect_left`` (``bisect_right`` when ``right``) over a list of ints; -1 when an item is not a 64-bit int
    (the caller then asks ``bisect``)."""
    cdef Py_ssize_t lo = 0
    cdef Py_ssize_t hi = PyList_GET_SIZE(keys)
    cdef Py_ssize_t mid
    cdef long long item = 0
    while lo < hi:
        mid = (lo + hi) >> 1
        if not _as_ll(PyList_GET_ITEM(keys, mid), &item):
            return -1
        if item < key or (right and item == key):
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef _best_moved(object book):
    """``L2Book._best_moved``: refresh the best prices, and the book's crossed state with them."""
    cdef PyObject* bids = _get(book, B_BIDS)
    cdef PyObject* asks = _get(book, B_ASKS)
    cdef PyObject* bid_p = NULL
    cdef PyObject* ask_p = NULL
    if (
        bids is not NULL
        and asks is not NULL
        and <PyTypeObject*>Py_TYPE(<object>bids) is _LADDER_T
        and <PyTypeObject*>Py_TYPE(<object>asks) is _LADDER_T
    ):
        bid_p = _get(<object>bids, L_BEST)
        ask_p = _get(<object>asks, L_BEST)
    if bid_p is NULL or ask_p is NULL:  # not plain ladders: the reference's steps, errors included
        bid = book.best_bid = book.bids.best
        ask = book.best_ask = book.asks.best
    else:
        bid = <object>bid_p
        ask = <object>ask_p
        _put(book, B_BEST_BID, bid)
        _put(book, B_BEST_ASK, ask)
    integrity = <object>_get(book, B_INTEGRITY)  # ``apply`` checked it is there and an ``Integrity``
    cdef PyObject* crossed
    cdef long long bid_ll = 0, ask_ll = 0
    cdef bint crossing
    if _as_ll(<PyObject*>bid, &bid_ll) and _as_ll(<PyObject*>ask, &ask_ll):
        crossing = bid_ll != _NO_PRICE_LL and ask_ll != _NO_PRICE_LL and bid_ll >= ask_ll
    else:
        crossing = bid != _NO_PRICE and ask != _NO_PRICE and bid >= ask
    if crossing:
        integrity.on_crossed(bid, ask)  # nothing new when it already was crossed
    else:
        crossed = _get(integrity, I_CROSSED)
        if crossed is NULL:
            if integrity.crossed:
                integrity.uncross()
        elif <object>crossed:
            integrity.uncross()
