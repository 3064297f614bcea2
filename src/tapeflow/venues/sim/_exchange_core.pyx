# cython: language_level=3
"""The simulated exchange's bar order path compiled: ``send``, ``_on_submit`` and ``_fill_bar`` (issue 19).

Why compiled: on the bar backtest these three are ~25% of an order's bytecodes (``send`` 52, ``_on_submit`` 194,
``_fill_bar`` 118: docs/PERFORMANCE.md, round 13), and no Python frame is left in them to remove; what remains is
their own checks, stores and the two reports' construction, which here run without the interpreter between them.

One state. ``CompiledExchange`` (``exchange.py``) binds these functions as its methods, and they read and write the
exchange's own slots (the order table, the closed ids, the counters, the report clock) at their offsets
(``book/_slots.pxi``), where the Python methods (``_on_cancel``, ``_on_modify``, ``_expire_day``, the matcher and
the auctions through their callbacks) read and write them by name: whatever one changes, the other sees.

What is compiled is the common case of a bar backtest: a fixed latency, no fee model, a market or limit order with
an ordinary time in force, accepted. Anything else (a latency model with jitter, fees, a stop, an auction order, a
refusal, a command or a record of another type than these functions build) runs the Python method itself, the
reference (``SimulatedExchange``), before anything is written: ``tests/venues/test_exchange_order_path.py`` drives
random scripts through both and requires the same events, results and counters.
"""

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

from tapeflow.model.enums import LiquiditySide, OrderType, TimeInForce
from tapeflow.model.orders import CancelOrder, OrderAccepted, OrderFilled, SubmitOrder
from tapeflow.venues.sim.auction import AUCTION_TIFS
from tapeflow.venues.sim.expiry import price_refusal
from tapeflow.venues.sim.latency import FixedLatency, OrderAction
from tapeflow.venues.sim.orders import SimOrder


include "../../book/_slots.pxi"


cdef extern from "Python.h":
    object PyObject_Vectorcall(object callable, PyObject **args, size_t nargsf, PyObject *kwnames)
    object PyObject_VectorcallMethod(object name, PyObject **args, size_t nargsf, PyObject *kwnames)
    size_t PY_VECTORCALL_ARGUMENTS_OFFSET


# enum members bound once, compared by identity as the reference does
cdef object _MARKET = OrderType.MARKET
cdef object _LIMIT = OrderType.LIMIT
cdef object _DAY = TimeInForce.DAY
cdef object _TAKER = LiquiditySide.TAKER
cdef object _AUCTION_TIFS = AUCTION_TIFS  # held for a cross: left to the reference
cdef object _INSERT = OrderAction.INSERT
cdef object _ZERO = 0

cdef str _EMIT = "emit"
cdef str _CALL_AT = "call_at"
cdef tuple _ACCEPTED_FIELDS = (
    "ts_event", "ts_init", "strategy_id", "client_order_id", "symbol", "venue_order_id", "venue"
)
cdef tuple _FILLED_FIELDS = (
    "ts_event", "ts_init", "strategy_id", "client_order_id", "symbol", "side", "price", "quantity",
    "leaves_quantity", "liquidity_side", "trade_id", "venue_order_id", "venue",
)
"""The keywords of the two reports (``kw_only`` Structs), passed to their vectorcall as names: no dict built."""

