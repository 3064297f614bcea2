# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled block apply of the L3 book: the per-message loop of a LOBSTER block over the book's own state.

Why compiled: in Python each message costs ~800 ns of interpreter work (frames, attribute loads) around a few
dict operations; here the loop and the common case of each operation (an order joining a level, a partial cancel
or execution, a delete, a level added or emptied by it, a discovery) run on the same ``L3Book`` state without the
interpreter. Everything rarer (an unknown or reused id, a partial cancel that empties its level) calls the book's
own Python method, so the reference logic stays the one place where those cases are decided;
``tapeflow.book.l3`` is the reference and the tests require identical books. A book built with the tables keeps
its orders and queues in this module's ``L3Orders`` (``_l3_orders.pxi``), its level sizes in ``L3Sizes``
(``_l3_sizes.pxi``) and its levels' sorted price keys in ``L3Keys`` (``_l3_keys.pxi``), read and written here in
C; a book of dicts and lists (``impl="python"``) is written through the same dict and list operations as its
Python methods use.

The verification of an orderbook row prints the book's top N the way LOBSTER prints it and compares bytes, as
the Python check does; only a row that differs (or a value too large for 64 bits) goes to the Python check,
which then records the mismatch exactly as the reference does.

Why this module is long: the loop handles every message type's common case inline, each with its exact
reference fallback; the verification's top-N copy lives in ``_l3_top.pxi`` (included, the same module).
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_DelItem, PyDict_GetItemWithError, PyDict_SetItem, PyDict_Update
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_FromLongLong
from cpython.mem cimport PyMem_Malloc, PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.set cimport PySet_Add, PySet_Contains
from libc.stdint cimport int64_t
from libc.string cimport memcmp, memcpy, memmove

cdef long long _MAX = 9223372036854775807


include "_as_ll.pxi"
include "_slots.pxi"

from tapeflow.book.integrity import Integrity as _Integrity
from tapeflow.book.l3_orders import QueueLadder as _QueueLadder

# The slots the loop writes on most levels added or dropped and on every reveal: a generic attribute write from C
# was ~100 instructions (type lookup, descriptor call), a slot store a few; read once, used only on objects of
# exactly these types (``_Book.slots``), anything else through setattr.
cdef Py_ssize_t L_BEST = _required_slot_offset(_QueueLadder, "best")
cdef Py_ssize_t I_TS = _required_slot_offset(_Integrity, "ts")
cdef Py_ssize_t I_CROSSED = _required_slot_offset(_Integrity, "crossed")


cdef inline bint _as_ll(object value, long long* out):
    """False when ``value`` is not an int that fits 64 bits (the caller then takes the Python path). A small int
    is read from its digits: ``PyLong_AsLongLongAndOverflow`` was ~150 instructions a message (callgrind)."""
    return tf_as_ll(<PyObject*>value, out)


cdef inline bint _lt(object a, object b) except -1:
    """``a < b`` for ints, in C when both fit 64 bits."""
    cdef long long x, y
    if _as_ll(a, &x) and _as_ll(b, &y):
        return x < y
    return a < b


cdef Py_ssize_t _bisect_left_ll(list keys, long long k) except -1:
    """``bisect.bisect_left(keys, k)`` of a key held in C (each probe then reads only the list's item; an int
    object of ``k`` is made only to compare with an item that does not fit 64 bits)."""
    cdef Py_ssize_t lo = 0, hi = PyList_GET_SIZE(keys), mid
    cdef long long x
    cdef bint less
    while lo < hi:
        mid = (lo + hi) >> 1
        item = <object>PyList_GET_ITEM(keys, mid)
        if _as_ll(item, &x):  # two statements: as one conditional expression Cython made a bool object
            less = x < k
        else:
            less = item < k
        if less:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef Py_ssize_t _bisect_left(list keys, object key) except -1:
    """``bisect.bisect_left(keys, key)``; the key read into C once when it fits."""
    cdef Py_ssize_t lo = 0, hi = PyList_GET_SIZE(keys), mid
    cdef long long k
    if _as_ll(key, &k):
        return _bisect_left_ll(keys, k)
    while lo < hi:
        mid = (lo + hi) >> 1
        if _lt(<object>PyList_GET_ITEM(keys, mid), key):
            lo = mid + 1
        else:
            hi = mid
    return lo


include "_l3_sizes.pxi"
include "_l3_keys.pxi"
include "_l3_orders.pxi"
include "_l3_ids.pxi"


