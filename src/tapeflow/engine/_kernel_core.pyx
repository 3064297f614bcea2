# cython: language_level=3
"""The kernel's two loops compiled: the feed (``Kernel._feed``) and the schedule (``Kernel._drain``), and a fan-out.

Why compiled: on the tick backtest the kernel's step and the generated Python fan-out to three handlers cost about
a fifth of each quote's ~0.55 us, and the step is already as short as Python writes it (one attribute read, one
heap peek, one store, one dict lookup, one call: issue 19's profile in docs/PERFORMANCE.md). Here the same steps
run without the interpreter's dispatch between them, and a type with several subscribers is a ``FanOut`` whose
handlers this loop calls directly, with no Python frame of its own.

The reference is the pure-Python ``Kernel`` in ``kernel.py``: ``CompiledKernel`` there binds ``feed`` and ``drain``
as its ``_feed`` and ``_drain`` and ``emit`` and ``call_at`` under their own names, and keeps every other method, so
both run on the same state (heap, table, clock, counters) in the same order; tests in
``tests/engine/test_kernel_core.py`` require the identical dispatch sequence, clock and errors from both.
Timestamps stay Python ints (compared as objects, or in the schedule's heap and the merge as C integers where they
fit 64 bits, as objects beyond), so the two agree on any int. Timers (``TimerFire``) and the heap's sifts are here
too: ``_fire``'s frame and heapq's tuple comparisons were most of a timer's cost (docs/PERFORMANCE.md, "Round 9").

Why this module is long: the loops, the handlers they call without a frame, the timers and the heap share inline
helpers and the loops' state. The merge is in ``_kernel_merge.pxi``, included at the end (round 10).
"""

from cpython.exc cimport PyErr_Clear, PyErr_ExceptionMatches
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport Py_LT, Py_TYPE, PyObject, PyObject_RichCompareBool, PyObject_TypeCheck, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.string cimport memmove
from operator import attrgetter

from tapeflow.engine.clock import SimClock
from tapeflow.engine.timers import Call, Timer
from tapeflow.model.errors import OutOfOrderError
from tapeflow.model.events import Event, TimerFired


include "../book/_slots.pxi"
include "../book/_as_ll.pxi"

# Why slot offsets here: CPython 3.11 reads a slot in bytecode at its offset (``LOAD_ATTR_SLOT``, a few ns), while C
# code going through ``getattr``/``setattr`` pays the type lookup and the descriptor call (~10-15 ns each); the feed
# reads ``ts_init`` and sets the clock once per event. Each offset may be -1 (``_slot_offset_or_fallback``): the
# loops then take the attribute path, so a class changed in Python never makes them read the wrong memory.
cdef Py_ssize_t _TS_INIT = _slot_offset_or_fallback(Event, "ts_init")
cdef Py_ssize_t _NOW = _slot_offset_or_fallback(SimClock, "_now")
cdef PyTypeObject *_EVENT = <PyTypeObject*>Event
cdef Py_ssize_t _T_TICK = _slot_offset_or_fallback(Timer, "tick")
cdef Py_ssize_t _T_CANCELLED = _slot_offset_or_fallback(Timer, "cancelled")
cdef Py_ssize_t _T_FIRED = _slot_offset_or_fallback(Timer, "fired")
cdef Py_ssize_t _T_INTERVAL = _slot_offset_or_fallback(Timer, "interval")
cdef Py_ssize_t _C_FN = _slot_offset_or_fallback(Call, "fn")
cdef Py_ssize_t _C_ARG = _slot_offset_or_fallback(Call, "arg")
cdef Py_ssize_t _T_WHEN = _slot_offset_or_fallback(Timer, "when")
cdef Py_ssize_t _T_NAME = _slot_offset_or_fallback(Timer, "name")
cdef Py_ssize_t _T_ID = _slot_offset_or_fallback(Timer, "id")
cdef Py_ssize_t _T_CALLBACK = _slot_offset_or_fallback(Timer, "callback")
cdef bint _TIMER_SLOTS = min(_T_TICK, _T_CANCELLED, _T_FIRED, _T_INTERVAL, _T_WHEN, _T_NAME, _T_ID, _T_CALLBACK) >= 0
cdef tuple _TIMER_FIRED_FIELDS = ("ts_event", "ts_init", "name", "timer_id")
"""The keywords of a ``TimerFired`` (``kw_only``), passed to its vectorcall as names: no dict built a firing."""