# the command's and the record's fields, at their offsets (msgspec's fields are object slots); an exact type is
# checked before any is read, so a subclass with another layout takes the reference
cdef Py_ssize_t _C_TS_INIT = _required_slot_offset(SubmitOrder, "ts_init")
cdef Py_ssize_t _C_ID = _required_slot_offset(SubmitOrder, "client_order_id")
cdef Py_ssize_t _C_STRATEGY = _required_slot_offset(SubmitOrder, "strategy_id")
cdef Py_ssize_t _C_SYMBOL = _required_slot_offset(SubmitOrder, "symbol")
cdef Py_ssize_t _C_SIDE = _required_slot_offset(SubmitOrder, "side")
cdef Py_ssize_t _C_TYPE = _required_slot_offset(SubmitOrder, "order_type")
cdef Py_ssize_t _C_QUANTITY = _required_slot_offset(SubmitOrder, "quantity")
cdef Py_ssize_t _C_PRICE = _required_slot_offset(SubmitOrder, "price")
cdef Py_ssize_t _C_STOP = _required_slot_offset(SubmitOrder, "stop_price")
cdef Py_ssize_t _C_TIF = _required_slot_offset(SubmitOrder, "time_in_force")
cdef Py_ssize_t _O_ID = _required_slot_offset(SimOrder, "client_order_id")
cdef Py_ssize_t _O_STRATEGY = _required_slot_offset(SimOrder, "strategy_id")
cdef Py_ssize_t _O_SYMBOL = _required_slot_offset(SimOrder, "symbol")
cdef Py_ssize_t _O_SIDE = _required_slot_offset(SimOrder, "side")
cdef Py_ssize_t _O_QUANTITY = _required_slot_offset(SimOrder, "quantity")
cdef Py_ssize_t _O_FILLED = _required_slot_offset(SimOrder, "filled")
cdef Py_ssize_t _O_VENUE_ID = _required_slot_offset(SimOrder, "venue_order_id")
cdef Py_ssize_t _F_INSERT = _required_slot_offset(FixedLatency, "insert_entry_ns")
cdef Py_ssize_t _F_CANCEL = _required_slot_offset(FixedLatency, "cancel_entry_ns")
cdef Py_ssize_t _F_MODIFY = _required_slot_offset(FixedLatency, "modify_entry_ns")


cdef class _Exchange:
    """The exchange class's slot offsets and its Python methods (the reference each function falls back to), set
    once by ``bind`` when ``exchange.py`` has built the class (this module cannot import it: it imports this)."""

    cdef Py_ssize_t orders, closed, kernel, fixed, reply, fees, last_report, last_arrival, seq, trade_seq
    cdef Py_ssize_t fills, name, feed_ns, expiry, books, bar_last, bar_waiting, states, matcher
    cdef object send, on_submit, fill_bar
    cdef bint bound


cdef _Exchange _X = _Exchange()


def bind(cls):
    """Read ``cls``'s slot offsets (``TypeError`` at import if one is not an object slot) and keep its Python
    ``send``, ``_on_submit`` and ``_fill_bar``, which these functions run in every case they do not compile."""
    _X.orders = _required_slot_offset(cls, "_orders")
    _X.closed = _required_slot_offset(cls, "_closed")
    _X.kernel = _required_slot_offset(cls, "_kernel")
    _X.fixed = _required_slot_offset(cls, "_fixed")
    _X.reply = _required_slot_offset(cls, "_reply_ns")
    _X.fees = _required_slot_offset(cls, "_fees")
    _X.last_report = _required_slot_offset(cls, "_last_report")
    _X.last_arrival = _required_slot_offset(cls, "_last_arrival")
    _X.seq = _required_slot_offset(cls, "_seq")
    _X.trade_seq = _required_slot_offset(cls, "_trade_seq")
    _X.fills = _required_slot_offset(cls, "fills")
    _X.name = _required_slot_offset(cls, "name")
    _X.feed_ns = _required_slot_offset(cls, "_feed_ns")
    _X.expiry = _required_slot_offset(cls, "_expiry")
    _X.books = _required_slot_offset(cls, "_books")
    _X.bar_last = _required_slot_offset(cls, "_bar_last")
    _X.bar_waiting = _required_slot_offset(cls, "_bar_waiting")
    _X.states = _required_slot_offset(cls, "_states")
    _X.matcher = _required_slot_offset(cls, "_matcher")
    _X.send = cls.send
    _X.on_submit = cls._on_submit
    _X.fill_bar = cls._fill_bar
    _X.bound = True


cdef inline object _slot(object owner, Py_ssize_t offset):
    """The slot's value; ``AttributeError`` when it is unset (an exchange whose ``__init__`` did not run)."""
    cdef PyObject *value = _get(owner, offset)
    if value is NULL:
        raise AttributeError("the simulated exchange's state is not set (SimulatedExchange.__init__ did not run)")
    return <object>value


cdef inline object _kernel_of(object self):
    if not _X.bound:
        raise RuntimeError("_exchange_core.bind(SimulatedExchange) was not called")
    kernel = _slot(self, _X.kernel)
    if kernel is None:
        raise AssertionError("the simulated exchange must be added to a kernel before use")
    return kernel