cdef bint _insert(_Book b, bint bid, long long price, long long size) except -1:
    """``Ladder.insert`` of a level that is not there: True when it became the best. The price an int object
    only for ``best``, which Python reads. The sides read through ``b``'s borrowed pointers, and the table's
    ``put`` called directly: the conditional expressions took and dropped a reference each, and ``store_ll``
    was one more call (~20 instructions a new level, callgrind)."""
    cdef L3Sizes sizes = <L3Sizes>b.sizes[bid]
    if sizes._dict is None:
        sizes.put(price, size)
    else:
        sizes.store_ll(price, size)
    if (<L3Keys>b.keys[bid]).add_ll(price, bid):
        b.new_best(bid)
        return True
    return False


cdef bint _remove(_Book b, bint bid, object price) except -1:
    """``Ladder.remove`` of a level that is there: True when it was the best."""
    cdef long long p
    if _as_ll(price, &p):
        return _remove_ll(b, bid, p)
    (b.bid_sizes if bid else b.ask_sizes).remove(price)
    return _new_best(b, bid, (b.bid_keys if bid else b.ask_keys).drop(price, bid))


cdef bint _remove_ll(_Book b, bint bid, long long price) except -1:
    """``_remove`` of a price held as a C value (the loop's), the sides read as in ``_insert``."""
    (<L3Sizes>b.sizes[bid]).remove_ll(price)
    return _new_best(b, bid, (<L3Keys>b.keys[bid]).drop_ll(price, bid))


cdef inline bint _new_best(_Book b, bint bid, bint was_best) except -1:
    """After a level's key went: ``best`` follows when it was the best."""
    if was_best:
        b.new_best(bid)
    return was_best