cdef inline PyObject *_ts_slot(PyObject *event) noexcept:
    """``event.ts_init`` from its slot, borrowed, for an ``Event`` (set: msgspec fills every field on construction);
    NULL for anything else, read then by ``_ts_init``'s attribute path.

    A direct subclass of ``Event`` (every event type of ``model``) is told by its base, before the walk of its MRO
    that ``PyObject_TypeCheck`` does (~16 instructions a read, and the merged path reads each event three times)."""
    cdef PyTypeObject *kind = Py_TYPE(<object>event)
    if _TS_INIT >= 0 and (kind.tp_base is _EVENT or PyObject_TypeCheck(<object>event, _EVENT)):
        return _get(<object>event, _TS_INIT)
    return NULL


cdef inline object _ts_init(object event):
    """``event.ts_init``; from its slot for an ``Event`` (``_ts_slot``)."""
    cdef PyObject *value = _ts_slot(<PyObject*>event)
    if value is not NULL:
        return <object>value
    return event.ts_init


cdef inline object _get_now(object time, bint fast):
    """``time._now``, from its slot when ``fast`` (see ``_set_now``)."""
    if fast:
        return <object>_get(time, _NOW)
    return time._now


cdef inline object _now_of(object time):
    """``time._now``, from its slot for a ``SimClock``."""
    return _get_now(time, _NOW >= 0 and isinstance(time, SimClock))


cdef inline int _set_now(object time, bint fast, object ts) except -1:
    """``time._now = ts``; ``fast`` when ``time`` is a ``SimClock`` (checked once per loop): into its slot."""
    if fast:
        _put(time, _NOW, ts)
    else:
        time._now = ts
    return 0


cdef inline bint _head_due(list heap, object limit) except -1:
    """``heap and heap[0][0] <= limit``: the schedule's first entry is due at or before ``limit``."""
    if PyList_GET_SIZE(heap) == 0:
        return False
    return <object>PyTuple_GET_ITEM(<object>PyList_GET_ITEM(heap, 0), 0) <= limit


cdef struct _Head:
    PyObject *entry  # the schedule's first entry when ``key`` was read from it (a reference of the feed's), or NULL
    long long key
    bint fast  # its time is an int within 64 bits, ``key``


cdef bint _due_from(list heap, object ts, _Head *head) except -1:
    """``heap[0][0] <= ts`` for a heap that is not empty, the head's time read into C once per head entry.

    Why: the feed asks this before every event while anything is scheduled (a repeating timer: always), and the
    objects' comparison was ~69 instructions an event (callgrind, bench_kernel's ``scheduled``); reading both ints
    from their digits each time costs as much (two ``tf_as_ll``), so the head's is kept while the same entry heads
    the heap (entries are tuples, never changed; the reference held means no other entry takes its address)."""
    cdef PyObject *entry = PyList_GET_ITEM(heap, 0)
    cdef long long t = 0
    if entry is not head.entry:
        Py_INCREF(<object>entry)
        Py_XDECREF(head.entry)
        head.entry = entry
        head.fast = tf_as_ll(PyTuple_GET_ITEM(<object>entry, 0), &head.key)
    if head.fast and tf_as_ll(<PyObject*>ts, &t):
        return head.key <= t
    return <object>PyTuple_GET_ITEM(<object>entry, 0) <= ts


cdef inline bint _feed_due(list heap, object ts, _Head *head) except -1:
    """``_head_due`` in the feed's loops: the empty heap (no timer, nothing emitted) told without a call.

    (Round 12 tried testing an already-read head here too: GCC then kept this function out of line, and the test
    cost 62 instructions a feed event against ``_due_from``'s 57.)"""
    if PyList_GET_SIZE(heap) == 0:
        return False
    return _due_from(heap, ts, head)


