# Included by _l3_core.pyx (Cython ``include``: the same module, kept apart so that the table stays small).
#
# ``L3Orders``: an ``L3Book``'s resting orders and each level's time-priority queue, in C. The reference layout
# (``book.l3_orders.DictOrders``) is a dict of order id -> ``[ladder, price, size, ts]`` lists plus a dict per
# level of id -> that list: per message the compiled loop paid ~860 instructions of dict probes and ~610 making and
# freeing the list and its ints (callgrind). Here an order is a slot of C values (id, price, size, ts and the
# links of its level's queue), found by one probe of an open-addressed index; a level is a slot holding its
# queue's head, tail and count, found by one probe of its side's index. Freed slots go on a free list, so the
# arrays follow the most orders and levels held at once, not the orders a day has seen.
#
# The methods are ``DictOrders``'s, with the same meaning, so ``L3Book`` has one text for its rules over either.
# Only exact ints that fit 64 bits are held: the first id, price, size or ts written that is anything else (or a
# key read that is neither such an int nor an exact int past 64 bits, which no held key equals) moves every order
# and queue into a ``DictOrders`` for good (queues in priority order), and from then on each call is that
# object's, as ``L3Sizes`` does with its dict.

cdef struct _Order:
    long long oid, price, size, ts
    Py_ssize_t prev, next  # neighbours in the level's queue (-1: none); ``next`` links the free list
    Py_ssize_t level


cdef struct _Level:
    long long price
    Py_ssize_t head, tail, count  # ``head`` links the free list
    bint bid


# key -> slot number, open addressing (Fibonacci hash, linear probing, deletion by backward shift), at most half
# full.
cdef struct _Index:
    long long* keys
    Py_ssize_t* vals  # -1: an empty slot
    Py_ssize_t mask, used
    int shift


cdef int _ix_init(_Index* ix, Py_ssize_t slots) except -1:
    """An empty index of ``slots`` (a power of two) in place of ``ix``'s arrays (freed by the caller)."""
    cdef long long* keys = <long long*>PyMem_Malloc(slots * sizeof(long long))
    cdef Py_ssize_t* vals = <Py_ssize_t*>PyMem_Malloc(slots * sizeof(Py_ssize_t))
    cdef Py_ssize_t i
    cdef int log2 = 0
    if keys == NULL or vals == NULL:
        PyMem_Free(keys)
        PyMem_Free(vals)
        raise MemoryError()
    for i in range(slots):
        vals[i] = -1
    while ((<Py_ssize_t>1) << log2) < slots:
        log2 += 1
    ix.keys, ix.vals, ix.mask, ix.used, ix.shift = keys, vals, slots - 1, 0, 64 - log2
    return 0


cdef inline Py_ssize_t _ix_home(_Index* ix, long long key) noexcept:
    return <Py_ssize_t>((<unsigned long long>key * 0x9E3779B97F4A7C15ULL) >> ix.shift)


cdef inline Py_ssize_t _ix_seek(_Index* ix, long long key) noexcept:
    """The index position holding ``key``, or the empty one where it would go (valid until the index changes)."""
    cdef Py_ssize_t i = _ix_home(ix, key)
    while ix.vals[i] >= 0 and ix.keys[i] != key:
        i = (i + 1) & ix.mask
    return i


cdef inline Py_ssize_t _ix_find(_Index* ix, long long key) noexcept:
    """The slot number held for ``key``, or -1."""
    return ix.vals[_ix_seek(ix, key)]


cdef int _ix_grow(_Index* ix) except -1:
    """The index doubled, every entry in it again."""
    cdef _Index old = ix[0]
    cdef Py_ssize_t i
    _ix_init(ix, 2 * (old.mask + 1))
    for i in range(old.mask + 1):
        if old.vals[i] >= 0:
            _ix_put(ix, old.keys[i], old.vals[i])
    PyMem_Free(old.keys)
    PyMem_Free(old.vals)
    return 0


cdef inline int _ix_put_at(_Index* ix, Py_ssize_t at, long long key, Py_ssize_t val) except -1:
    """``_ix_put`` of a key not there whose empty position ``_ix_seek`` gave as ``at`` (nothing changed the index
    since): the probe is not repeated unless the index must grow first. Why: an add probed for its id twice, once
    to find it absent and once to place it (~20 of the column loop's instructions a message, callgrind)."""
    if 2 * (ix.used + 1) > ix.mask + 1:
        _ix_grow(ix)
        at = _ix_seek(ix, key)
    ix.keys[at] = key
    ix.vals[at] = val
    ix.used += 1
    return 0