@cython.final
cdef class _Book:
    """The ``L3Book`` state the loop writes, held in typed fields for the duration of one block."""

    cdef object book, bids, asks, integrity
    cdef bint slots
    """The ladders are exactly ``QueueLadder``s and the integrity exactly an ``Integrity``: their slots are
    written at the offsets read when the module loaded (else through setattr, for a class the core cannot
    know)."""
    cdef L3Orders table
    """The book's orders and queues when its ``L3Orders`` holds them; else None and ``orders`` is the dict."""
    cdef dict orders, bid_queues, ask_queues
    cdef L3Sizes bid_sizes, ask_sizes
    cdef PyObject* sizes[2]
    """``ask_sizes`` and ``bid_sizes`` (borrowed: the fields above and below hold them), indexed by ``bid``; and
    ``keys`` the same of the keys."""
    cdef PyObject* keys[2]
    cdef L3Keys bid_keys, ask_keys
    cdef _Prices prices
    """The int objects of the prices the block names: the loop holds its prices in C and makes an object only
    for Python (``best``, a hook, a reference call, a dict book's keys)."""
    cdef long long ts_held
    cdef bint ts_owed
    """``integrity.ts`` is ``ts_held``, not yet written (``sync``). Why: an int object made, stored and the last
    one freed each time a reveal or a new best set it was ~75 of the store loop's ~1,200 instructions a message
    (callgrind), and Python reads the attribute only inside the calls the loops make, each preceded by ``sync``
    (and the block's end)."""
    cdef bint bid_best_owed, ask_best_owed
    """The side's ``best`` is its keys' best, not yet written (``sync``), as ``ts_held``: a new best made an int
    object and stored it (freeing the last) ~27,500 times on AMZN level 5, ~30 of the column loop's instructions a
    message (callgrind), while Python reads ``best`` only inside the calls the loops make, after ``sync``."""
    cdef Py_ssize_t dropped_owed
    """Orders dropped with their level that ``book.dropped_orders`` does not count yet (``sync``): the attribute's
    read, add and write through Python were ~500 instructions a level dropped with orders in it."""

    def __init__(self, object book):
        self.book = book
        self.prices = _Prices()
        self.bids = book.bids
        self.asks = book.asks
        self.integrity = book.integrity
        self.slots = (type(self.bids) is _QueueLadder and type(self.asks) is _QueueLadder
                      and type(self.integrity) is _Integrity)
        self.bid_queues = self.bids.queues
        self.ask_queues = self.asks.queues
        self.bid_sizes = _adopt(self.bids.sizes)
        self.ask_sizes = _adopt(self.asks.sizes)
        self.sizes[0] = <PyObject*>self.ask_sizes
        self.sizes[1] = <PyObject*>self.bid_sizes
        self.bid_keys = _adopt_keys(self.bids.keys)
        self.ask_keys = _adopt_keys(self.asks.keys)
        self.keys[0] = <PyObject*>self.ask_keys
        self.keys[1] = <PyObject*>self.bid_keys
        self.table = None
        self.orders = None
        self.adopt_orders()

    cdef int adopt_orders(self) except -1:
        """Where the book's orders are: its ``L3Orders`` table, or a ``DictOrders`` (a dict: the book was built
        with ``impl="python"``, or its table met a value that is not a 64-bit int and moved into one)."""
        store = self.book._orders
        if type(store) is L3Orders and (<L3Orders>store).py is None:
            self.table = <L3Orders>store
            self.orders = None
            return 0
        if type(store) is L3Orders:
            store = (<L3Orders>store).py
        if not isinstance(store, dict):
            raise TypeError(f"an L3 book's orders must be a DictOrders or an L3Orders, not {type(store).__name__}")
        self.table = None
        self.orders = <dict>store  # a dict subclass that overrides no dict method: the dict calls are its own
        return 0

    cdef inline int new_best(self, bint bid) except -1:
        """``ladder.best`` becomes what its keys say, written when Python may next read it (``sync``)."""
        if not self.slots:
            setattr(self.bids if bid else self.asks, "best", (self.bid_keys if bid else self.ask_keys).best(bid))
        elif bid:
            self.bid_best_owed = True
        else:
            self.ask_best_owed = True
        return 0

    cdef inline int set_ts(self, long long ts) except -1:
        """``integrity.ts = ts``, written when Python may next read it (``sync``)."""
        if self.slots:
            self.ts_held = ts
            self.ts_owed = True
        else:
            self.integrity.ts = ts
        return 0

    cdef inline int sync(self) except -1:
        """Write what ``set_ts`` and ``dropped_owed`` owe: before every call into Python, and at a block's end."""
        cdef Py_ssize_t dropped = self.dropped_owed
        if self.bid_best_owed:
            self.bid_best_owed = False
            _put(self.bids, L_BEST, self.bid_keys.best(True))
        if self.ask_best_owed:
            self.ask_best_owed = False
            _put(self.asks, L_BEST, self.ask_keys.best(False))
        if self.ts_owed:
            self.ts_owed = False
            _put(self.integrity, I_TS, PyLong_FromLongLong(self.ts_held))
        if dropped:
            self.dropped_owed = 0
            self.book.dropped_orders += dropped
        return 0

    cdef inline bint crossed(self) except -1:
        """``integrity.crossed``."""
        cdef PyObject* value = _get(self.integrity, I_CROSSED) if self.slots else NULL
        if value != NULL:
            return bool(<object>value)
        return bool(self.integrity.crossed)

    cdef int check_cross(self) except -1:
        """``BookBase._check_cross``, calling it only when the book is crossed: the two best prices read from the
        keys' last items (what ``best`` holds), compared in C when they fit 64 bits."""
        cdef Py_ssize_t nb = self.bid_keys.count(), na = self.ask_keys.count()
        cdef long long bid, ask
        if self.slots and (nb == 0 or na == 0):
            return 0  # a side is empty: its best is NO_PRICE, never crossed
        if self.slots and self.bid_keys.at(nb - 1, &bid) and self.ask_keys.at(na - 1, &ask) and ask != -_MAX - 1:
            if bid != 0 and ask != 0 and bid >= -ask:
                self.sync()
                self.book._check_cross()
            return 0
        self.sync()  # ``best`` read from Python objects: written first
        bid_o = self.bids.best
        ask_o = self.asks.best
        if bid_o != 0 and ask_o != 0 and bid_o >= ask_o:
            self.sync()
            self.book._check_cross()
        return 0

    cdef inline L3Orders live_table(self):
        """The table while it holds the book (a Python call may have moved it into dicts since)."""
        if self.table is not None and self.table.py is not None:
            self.adopt_orders()
        return self.table

    cdef int open_level(self, bint bid, long long price) except -1:
        """An empty queue at ``price`` (``DictOrders.open_level``)."""
        cdef L3Orders table = self.live_table()
        if table is not None:
            table.open(bid, price)
        else:
            PyDict_SetItem(self.bid_queues if bid else self.ask_queues, self.prices.get(price), {})
        return 0

    cdef int drop_level(self, bint bid, object price, long long ts) except -1:
        """``L3Book._drop_level``."""
        cdef long long p
        if _as_ll(price, &p):
            self.drop_level_ll(bid, p, ts)
        elif self.live_table() is not None:
            self.sync()
            self.book._drop_level(self.bids if bid else self.asks, price, ts)
            self.adopt_orders()
        else:
            self.drop_queue(bid, price)
            self.after_drop(_remove(self, bid, price), ts)
        return 0

    cdef int drop_level_ll(self, bint bid, long long price, long long ts) except -1:
        """``drop_level`` of a price held as a C value (the loop's: no int object on the table's path). C int
        results here and in the other level methods: as Python objects (None) each call took and dropped a
        reference, and the table was read through ``live_table``'s new reference."""
        if self.table is not None and self.table.py is not None:
            self.adopt_orders()
        if self.table is not None:
            self.dropped_owed += self.table.close(bid, price)
        else:
            self.drop_queue(bid, self.prices.get(price))
        self.after_drop(_remove_ll(self, bid, price), ts)
        return 0

    cdef int drop_queue(self, bint bid, object price) except -1:
        """The dicts' queue at ``price`` goes, and its orders with it."""
        queue = (self.bid_queues if bid else self.ask_queues).pop(price)
        if queue:
            for order_id in queue:
                PyDict_DelItem(self.orders, order_id)
            self.book.dropped_orders += len(queue)
        return 0

    cdef inline int after_drop(self, bint was_best, long long ts) except -1:
        """A dropped best may have uncrossed the book."""
        if was_best and self.crossed():
            self.set_ts(ts)
            self.sync()
            self.book._check_uncross()
        return 0

    cdef int new_level(self, bint bid, long long price, long long size, long long ts, dict queue) except -1:
        """A level that is not there (``L3Book.add``'s and ``set_level``'s new level), its queue ``queue`` in the
        dicts or, when None, the one already opened (in the table, or by ``open_level``)."""
        if queue is not None:
            PyDict_SetItem(self.bid_queues if bid else self.ask_queues, self.prices.get(price), queue)
        if _insert(self, bid, price, size):
            self.set_ts(ts)
            self.check_cross()
        return 0


