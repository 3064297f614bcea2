# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled ``BookKeeper.on_quote``: the same steps as the Python handler, on the same ``QuoteBook`` objects.

Why compiled: in the tick backtest (docs/PERFORMANCE.md, "Quotes") every quote runs the keeper's handler, the
strategy and the kernel's fan-out. Measured alone in a loop (CPU, one process), the interpreted handler costs
~125 ns a quote, a quarter of the whole backtest's ~475 ns; about half of that is the interpreter's frame and call,
which no rewriting of the Python body removes (caching the last symbol's book, or reading each quote field once,
moved it within the noise). The strategy is the user's Python and the kernel loop is compiled already, so this
handler is the largest part of the per-quote path that can still leave the interpreter.

Why slot offsets (as ``_l2_core.pyx``): a generic attribute load from C costs about what the interpreter's
specialised slot load does, so the gain comes from reading the quote's fields and writing the book's through the
member descriptors' offsets, read once at import. Every object is checked to be exactly the type whose offsets
were read, and every field an exact ``int`` (``str`` for the symbol and venue), before any slot of the book is
written; anything else (a first quote of a symbol, a subclass, a field of another type) goes to the Python
handler, the reference, whole.

The books stay the Python ``QuoteBook`` objects every reader (the exchange, the risk engine, strategies) reads:
this module writes their slots, it keeps no state of its own.
"""

from cpython.dict cimport PyDict_GetItemWithError
from cpython.long cimport PyLong_CheckExact, PyLong_FromLongLong
from cpython.object cimport (
    PyObject, PyTypeObject, Py_TYPE, PyObject_IsTrue, PyObject_RichCompareBool, Py_GT, Py_LT, Py_NE
)
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_CheckExact

from tapeflow.book.quote_book import FlowQuoteBook, QuoteBook
from tapeflow.model.market import Quote
from tapeflow.model.prices import NO_PRICE


include "_slots.pxi"
include "_as_ll.pxi"

cdef extern from *:
    bint _as_ll "tf_as_ll"(PyObject* value, long long* out)

cdef object _NO_PRICE = NO_PRICE
cdef str _NBBO = "NBBO"
cdef PyTypeObject* _QUOTE_T = <PyTypeObject*>Quote
cdef PyTypeObject* _BOOK_T = <PyTypeObject*>QuoteBook
cdef PyTypeObject* _FLOW_BOOK_T = <PyTypeObject*>FlowQuoteBook


cdef Py_ssize_t Q_SYMBOL = _required_slot_offset(Quote, "symbol")
cdef Py_ssize_t Q_VENUE = _required_slot_offset(Quote, "venue")
cdef Py_ssize_t Q_BID = _required_slot_offset(Quote, "bid_price")
cdef Py_ssize_t Q_BID_SIZE = _required_slot_offset(Quote, "bid_size")
cdef Py_ssize_t Q_ASK = _required_slot_offset(Quote, "ask_price")
cdef Py_ssize_t Q_ASK_SIZE = _required_slot_offset(Quote, "ask_size")
cdef Py_ssize_t Q_TS = _required_slot_offset(Quote, "ts_event")
cdef Py_ssize_t B_NBBO = _required_slot_offset(QuoteBook, "nbbo")
cdef Py_ssize_t B_BID = _required_slot_offset(QuoteBook, "bid_price")
cdef Py_ssize_t B_BID_SIZE = _required_slot_offset(QuoteBook, "bid_size")
cdef Py_ssize_t B_ASK = _required_slot_offset(QuoteBook, "ask_price")
cdef Py_ssize_t B_ASK_SIZE = _required_slot_offset(QuoteBook, "ask_size")
cdef Py_ssize_t B_TS = _required_slot_offset(QuoteBook, "ts")
cdef Py_ssize_t B_VERSION = _required_slot_offset(QuoteBook, "version")
cdef Py_ssize_t B_CROSSED = _required_slot_offset(QuoteBook, "crossed")
cdef Py_ssize_t B_CROSSINGS = _required_slot_offset(QuoteBook, "crossings")
cdef Py_ssize_t B_CROSSED_NS = _required_slot_offset(QuoteBook, "crossed_ns")
cdef Py_ssize_t B_CROSSED_SINCE = _required_slot_offset(QuoteBook, "crossed_since")
cdef Py_ssize_t F_QUOTE = _required_slot_offset(FlowQuoteBook, "quote")
cdef Py_ssize_t F_OFI_BASE = _required_slot_offset(FlowQuoteBook, "ofi_base")


cdef inline bint _exact_int(PyObject* value):
    return value != NULL and PyLong_CheckExact(<object>value)


cdef inline bint _complete(object book):
    """Every slot the handler reads is set (a reader could ``del`` one; the reference then raises as it would)."""
    return (
        _get(book, B_NBBO) != NULL
        and _get(book, B_CROSSED) != NULL
        and _get(book, B_CROSSINGS) != NULL
        and _get(book, B_CROSSED_NS) != NULL
        and _get(book, B_CROSSED_SINCE) != NULL
    )


cdef inline bint _greater(object left, object right) except -1:
    """``left > right`` of two exact ints, read from their digits (``tf_as_ll``) unless one does not fit 64 bits."""
    cdef long long a, b
    if _as_ll(<PyObject*>left, &a) and _as_ll(<PyObject*>right, &b):
        return a > b
    return PyObject_RichCompareBool(left, right, Py_GT)


cdef struct _Fields:
    PyObject* venue
    PyObject* bid_price
    PyObject* bid_size
    PyObject* ask_price
    PyObject* ask_size
    PyObject* ts_event


cdef inline PyObject* _book_of(object quote, dict books, PyTypeObject* book_type, _Fields* f):
    """The quote's book (borrowed), with the quote's fields read into ``f``, when the quote, its fields and the book
    are exactly what a handler takes whole; NULL: the quote goes to the reference handler. Both handlers start
    here, so the two cannot come to disagree on what they take."""
    if Py_TYPE(quote) != _QUOTE_T:
        return NULL
    cdef PyObject* symbol = _get(quote, Q_SYMBOL)
    if symbol == NULL or not PyUnicode_CheckExact(<object>symbol):
        return NULL
    cdef PyObject* found = PyDict_GetItemWithError(books, <object>symbol)
    if found == NULL or Py_TYPE(<object>found) != book_type:
        return NULL
    f.venue = _get(quote, Q_VENUE)
    f.bid_price = _get(quote, Q_BID)
    f.bid_size = _get(quote, Q_BID_SIZE)
    f.ask_price = _get(quote, Q_ASK)
    f.ask_size = _get(quote, Q_ASK_SIZE)
    f.ts_event = _get(quote, Q_TS)
    if (
        f.venue == NULL
        or not PyUnicode_CheckExact(<object>f.venue)
        or not _exact_int(f.bid_price)
        or not _exact_int(f.bid_size)
        or not _exact_int(f.ask_price)
        or not _exact_int(f.ask_size)
        or not _exact_int(f.ts_event)
        or not _exact_int(_get(<object>found, B_VERSION))
        or not _complete(<object>found)
    ):
        return NULL
    return found


cdef inline int _nbbo_skips(object book, PyObject* venue) except -1:
    """The NBBO rule of both handlers: an NBBO quote marks the book as fed by the NBBO, and from then on a single
    venue's quote is skipped (1)."""
    if <str>venue == _NBBO:
        _put(book, B_NBBO, True)
        return 0
    return PyObject_IsTrue(<object>_get(book, B_NBBO))