cdef int _ix_put(_Index* ix, long long key, Py_ssize_t val) except -1:
    """Hold ``val`` for ``key``, which is not there; doubles the index first when it would be over half full."""
    return _ix_put_at(ix, _ix_seek(ix, key), key, val)


cdef inline void _ix_del(_Index* ix, long long key) noexcept:
    """Forget ``key`` (which is there)."""
    _ix_del_at(ix, _ix_seek(ix, key))


cdef void _ix_del_at(_Index* ix, Py_ssize_t i) noexcept:
    """Forget the key at position ``i`` (``_ix_seek``'s, nothing changed since). Backward shift keeps every probe
    chain whole without tombstones."""
    cdef Py_ssize_t j, home
    j = i
    while True:
        j = (j + 1) & ix.mask
        if ix.vals[j] < 0:
            break
        home = _ix_home(ix, ix.keys[j])
        # the entry at j may move back to i only when its home is not cyclically within (i, j]
        if (i <= j and i < home <= j) or (i > j and (home > i or home <= j)):
            continue
        ix.keys[i] = ix.keys[j]
        ix.vals[i] = ix.vals[j]
        i = j
    ix.vals[i] = -1
    ix.used -= 1


@cython.final
cdef class L3Orders:
    """The resting orders of an ``L3Book`` and its levels' queues in C; ``DictOrders``'s methods (see there)."""

    cdef _Order* orders
    cdef Py_ssize_t order_cap, order_free  # ``order_free``: first free slot, or -1
    cdef _Level* levels
    cdef Py_ssize_t level_cap, level_free
    cdef _Index ids, bid_levels, ask_levels
    cdef readonly object bids, asks
    cdef readonly object py
    """None while the table holds the book; the ``DictOrders`` that holds it for good otherwise."""

    def __cinit__(self, object bids, object asks):
        self.bids = bids
        self.asks = asks
        self.py = None
        self._install()

    def __dealloc__(self):
        self._release()

    cdef void _release(self) noexcept:
        PyMem_Free(self.orders)
        PyMem_Free(self.levels)
        PyMem_Free(self.ids.keys)
        PyMem_Free(self.ids.vals)
        PyMem_Free(self.bid_levels.keys)
        PyMem_Free(self.bid_levels.vals)
        PyMem_Free(self.ask_levels.keys)
        PyMem_Free(self.ask_levels.vals)
        self.orders = NULL
        self.levels = NULL
        self.ids.keys = self.bid_levels.keys = self.ask_levels.keys = NULL
        self.ids.vals = self.bid_levels.vals = self.ask_levels.vals = NULL

    cdef int _install(self) except -1:
        """Empty, small arrays (the state of a new table)."""
        self._release()
        self.order_cap = self.level_cap = 0
        self.order_free = self.level_free = -1
        _ix_init(&self.ids, 16)
        _ix_init(&self.bid_levels, 16)
        _ix_init(&self.ask_levels, 16)
        return 0

    # --- what the compiled loop calls (table mode only: ``py`` is None) ------------------------------------------

    cdef inline Py_ssize_t find(self, long long oid) noexcept:
        """The order's slot, or -1."""
        return _ix_find(&self.ids, oid)

    cdef inline Py_ssize_t seek(self, long long oid) noexcept:
        """Where the id index holds the order, or would (``find`` is ``ids.vals`` there): for ``append_at`` and
        ``unlink_at``, which then do not probe for it again, while nothing else changes the table."""
        return _ix_seek(&self.ids, oid)

    cdef inline Py_ssize_t at(self, Py_ssize_t pos) noexcept:
        """The order's slot at ``seek``'s position, or -1."""
        return self.ids.vals[pos]

    cdef inline Py_ssize_t level_of(self, bint bid, long long price) noexcept:
        """The level's slot, or -1 when the book keeps no queue at that price."""
        return _ix_find(&self.bid_levels if bid else &self.ask_levels, price)

    cdef inline Py_ssize_t level_seek(self, bint bid, long long price) noexcept:
        """Where the side's level index holds ``price``, or would (``level_at`` reads the slot there): for
        ``open_at``, which then does not probe for it again, while nothing else changes the side's levels."""
        return _ix_seek(&self.bid_levels if bid else &self.ask_levels, price)

    cdef inline Py_ssize_t level_at(self, bint bid, Py_ssize_t pos) noexcept:
        """The level's slot at ``level_seek``'s position, or -1."""
        return (self.bid_levels if bid else self.ask_levels).vals[pos]

    cdef Py_ssize_t open(self, bint bid, long long price) except -1:
        """A new, empty queue at ``price`` (not there)."""
        return self.open_at(bid, self.level_seek(bid, price), price)

    cdef Py_ssize_t open_at(self, bint bid, Py_ssize_t pos, long long price) except -1:
        """``open`` of a price ``level_seek`` found absent at ``pos``. Why: a new level probed the side's index
        twice, once to find the price absent and once to place it (~15 instructions a new level, callgrind)."""
        cdef Py_ssize_t n, lv
        cdef _Level* grown
        if self.level_free < 0:
            n = 2 * self.level_cap if self.level_cap else 16
            grown = <_Level*>PyMem_Realloc(self.levels, n * sizeof(_Level))
            if grown == NULL:
                raise MemoryError()
            self.levels = grown
            for lv in range(self.level_cap, n):
                grown[lv].head = lv + 1 if lv + 1 < n else -1
            self.level_free = self.level_cap
            self.level_cap = n
        lv = self.level_free
        _ix_put_at(&self.bid_levels if bid else &self.ask_levels, pos, price, lv)
        self.level_free = self.levels[lv].head
        self.levels[lv].price = price
        self.levels[lv].head = self.levels[lv].tail = -1
        self.levels[lv].count = 0
        self.levels[lv].bid = bid
        return lv

    cdef Py_ssize_t _new_order(self, Py_ssize_t lv, long long oid, long long price, long long size,
                               long long ts) except -1:
        """A slot holding the order (not there), in the index, not yet in its queue."""
        return self._new_order_at(lv, _ix_seek(&self.ids, oid), oid, price, size, ts)

    cdef Py_ssize_t _new_order_at(self, Py_ssize_t lv, Py_ssize_t pos, long long oid, long long price,
                                  long long size, long long ts) except -1:
        """``_new_order`` of an id ``seek`` found absent at ``pos``."""
        cdef Py_ssize_t n, s
        cdef _Order* grown
        if self.order_free < 0:
            n = 2 * self.order_cap if self.order_cap else 64
            grown = <_Order*>PyMem_Realloc(self.orders, n * sizeof(_Order))
            if grown == NULL:
                raise MemoryError()
            self.orders = grown
            for s in range(self.order_cap, n):
                grown[s].next = s + 1 if s + 1 < n else -1
            self.order_free = self.order_cap
            self.order_cap = n
        s = self.order_free
        _ix_put_at(&self.ids, pos, oid, s)
        self.order_free = self.orders[s].next
        self.orders[s].oid = oid
        self.orders[s].price = price
        self.orders[s].size = size
        self.orders[s].ts = ts
        self.orders[s].level = lv
        self.levels[lv].count += 1
        return s

    cdef int append(self, Py_ssize_t lv, long long oid, long long price, long long size, long long ts) except -1:
        """The order (not there) joins the back of level ``lv``'s queue."""
        return self.append_at(lv, _ix_seek(&self.ids, oid), oid, price, size, ts)

    cdef int append_at(self, Py_ssize_t lv, Py_ssize_t pos, long long oid, long long price, long long size,
                       long long ts) except -1:
        """``append`` of an id ``seek`` found absent at ``pos``."""
        cdef Py_ssize_t s = self._new_order_at(lv, pos, oid, price, size, ts)
        cdef Py_ssize_t tail = self.levels[lv].tail
        self.orders[s].prev = tail
        self.orders[s].next = -1
        if tail >= 0:
            self.orders[tail].next = s
        else:
            self.levels[lv].head = s
        self.levels[lv].tail = s
        return 0

    cdef int prepend(self, Py_ssize_t lv, long long oid, long long price, long long size) except -1:
        """The order (not there) joins the head of level ``lv``'s queue, arrival time 0 (a discovery)."""
        cdef Py_ssize_t s = self._new_order(lv, oid, price, size, 0)
        cdef Py_ssize_t head = self.levels[lv].head
        self.orders[s].prev = -1
        self.orders[s].next = head
        if head >= 0:
            self.orders[head].prev = s
        else:
            self.levels[lv].tail = s
        self.levels[lv].head = s
        return 0

    cdef void unlink(self, Py_ssize_t s) noexcept:
        """The order leaves its queue and the book; its level stays, even empty."""
        self.unlink_at(s, _ix_seek(&self.ids, self.orders[s].oid))

    cdef void unlink_at(self, Py_ssize_t s, Py_ssize_t pos) noexcept:
        """``unlink`` of the order ``seek`` found at ``pos``."""
        cdef _Order* o = &self.orders[s]
        cdef _Level* lv = &self.levels[o.level]
        if o.prev >= 0:
            self.orders[o.prev].next = o.next
        else:
            lv.head = o.next
        if o.next >= 0:
            self.orders[o.next].prev = o.prev
        else:
            lv.tail = o.prev
        lv.count -= 1
        _ix_del_at(&self.ids, pos)
        o.next = self.order_free
        self.order_free = s

    cdef Py_ssize_t close(self, bint bid, long long price) except -1:
        """The level's queue and every order in it leave the book; how many orders; ``KeyError`` when the book
        keeps no queue at ``price``."""
        cdef _Index* ix = &self.bid_levels if bid else &self.ask_levels
        cdef Py_ssize_t pos = _ix_seek(ix, price)  # the orders' removals below change only the id index
        cdef Py_ssize_t lv = ix.vals[pos], s, after, n
        if lv < 0:
            raise KeyError(price)
        n = self.levels[lv].count
        s = self.levels[lv].head
        while s >= 0:
            after = self.orders[s].next
            _ix_del(&self.ids, self.orders[s].oid)
            self.orders[s].next = self.order_free
            self.order_free = s
            s = after
        _ix_del_at(ix, pos)
        self.levels[lv].head = self.level_free
        self.level_free = lv
        return n

    # --- DictOrders's methods, for ``L3Book``'s Python code ----------------------------------------------------

    cdef inline bint _fits(self, object a, object b, object c, object d, long long* out):
        """The four values into ``out`` when the table holds the book and each is a 64-bit int; else the book
        moves into a ``DictOrders`` (if it has not) and False."""
        if (self.py is None and tf_as_ll(<PyObject*>a, out) and tf_as_ll(<PyObject*>b, out + 1)
                and tf_as_ll(<PyObject*>c, out + 2) and tf_as_ll(<PyObject*>d, out + 3)):
            return True
        self._to_python()
        return False

    cdef int _read_key(self, object key, long long* out) except -2:
        """For a read: 1 and the key in ``out`` when the table holds the book and the key is a 64-bit int; 0 for an
        exact int past 64 bits (equal to no key the table holds: not there); -1 when ``py`` is to answer (the
        book moves into it first for any other key: a bool or a float may equal an int key, as the dict
        compares)."""
        if self.py is None:
            if tf_as_ll(<PyObject*>key, out):
                return 1
            if type(key) is int:
                return 0
            self._to_python()
        return -1

    cdef int _to_python(self) except -1:
        """Every order and queue into a ``DictOrders`` for good, each queue in priority order."""
        if self.py is not None:
            return 0
        from tapeflow.book.l3_orders import DictOrders

        py = DictOrders()
        for bid in (True, False):
            ladder = self.bids if bid else self.asks
            for price, queue in self._queues(bid):
                ladder.queues[price] = {}
                for oid, size, ts in queue:
                    py.join(oid, ladder, price, size, ts)
        self._install()
        self.py = py
        return 0

    cdef list _queues(self, bint bid):
        """``[(price, [(id, size, ts), ...]), ...]`` of one side, queues in priority order."""
        cdef _Index* ix = &self.bid_levels if bid else &self.ask_levels
        cdef Py_ssize_t i
        return [
            (self.levels[ix.vals[i]].price, self._queue(ix.vals[i])) for i in range(ix.mask + 1) if ix.vals[i] >= 0
        ]

    cdef list _queue(self, Py_ssize_t lv):
        cdef list out = []
        cdef Py_ssize_t s = self.levels[lv].head
        while s >= 0:
            out.append((self.orders[s].oid, self.orders[s].size, self.orders[s].ts))
            s = self.orders[s].next
        return out

    def get(self, order_id, default=None):
        """``(ladder, price, size, ts)`` of the order, or ``default``."""
        cdef long long v[4]
        cdef Py_ssize_t s
        cdef _Order* o
        cdef int found = self._read_key(order_id, v)
        if found < 0:
            return self.py.get(order_id, default)
        s = _ix_find(&self.ids, v[0]) if found else -1
        if s < 0:
            return default
        o = &self.orders[s]
        return (self.bids if self.levels[o.level].bid else self.asks, o.price, o.size, o.ts)

    def __contains__(self, order_id):
        cdef long long v[4]
        cdef int found = self._read_key(order_id, v)
        if found < 0:
            return order_id in self.py
        return found == 1 and _ix_find(&self.ids, v[0]) >= 0

    def __len__(self):
        return self.ids.used if self.py is None else len(self.py)

    def resize(self, order_id, size):
        cdef long long v[4]
        cdef Py_ssize_t s
        if not self._fits(order_id, size, 0, 0, v):
            self.py.resize(order_id, size)
            return
        s = _ix_find(&self.ids, v[0])
        if s < 0:
            raise KeyError(order_id)
        self.orders[s].size = v[1]

    def join(self, order_id, ladder, price, size, ts):
        cdef long long v[4]
        cdef Py_ssize_t lv
        cdef bint bid = ladder is self.bids
        if not self._fits(order_id, price, size, ts, v):
            return self.py.join(order_id, ladder, price, size, ts)
        if _ix_find(&self.ids, v[0]) >= 0:
            raise ValueError(f"order {order_id} is already in the book")
        lv = self.level_of(bid, v[1])
        if lv < 0:
            self.append(self.open(bid, v[1]), v[0], v[1], v[2], v[3])
            return False
        self.append(lv, v[0], v[1], v[2], v[3])
        return True

    def join_front(self, order_id, ladder, price, size):
        cdef long long v[4]
        cdef Py_ssize_t lv
        if not self._fits(order_id, price, size, 0, v):
            return self.py.join_front(order_id, ladder, price, size)
        lv = self.level_of(ladder is self.bids, v[1])
        if lv < 0:
            return False
        if _ix_find(&self.ids, v[0]) >= 0:
            raise ValueError(f"order {order_id} is already in the book")
        self.prepend(lv, v[0], v[1], v[2])
        return True

    def leave(self, order_id):
        cdef long long v[4]
        cdef Py_ssize_t s
        if not self._fits(order_id, 0, 0, 0, v):
            return self.py.leave(order_id)
        s = _ix_find(&self.ids, v[0])
        if s < 0:
            return None
        order = (self.bids if self.levels[self.orders[s].level].bid else self.asks, self.orders[s].price,
                 self.orders[s].size, self.orders[s].ts)
        self.unlink(s)
        return order

    def open_level(self, ladder, price):
        cdef long long v[4]
        cdef bint bid = ladder is self.bids
        if not self._fits(price, 0, 0, 0, v):
            self.py.open_level(ladder, price)
            return
        if self.level_of(bid, v[0]) >= 0:
            raise ValueError(f"the book already keeps a queue at {price}")
        self.open(bid, v[0])

    def close_level(self, ladder, price):
        cdef long long v[4]
        if not self._fits(price, 0, 0, 0, v):
            return self.py.close_level(ladder, price)
        return self.close(ladder is self.bids, v[0])

    def level(self, ladder, price):
        cdef long long v[4]
        cdef Py_ssize_t lv
        cdef int found = self._read_key(price, v)
        if found < 0:
            return self.py.level(ladder, price)
        lv = self.level_of(ladder is self.bids, v[0]) if found else -1
        return None if lv < 0 else self._queue(lv)

    def count(self, ladder, price):
        cdef long long v[4]
        cdef Py_ssize_t lv
        cdef int found = self._read_key(price, v)
        if found < 0:
            return self.py.count(ladder, price)
        lv = self.level_of(ladder is self.bids, v[0]) if found else -1
        return 0 if lv < 0 else self.levels[lv].count

    def clear(self):
        if self.py is not None:
            self.py.clear()
        else:
            self._install()

    def __sizeof__(self):
        """The object and its C arrays (the tests hold memory flat by it)."""
        return (object.__sizeof__(self) + self.order_cap * sizeof(_Order) + self.level_cap * sizeof(_Level)
                + (self.ids.mask + self.bid_levels.mask + self.ask_levels.mask + 3)
                * (sizeof(long long) + sizeof(Py_ssize_t)))