cdef inline bint _field(const char* s, Py_ssize_t start, Py_ssize_t end, long long* out):
    """An orderbook field of an optional minus and 1-18 digits; False for anything else."""
    cdef bint neg = False
    cdef long long v = 0
    if start < end and s[start] == 45:
        neg = True
        start += 1
    if start >= end or end - start > 18:
        return False
    while start < end:
        if s[start] < 48 or s[start] > 57:
            return False
        v = v * 10 + (s[start] - 48)
        start += 1
    out[0] = -v if neg else v
    return True


cdef inline bint _tail(const char* s, Py_ssize_t n, Py_ssize_t* starts):
    """Start offsets of the last four fields of the line ``s[:n]`` (``starts[0..3]``) and its length
    (``starts[4]``); False when it has fewer than five fields."""
    cdef Py_ssize_t i = n - 1
    cdef int found = 0
    starts[4] = n + 1  # so that field j ends at starts[j + 1] - 1 for the last one too
    while i >= 0 and found < 4:
        if s[i] == 44:
            found += 1
            starts[4 - found] = i + 1
        i -= 1
    return found == 4 and i >= 0


@cython.final
cdef class _Counts:
    cdef public long long discovered, reveals, levels_from_file

    cdef int add_to(self, object totals) except -1:
        """Into the decoder's ``LobsterCounts``, also when a row of the block fails: the reference counts each
        discovery and reveal as it applies it, so the rows before a bad one count in both."""
        totals.discovered += self.discovered
        totals.reveals += self.reveals
        totals.levels_from_file += self.levels_from_file
        return 0


include "_l3_top.pxi"


cdef int _reveal(_Book b, _Top top, bint bid, object side, const char* ps, Py_ssize_t pn, const char* cs,
                 Py_ssize_t cn, long long ts, _Counts counts, object on_reveal, Py_ssize_t i, int row) except -1:
    """``LobsterDecoder._reveal`` over the text rows: the deepest level's fields of the two rows read, then the
    store loop's ``_reveal_ints`` (the usual case in C, the verification's top kept in step level by level;
    anything else the reference). Round 8 marked the side stale after each reveal instead: reading and printing
    the top N again was ~1,340 instructions a reveal (AMZN level 5: 33,840 reveals, a fifth of the messages)."""
    cdef Py_ssize_t a[5]
    cdef Py_ssize_t c[5]
    cdef int f = 0 if not bid else 2  # index of the side's price among the last four fields
    cdef Py_ssize_t old_len
    cdef long long old, new, size
    if not _tail(ps, pn, a) or not _tail(cs, cn, c):
        top.mark_all()
        b.sync()
        on_reveal(side, i, ts, row)
        return 0
    old_len = a[f + 1] - 1 - a[f]
    if old_len == c[f + 1] - 1 - c[f] and memcmp(ps + a[f], cs + c[f], old_len) == 0 and not (
        (old_len == 10 and memcmp(ps + a[f], b"9999999999", 10) == 0)
        or (old_len == 11 and memcmp(ps + a[f], b"-9999999999", 11) == 0)
    ):
        return 0  # the deepest price did not move: nothing came into view
    if (
        not _field(ps, a[f], a[f + 1] - 1, &old)
        or not _field(cs, c[f], c[f + 1] - 1, &new)
        or not _field(cs, c[f + 1], c[f + 2] - 1, &size)
        or old == new  # equal as numbers, not as text (a leading zero): the reference reveals it as text differs
    ):
        top.mark_all()
        b.sync()
        on_reveal(side, i, ts, row)  # an odd field
        return 0
    return _reveal_ints(b, top, bid, side, old, new, size, ts, counts, on_reveal, i, row)