cdef inline int _apply_top(
    object book, PyObject* bid_price, PyObject* bid_size, PyObject* ask_price, PyObject* ask_size, PyObject* ts_event
) except -1:
    """``QuoteBook.apply`` on fields already checked: the four top fields, ``ts``, ``version``, the crossing
    episode."""
    bid = <object>bid_price if PyObject_IsTrue(<object>bid_size) else _NO_PRICE
    _put(book, B_BID, bid)
    _put(book, B_BID_SIZE, <object>bid_size)
    ask = <object>ask_price if PyObject_IsTrue(<object>ask_size) else _NO_PRICE
    _put(book, B_ASK, ask)
    _put(book, B_ASK_SIZE, <object>ask_size)
    ts = <object>ts_event
    _put(book, B_TS, ts)
    _put(book, B_VERSION, <object>_get(book, B_VERSION) + 1)
    crossed = PyObject_IsTrue(<object>_get(book, B_CROSSED))
    if PyObject_IsTrue(ask) and _greater(bid, ask):  # NO_PRICE is 0: an empty ask never crosses
        if not crossed:
            _put(book, B_CROSSED, True)
            _put(book, B_CROSSINGS, <object>_get(book, B_CROSSINGS) + 1)
            _put(book, B_CROSSED_SINCE, ts)
    elif crossed:
        _put(book, B_CROSSED, False)
        _put(book, B_CROSSED_NS, <object>_get(book, B_CROSSED_NS) + (ts - <object>_get(book, B_CROSSED_SINCE)))
    return 0