cdef inline bint _due_by(list heap, object limit, bint fast, long long key) except -1:
    """``_head_due(heap, limit)`` in the drain: ``limit``'s time read into C once a drain (``fast``, ``key``), each
    head's from its digits, the objects compared when either is not an int within 64 bits (the objects' ``<=``
    was ~50 instructions a test, twice a drain)."""
    cdef long long t = 0
    if PyList_GET_SIZE(heap) == 0:
        return False
    if fast and tf_as_ll(PyTuple_GET_ITEM(<object>PyList_GET_ITEM(heap, 0), 0), &t):
        return t <= key
    return _head_due(heap, limit)


cdef inline int _add_count(object owner, Py_ssize_t offset, str name, Py_ssize_t n) except -1:
    """``owner.<name> += n`` for one of the kernel's counters, added in C while it is an int within 62 bits (the
    objects' ``+`` was ~140 instructions, paid at the end of every drain of the schedule)."""
    cdef long long x = 0
    value = _attr(owner, offset, name)
    if tf_as_ll(<PyObject*>value, &x) and -(1LL << 62) < x < (1LL << 62):
        return _set_attr(owner, offset, name, PyLong_FromLongLong(x + n))
    return _set_attr(owner, offset, name, value + n)


cdef class FanOut:
    """Several subscribers of one event type as one callable: each handler in subscription order.

    The compiled loops call ``handlers`` themselves; ``__call__`` serves whoever else calls a table entry (the
    Python ``_fire`` and ``finish``)."""

    cdef readonly tuple handlers

    def __init__(self, handlers):
        self.handlers = tuple(handlers)

    def __call__(self, event):
        for handler in self.handlers:
            handler(event)

    def __repr__(self):
        return f"FanOut({self.handlers!r})"


cdef class LastBy:
    """A handler keeping, in ``last``, the latest event per value of its field ``field`` (``Kernel.keep_last``).

    The loops store into ``last`` themselves, no call at all: a component that needs only the last bar of each
    symbol (the simulated exchange, for marks) costs a dict store per bar instead of a Python handler."""

    cdef readonly dict last
    cdef readonly str field

    def __init__(self, str field, dict last):
        self.field = field
        self.last = last

    def __call__(self, event):
        self.last[getattr(event, self.field)] = event


cdef class Gated:
    """A handler called only while ``when`` (a container) is not empty (``Kernel.subscribe_while``).

    The loops test ``when`` themselves, no call while it is empty: the simulated exchange's bar handler, which has
    work only while an order waits for a bar, costs a truth test on every other bar."""

    cdef readonly object handler
    cdef readonly object when

    def __init__(self, handler, when):
        self.handler = handler
        self.when = when

    def __call__(self, event):
        if self.when:
            self.handler(event)


# The schedule's heap, kept here by heapq's own steps (``_push`` is ``heappush``, ``_pop`` ``heappop``: the same sift
# loops, so the list holds what heapq would leave in it, and the Python methods on the same list go on with heapq).
# Why: an entry is a tuple ``(ts, seq, item)``, and heapq compares two by tuple comparison (each element's equality,
# then its order, as Python objects), ~100 instructions a comparison; here ``ts`` and ``seq`` (unique, so the item is
# never reached) are compared as C integers when both fit 64 bits, else as the tuples heapq compares.


cdef inline bint _entry_lt(object a, object b) except -1:
    """``a < b`` for two schedule entries."""
    cdef long long x = 0, y = 0
    if type(a) is tuple and type(b) is tuple and len(<tuple>a) >= 2 and len(<tuple>b) >= 2:
        if tf_as_ll(PyTuple_GET_ITEM(a, 0), &x) and tf_as_ll(PyTuple_GET_ITEM(b, 0), &y):
            if x != y:
                return x < y
            if tf_as_ll(PyTuple_GET_ITEM(a, 1), &x) and tf_as_ll(PyTuple_GET_ITEM(b, 1), &y) and x != y:
                return x < y
    return PyObject_RichCompareBool(a, b, Py_LT)