cdef enum:
    _GONE_HELD = 32  # levels gone in one reveal that are copied out on the stack (more: through a list)


cdef int _drop_between(_Book b, _Top top, bint bid, L3Keys keys, L3Sizes sizes, Py_ssize_t lo, Py_ssize_t hi,
                       long long price, long long ts) except -1:
    """A reveal's levels that changed while out of view are gone (``BookBase.reveal``'s general path:
    ``between(old, new)``, worst first, each ``set_level(.., 0)``): the keys ``lo:hi`` but ``price``'s, copied
    out first (each drop moves the keys). ``top`` (or None) follows each. In C from the array: a slice of the keys
    as a list of ints was ~400 instructions a reveal."""
    cdef long long held[_GONE_HELD]
    cdef long long key, gone_ll
    cdef Py_ssize_t j, n = hi - lo
    cdef object sign = 1 if bid else -1
    if n <= _GONE_HELD and keys._list is None:
        memcpy(held, keys._k + lo, n * sizeof(long long))
        for j in range(n):
            key = held[j]
            if bid or key != _LL_MIN:
                gone_ll = key if bid else -key
                if gone_ll != price:
                    b.drop_level_ll(bid, gone_ll, ts)  # the time just stored: nothing between writes it
                    if top is not None:
                        top.dropped(bid, gone_ll, keys, sizes)
            else:  # -key past 64 bits: never equal to ``price``
                _drop_gone(b, top, bid, keys, sizes, PyLong_FromLongLong(key) * sign, ts)
        return 0
    for key_obj in keys[lo:hi]:
        gone = key_obj * sign
        if gone != price:
            _drop_gone(b, top, bid, keys, sizes, gone, ts)
    return 0


cdef int _drop_gone(_Book b, _Top top, bint bid, L3Keys keys, L3Sizes sizes, object gone, long long ts) except -1:
    """``_drop_between``'s drop of a level whose price is an int object (a list's key; maybe past 64 bits)."""
    cdef long long p
    b.drop_level(bid, gone, ts)
    if top is not None and _as_ll(gone, &p):
        top.dropped(bid, p, keys, sizes)
    elif top is not None:
        top.mark(bid)
    return 0


cdef int _discover(_Book b, dict orders, dict queues, object ladder, object oid, object price, object size) except -1:
    """``L3Book.discover`` (the order joins the head of its level's queue), without a Python call: ~5% of a
    LOBSTER day's messages name an order the book never saw arrive. The level's sizes do not change, so the
    verification's top stays as it is."""
    cdef PyObject* queue_ptr
    cdef dict queue
    if PyDict_GetItemWithError(orders, oid) != NULL:
        return 0
    queue_ptr = PyDict_GetItemWithError(queues, price)
    if queue_ptr == NULL:
        b.book.discover_misses += 1
        return 0
    order = [ladder, price, size, 0]
    PyDict_SetItem(orders, oid, order)
    queue = {oid: order}
    PyDict_Update(queue, <object>queue_ptr)  # ``{order_id: order, **queue}``: the same keys in the same order
    PyDict_SetItem(queues, price, queue)
    return 0


cdef enum:
    _LEAVES = 1  # the order leaves the book (else it keeps ``order_left`` shares)
    _DROPS = 2  # its level goes with the rest (else it keeps ``level_left`` shares)
    _OVERFILL = 4  # the cancel or execution was larger than the order


cdef inline int _step(long long k, long long level, long long have, long long size, long long* order_left,
                      long long* level_left) noexcept:
    """What a delete (``k`` 3), cancel or execution of ``size`` shares does to an order of ``have`` shares in a
    level of ``level``, as ``L3Book`` decides it: ``_LEAVES``, ``_DROPS`` and ``_OVERFILL`` bits, or -1 for the
    case the loops leave to the reference (a partial cancel or execution that empties its level). One text for
    both stores' paths."""
    if k == 3:
        level_left[0] = level - (size if size else have)
        return _LEAVES if level_left[0] > 0 else _LEAVES | _DROPS  # the order goes first, then its level
    order_left[0] = have - size
    level_left[0] = level - size
    if level_left[0] > 0:
        return 0 if order_left[0] > 0 else _LEAVES | (_OVERFILL if order_left[0] < 0 else 0)
    if order_left[0] <= 0:
        return _LEAVES | _DROPS | (_OVERFILL if order_left[0] < 0 else 0)
    return -1