cdef class QuoteHandler:
    """The keeper's quote handler over its ``books`` (symbol -> ``QuoteBook``, the keeper's own dict).

    ``reference`` is the keeper's Python ``on_quote``: it builds a symbol's book on first sight and takes every
    quote this handler does not take whole."""

    cdef readonly dict books
    cdef readonly object reference

    def __init__(self, dict books, object reference):
        self.books = books
        self.reference = reference

    def on_quote(self, quote):
        """``BookKeeper.on_quote``, step for step: the NBBO rule, the four top fields, ``ts``, ``version``, the
        crossing episode."""
        cdef _Fields f
        cdef PyObject* found = _book_of(quote, self.books, _BOOK_T, &f)
        if found == NULL:
            return self.reference(quote)
        book = <object>found
        if _nbbo_skips(book, f.venue):
            return None
        _apply_top(book, f.bid_price, f.bid_size, f.ask_price, f.ask_size, f.ts_event)
        return None



# Why in C and here: the flow handler's work beyond the plain handler's runs on every quote of a recorded L1 run,
# and a separate check of the last quote's four fields before reading its two prices again was most of it
# (~180 instructions a quote, docs/PERFORMANCE.md, "Round 11, p29-ml"); the sizes are read only when a price
# moved (``_sizes_usable``), as the reference reads them.
cdef extern from *:
    """
    /* ``price != last``, ``price`` an exact int already checked and ``last`` the same field of the book's last
       quote: 1 or 0; -1 when ``last`` is not an exact int (the quote then goes to the reference). The same object
       is equal without a read; else the digits are compared in place (exact ints are normalised, so another
       digit count is another value; a price is one or two 30-bit digits), and anything longer compares as
       objects (two exact ints: never an error). */
    static inline int tapeflow_price_moved(PyObject* price, PyObject* last) {
        if (price == last) return 0;
        if (last == NULL || !PyLong_CheckExact(last)) return -1;
    #if PY_VERSION_HEX >= 0x030C0000
        if (PyUnstable_Long_IsCompact((PyLongObject*)price) && PyUnstable_Long_IsCompact((PyLongObject*)last))
            return PyUnstable_Long_CompactValue((PyLongObject*)price) != PyUnstable_Long_CompactValue((PyLongObject*)last);
    #else
        {
            Py_ssize_t n = Py_SIZE(price);
            const digit* p = ((PyLongObject*)price)->ob_digit;
            const digit* q = ((PyLongObject*)last)->ob_digit;
            if (n != Py_SIZE(last)) return 1;
            if (n == 0) return 0;
            if (n == 1 || n == -1) return p[0] != q[0];
            if (n == 2 || n == -2) return p[0] != q[0] || p[1] != q[1];
        }
    #endif
        return PyObject_RichCompareBool(price, last, Py_NE);
    }
    """
    int _price_moved "tapeflow_price_moved"(PyObject* price, PyObject* last)


cdef inline bint _sizes_usable(PyObject* prev, PyObject* base):
    """What ``_ofi_base_after`` reads beyond the two prices compared: the order flow base, and the last quote's
    sizes (a ``Quote`` already, or None), exact ints."""
    if not _exact_int(base):
        return False
    return <object>prev is None or (
        _exact_int(_get(<object>prev, Q_BID_SIZE)) and _exact_int(_get(<object>prev, Q_ASK_SIZE))
    )


cdef long long _OFI_LL_MAX = 2**61


cdef inline bint _small(PyObject* value, long long* out):
    """An exact int within (-2**61, 2**61): a base plus or minus two such sizes stays inside 64 bits."""
    return _as_ll(value, out) and -_OFI_LL_MAX < out[0] < _OFI_LL_MAX


cdef object _ofi_base_after(object base, object prev, object b, object bid_size, object a, object ask_size):
    """``quote_book.ofi_base_after`` on exact ints, branch for branch: in C on 64-bit values when every int it reads
    is within 2**61 (no sum can then leave 64 bits, so it is the same int); else Python ints do the sums, so a value
    beyond 64 bits comes out as the reference's does.

    Why in C: a price moves on ~7-14% of the quote benchmark's quotes, and the object path (four truth tests, up to
    four comparisons, one or two int sums and their allocations) was ~1,500 instructions of every 1 s sample's 43
    quotes (docs/PERFORMANCE.md, ML section 1, "Round 13, p31-ml")."""
    cdef long long vb, va, vbs, vas, vbase, pb, pa, pbs, pas
    if (
        _small(<PyObject*>base, &vbase)
        and _small(<PyObject*>b, &vb)
        and _small(<PyObject*>a, &va)
        and _small(<PyObject*>bid_size, &vbs)
        and _small(<PyObject*>ask_size, &vas)
    ):
        if prev is None:
            return PyLong_FromLongLong(vbase - vbs + vas) if vb != 0 and va != 0 else base
        if (
            _small(_get(prev, Q_BID), &pb)
            and _small(_get(prev, Q_ASK), &pa)
            and _small(_get(prev, Q_BID_SIZE), &pbs)
            and _small(_get(prev, Q_ASK_SIZE), &pas)
        ):
            if pb != 0 and pa != 0:
                if vb != 0 and va != 0:
                    if vb > pb:
                        vbase += pbs
                    elif pb > vb:
                        vbase -= vbs
                    if pa > va:
                        vbase -= pas
                    elif va > pa:
                        vbase += vas
                    return PyLong_FromLongLong(vbase)
                return PyLong_FromLongLong(vbase + pbs - pas)
            return PyLong_FromLongLong(vbase - vbs + vas) if vb != 0 and va != 0 else base
    return _ofi_base_after_objects(base, prev, b, bid_size, a, ask_size)