cdef inline object _stamp(object self, object kernel, object at, object reply):
    """``ts_init`` of a report sent at ``at`` that travels ``reply``: ``max(at + reply, now, last report)``, the
    last report's time moved to it (``SimulatedExchange._stamp`` for a fixed latency)."""
    ts_init = at + reply
    now = kernel.now
    if now > ts_init:
        ts_init = now
    last = _slot(self, _X.last_report)
    if last > ts_init:
        ts_init = last
    _put(self, _X.last_report, ts_init)
    return ts_init


cdef inline int _emit(object kernel, object event) except -1:
    """``kernel.emit(event)``: the method looked up on each call, as the reference does, without a bound method."""
    cdef PyObject *args[2]
    args[0] = <PyObject*>kernel
    args[1] = <PyObject*>event
    PyObject_VectorcallMethod(_EMIT, args, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL)
    return 0


def send(self, command):
    """``SimulatedExchange.send``, step for step, for a fixed latency: the command's arrival after its entry delay,
    never before the previous command's, scheduled with its handler."""
    kernel = _kernel_of(self)
    fixed = _slot(self, _X.fixed)
    if fixed is None or type(fixed) is not FixedLatency:
        return _X.send(self, command)  # a latency model is asked for each delay: its draws, in their order
    if isinstance(command, SubmitOrder):
        arrive = self._on_submit
        entry = <object>_get(fixed, _F_INSERT)
    elif isinstance(command, CancelOrder):
        arrive = self._on_cancel
        entry = <object>_get(fixed, _F_CANCEL)
    else:
        arrive = self._on_modify
        entry = <object>_get(fixed, _F_MODIFY)
    cdef PyObject *ts = _get(command, _C_TS_INIT) if type(command) is SubmitOrder else NULL
    arrival = (<object>ts if ts is not NULL else command.ts_init) + entry
    last = _slot(self, _X.last_arrival)
    if arrival < last:
        arrival = last
    _put(self, _X.last_arrival, arrival)
    cdef PyObject *args[4]
    args[0] = <PyObject*>kernel
    when = arrival + _slot(self, _X.feed_ns)
    item = (command, arrival)
    args[1] = <PyObject*>when
    args[2] = <PyObject*>arrive
    args[3] = <PyObject*>item
    PyObject_VectorcallMethod(_CALL_AT, args, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL)