cdef inline int _level_after(_Book b, _Top top, bint bid, long long price, L3Sizes level_sizes, long long* held,
                             int step, long long level_left, long long t) except -1:
    """The order's level after ``_step``: dropped (``_DROPS``) or left with ``level_left`` shares (written at
    ``held``, its size's place in ``level_sizes``, unless NULL); the verification's top follows."""
    if step & _DROPS:
        b.drop_level_ll(bid, price, t)
        top.dropped(bid, price, <L3Keys>b.keys[bid], level_sizes)
    else:
        level_sizes.put_ll(held, price, level_left)
        top.touch(bid, price, level_left)
    return 0


cdef inline int _finish(_Book b, _Top top, bint done, long long k, object oid, long long size, long long price,
                        long long t, object side, object on_trade) except -1:
    """The end of a cancel, delete or execution: the book's own method when the loop did not apply it (``done``
    False), then a trade's hook."""
    cdef object book = b.book
    if not done:
        top.mark_all()
        b.sync()
        if k == 3:
            book.delete(oid, t, size)
        elif k == 4:
            book.execute(oid, size, t)
        else:
            book.cancel(oid, size, t)
    if k == 4 and on_trade is not None:
        b.sync()
        on_trade(t, b.prices.get(price), size, side)
        top.mark_all()
    return 0


cdef int _apply_table(
    _Book b, L3Orders table, _Top top, object book, IdSet fast_known, set known_set, long long k, long long id_value,
    _Ids id_objects, long long size, long long p, long long t, bint bid, object side, object on_duplicate,
    object on_trade, _Counts counts, int row,
) except -1:
    """``_apply_order`` over the book's ``L3Orders``: the same cases, each order found by one probe of the table
    and written in place, no dict and no allocation; every other case through the book's Python method. The id's
    and the price's int objects are made only for a Python call (they were one each a message, and each callee
    read the price back into C)."""
    cdef PyObject* level_sizes  # borrowed from ``b.sizes``: a typed local took and dropped a reference each message
    cdef Py_ssize_t lv, lpos, s, pos, known_at = -1
    cdef long long op, level, order_left = 0, level_left = 0
    cdef long long* held
    cdef bint done = False, obid
    cdef int seen, step
    cdef _Order* o
    if fast_known is not None:
        seen = fast_known.seek(id_value, &known_at)
    else:
        seen = PySet_Contains(known_set, id_objects.get(id_value))
    pos = table.seek(id_value)
    if k == 1:
        if seen:
            b.sync()
            on_duplicate(id_objects.get(id_value), row)
            top.mark_all()
            return 0
        if table.at(pos) < 0:
            lpos = table.level_seek(bid, p)
            lv = table.level_at(bid, lpos)
            if lv < 0:
                table.append_at(table.open_at(bid, lpos, p), pos, id_value, p, size, t)
                b.new_level(bid, p, size, t, None)
                top.added(bid, p, size)
                done = True
            else:
                level_sizes = b.sizes[bid]
                if (<L3Sizes>level_sizes).find_ll(p, &held, &level) == 1 and level <= _MAX - size:
                    table.append_at(lv, pos, id_value, p, size, t)
                    (<L3Sizes>level_sizes).put_ll(held, p, level + size)
                    top.touch(bid, p, level + size)
                    done = True
        if not done:
            b.sync()
            book.add(id_objects.get(id_value), side, b.prices.get(p), size, t)
            top.mark_all()
            known_at = -1  # Python ran: the id's place in ``known`` is looked up again
        if fast_known is not None:
            fast_known.insert_at(known_at, id_value)
        else:
            PySet_Add(known_set, id_objects.get(id_value))
        return 0
    if not seen:  # ``L3Book.discover``: the order joins the head of its level's queue
        if table.at(pos) < 0:
            lv = table.level_of(bid, p)
            if lv < 0:
                book.discover_misses += 1
            else:
                table.prepend(lv, id_value, p, size)
                pos = table.seek(id_value)
        counts.discovered += 1
    s = table.at(pos)
    if s >= 0:
        o = &table.orders[s]
        # the order's own level (its side and price), not the message's
        obid = table.levels[o.level].bid
        op = o.price
        level_sizes = b.sizes[obid]
        if (<L3Sizes>level_sizes).find_ll(op, &held, &level) == 1:
            step = _step(k, level, o.size, size, &order_left, &level_left)
            if step >= 0:
                if step & _OVERFILL:
                    book.overfills += 1
                    held = NULL  # Python ran: the size's place is looked up again
                    pos = table.seek(id_value)
                if step & _LEAVES:
                    table.unlink_at(s, pos)
                else:
                    o.size = order_left
                _level_after(b, top, obid, op, <L3Sizes>level_sizes, held, step, level_left, t)
                done = True
    if done and (k != 4 or on_trade is None):
        return 0  # ``_finish`` has nothing to do: most messages, and its ten arguments cost ~15 a message
    return _finish(b, top, done, k, None if done else id_objects.get(id_value), size, p, t, side, on_trade)


