# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled token buckets: the state of a throttle rule (``flow_rules.OrderRate``) held in C 64-bit integers, with
the same operations as the Python reference (``risk/throttle.py``, ``Throttle``), which decides what they must do.

Why compiled, and why the state lives here: every passing order refills and spends three buckets (the message,
strategy and symbol rates). In the composed fast check that was ~45 bytecodes an order each, over nanosecond
timestamps and token counts of two and three 30-bit digits, which CPython 3.11 compares, adds and multiplies
without specialising (docs/PERFORMANCE.md, "Risk engine", round 10). Round 9 tried the check in C over the rule's
Python bucket objects, and it cost more: reading their slots from C is generic attribute access and converting
each value to a C integer. Here the buckets are C structs the rule-by-rule path reads through the same object,
and a pass asks twice: ``ready`` (refilled, not written) in the check and ``take`` (spent) once the order passed.

Every value fits: ``throttle.fits`` admits a cap and a rate only up to 2**62, a refill never exceeds the cap
(the gap is compared with the room before it is multiplied), and timestamps are int64 nanoseconds. A time
outside int64 (past the year 2262) moves the buckets to the reference for the object's life (``_reference``),
which takes integers of any size: the same answers, where a conversion would raise ``OverflowError``.
"""

from libc.stdint cimport int64_t, uint64_t

include "../book/_as_ll.pxi"

cdef int64_t NS = 1_000_000_000


cdef class Bucket:
    """``tokens`` (in 1/``NS`` of an order) as of ``last`` (ns): the reference's ``TokenBucket``."""

    cdef public int64_t tokens
    cdef public int64_t last

    def __init__(self, int64_t tokens, int64_t last):
        self.tokens = tokens
        self.last = last


cdef class ThrottleCore:
    """One throttle's buckets by key and its ``cap`` and ``rate``; ``Throttle`` in ``risk/throttle.py`` is the
    reference of every method."""

    cdef public dict buckets
    cdef readonly int64_t cap
    cdef readonly int64_t rate
    # what ``ready`` found, for the ``take`` of the same order: no second lookup or refill
    cdef Bucket _bucket
    cdef object _key
    cdef object _now_object
    cdef int64_t _now
    cdef int64_t _tokens
    cdef bint _pending
    # None, or the reference ``Throttle`` holding the buckets since a time past int64 came (``_moved``)
    cdef object _reference

    def __cinit__(self, int64_t cap, int64_t rate):
        self.buckets = {}
        self.cap = cap
        self.rate = rate
        self._pending = False
        self._reference = None

    def configure(self, int64_t cap, int64_t rate):
        self.cap = cap
        self.rate = rate
        self._pending = False
        if self._reference is not None:
            self._reference.configure(cap, rate)

    cdef object _moved(self):
        """The reference, holding these buckets from now on (exact integers of any size)."""
        from tapeflow.risk.throttle import Throttle, TokenBucket  # here: that module imports this one

        if self._reference is None:
            reference = Throttle(self.cap, self.rate)
            for key, found in self.buckets.items():
                reference.buckets[key] = TokenBucket((<Bucket?>found).tokens, (<Bucket?>found).last)
            self.buckets = reference.buckets
            self._reference = reference
            self._pending = False
            self._bucket = None
            self._key = None
            self._now_object = None
        return self._reference

    cdef inline int64_t _refilled(self, Bucket bucket, int64_t now):
        """min(cap, tokens + (now - last) x rate), never multiplying past the cap."""
        cdef int64_t room
        cdef uint64_t gap
        if now <= bucket.last:
            return bucket.tokens
        room = self.cap - bucket.tokens
        gap = <uint64_t>now - <uint64_t>bucket.last  # now > last: the difference fits 64 unsigned bits
        if room <= 0 or gap > <uint64_t>(room // self.rate):
            return self.cap
        return bucket.tokens + <int64_t>gap * self.rate

    def refill(self, key, now_object):
        cdef Bucket bucket
        cdef long long now
        if self._reference is not None or not tf_as_ll(<PyObject*>now_object, &now):
            return self._moved().refill(key, now_object)
        self._pending = False
        found = self.buckets.get(key)
        if found is None:
            bucket = Bucket(self.cap, now)
            self.buckets[key] = bucket
        else:
            bucket = <Bucket?>found
            if now > bucket.last:
                bucket.tokens = self._refilled(bucket, now)
                bucket.last = now
        return bucket.tokens

    def spend(self, key):
        cdef Bucket bucket
        if self._reference is not None:
            self._reference.spend(key)
            return
        bucket = <Bucket?>self.buckets[key]
        self._pending = False
        bucket.tokens -= NS

    def ready(self, key, now_object):
        cdef Bucket bucket
        cdef long long now
        if self._reference is not None or not tf_as_ll(<PyObject*>now_object, &now):
            return self._moved().ready(key, now_object)
        found = self.buckets.get(key)
        if found is None:
            self._bucket = None
            self._tokens = self.cap
        else:
            bucket = <Bucket?>found
            self._bucket = bucket
            self._tokens = self._refilled(bucket, now)
        self._key = key
        self._now_object = now_object
        self._now = now
        self._pending = True
        return self._tokens >= NS

    def take(self, key, now_object):
        """``now`` as the object ``ready`` was given for the same order: taken as it is, not converted again."""
        cdef Bucket bucket
        cdef int64_t now
        if self._reference is not None:
            self._reference.take(key, now_object)
            return
        if self._pending and key is self._key and now_object is self._now_object:
            now = self._now
        else:
            self.ready(key, now_object)
            if self._reference is not None:  # ``now_object`` was past int64: ``ready`` moved the buckets
                self._reference.take(key, now_object)
                return
            now = self._now
        self._pending = False
        self._key = None
        self._now_object = None
        bucket = self._bucket
        self._bucket = None
        if bucket is None:
            self.buckets[key] = Bucket(self._tokens - NS, now)
        else:
            bucket.tokens = self._tokens - NS
            if now > bucket.last:
                bucket.last = now