cdef int _sift_down(list heap, Py_ssize_t start, Py_ssize_t pos) except -1:
    """heapq's ``_siftdown``: the entry at ``pos`` moved up towards ``start`` past every parent it precedes."""
    cdef Py_ssize_t parent, size = len(heap)
    entry = heap[pos]
    while pos > start:
        parent = (pos - 1) >> 1
        above = heap[parent]
        if not _entry_lt(entry, above):
            break
        if len(heap) != size:
            raise RuntimeError("list changed size during iteration")
        heap[pos] = above
        pos = parent
    heap[pos] = entry
    return 0


cdef inline int _push(list heap, object entry) except -1:
    """``heappush(heap, entry)``."""
    heap.append(entry)
    return _sift_down(heap, 0, len(heap) - 1)


cdef extern from "Python.h":
    void Py_SET_SIZE(object o, Py_ssize_t size)


cdef object _pop(list heap):
    """``heappop(heap)``: the least entry.

    The last entry is taken out by shortening the list in place, not by ``list.pop``: the schedule swings between
    one and three entries, and the list's storage was reallocated smaller (``realloc``) at nearly every swing,
    ~450 instructions a pop on bench_kernel's ``scheduled``; what is beyond the size is never read."""
    cdef Py_ssize_t end = len(heap) - 1, pos = 0, child, right
    last = <object>PyList_GET_ITEM(heap, end)  # a reference of our own ...
    Py_SET_SIZE(heap, end)
    Py_XDECREF(<PyObject*>last)  # ... and the list's, dropped with the entry it no longer holds
    if end == 0:
        return last
    first = heap[0]
    heap[0] = last
    end = len(heap)
    child = 1
    while child < end:  # heapq's ``_siftup``: the smaller child up, to a leaf; then ``last`` back up from there
        right = child + 1
        if right < end and not _entry_lt(heap[child], heap[right]):
            child = right
        if len(heap) != end:
            raise RuntimeError("list changed size during iteration")
        heap[pos] = heap[child]
        pos = child
        child = 2 * pos + 1
    heap[pos] = last
    _sift_down(heap, 0, pos)
    return first


cdef class _Slots:
    """Where a kernel class keeps what ``emit``, ``call_at``, the drain, the timers and the calls touch: its slots'
    offsets (-1: an attribute that is not a plain slot in that class, reached by name). Why: a generic attribute
    read or store from C costs ~150 instructions (``_PyType_Lookup``, the descriptor), and ``emit`` made five."""

    cdef object kind
    cdef Py_ssize_t time
    cdef Py_ssize_t seq
    cdef Py_ssize_t heap
    cdef Py_ssize_t popped
    cdef Py_ssize_t not_events


cdef _Slots _LAST_SLOTS = _Slots()


cdef inline _Slots _slots(object kernel):
    """The offsets for ``type(kernel)``; the last class asked for is kept (a process runs one kernel class)."""
    global _LAST_SLOTS
    cdef _Slots found
    if type(kernel) is not _LAST_SLOTS.kind:
        found = _Slots()
        found.kind = type(kernel)
        found.time = _slot_offset_or_fallback(found.kind, "_time")
        found.seq = _slot_offset_or_fallback(found.kind, "_seq")
        found.heap = _slot_offset_or_fallback(found.kind, "_heap")
        found.popped = _slot_offset_or_fallback(found.kind, "_popped")
        found.not_events = _slot_offset_or_fallback(found.kind, "_not_events")
        _LAST_SLOTS = found
    return _LAST_SLOTS


cdef inline object _attr(object owner, Py_ssize_t offset, str name):
    """``getattr(owner, name)``, from the slot at ``offset`` when there is one."""
    if offset >= 0:
        return _read_slot(owner, offset)
    return getattr(owner, name)


cdef inline int _set_attr(object owner, Py_ssize_t offset, str name, object value) except -1:
    """``setattr(owner, name, value)``, into the slot at ``offset`` when there is one."""
    if offset >= 0:
        _put(owner, offset, value)
    else:
        setattr(owner, name, value)
    return 0