cdef inline int _apply_order(
    _Book b, _Top top, object book, IdSet fast_known, set known_set, long long k, long long id_value,
    _Ids id_objects, long long size, long long p, long long t, bint bid, object side, object on_duplicate,
    object on_trade, _Counts counts, int row,
) except -1:
    """One add, cancel, delete or execution (``k`` 1-4) of either loop (``apply_lobster_block`` over text rows,
    ``apply_lobster_columns`` over integer rows): over the book's ``L3Orders`` in ``_apply_table``, else the
    common case on the book's dicts; every other case through the book's Python method (the reference).
    ``_Top`` follows the levels it changes; a reference call marks it stale. One step for both loops, so that
    they cannot drift apart."""
    cdef dict orders, queues
    cdef L3Sizes level_sizes
    cdef object ladder, oid
    cdef PyObject* found
    cdef PyObject* queue_ptr
    cdef long long level, have, op, order_left = 0, level_left = 0
    cdef bint done = False, obid
    cdef int seen, step  # C ints: as one conditional expression Cython boxed the test into an int and a bool
    cdef object order, oprice, price
    if b.table is not None:  # ``live_table`` without its new reference to the table (~5 instructions a message)
        if b.table.py is None:
            return _apply_table(b, b.table, top, book, fast_known, known_set, k, id_value, id_objects, size, p, t,
                                bid, side, on_duplicate, on_trade, counts, row)
        b.adopt_orders()  # a Python call moved the table into dicts
    price = b.prices.get(p)  # the dicts' key
    orders = b.orders
    queues = b.bid_queues if bid else b.ask_queues
    level_sizes = b.bid_sizes if bid else b.ask_sizes
    ladder = b.bids if bid else b.asks
    oid = id_objects.get(id_value)  # the dicts' key: found by identity where the order was stored under it
    if fast_known is not None:
        seen = fast_known.contains(id_value)
    else:
        seen = PySet_Contains(known_set, oid)
    if k == 1:
        if seen:
            b.sync()
            on_duplicate(oid, row)
            top.mark_all()
            return 0
        if PyDict_GetItemWithError(orders, oid) == NULL:
            queue_ptr = PyDict_GetItemWithError(queues, price)
            if queue_ptr == NULL:
                order = [ladder, price, size, t]
                PyDict_SetItem(orders, oid, order)
                b.new_level(bid, p, size, t, {oid: order})
                top.added(bid, p, size)
                done = True
            else:
                if level_sizes.lookup_ll(p, &level) == 1 and level <= _MAX - size:
                    order = [ladder, price, size, t]
                    PyDict_SetItem(orders, oid, order)
                    PyDict_SetItem(<dict>queue_ptr, oid, order)
                    level_sizes.store_ll(p, level + size)
                    top.touch(bid, p, level + size)
                    done = True
        if not done:
            b.sync()
            book.add(oid, side, price, size, t)
            top.mark_all()
        if fast_known is not None:
            fast_known.insert(id_value)
        else:
            PySet_Add(known_set, oid)
        return 0
    if not seen:
        _discover(b, orders, queues, ladder, oid, price, size)
        counts.discovered += 1
    found = PyDict_GetItemWithError(orders, oid)
    if found != NULL:
        order = <object>found
        # the order's own level (its side and price), not the message's
        obid = <object>PyList_GET_ITEM(order, 0) is b.bids
        queues = b.bid_queues if obid else b.ask_queues
        level_sizes = b.bid_sizes if obid else b.ask_sizes
        oprice = <object>PyList_GET_ITEM(order, 1)
        queue_ptr = PyDict_GetItemWithError(queues, oprice)
        if queue_ptr != NULL and _as_ll(oprice, &op) and level_sizes.lookup_ll(op, &level) == 1 \
                and _as_ll(<object>PyList_GET_ITEM(order, 2), &have):
            step = _step(k, level, have, size, &order_left, &level_left)
            if step >= 0:
                if step & _OVERFILL:
                    book.overfills += 1
                if step & _LEAVES:
                    PyDict_DelItem(orders, oid)
                    PyDict_DelItem(<dict>queue_ptr, oid)
                else:
                    order[2] = order_left
                _level_after(b, top, obid, op, level_sizes, NULL, step, level_left, t)
                done = True
    return _finish(b, top, done, k, oid, size, p, t, side, on_trade)


