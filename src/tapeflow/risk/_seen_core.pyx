# cython: language_level=3, boundscheck=False, wraparound=False
"""The duplicate-order rule's table (``flow_rules.DuplicateOrder``), with its fast check's lookup and record in C.

The table is an ordinary dict (order key -> time sent, exact Python integers) that the rule-by-rule path reads and
writes itself: one state. What is compiled is the fast check's pair: ``fresh`` looks the key up (a 7-tuple, whose
hash Python does not cache) and keeps its hash, and ``record`` stores the key with that hash once the order has
passed every rule, where the composed Python text hashed the tuple twice and called ``len`` (docs/PERFORMANCE.md,
"Risk engine", round 10). The rule's own text over a plain dict (``DuplicateOrder.fast_check`` under
``TAPEFLOW_PURE_PYTHON=1``) is the reference both are tested against.
"""

from cpython.object cimport PyObject

cdef extern from "Python.h":
    PyObject* _PyDict_GetItem_KnownHash(object mp, object key, Py_hash_t hash) except? NULL
    int _PyDict_SetItem_KnownHash(object mp, object key, object item, Py_hash_t hash) except -1
    Py_hash_t PyObject_Hash(object o) except -1

cdef Py_ssize_t CROWDED = 4_096


cdef class SeenCore:
    """``seen``: the table; ``fresh`` and ``record``: one order's check and, if it passed, its entry."""

    cdef readonly dict seen
    cdef object _key
    cdef Py_hash_t _hash

    def __cinit__(self):
        self.seen = {}

    def fresh(self, key, now, window):
        """False when ``key`` was sent less than ``window`` ns before ``now``; nothing is written."""
        cdef Py_hash_t hash_ = PyObject_Hash(key)
        cdef PyObject* last = _PyDict_GetItem_KnownHash(self.seen, key, hash_)
        self._key = key
        self._hash = hash_
        return last == NULL or not (now - <object>last < window)

    def record(self, key, now):
        """``key`` sent at ``now``; True when the table held more than 4,096 keys before (the rule then prunes:
        the key just written is inside the window, so pruning after it leaves what pruning before would)."""
        cdef bint crowded = len(self.seen) > CROWDED
        if key is self._key:
            _PyDict_SetItem_KnownHash(self.seen, key, now, self._hash)
        else:
            self.seen[key] = now
        self._key = None
        return crowded