cdef class TimerFire:
    """The table's handler for ``Timer`` in a compiled kernel: ``Kernel._fire`` (cancelled check, count,
    reschedule, then the tick, or a ``TimerFired`` dispatched and the callback) run here instead of in a Python frame.

    Why: the ML recorder's sampling timer fires once a second of event time, ~43 quotes apart on the quote
    backtest, and ``_fire``'s frame, cold by then, was ~1 us of each sample (docs/PERFORMANCE.md, ML section 1);
    a timer dispatching ``TimerFired`` (bench_kernel's ``scheduled``, a strategy's or the portfolio's timer) paid
    that frame and a keyword call building the event (docs/PERFORMANCE.md, "Round 9, p27-timers"). A timer whose
    slots are not plain goes to the kernel's ``_fire`` (the reference), as does every timer of a kernel whose class
    overrides ``_fire``."""

    cdef readonly object kernel
    cdef object fire
    cdef list heap
    cdef Handlers handlers
    cdef object time
    cdef bint fast
    cdef _Slots slots

    def __init__(self, kernel):
        self.kernel = kernel
        self.fire = kernel._fire
        self.heap = kernel._heap
        self.handlers = kernel._handlers
        self.time = kernel._time
        self.fast = _NOW >= 0 and isinstance(self.time, SimClock)
        self.slots = _slots(kernel)

    def __call__(self, timer):
        _fire(self, timer)


cdef extern from "Python.h":
    object PyObject_Vectorcall(object callable, PyObject **args, size_t nargsf, object kwnames)


cdef inline int _count_not_event(object kernel, Py_ssize_t offset) except -1:
    """``kernel._not_events += 1`` (``offset``: its slot's, or -1)."""
    return _add_count(kernel, offset, "_not_events", 1)


cdef int _fire(TimerFire f, object timer) except -1:
    """``Kernel._fire(timer)``, step for step."""
    cdef PyObject *tick
    cdef PyObject *cancelled
    cdef PyObject *fired
    cdef PyObject *interval
    cdef PyObject *callback
    cdef PyObject *args[4]
    if not _TIMER_SLOTS or type(timer) is not Timer:
        f.fire(timer)
        return 0
    tick = _get(timer, _T_TICK)
    cancelled = _get(timer, _T_CANCELLED)
    fired = _get(timer, _T_FIRED)
    interval = _get(timer, _T_INTERVAL)
    if (
        tick is NULL or cancelled is NULL or fired is NULL or interval is NULL
        or _get(timer, _T_NAME) is NULL or _get(timer, _T_ID) is NULL
    ):
        f.fire(timer)
        return 0
    if <object>cancelled:
        _count_not_event(f.kernel, f.slots.not_events)
        return 0
    kernel = f.kernel
    now = _get_now(f.time, f.fast)
    _put(timer, _T_FIRED, <object>fired + 1)
    if <object>interval is not None:
        when = now + <object>interval
        _put(timer, _T_WHEN, when)
        seq = _attr(kernel, f.slots.seq, "_seq")
        _push(f.heap, (when, seq, timer))
        _set_attr(kernel, f.slots.seq, "_seq", seq + 1)
    if <object>tick is not None:  # callback-only: no event built or dispatched
        _count_not_event(f.kernel, f.slots.not_events)
        (<object>tick)(now)
        return 0
    args[0] = <PyObject*>now
    args[1] = <PyObject*>now
    args[2] = _get(timer, _T_NAME)
    args[3] = _get(timer, _T_ID)
    event = PyObject_Vectorcall(TimerFired, args, 0, _TIMER_FIRED_FIELDS)
    _dispatch(_handler(f.handlers, kernel, TimerFired), event)
    callback = _get(timer, _T_CALLBACK)  # read after the dispatch, as the reference does
    then = <object>callback if callback is not NULL else timer.callback  # unset: the reference's AttributeError
    if then is not None:
        PyObject_CallOneArg(then, event)
    return 0


