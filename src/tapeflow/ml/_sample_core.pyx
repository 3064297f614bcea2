# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled ``FeatureRecorder._take``: the sampling tick's labels and sample, the same steps on the same objects.

Why compiled: at a 1 s sample on the quote backtest the tick cost ~4.2 us a sample in the loop (docs/PERFORMANCE.md,
ML section 1), against ~1.5 us run warm back to back: the rest was the interpreter's code and the recorder's
objects gone cold over the ~43 quotes between two samples. Rewriting the Python body had stopped paying (earlier
rounds: each exact rewrite moved it by a point or less). Here the tick reads every slot through its offset, does
the arithmetic in C and writes the ring's arrays through typed views, so it touches far less memory and runs no
bytecode.

The reference is the Python ``FeatureRecorder._take`` in ``features.py``; this module keeps no state of its own
beyond typed views of each ring's arrays (cached on the symbol's ``core`` slot): every value lives where the
reference keeps it, so either can run any tick. Before touching anything a tick checks every symbol's state: exact
types, every int field an exact ``int`` in a range where the C arithmetic gives the reference's double (prices and
sizes in [0, 2**31), times in [0, 2**62), order-flow sums within 2**61); anything else hands the whole tick to the
reference (``fallbacks`` counts them). Why each value is the same double:

- int / int in Python is the correctly rounded quotient; both ints are below 2**53 here (else the object division
  runs), so they convert exactly and the C quotient is the same; an int made float (``x + 0.0``) is correctly
  rounded half-even both ways;