cdef object _ofi_base_after_objects(object base, object prev, object b, object bid_size, object a, object ask_size):
    """``quote_book.ofi_base_after`` on exact ints, branch for branch (Python ints do the sums, so a value beyond
    64 bits comes out as the reference's does)."""
    if prev is None:
        return base - bid_size + ask_size if PyObject_IsTrue(b) and PyObject_IsTrue(a) else base
    pb = <object>_get(prev, Q_BID)
    pa = <object>_get(prev, Q_ASK)
    if PyObject_IsTrue(pb) and PyObject_IsTrue(pa):
        if PyObject_IsTrue(b) and PyObject_IsTrue(a):
            if _greater(b, pb):
                base = base + <object>_get(prev, Q_BID_SIZE)
            elif _greater(pb, b):
                base = base - bid_size
            if _greater(pa, a):
                base = base - <object>_get(prev, Q_ASK_SIZE)
            elif _greater(a, pa):
                base = base + ask_size
            return base
        return base + <object>_get(prev, Q_BID_SIZE) - <object>_get(prev, Q_ASK_SIZE)
    return base - bid_size + ask_size if PyObject_IsTrue(b) and PyObject_IsTrue(a) else base


cdef class FlowQuoteHandler:
    """The handler of a keeper asked to ``track_flow``, over its ``books`` (symbol -> ``FlowQuoteBook``, the
    keeper's own dict): ``BookKeeper.on_quote_flow`` compiled.

    Why: with a feature recorder on the node, every quote of an L1 run comes through this handler instead of the
    plain one (docs/PERFORMANCE.md, "ML: feature recording and retraining"), so the interpreted flow handler was
    most of what recording cost the loop. ``reference`` is the keeper's Python ``on_quote_flow``: it builds a
    symbol's book on first sight (and tells the recorder) and takes every quote this handler does not take whole."""

    cdef readonly dict books
    cdef readonly object reference

    def __init__(self, dict books, object reference):
        self.books = books
        self.reference = reference

    def on_quote(self, quote):
        """``BookKeeper.on_quote_flow``, step for step: the NBBO rule, the last quote kept, the order flow base
        moved when a price moved, then the plain handler's steps."""
        cdef _Fields f
        cdef PyObject* found = _book_of(quote, self.books, _FLOW_BOOK_T, &f)
        if found == NULL:
            return self.reference(quote)
        cdef PyObject* prev = _get(<object>found, F_QUOTE)
        cdef PyObject* base = _get(<object>found, F_OFI_BASE)
        cdef int moved
        # every check before anything is written: a quote the reference must take is handed over untouched
        if prev == NULL:
            return self.reference(quote)
        if <object>prev is None:
            moved = 1
        elif Py_TYPE(<object>prev) != _QUOTE_T:
            return self.reference(quote)
        else:
            moved = _price_moved(f.bid_price, _get(<object>prev, Q_BID))
            if moved == 0:
                moved = _price_moved(f.ask_price, _get(<object>prev, Q_ASK))
            elif moved == 1 and not _exact_int(_get(<object>prev, Q_ASK)):
                moved = -1  # the ask is read when the base moves
            if moved < 0:
                return self.reference(quote)
        if moved and not _sizes_usable(prev, base):
            return self.reference(quote)
        book = <object>found
        if _nbbo_skips(book, f.venue):
            return None
        # the base is moved before the last quote is replaced, so ``prev`` is still held by the book's slot while
        # it is read (no reference of our own to take and drop on every quote)
        if moved:
            _put(
                book,
                F_OFI_BASE,
                _ofi_base_after(
                    <object>base,
                    <object>prev,
                    <object>f.bid_price,
                    <object>f.bid_size,
                    <object>f.ask_price,
                    <object>f.ask_size,
                ),
            )
        _put(book, F_QUOTE, quote)
        _apply_top(book, f.bid_price, f.bid_size, f.ask_price, f.ask_size, f.ts_event)
        return None