cdef class CallRun:
    """The table's handler for ``Call`` in a compiled kernel: ``Kernel._call`` (count it, then ``fn(arg)``) run here
    instead of in a Python frame of its own.

    Why: every order of a backtest reaches the simulated exchange through one ``call_at`` (its arrival after the
    entry latency), and ``_call``'s frame was one of ~60 an order (issue 19, docs/PERFORMANCE.md). A kernel whose
    class overrides ``_call`` keeps its own (``CompiledKernel._call_handler``). The loops call it through its
    ``__call__`` (a C call, once an order), not by a test of its type in ``_call``, which every other handler of
    every event would pass through."""

    cdef readonly object kernel
    cdef _Slots slots

    def __init__(self, kernel):
        self.kernel = kernel
        self.slots = _slots(kernel)

    def __call__(self, call):
        _run_call(self, call)


cdef int _run_call(CallRun r, object call) except -1:
    """``Kernel._call(call)``, step for step."""
    _count_not_event(r.kernel, r.slots.not_events)
    call.fn(call.arg)
    return 0


cdef inline object _read_slot(object owner, Py_ssize_t offset):
    """The slot's value (an unset slot raises as the attribute would)."""
    cdef PyObject *value = _get(owner, offset)
    if value is NULL:
        raise AttributeError("kernel slot unset")
    return <object>value


cdef extern from "Python.h":
    # Why not ``handler(event)``: Cython's generic call helper was ~59 instructions of each event's dispatch
    # (callgrind, bench_kernel's merged workload); CPython's one-argument vectorcall goes to the function directly.
    object PyObject_CallOneArg(object callable, object arg)


cdef extern from "Python.h":
    ctypedef PyObject *(*vectorcallfunc)(PyObject *callable, PyObject **args, size_t nargsf, PyObject *kwnames)
    vectorcallfunc PyVectorcall_Function(object callable)
    size_t PY_VECTORCALL_ARGUMENTS_OFFSET
    PyObject *PyErr_Occurred()


cdef inline int _call_one(object handler, object event) except -1:
    """``handler(event)``, through the handler's own vectorcall when it has one (a Python function, a bound method).

    Why: ``PyObject_CallOneArg`` finds that same function and then checks its result against the error indicator
    (``_Py_CheckFunctionResult``), ~30 instructions of every dispatch (callgrind, bench_kernel's merged workload).
    Here a result of NULL is the handler's error, propagated unchanged as there; NULL with no error set (a broken
    C callable) is the ``SystemError`` CPython raises."""
    cdef PyObject *args[2]
    cdef PyObject *result
    cdef vectorcallfunc call = PyVectorcall_Function(handler)
    if call is NULL:
        PyObject_CallOneArg(handler, event)
        return 0
    args[1] = <PyObject*>event  # args[0] is the callee's to use (PY_VECTORCALL_ARGUMENTS_OFFSET)
    result = call(<PyObject*>handler, &args[1], 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL)
    if result is NULL:
        if PyErr_Occurred() is NULL:
            raise SystemError(f"{handler!r} returned NULL without setting an exception")
        return -1
    Py_XDECREF(result)
    return 0


cdef int _call_own(object handler, object event) except -1:
    """A handler of this module's (a keeper, a gate, a timer's firing) run without a call of its own."""
    cdef type kind = type(handler)
    if kind is LastBy:
        (<LastBy>handler).last[getattr(event, (<LastBy>handler).field)] = event
    elif kind is Gated:
        if (<Gated>handler).when:
            (<Gated>handler).handler(event)
    elif kind is TimerFire:
        _fire(<TimerFire>handler, event)
    else:
        _call_one(handler, event)
    return 0


cdef inline bint _own(PyTypeObject *kind) noexcept:
    """Whether a handler of type ``kind`` is one ``_call_own`` runs (or a ``FanOut``) rather than a call."""
    return (
        kind is <PyTypeObject*>LastBy or kind is <PyTypeObject*>Gated or kind is <PyTypeObject*>TimerFire
        or kind is <PyTypeObject*>FanOut
    )