- ``math.log`` is libm's ``log`` on a finite positive double; ``x ** 2`` on a float is libm's ``pow(|x|, 2.0)``
  (CPython's ``float_pow`` after its special cases, which give the same for these values), called through a
  volatile exponent so the compiler cannot turn it into ``x * x`` (glibc's ``pow`` is within 0.52 ulp, not always
  the product's rounding); ``math.sqrt`` is the correctly rounded square root;
- ``SquaresSum.push`` keeps the same exact sum, in C (``ExactSum``: five 64-bit limbs, the scaled values added and
  taken off at their bits, the double rounded half-even from the top 64 bits and a sticky bit, as ``float()`` of
  the int rounds) and writes the int it stands for back to ``total``, where the reference reads it; with ``total``
  not the int it last wrote (the reference ran a push) it reads that int's value first. ``math.fsum`` answers,
  called, while an odd value is held.

The labels' backstop call (``ForwardReturnLabels._backstop``) is written out here too (``Sampler.backstop``), on the
same checked states: it fires before the tick at a sample's label end every few samples, and cold in Python it cost
more than the tick itself.

``tests/ml/test_sample_core.py`` holds both equal, byte for byte, over hypothesis streams and real quote days.

Why this module is long: the tick is one pass that must mirror ``_take`` line for line (with the labels' maturing
and ``SquaresSum.push`` written out), and before it the check that every state is one it computes exactly; split
into modules, the check and the pass it guards would drift apart.
"""

from cpython.float cimport PyFloat_AsDouble, PyFloat_CheckExact
from cpython.long cimport PyLong_CheckExact, PyLong_FromDouble
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.set cimport PySet_Contains, PySet_Discard
from libc.math cimport fabs, ldexp, log, sqrt
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy

import math
from collections import deque

from tapeflow.book.quote_book import FlowQuoteBook, QuoteFlow
from tapeflow.ml import window
from tapeflow.ml.labels import ForwardReturnLabels
from tapeflow.ml.window import SampleRing, SquaresSum
from tapeflow.model.market import Quote


include "../book/_slots.pxi"
include "../book/_as_ll.pxi"

cdef extern from *:
    bint _as_ll "tf_as_ll"(PyObject* value, long long* out)

cdef extern from *:
    """
    /* An int's little-endian bytes (unsigned), its bit length and sign: CPython's own helpers (3.13 added an
       argument to the first). */
    static int tapeflow_long_bytes(PyObject* v, unsigned char* out, size_t n) {
    #if PY_VERSION_HEX >= 0x030D0000
        return _PyLong_AsByteArray((PyLongObject*)v, out, n, 1, 0, 1);
    #else
        return _PyLong_AsByteArray((PyLongObject*)v, out, n, 1, 0);
    #endif
    }
    static int tapeflow_highest_bit(unsigned long long x) { return 63 - __builtin_clzll(x); }
    """
    int _long_bytes "tapeflow_long_bytes"(object v, unsigned char* out, size_t n) except -1
    int _highest_bit "tapeflow_highest_bit"(unsigned long long x) nogil
    object _PyLong_FromByteArray(const unsigned char* data, size_t n, int little_endian, int is_signed)
    size_t _PyLong_NumBits(object v) except? <size_t>-1
    int _PyLong_Sign(object v)

cdef extern from *:
    """
    #include <math.h>
    static volatile double tapeflow_sample_two = 2.0;
    static double tapeflow_sample_square(double x) { return pow(x, tapeflow_sample_two); }
    """
    double _square "tapeflow_sample_square"(double x)


cdef double _NAN_V = float("nan")  # the reference's ``_NAN``: the same bits
cdef double _LO = window._LO
cdef double _HI = window._HI
cdef double _SCALE = window._SCALE
cdef double _UNSCALE = window._UNSCALE
cdef int64_t _FIELD_MAX = 2**31
cdef int64_t _TIME_MAX = 2**62
cdef int64_t _FLOW_MAX = 2**61
cdef int64_t _EXACT = 2**53
cdef enum:
    LIMBS = 5  # 64-bit limbs: a held value is below 2**300 scaled, ``_SUM_MAX_N`` of them below 2**320
cdef int64_t _SUM_MAX_N = 2**19
cdef int64_t _NS = 1_000_000_000
cdef object _fsum = math.fsum
cdef object _sqrt = math.sqrt
cdef object _reference_backstop = ForwardReturnLabels._backstop
cdef object _deque_append = deque.append
"""Called with the deque: ``values.append`` looked the method up on the type at every push (~150 instructions)."""

cdef PyTypeObject* _QUOTE_T = <PyTypeObject*>Quote
cdef PyTypeObject* _FLOW_BOOK_T = <PyTypeObject*>FlowQuoteBook
cdef PyTypeObject* _FLOW_T = <PyTypeObject*>QuoteFlow
cdef PyTypeObject* _SQUARES_T = <PyTypeObject*>SquaresSum
cdef PyTypeObject* _RING_T = <PyTypeObject*>SampleRing
cdef PyTypeObject* _DEQUE_T = <PyTypeObject*>deque
cdef PyTypeObject* _SET_T = <PyTypeObject*>set

cdef Py_ssize_t Q_BID = _required_slot_offset(Quote, "bid_price")
cdef Py_ssize_t Q_BID_SIZE = _required_slot_offset(Quote, "bid_size")
cdef Py_ssize_t Q_ASK = _required_slot_offset(Quote, "ask_price")
cdef Py_ssize_t Q_ASK_SIZE = _required_slot_offset(Quote, "ask_size")
cdef Py_ssize_t Q_TS_INIT = _required_slot_offset(Quote, "ts_init")
cdef Py_ssize_t FB_QUOTE = _required_slot_offset(FlowQuoteBook, "quote")
cdef Py_ssize_t FB_OFI = _required_slot_offset(FlowQuoteBook, "ofi_base")
cdef Py_ssize_t QF_QUOTE = _required_slot_offset(QuoteFlow, "quote")
cdef Py_ssize_t QF_OFI = _required_slot_offset(QuoteFlow, "ofi_base")
cdef Py_ssize_t SQ_N = _required_slot_offset(SquaresSum, "n")
cdef Py_ssize_t SQ_ODD = _required_slot_offset(SquaresSum, "odd")
cdef Py_ssize_t SQ_TOTAL = _required_slot_offset(SquaresSum, "total")
cdef Py_ssize_t SQ_VALUES = _required_slot_offset(SquaresSum, "values")
cdef Py_ssize_t SQ_VOL = _required_slot_offset(SquaresSum, "vol")
cdef Py_ssize_t R_APPENDED = _required_slot_offset(SampleRing, "appended")
cdef Py_ssize_t R_DEFERRED = _required_slot_offset(SampleRing, "deferred_from")
cdef Py_ssize_t R_ON_CALL = _required_slot_offset(SampleRing, "on_call")
cdef Py_ssize_t R_CAPACITY = _required_slot_offset(SampleRing, "capacity")


cdef inline bint _int_in(PyObject* value, int64_t lo, int64_t hi, int64_t* out):
    """``value`` is an exact int in [lo, hi); stored in ``out``. Read from its digits when it has one or two
    (``tf_as_ll``): the state check and the tick read ~30 ints a sample, and a call each to
    ``PyLong_AsLongLongAndOverflow`` cost ~700 instructions a sample (docs/PERFORMANCE.md, "Round 7,
    p25-mlflow"); a time (three digits) still takes the call."""
    cdef long long v
    if not _as_ll(value, &v) or v < lo or v >= hi:
        return False
    out[0] = v
    return True


cdef inline int64_t _as_int(PyObject* value):
    """An int slot already checked by ``_int_in``."""
    cdef long long v = 0
    _as_ll(value, &v)
    return v


cdef class _RingViews:
    """Raw pointers into one ring's arrays (they are never replaced after the ring is built), kept with the typed
    views that hold the arrays' buffers: one cache line to read where five view structs took several."""

    cdef object ring
    cdef double* x
    cdef int64_t* times
    cdef int64_t* ends
    cdef double* mids
    cdef double* y
    cdef Py_ssize_t rows
    cdef Py_ssize_t width
    cdef double[:, ::1] _x
    cdef int64_t[::1] _times
    cdef int64_t[::1] _ends
    cdef double[::1] _mids
    cdef double[::1] _y
    cdef ExactSum sums
    """The symbol's volatility sum in limbs (``_push``)."""

    def __init__(self, ring):
        self.ring = ring
        self.sums = ExactSum()
        self._x = ring.X
        self._times = ring.times
        self._ends = ring.label_end
        self._mids = ring.mids
        self._y = ring.y
        self.rows = self._x.shape[0]
        self.width = self._x.shape[1]
        if not (self._times.shape[0] == self._ends.shape[0] == self._mids.shape[0] == self._y.shape[0] == self.rows):
            raise ValueError("sample ring: arrays of different lengths")
        self.x = &self._x[0, 0]
        self.times = &self._times[0]
        self.ends = &self._ends[0]
        self.mids = &self._mids[0]
        self.y = &self._y[0]


cdef class ExactSum:
    """A ``SquaresSum``'s ``total`` (its held in-range values times 2**200, exactly) in C limbs, beside the int it
    stands for.

    Why: the reference's Python-int sum (two ``PyLong_FromDouble`` of ~170-bit values, a subtraction, an addition
    and ``float()``, four allocations) was ~2,100 instructions of every 1 s sample (docs/PERFORMANCE.md, ML section
    1, "Round p24-mlrec"). Here a value joins or leaves at its bits and the double is rounded from the limbs; the
    one int still made a push is the new ``total`` the reference may read. ``limbs`` always holds the value of
    ``total`` (a strong reference: an int with its identity is the same value), so a ``total`` that is another
    object (the reference pushed, or the sum was replaced) is read into the limbs before they are used."""

    cdef uint64_t limbs[LIMBS]
    cdef object total

    def __init__(self):
        self.total = None


cdef inline void _scaled(double x, int* shift, uint64_t* mantissa):
    """``x`` in [2**-148, 2**100) times 2**200 is ``mantissa << shift`` (a normal double: its 53-bit significand
    times a power of two, at least 2**0 after the scale)."""
    cdef uint64_t bits
    memcpy(&bits, &x, 8)
    shift[0] = <int>((bits >> 52) & 0x7FF) - 875  # (biased exponent - 1075) + 200
    mantissa[0] = (bits & ((<uint64_t>1 << 52) - 1)) | (<uint64_t>1 << 52)


cdef inline void _limbs_add(uint64_t* limbs, uint64_t mantissa, int shift):
    cdef int i = shift >> 6
    cdef int bit = shift & 63
    cdef uint64_t lo = mantissa << bit
    cdef uint64_t hi = (mantissa >> (64 - bit)) if bit else 0
    cdef uint64_t before = limbs[i]
    limbs[i] = before + lo
    cdef uint64_t carry = (limbs[i] < before) + hi
    i += 1
    while carry and i < LIMBS:
        before = limbs[i]
        limbs[i] = before + carry
        carry = limbs[i] < before
        i += 1


cdef inline void _limbs_sub(uint64_t* limbs, uint64_t mantissa, int shift):
    """Takes off a value the sum holds (never below zero)."""
    cdef int i = shift >> 6
    cdef int bit = shift & 63
    cdef uint64_t lo = mantissa << bit
    cdef uint64_t hi = (mantissa >> (64 - bit)) if bit else 0
    cdef uint64_t before = limbs[i]
    limbs[i] = before - lo
    cdef uint64_t borrow = (before < lo) + hi
    i += 1
    while borrow and i < LIMBS:
        before = limbs[i]
        limbs[i] = before - borrow
        borrow = before < borrow
        i += 1


cdef double _limbs_double(const uint64_t* limbs):
    """The limbs' value as the nearest double, ties to even: ``float()`` of the int (below 2**320: never
    overflows). The top 64 bits from the highest set one, the bits below them folded into a sticky bit."""
    cdef int top = LIMBS - 1
    while top >= 0 and limbs[top] == 0:
        top -= 1
    if top < 0:
        return 0.0
    cdef int lead = _highest_bit(limbs[top])  # the highest set bit's place in its limb
    cdef uint64_t head
    cdef bint sticky = False
    cdef int i
    cdef int exponent
    if top == 0 and lead < 53:
        return <double>limbs[0]  # exact
    # head: the 64 bits from bit (64 * top + lead) down
    if lead == 63:
        head = limbs[top]
        i = top - 1
    else:
        head = (limbs[top] << (63 - lead)) | ((limbs[top - 1] >> (lead + 1)) if top > 0 else 0)
        sticky = top > 0 and (limbs[top - 1] << (63 - lead)) != 0
        i = top - 2
    while i >= 0 and not sticky:
        sticky = limbs[i] != 0
        i -= 1
    exponent = 64 * top + lead - 63  # head's last bit is worth 2**exponent
    cdef uint64_t significand = head >> 11
    cdef uint64_t rest = head & 0x7FF
    if rest > 0x400 or (rest == 0x400 and (sticky or (significand & 1))):
        significand += 1  # 2**53 at most: exact as a double
    return ldexp(<double>significand, exponent + 11)


cdef bint _load(ExactSum sums, object total):
    """``sums`` made to hold ``total``, an int of the reference's; False (``sums`` untouched) when it is not an
    exact int in [0, 2**320)."""
    cdef unsigned char raw[LIMBS * 8]
    cdef int i, j
    if not PyLong_CheckExact(total) or _PyLong_Sign(total) < 0 or _PyLong_NumBits(total) > LIMBS * 64:
        return False
    _long_bytes(total, raw, LIMBS * 8)
    for i in range(LIMBS):
        sums.limbs[i] = 0
        for j in range(8):
            sums.limbs[i] |= (<uint64_t>raw[8 * i + j]) << (8 * j)
    sums.total = total
    return True


cdef extern from *:
    """
    /* The int ``n`` 64-bit limbs (least significant first) stand for. On 3.11 with 30-bit digits the digits are
       cut from the limbs straight into a new int: the bytes made one by one and ``_PyLong_FromByteArray`` reading
       them back took ~880 instructions a push, more than the rest of the push. Elsewhere, the bytes. */
    static PyObject* tapeflow_limbs_long(const uint64_t* limbs, int n) {
    #if PY_VERSION_HEX < 0x030C0000 && PYLONG_BITS_IN_DIGIT == 30
        int top = n - 1;
        while (top >= 0 && limbs[top] == 0) top--;
        if (top < 0) return PyLong_FromLong(0);
        Py_ssize_t bits = 64 * (Py_ssize_t)top + (64 - __builtin_clzll(limbs[top]));
        Py_ssize_t count = (bits + PyLong_SHIFT - 1) / PyLong_SHIFT;
        PyLongObject* v = _PyLong_New(count);
        if (v == NULL) return NULL;
        for (Py_ssize_t i = 0; i < count; i++) {
            Py_ssize_t at = PyLong_SHIFT * i;
            int limb = (int)(at >> 6), off = (int)(at & 63);
            uint64_t d = limbs[limb] >> off;
            if (off > 64 - PyLong_SHIFT && limb < top) d |= limbs[limb + 1] << (64 - off);
            v->ob_digit[i] = (digit)(d & PyLong_MASK);
        }
        return (PyObject*)v;
    #else
        unsigned char raw[64];
        int i, j;
        for (i = 0; i < n; i++)
            for (j = 0; j < 8; j++)
                raw[8 * i + j] = (unsigned char)((limbs[i] >> (8 * j)) & 0xFF);
        return _PyLong_FromByteArray(raw, (size_t)(8 * n), 1, 0);
    #endif
    }
    """
    object _limbs_long "tapeflow_limbs_long"(const uint64_t* limbs, int n)


cdef object _limbs_int(const uint64_t* limbs):
    return _limbs_long(limbs, LIMBS)


cdef int _move_total(object squares, double value, ExactSum sums, bint limbs, bint joins) except -1:
    """The in-range ``value`` joins the sum (``joins``) or leaves it: in the limbs, or in ``total`` as the
    reference moves it."""
    cdef int shift
    cdef uint64_t mantissa
    if limbs:
        _scaled(value, &shift, &mantissa)
        if joins:
            _limbs_add(sums.limbs, mantissa, shift)
        else:
            _limbs_sub(sums.limbs, mantissa, shift)
    elif joins:
        _put(squares, SQ_TOTAL, <object>_get(squares, SQ_TOTAL) + PyLong_FromDouble(value * _SCALE))
    else:
        _put(squares, SQ_TOTAL, <object>_get(squares, SQ_TOTAL) - PyLong_FromDouble(value * _SCALE))
    return 0


cdef inline int _append(object values, object item) except -1:
    """``values.append(item)``: through the cached ``deque.append`` when ``values`` is exactly a deque (``_plain``
    checks it for the tick), else looked up as the reference does."""
    if Py_TYPE(values) is _DEQUE_T:
        _deque_append(values, item)
    else:
        values.append(item)
    return 0


cdef double _push(object squares, double r2, ExactSum sums) except? -1.0:
    """``SquaresSum.push(r2)`` on the same slots (see the module docstring for why the double is the same): the sum
    in ``sums``' limbs while ``total`` is an int they hold (else in Python ints, as the reference keeps it), and
    the int they stand for written back to ``total``."""
    cdef object values = <object>_get(squares, SQ_VALUES)
    cdef Py_ssize_t n = _as_int(_get(squares, SQ_N))
    cdef object total = <object>_get(squares, SQ_TOTAL)
    cdef bint limbs = n <= _SUM_MAX_N and (total is sums.total or _load(sums, total))
    cdef bint moved = False
    cdef double old
    cdef double vol
    r2_obj = r2
    if len(values) == n:
        if not values:
            return 0.0
        old = PyFloat_AsDouble(values[0])
        _append(values, r2_obj)
        if r2 == old:
            return PyFloat_AsDouble(<object>_get(squares, SQ_VOL))
        if old != 0.0:
            if _LO <= old < _HI:
                _move_total(squares, old, sums, limbs, False)
                moved = True
            else:
                _put(squares, SQ_ODD, <object>_get(squares, SQ_ODD) - 1)
    else:
        _append(values, r2_obj)
        if r2 == 0.0:
            return PyFloat_AsDouble(<object>_get(squares, SQ_VOL))
    if r2 != 0.0:
        if _LO <= r2 < _HI:
            _move_total(squares, r2, sums, limbs, True)
            moved = True
        else:
            _put(squares, SQ_ODD, <object>_get(squares, SQ_ODD) + 1)
    if limbs and moved:
        total = _limbs_int(sums.limbs)
        _put(squares, SQ_TOTAL, total)
        sums.total = total
    if <object>_get(squares, SQ_ODD):
        vol_obj = _sqrt(_fsum(values))
        vol = PyFloat_AsDouble(vol_obj)
    else:
        vol = sqrt((_limbs_double(sums.limbs) if limbs else float(<object>_get(squares, SQ_TOTAL))) * _UNSCALE)
        vol_obj = vol
    _put(squares, SQ_VOL, vol_obj)
    return vol


def push_exact(squares, double r2, ExactSum sums):
    """The compiled ``SquaresSum.push(r2)`` alone, for the tests that hold it to the reference's."""
    return _push(squares, r2, sums)


cdef class Sampler:
    """The recorder's sampling step, compiled: ``tick`` is its timer's tick, ``take`` its ``sample()``."""

    cdef object rec
    cdef object labels
    cdef object pending
    cdef object horizon_obj
    cdef int64_t horizon
    cdef bint horizon_small
    cdef PyTypeObject* state_t
    cdef Py_ssize_t s_flow, s_last, s_mark, s_returns, s_ring, s_signed, s_core, r_samples, r_after
    cdef Py_ssize_t l_pending, l_matured, l_ambiguous, l_unlabelled, l_newest, l_armed
    cdef object quoted_at, mid2_now
    cdef int64_t day_lo, day_hi, day_open
    cdef readonly bint defer
    cdef public list order
    """The recorder's ``_order`` (it hands each new list over as a symbol joins)."""
    cdef public Py_ssize_t compiled_ticks
    """Samplings this step ran itself."""
    cdef public Py_ssize_t fallbacks
    """Samplings handed whole to the Python reference (a state it does not take: see the module docstring)."""
    cdef public Py_ssize_t compiled_backstops
    """The labels' backstop calls this step ran itself (``backstop``)."""
    cdef public Py_ssize_t backstop_fallbacks
    """Backstop calls handed whole to the reference ``ForwardReturnLabels._backstop``."""

    def __init__(self, rec, state_type, bint defer):
        self.rec = rec
        self.labels = rec.labels
        self.pending = self.labels._pending
        self.horizon_obj = self.labels.horizon_ns
        self.horizon_small = _int_in(<PyObject*>self.horizon_obj, 1, _TIME_MAX, &self.horizon)
        self.state_t = <PyTypeObject*>state_type
        self.s_flow = _required_slot_offset(state_type, "flow")
        self.s_last = _required_slot_offset(state_type, "last_mid")
        self.s_mark = _required_slot_offset(state_type, "ofi_mark")
        self.s_returns = _required_slot_offset(state_type, "returns2")
        self.s_ring = _required_slot_offset(state_type, "ring")
        self.s_signed = _required_slot_offset(state_type, "signed")
        self.s_core = _required_slot_offset(state_type, "core")
        self.r_samples = _required_slot_offset(type(rec), "samples")
        self.r_after = _required_slot_offset(type(rec), "after_sample")
        labels_type = type(self.labels)
        self.l_pending = _required_slot_offset(labels_type, "ring_pending")
        self.l_matured = _required_slot_offset(labels_type, "matured")
        self.l_ambiguous = _required_slot_offset(labels_type, "ambiguous")
        self.l_unlabelled = _required_slot_offset(labels_type, "unlabelled")
        self.l_newest = _required_slot_offset(labels_type, "_ring_newest")
        self.l_armed = _required_slot_offset(labels_type, "_armed")
        self.quoted_at = self.labels._quoted_at
        self.mid2_now = self.labels._mid2_now
        self.day_lo = self.day_hi = self.day_open = 0
        self.defer = defer
        self.order = rec._order
        self.compiled_ticks = 0
        self.fallbacks = 0
        self.compiled_backstops = 0
        self.backstop_fallbacks = 0

    def tick(self, now):
        """``FeatureRecorder._on_tick``: the queued deferred labels first (``mature_due``), then the sample."""
        if self.defer and self.pending:
            self.labels.mature_due(now)
        self._take(now, self.defer)

    cdef bint _plain(self, list order, int64_t ts):
        """Every symbol's state is of the kinds and ranges this step computes exactly as the reference."""
        cdef PyObject* state
        cdef PyObject* flow
        cdef PyObject* quote
        cdef PyObject* ring
        cdef PyObject* squares
        cdef PyObject* core
        cdef PyObject* last
        cdef PyTypeObject* kind
        cdef int64_t v
        cdef Py_ssize_t q_off, o_off
        for item in order:
            if type(item) is not tuple or len(<tuple>item) != 2:
                return False
            state = <PyObject*>(<tuple>item)[1]
            if Py_TYPE(<object>state) is not self.state_t:
                return False
            flow = _get(<object>state, self.s_flow)
            if flow == NULL:
                return False
            kind = Py_TYPE(<object>flow)
            if kind is _FLOW_BOOK_T:
                q_off, o_off = FB_QUOTE, FB_OFI
            elif kind is _FLOW_T:
                q_off, o_off = QF_QUOTE, QF_OFI
            else:
                return False
            quote = _get(<object>flow, q_off)
            if quote == NULL or not _int_in(_get(<object>state, self.s_signed), -_FLOW_MAX, _FLOW_MAX, &v):
                return False
            if <object>quote is None:
                continue
            if (
                Py_TYPE(<object>quote) is not _QUOTE_T
                or not _int_in(_get(<object>quote, Q_BID), 0, _FIELD_MAX, &v)
                or not _int_in(_get(<object>quote, Q_BID_SIZE), 0, _FIELD_MAX, &v)
                or not _int_in(_get(<object>quote, Q_ASK), 0, _FIELD_MAX, &v)
                or not _int_in(_get(<object>quote, Q_ASK_SIZE), 0, _FIELD_MAX, &v)
                or not _int_in(_get(<object>quote, Q_TS_INIT), 0, _TIME_MAX, &v)
                or not _int_in(_get(<object>flow, o_off), -_FLOW_MAX, _FLOW_MAX, &v)
                or not _int_in(_get(<object>state, self.s_mark), -_FLOW_MAX, _FLOW_MAX, &v)
            ):
                return False
            last = _get(<object>state, self.s_last)
            if last == NULL or not PyFloat_CheckExact(<object>last):
                return False
            squares = _get(<object>state, self.s_returns)
            if squares == NULL or Py_TYPE(<object>squares) is not _SQUARES_T:
                return False
            if (
                _get(<object>squares, SQ_VALUES) == NULL
                or Py_TYPE(<object>_get(<object>squares, SQ_VALUES)) is not _DEQUE_T
                or not _int_in(_get(<object>squares, SQ_N), 0, _TIME_MAX, &v)
                or not _int_in(_get(<object>squares, SQ_ODD), -_TIME_MAX, _TIME_MAX, &v)
                or _get(<object>squares, SQ_TOTAL) == NULL
                or not PyLong_CheckExact(<object>_get(<object>squares, SQ_TOTAL))
                or _get(<object>squares, SQ_VOL) == NULL
                or not PyFloat_CheckExact(<object>_get(<object>squares, SQ_VOL))
            ):
                return False
            ring = _get(<object>state, self.s_ring)
            if ring == NULL or Py_TYPE(<object>ring) is not _RING_T:
                return False
            if (
                not _int_in(_get(<object>ring, R_APPENDED), 0, _TIME_MAX, &v)
                or not _int_in(_get(<object>ring, R_DEFERRED), 0, _TIME_MAX, &v)
                or not _int_in(_get(<object>ring, R_CAPACITY), 1, _TIME_MAX, &v)
                or _get(<object>ring, R_ON_CALL) == NULL
                or Py_TYPE(<object>_get(<object>ring, R_ON_CALL)) is not _SET_T
            ):
                return False
            core = _get(<object>state, self.s_core)
            if core == NULL:
                return False
            if type(<object>core) is not _RingViews or (<_RingViews>core).ring is not <object>ring:
                views = _RingViews(<object>ring)
                _put(<object>state, self.s_core, views)
                core = _get(<object>state, self.s_core)
            if (<_RingViews>core).width != 7 or (<_RingViews>core).rows != v:  # v: the ring's capacity, read above
                return False  # a row not of the seven features, or a capacity not the arrays' length: the reference
        return True

    cdef int _flush(self, int64_t pending, int64_t matured, int64_t ambiguous, int64_t unlabelled) except -1:
        """The label counters the reference moves one by one, moved at once (before anything else reads them)."""
        if pending:
            self._add(self.l_pending, pending)
        if matured:
            self._add(self.l_matured, matured)
        if ambiguous:
            self._add(self.l_ambiguous, ambiguous)
        if unlabelled:
            self._add(self.l_unlabelled, unlabelled)
        return 0

    cdef int _add(self, Py_ssize_t offset, int64_t n) except -1:
        cdef PyObject* value = _get(self.labels, offset)
        if value == NULL:
            raise AttributeError("a label counter is unset")
        _put(self.labels, offset, <object>value + n)
        return 0

    def take(self, now, bint defer):
        """``FeatureRecorder._take(defer)`` at ``now`` (the kernel's time); returns how many samples were taken."""
        return self._take(now, defer)

    cdef object _take(self, object now, bint defer):
        rec = self.rec
        cdef list order = self.order
        cdef int64_t ts
        if not (self.horizon_small and _int_in(<PyObject*>now, 0, _TIME_MAX, &ts) and self._plain(order, ts)):
            self.fallbacks += 1
            return rec._take(defer)
        self.compiled_ticks += 1
        labels = self.labels
        cdef int64_t label_end = ts + self.horizon
        cdef Py_ssize_t taken = 0, deferred = 0
        cdef int64_t d_pending = 0, d_matured = 0, d_ambiguous = 0, d_unlabelled = 0
        cdef double time_of_day
        if not (self.day_lo <= ts < self.day_hi):
            rec._open(ts)
            self.day_lo, self.day_hi, self.day_open = rec._day_lo, rec._day_hi, rec._day_open
        if -_EXACT <= ts - self.day_open <= _EXACT:
            time_of_day = <double>(ts - self.day_open) / <double>_NS
        else:
            time_of_day = PyFloat_AsDouble((now - self.day_open) / _NS)
        cdef PyObject* state
        cdef PyObject* flow
        cdef PyObject* quote
        cdef PyObject* ring
        cdef _RingViews views
        cdef int64_t bid, bid_size, ask, ask_size, q_ts, ofi, ofi_sum, signed, mid2, size, num
        cdef int64_t seq, appended, capacity, slot, end
        cdef bint two_sided, on_call_any
        cdef double mid, mp, last, vol, start
        cdef double* row
        cdef Py_ssize_t o_off
        for item in order:
            state = <PyObject*>(<tuple>item)[1]
            flow = _get(<object>state, self.s_flow)
            if Py_TYPE(<object>flow) is _FLOW_BOOK_T:
                quote, o_off = _get(<object>flow, FB_QUOTE), FB_OFI
            else:
                quote, o_off = _get(<object>flow, QF_QUOTE), QF_OFI
            signed = _as_int(_get(<object>state, self.s_signed))
            _put(<object>state, self.s_signed, 0)
            if <object>quote is None:
                continue
            bid = _as_int(_get(<object>quote, Q_BID))
            bid_size = _as_int(_get(<object>quote, Q_BID_SIZE))
            ask = _as_int(_get(<object>quote, Q_ASK))
            ask_size = _as_int(_get(<object>quote, Q_ASK_SIZE))
            ofi = _as_int(_get(<object>flow, o_off))
            if bid and ask:
                ofi = ofi + bid_size - ask_size
            ofi_sum = ofi - _as_int(_get(<object>state, self.s_mark))
            _put(<object>state, self.s_mark, ofi)
            two_sided = bid_size != 0 and ask_size != 0 and bid != 0 and ask != 0
            mid2 = bid + ask
            ring = _get(<object>state, self.s_ring)
            views = <_RingViews>_get(<object>state, self.s_core)
            capacity = _as_int(_get(<object>ring, R_CAPACITY))
            seq = _as_int(_get(<object>ring, R_DEFERRED))
            appended = _as_int(_get(<object>ring, R_APPENDED))
            if defer and seq < appended:
                # the labels due now: the reference's written-out ``mature_rings`` step for step
                on_call = <object>_get(<object>ring, R_ON_CALL)
                on_call_any = len(on_call) > 0
                q_ts = _as_int(_get(<object>quote, Q_TS_INIT))
                while seq < appended:
                    slot = seq % capacity
                    end = views.ends[slot]
                    if end > ts:
                        break
                    seq += 1
                    if on_call_any and PySet_Contains(on_call, seq - 1):
                        PySet_Discard(on_call, seq - 1)
                        on_call_any = len(on_call) > 0
                        continue
                    d_pending -= 1
                    if q_ts >= end:
                        d_ambiguous += 1
                    elif not two_sided:
                        d_unlabelled += 1
                    else:
                        start = views.mids[slot] * 2.0
                        views.y[slot] = (<double>mid2 - start) / start
                        d_matured += 1
                _put(<object>ring, R_DEFERRED, seq)
            if not two_sided:
                continue
            mid = <double>mid2 / 2.0
            size = bid_size + ask_size
            num = bid * ask_size + ask * bid_size
            if num <= _EXACT:
                mp = <double>num / <double>size
            else:
                mp = PyFloat_AsDouble((<object>num) / (<object>size))
            last = PyFloat_AsDouble(<object>_get(<object>state, self.s_last))
            squares = <object>_get(<object>state, self.s_returns)
            if last != 0.0:
                vol = _push(squares, _square(fabs(log(mid / last))) if mid != last else 0.0, views.sums)
            else:
                vol = PyFloat_AsDouble(<object>_get(squares, SQ_VOL))
            _put(<object>state, self.s_last, mid)
            seq = appended
            if seq - _as_int(_get(<object>ring, R_DEFERRED)) >= capacity:
                self._flush(d_pending, d_matured, d_ambiguous, d_unlabelled)
                d_pending = d_matured = d_ambiguous = d_unlabelled = 0
                labels.lose_oldest((<tuple>item)[0], <object>ring)
            slot = seq % capacity
            row = views.x + slot * 7
            row[0] = <double>(bid_size - ask_size) / <double>size
            row[1] = <double>ofi_sum + 0.0
            row[2] = mp - mid
            row[3] = <double>(ask - bid) + 0.0
            row[4] = vol
            row[5] = <double>signed + 0.0
            row[6] = time_of_day
            views.times[slot] = ts
            views.mids[slot] = mid
            views.y[slot] = _NAN_V
            views.ends[slot] = label_end
            _put(<object>ring, R_APPENDED, seq + 1)
            if defer:  # bid + ask is below 2**31 here, so always below 2**53: the ring path
                deferred += 1
            else:
                if _as_int(_get(<object>ring, R_DEFERRED)) == seq:
                    _put(<object>ring, R_DEFERRED, seq + 1)
                else:
                    (<object>_get(<object>ring, R_ON_CALL)).add(seq)
                self._flush(d_pending, d_matured, d_ambiguous, d_unlabelled)
                d_pending = d_matured = d_ambiguous = d_unlabelled = 0
                labels.schedule((<tuple>item)[0], <object>ring, seq, now, mid2)
            taken += 1
        # ``labels.deferred_in_rings(label_end, deferred)`` written out: its count joins the flushed ones (a tick
        # that matures one label a symbol and defers one leaves ``ring_pending`` as it was: not touched)
        self._flush(d_pending + deferred, d_matured, d_ambiguous, d_unlabelled)
        cdef PyObject* armed
        if deferred:
            end_obj = label_end
            _put(labels, self.l_newest, end_obj)
            armed = _get(labels, self.l_armed)
            if armed == NULL:
                raise AttributeError("_armed")
            if not <object>armed:
                _put(labels, self.l_armed, True)
                labels._call_at(end_obj, labels.backstop, (end_obj, True))
        cdef PyObject* samples = _get(rec, self.r_samples)
        if samples == NULL:  # as the reference would fail
            rec.samples += taken
        else:
            _put(rec, self.r_samples, <object>samples + taken)
        cdef PyObject* after = _get(rec, self.r_after)
        if after == NULL:
            rec.after_sample
        elif (type(<object>after) is not list) or len(<list>after):
            for listener in <object>after:
                listener(now)
        return taken

    def backstop(self, arg):
        """``ForwardReturnLabels._backstop(arg)``, the labels' queued call, step for step; the recorder puts it in
        ``labels.backstop``, so it is queued where and with what the reference is.

        Why compiled: the call queued at a sample's label end fires just before that instant's tick (it was queued
        first), so at 1 s with a 10 s horizon it runs every ~9 samples, ~8 us each in Python with its code and
        objects cold: ~0.9 us a sample, more than the tick's own CPU (docs/PERFORMANCE.md, ML section 1). Only
        the ring path is written out: with anything in ``defer``'s queue, the labels' readers replaced, the rings
        not the recorder's, or a state ``_plain`` refuses, the reference runs the whole call."""
        cdef int64_t now
        labels = self.labels
        if (
            type(arg) is not tuple
            or len(<tuple>arg) != 2
            or not _int_in(<PyObject*>(<tuple>arg)[0], 0, _TIME_MAX, &now)
            or type((<tuple>arg)[1]) is not bool
            or self.pending
            or not self._own_readers(labels)
            or not self._plain(self.order, now)
            or not self._rings_match(labels.rings, self.order)
        ):
            self.backstop_fallbacks += 1
            _reference_backstop(labels, arg)
            return
        self.compiled_backstops += 1
        _put(labels, self.l_armed, False)
        # ``mature_due`` first: a no-op with ``defer``'s queue empty, which nothing below fills
        if labels.ring_pending:
            self._mature_rings(now, (<tuple>arg)[1] is True)
        if labels.ring_pending:
            _put(labels, self.l_armed, True)
            end_obj = max(<object>_get(labels, self.l_newest), 0)
            labels._call_at(end_obj, labels.backstop, (end_obj, False))

    cdef bint _own_readers(self, object labels):
        """The labels are plain ``ForwardReturnLabels`` that still read the recorder's ``quoted_at`` and ``mid2``
        (which this step reads from the quotes itself, as the tick does), with none of the methods the reference
        call runs replaced on the instance (a test's spy on ``_set`` must see every label set)."""
        if type(labels) is not ForwardReturnLabels:
            return False
        own = labels.__dict__
        return (
            own.get("_quoted_at") is self.quoted_at
            and own.get("_mid2_now") is self.mid2_now
            and "_set" not in own
            and "mature_due" not in own
            and "mature_rings" not in own
        )

    cdef bint _rings_match(self, object rings, list order):
        """``labels.rings`` pairs each recorded symbol with its ring in the recorder's order (as ``_new_symbol``
        sets it), so walking ``order`` walks what ``mature_rings`` walks."""
        cdef Py_ssize_t i
        if type(rings) is not list or len(<list>rings) != len(order):
            return False
        for i in range(len(order)):
            pair = (<list>rings)[i]
            item = order[i]
            if (
                type(pair) is not tuple
                or len(<tuple>pair) != 2
                or (<tuple>pair)[0] is not (<tuple>item)[0]
                or <PyObject*>(<tuple>pair)[1] != _get((<tuple>item)[1], self.s_ring)
            ):
                return False
        return True

    cdef int _mature_rings(self, int64_t now, bint exact) except -1:
        """``ForwardReturnLabels.mature_rings(now, exact)`` on states ``_plain`` accepted: ``quoted_at`` and
        ``mid2_now`` read from each symbol's quote, ``_set``'s int division made the same double as the tick's
        (both ints below 2**53: exact as doubles, one correctly rounded quotient); a mid outside that goes to
        ``_set`` itself."""
        cdef int64_t d_pending = 0, d_matured = 0, d_ambiguous = 0, d_unlabelled = 0
        cdef int64_t q_ts, mid2, start, seq, appended, capacity, slot, end
        cdef bint two_sided, on_call_any
        cdef double m2
        cdef object m2_obj
        cdef _RingViews views
        cdef PyObject* state
        cdef PyObject* flow
        cdef PyObject* quote
        cdef PyObject* ring
        for item in self.order:
            state = <PyObject*>(<tuple>item)[1]
            flow = _get(<object>state, self.s_flow)
            quote = _get(<object>flow, FB_QUOTE if Py_TYPE(<object>flow) is _FLOW_BOOK_T else QF_QUOTE)
            ring = _get(<object>state, self.s_ring)
            views = <_RingViews>_get(<object>state, self.s_core)
            capacity = _as_int(_get(<object>ring, R_CAPACITY))
            seq = _as_int(_get(<object>ring, R_DEFERRED))
            appended = _as_int(_get(<object>ring, R_APPENDED))
            if seq >= appended:
                continue
            if <object>quote is None:
                q_ts, two_sided, mid2 = -1, False, 0
            else:
                q_ts = _as_int(_get(<object>quote, Q_TS_INIT))
                mid2 = _as_int(_get(<object>quote, Q_BID)) + _as_int(_get(<object>quote, Q_ASK))
                two_sided = (
                    _as_int(_get(<object>quote, Q_BID)) != 0
                    and _as_int(_get(<object>quote, Q_ASK)) != 0
                    and _as_int(_get(<object>quote, Q_BID_SIZE)) != 0
                    and _as_int(_get(<object>quote, Q_ASK_SIZE)) != 0
                )
            on_call = <object>_get(<object>ring, R_ON_CALL)
            on_call_any = len(on_call) > 0
            while seq < appended:
                slot = seq % capacity
                end = views.ends[slot]
                if end > now:
                    break
                if on_call_any and PySet_Contains(on_call, seq):
                    PySet_Discard(on_call, seq)
                    on_call_any = len(on_call) > 0
                    seq += 1
                    continue
                d_pending -= 1
                if q_ts >= end and not (exact and end == now):
                    d_ambiguous += 1
                else:
                    m2 = views.mids[slot] * 2.0
                    if not (1.0 <= m2 < <double>_EXACT):  # as the reference: int() of it, then ``_set``
                        self._flush(d_pending, d_matured, d_ambiguous, d_unlabelled)
                        d_pending = d_matured = d_ambiguous = d_unlabelled = 0
                        m2_obj = m2
                        self.labels._set((<tuple>item)[0], <object>ring, seq, int(m2_obj))
                    elif not two_sided:
                        d_unlabelled += 1
                    elif appended - seq <= capacity:
                        start = <int64_t>m2
                        views.y[slot] = <double>(mid2 - start) / <double>start
                        d_matured += 1
                seq += 1
            _put(<object>ring, R_DEFERRED, seq)
        self._flush(d_pending, d_matured, d_ambiguous, d_unlabelled)
        return 0