def on_submit(self, item):
    """``SimulatedExchange._on_submit`` for a market or limit order that is accepted, under a fixed latency: the
    same checks, record, acceptance, DAY close and parking, in the same order. Every other order, and any order
    the checks refuse, is the reference's from its first step (nothing written here before that is decided)."""
    kernel = _kernel_of(self)
    cmd, at = <tuple>item
    reply = _slot(self, _X.reply)
    if type(cmd) is not SubmitOrder or reply is None:
        return _X.on_submit(self, item)
    order_type = <object>_get(cmd, _C_TYPE)
    tif = <object>_get(cmd, _C_TIF)
    if (order_type is not _MARKET and order_type is not _LIMIT) or tif in _AUCTION_TIFS:
        return _X.on_submit(self, item)  # a stop waits for a print, an auction order is held: the reference's
    symbol = <object>_get(cmd, _C_SYMBOL)
    cid = <object>_get(cmd, _C_ID)
    st = (<dict>_slot(self, _X.states)).get(symbol)
    if st is None:
        st = _slot(self, _X.matcher).state(symbol)
    if st.halted:
        return _X.on_submit(self, item)  # refused there
    if order_type is not _MARKET:
        if price_refusal(<object>_get(cmd, _C_PRICE), order_type, <object>_get(cmd, _C_STOP)) is not None:
            return _X.on_submit(self, item)
    if cid in <dict>_slot(self, _X.orders) or cid in <set>_slot(self, _X.closed):
        return _X.on_submit(self, item)  # a duplicate id: refused there
    # accepted: the record, its acceptance, the close it expires at, and where it waits
    seq = _slot(self, _X.seq) + 1
    _put(self, _X.seq, seq)
    name = _slot(self, _X.name)
    venue_id = f"{name}-{seq}"
    cdef PyObject *args[10]
    args[0] = _get(cmd, _C_ID)
    args[1] = _get(cmd, _C_STRATEGY)
    args[2] = _get(cmd, _C_SYMBOL)
    args[3] = _get(cmd, _C_SIDE)
    args[4] = _get(cmd, _C_TYPE)
    args[5] = _get(cmd, _C_QUANTITY)
    args[6] = _get(cmd, _C_PRICE)
    args[7] = _get(cmd, _C_STOP)
    args[8] = _get(cmd, _C_TIF)
    args[9] = <PyObject*>venue_id
    order = PyObject_Vectorcall(SimOrder, args, 10, NULL)  # ``SimOrder(*submitted_terms(cmd), venue_id)``
    (<dict>_slot(self, _X.orders))[cid] = order
    ts_init = _stamp(self, kernel, at, (<tuple>reply)[0])
    args[0] = <PyObject*>at
    args[1] = <PyObject*>ts_init
    args[2] = _get(cmd, _C_STRATEGY)
    args[3] = <PyObject*>cid
    args[4] = <PyObject*>symbol
    args[5] = <PyObject*>venue_id
    args[6] = <PyObject*>name
    _emit(kernel, PyObject_Vectorcall(OrderAccepted, args, 0, <PyObject*>_ACCEPTED_FIELDS))
    if tif is _DAY:
        expiry = _slot(self, _X.expiry)
        if not expiry.day_start <= at < expiry.day_end:  # the day looked up last schedules nothing more
            close_ns = expiry.close_to_schedule(at)
            if close_ns is not None:
                kernel.call_at(close_ns + _slot(self, _X.feed_ns), self._expire_day, close_ns)
    if _slot(self, _X.books).book(symbol) is None and symbol in <dict>_slot(self, _X.bar_last):
        waiting_by_symbol = <dict>_slot(self, _X.bar_waiting)
        waiting = waiting_by_symbol.get(symbol)
        if waiting is None:
            waiting_by_symbol[symbol] = [order]
        else:
            (<list>waiting).append(order)
        return
    _slot(self, _X.matcher).incoming(order, st, at, _INSERT)


def fill_bar(self, order, price, at):
    """``SimulatedExchange._fill_bar`` without a fee model, under a fixed latency: the whole rest filled at
    ``price``, the order closed by forgetting its id, the fill stamped and reported. With fees, another latency
    model or a record of another type, the reference."""
    kernel = _kernel_of(self)
    reply = _slot(self, _X.reply)
    if type(order) is not SimOrder or reply is None or _slot(self, _X.fees) is not None:
        return _X.fill_bar(self, order, price, at)
    filled = _slot(order, _O_FILLED)
    qty = _slot(order, _O_QUANTITY) - filled
    # the record's own slot, stored as its descriptor stores it: a ``gc=False`` Struct's ``__setattr__`` adds
    # nothing to that but the generic path's lookups (~200 instructions a store, round 12)
    _put(order, _O_FILLED, filled + qty)
    trade_seq = _slot(self, _X.trade_seq) + 1
    _put(self, _X.trade_seq, trade_seq)
    _put(self, _X.fills, _slot(self, _X.fills) + 1)
    cid = _slot(order, _O_ID)
    (<dict>_slot(self, _X.orders)).pop(cid, None)
    (<set>_slot(self, _X.closed)).add(cid)
    ts_init = _stamp(self, kernel, at, (<tuple>reply)[0])
    name = _slot(self, _X.name)
    trade_id = f"{name}-T{trade_seq}"
    cdef PyObject *args[13]
    args[0] = <PyObject*>at
    args[1] = <PyObject*>ts_init
    args[2] = _get(order, _O_STRATEGY)
    args[3] = <PyObject*>cid
    args[4] = _get(order, _O_SYMBOL)
    args[5] = _get(order, _O_SIDE)
    args[6] = <PyObject*>price
    args[7] = <PyObject*>qty
    args[8] = <PyObject*>_ZERO
    args[9] = <PyObject*>_TAKER
    args[10] = <PyObject*>trade_id
    args[11] = _get(order, _O_VENUE_ID)
    args[12] = <PyObject*>name
    _emit(kernel, PyObject_Vectorcall(OrderFilled, args, 0, <PyObject*>_FILLED_FIELDS))  # ``queue_ahead_at_arrival``: -1