cdef int _fan_out(object handler, object event) except -1:
    """A ``FanOut``'s handlers in turn, or one of this module's own handlers."""
    if type(handler) is FanOut:
        for h in (<FanOut>handler).handlers:
            if _own(Py_TYPE(h)):
                _call_own(h, event)
            else:
                _call_one(h, event)
    else:
        _call_own(handler, event)
    return 0


cdef inline int _dispatch(object handler, object event) except -1:
    """``handler(event)`` for a table entry. Why split so: the plain call (one subscriber, most types) stays small
    enough to be inlined into the loops; a fan-out or this module's own handlers go through a function of their
    own (the two functions' entries and exits were ~30 instructions of every dispatch)."""
    if _own(Py_TYPE(handler)):
        return _fan_out(handler, event)
    return _call_one(handler, event)


cdef class Handlers:
    """A compiled kernel's dispatch table as its loops read it: the entries they have used, by the type's identity.

    Why: the table is a dict keyed by type, and its lookup (hash of the type, probe, compare, Cython's ``get``) was
    111 instructions of each event's dispatch in the feed (docs/PERFORMANCE.md, "Round 8"); a feed has a handful of
    types, and comparing the type against those few pointers costs a tenth of that. The table stays the truth:
    an entry is taken from it (or from ``_resolve``, which adds the one it lacks), and ``CompiledKernel._forget``,
    where the table loses or changes entries, calls ``clear`` first; so an entry here is always the table's for
    that type, whatever a handler subscribes or unsubscribes mid-run. Holds at most ``_MEMO`` types; any other is
    looked up in the table each time, as before.

    It holds the table, not the kernel: the loops pass the kernel in (``_resolve``, the counters). A kernel that
    held this and was held by it would be a reference cycle, freed only by the cycle collector, and everything its
    subscribers keep (their events, a test's event class) would live until a second collection."""

    cdef dict table
    cdef tuple entries  # (type, handler, type, handler, ...), in the order the loops first asked for them

    def __init__(self, kernel):
        self.table = kernel._table
        self.entries = ()

    def clear(self):
        """Forget every entry (the table is about to change)."""
        self.entries = ()

    def __len__(self):
        return len(self.entries) // 2


cdef Py_ssize_t _MEMO = 16


cdef object _miss(Handlers h, object kernel, object kind):
    """The table's entry for ``kind`` (built by ``kernel._resolve`` on first use, as the Python loops do),
    remembered."""
    handler = h.table.get(kind)
    if handler is None:
        handler = kernel._resolve(kind)
    if PyTuple_GET_SIZE(h.entries) < 2 * _MEMO:
        h.entries = h.entries + (kind, handler)
    return handler


cdef inline object _handler(Handlers h, object kernel, object kind):
    cdef tuple entries = h.entries
    cdef Py_ssize_t i
    for i in range(0, PyTuple_GET_SIZE(entries), 2):
        if PyTuple_GET_ITEM(entries, i) is <PyObject*>kind:
            return <object>PyTuple_GET_ITEM(entries, i + 1)
    return _miss(h, kernel, kind)


cdef int _drain(object kernel, Handlers h, list heap, object time, bint fast, object limit) except -1:
    cdef Py_ssize_t popped = 0
    cdef long long key = 0
    cdef bint limit_fast = tf_as_ll(<PyObject*>limit, &key)
    try:
        while _due_by(heap, limit, limit_fast, key):
            entry = <tuple>_pop(heap)
            _set_now(time, fast, entry[0])
            popped += 1
            item = entry[2]
            _dispatch(_handler(h, kernel, type(item)), item)
    finally:
        slots = _slots(kernel)
        _add_count(kernel, slots.popped, "_popped", popped)
    return 0


