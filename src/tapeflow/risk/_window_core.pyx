# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled sliding windows of event times per key: the trip rules' counters (``window.Window`` is the reference,
which decides what ``add`` must return and keep).

Why compiled: the runaway trip adds every passing order's time to its strategy's window, after the composed fast
check; as Python that was a call, 31 bytecodes and a deque's append and pops on a nanosecond timestamp of three
30-bit digits (docs/PERFORMANCE.md, "Risk engine", round 10). Here the times are C 64-bit integers in a ring
buffer per key, which grows by doubling and never shrinks below what the window holds. ``window.fits`` admits
a window only up to 2**62 ns; a time whose horizon (``now - window_ns``) or itself falls outside int64 moves the
times to the reference for the object's life (``_reference``), which takes integers of any size: the same counts,
where a conversion would raise ``OverflowError``.
"""

from libc.stdint cimport INT64_MIN, int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

include "../book/_as_ll.pxi"

cdef Py_ssize_t FIRST = 16


cdef class Times:
    """One key's times in order of arrival, oldest at ``head``."""

    cdef int64_t* data
    cdef Py_ssize_t head
    cdef Py_ssize_t size
    cdef Py_ssize_t capacity

    def __cinit__(self):
        self.data = <int64_t*>malloc(FIRST * sizeof(int64_t))
        if self.data == NULL:
            raise MemoryError()
        self.capacity = FIRST
        self.head = 0
        self.size = 0

    def __dealloc__(self):
        free(self.data)

    cdef int _grow(self) except -1:
        cdef Py_ssize_t capacity = self.capacity * 2
        cdef int64_t* data = <int64_t*>malloc(capacity * sizeof(int64_t))
        cdef Py_ssize_t first
        if data == NULL:
            raise MemoryError()
        first = self.capacity - self.head  # the oldest times up to the end of the buffer, then the rest
        memcpy(data, self.data + self.head, first * sizeof(int64_t))
        memcpy(data + first, self.data, self.head * sizeof(int64_t))
        free(self.data)
        self.data = data
        self.head = 0
        self.capacity = capacity
        return 0

    def times(self):
        """The times held, oldest first (for tests and inspection)."""
        return [self.data[(self.head + i) % self.capacity] for i in range(self.size)]


cdef class WindowCore:
    """Times of events within ``window_ns`` of the latest, per key."""

    cdef readonly int64_t window_ns
    cdef dict _times
    # None, or the reference ``Window`` holding the times since one past int64 came (``_moved``)
    cdef object _reference

    def __cinit__(self, int64_t window_ns):
        self.window_ns = window_ns
        self._times = {}
        self._reference = None

    cdef object _moved(self):
        """The reference, holding these times from now on (exact integers of any size)."""
        from tapeflow.risk.window import Window  # here: that module imports this one

        if self._reference is None:
            held = {key: (<Times?>found).times() for key, found in self._times.items()}
            self._reference = Window(self.window_ns, held)
            self._times = {}
        return self._reference

    def add(self, key, now_object):
        """``now`` added to ``key``'s window, the times at or before ``now - window_ns`` dropped from its oldest
        end: how many it holds now."""
        cdef Times times
        cdef long long now
        cdef int64_t horizon
        if (
            self._reference is not None
            or not tf_as_ll(<PyObject*>now_object, &now)
            or now < INT64_MIN + self.window_ns  # the horizon would wrap
        ):
            return self._moved().add(key, now_object)
        horizon = now - self.window_ns
        found = self._times.get(key)
        if found is None:
            times = Times()
            self._times[key] = times
        else:
            times = <Times?>found
        if times.size == times.capacity:
            times._grow()
        times.data[(times.head + times.size) % times.capacity] = now
        times.size += 1
        while times.size and times.data[times.head] <= horizon:
            times.head = (times.head + 1) % times.capacity
            times.size -= 1
        return times.size

    def times(self, key):
        """``key``'s times, oldest first; empty for a key never added."""
        if self._reference is not None:
            return self._reference.times(key)
        found = self._times.get(key)
        return [] if found is None else (<Times?>found).times()