def apply_lobster_block(
    object book,
    object known,
    const int64_t[:] kinds,
    const int64_t[:] ids,
    const int64_t[:] sizes,
    const int64_t[:] prices,
    const int64_t[:] dirs,
    const int64_t[:] secs,
    const unsigned char[:] flags,
    bytes rows,
    const int64_t[:] ends,
    bytes prev_line,
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
    object totals,
):
    """Apply one block of LOBSTER messages to ``book`` (an ``L3Book``), as ``LobsterDecoder``'s Python loop does.

    ``known``: the ids added so far that day (updated), a ``set`` or an ``IdSet`` (the same, faster).
    ``flags[i]``: row i may have brought a level into view;
    the usual case is applied here, any other goes to ``on_reveal(side, i, ts, row)`` (the reference, which
    counts what it reveals). ``rows``: the block's orderbook rows as one buffer, row i being
    ``rows[ends[i] + 1 : ends[i + 1]]`` (``ends[0]`` is -1 or the newline before the first row): a list of bytes
    objects cost ~150 ns a row to cut, more than the loop's own read of it. ``prev_line``: the orderbook row
    before the block. ``on_duplicate(order_id,
    row)``; ``on_other(kind, price, size, side, ts)`` for types 5-7 (None: nothing to do for any of them);
    ``on_trade(ts, price, size, side)`` after a type 4 (or None). ``on_row(row, line)``: with ``verify``, only
    for a row whose orderbook line differs from the book's top ``levels``; without, for every row (or None).
    ``totals``: the decoder's ``LobsterCounts``, which gets the discoveries, reveals and levels revealed made
    here, those before a row that fails included.
    """
    cdef Py_ssize_t n = kinds.shape[0], i
    cdef long long k, size, t, p
    cdef int row
    cdef _Counts counts = _Counts()
    cdef _Book b = _Book(book)
    cdef object side
    cdef bint bid
    cdef _Top top = _Top(levels if verify else 1)
    cdef IdSet fast_known = known if type(known) is IdSet else None
    cdef _Ids id_objects = _Ids()
    cdef set known_set = None if fast_known is not None else known
    cdef const char* text = PyBytes_AS_STRING(rows)
    cdef const char* prev_text = PyBytes_AS_STRING(prev_line)
    cdef Py_ssize_t prev_len = PyBytes_GET_SIZE(prev_line), start, stop
    if (ids.shape[0] != n or sizes.shape[0] != n or prices.shape[0] != n or dirs.shape[0] != n
            or secs.shape[0] != n or flags.shape[0] != n or ends.shape[0] != n + 1):
        raise ValueError("columns of different lengths")
    for i in range(n + 1):
        if not -1 <= ends[i] < PyBytes_GET_SIZE(rows) or (i and ends[i] <= ends[i - 1]):
            raise ValueError("row ends outside the buffer or out of order")
    try:
        for i in range(n):
            row = first_row + i
            k = kinds[i]
            if fast_known is not None and i + 8 < n:
                fast_known.prefetch(ids[i + 8])
            size = sizes[i]
            p = prices[i]
            t = secs[i]
            bid = dirs[i] == 1
            side = buy if bid else sell
            if k <= 4:
                _apply_order(b, top, book, fast_known, known_set, k, ids[i], id_objects, size, p, t, bid, side,
                             on_duplicate, on_trade, counts, row)
                if k != 1 and flags[i]:
                    start = ends[i] + 1
                    if i:
                        _reveal(b, top, bid, side, text + ends[i - 1] + 1, ends[i] - ends[i - 1] - 1, text + start,
                                ends[i + 1] - start, t, counts, on_reveal, i, row)
                    else:
                        _reveal(b, top, bid, side, prev_text, prev_len, text + start, ends[1] - start, t, counts,
                                on_reveal, i, row)
            elif on_other is not None:
                b.sync()
                on_other(k, b.prices.get(p), size, side, t)
                top.mark_all()
            if on_row is not None:
                start = ends[i] + 1
                stop = ends[i + 1]
                if not verify:
                    b.sync()
                    on_row(row, PyBytes_FromStringAndSize(text + start, stop - start))
                elif not top.matches(b, text + start, stop - start):
                    b.sync()
                    on_row(row, PyBytes_FromStringAndSize(text + start, stop - start))
                    top.mark_all()
    finally:
        b.sync()
        counts.add_to(totals)
include "_l3_columns.pxi"