def emit(self, event):
    """``Kernel.emit``, step for step: ``event`` queued at its ``ts_init``, never into the past.

    Why compiled: a bar backtest's order emits four events (signal, submit, accept, fill), and the Python method's
    frame was one of ~60 an order (issue 19, docs/PERFORMANCE.md); every component's emit takes this path."""
    cdef _Slots slots = _slots(self)
    ts = _ts_init(event)
    now = _now_of(_attr(self, slots.time, "_time"))
    if ts < now:
        raise OutOfOrderError(ts, now, f"emitted {type(event).__name__}", "a component cannot schedule into the past")
    seq = _attr(self, slots.seq, "_seq")
    _push(_attr(self, slots.heap, "_heap"), (ts, seq, event))
    _set_attr(self, slots.seq, "_seq", seq + 1)


cdef object _new_call(object fn, object arg):
    """``Call(fn, arg)`` without the Python frame of its ``__init__``: the object ``Call.__new__`` makes, its two
    slots stored as ``__init__`` stores them. Why: a bar backtest's order arrives at the simulated exchange through
    ``call_at``, and that frame was one of ~44 an order (issue 19, round 11). A ``Call`` whose slots are not plain
    object slots (-1) is built by its constructor."""
    if _C_FN < 0 or _C_ARG < 0:
        return Call(fn, arg)
    call = Call.__new__(Call)
    _put(call, _C_FN, fn)
    _put(call, _C_ARG, arg)
    return call


def call_at(self, ts, fn, arg=None):
    """``Kernel.call_at``, step for step: ``fn(arg)`` at ``ts`` in ``(ts, seq)`` order, dispatching nothing."""
    cdef _Slots slots = _slots(self)
    now = _now_of(_attr(self, slots.time, "_time"))
    if ts < now:
        raise OutOfOrderError(ts, now, "call_at", "a component cannot schedule into the past")
    seq = _attr(self, slots.seq, "_seq")
    _push(_attr(self, slots.heap, "_heap"), (ts, seq, _new_call(fn, arg)))
    _set_attr(self, slots.seq, "_seq", seq + 1)


def now(self):
    """``Kernel.now``, the compiled kernel's property: the event time, read without a Python frame. Why: the
    simulated exchange stamps each report with it and risk reads it on every command (three reads an order of a
    bar backtest, issue 19, round 11)."""
    cdef _Slots slots = _slots(self)
    return _now_of(_attr(self, slots.time, "_time"))


def drain(self, limit):
    """``Kernel._drain``: every scheduled item due at or before ``limit``, in ``(ts, seq)`` order."""
    time = self._time
    _drain(self, self._handlers, self._heap, time, _NOW >= 0 and isinstance(time, SimClock), limit)


def feed(self, batches, bint checking):
    """``Kernel._feed``: ``checking``, every event against the clock (``run``); else each proven list by its
    first (``run_sorted``)."""
    cdef list heap = self._heap
    cdef Handlers handlers = self._handlers
    time = self._time
    cdef bint fast = _NOW >= 0 and isinstance(time, SimClock)
    cdef Py_ssize_t count = 0
    cdef _Head head
    head.entry = NULL
    try:
        for batch in batches:
            if checking:
                for event in batch:
                    ts = _ts_init(event)
                    if ts < _get_now(time, fast):
                        raise OutOfOrderError(ts, time._now, type(event).__name__)
                    count += 1
                    if _feed_due(heap, ts, &head):
                        _drain(self, handlers, heap, time, fast, ts)
                    _set_now(time, fast, ts)
                    _dispatch(_handler(handlers, self, type(event)), event)
                continue
            if not batch:
                continue
            first = _ts_init(batch[0])
            if first < _get_now(time, fast):
                raise OutOfOrderError(first, time._now, type(batch[0]).__name__)
            for event in batch:
                ts = _ts_init(event)
                if _feed_due(heap, ts, &head):
                    _drain(self, handlers, heap, time, fast, ts)
                _set_now(time, fast, ts)
                _dispatch(_handler(handlers, self, type(event)), event)
            count += len(batch)
    finally:
        Py_XDECREF(head.entry)  # nothing the schedule ran stays referenced after the feed
        self.feed_events += count
    now = time._now
    if _head_due(heap, now):
        _drain(self, handlers, heap, time, fast, now)


include "_kernel_merge.pxi"
