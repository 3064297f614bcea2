"""The hot loop: length-prefixed ITCH 5.0 to tapeflow events at the speed pure Python allows.

The seven order messages that make up nearly all of a Nasdaq day (A, D, U, E, X, F, C) are unpacked inline
with one precompiled ``struct`` each, the length prefix included, and turned into events without a function
call per message. Anything else, and any of those that fails a check, goes through ``itch_mapping.slow_event``
so that counting and error reporting live in one place. Where the time goes is in docs/PERFORMANCE.md.

Two implementations of the per-chunk loop: this module's Python loop, the reference, and the compiled port in
``_itch_core.pyx`` (built by the editable install; ~4x the Python loop's rate per CPU second), which
reads and writes the same mapper state and hands the same messages to the generic path, but for trades (P),
which it builds itself when the generic path would take them unchanged. ``ITCH_CORE`` says
which one ``"auto"`` picks here: the compiled one when it is built, else Python. Chunking, the carry between
chunks, counting and the end of input are shared below, so the two differ only inside one chunk.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Final, Literal

from tapeflow.config import compiled_cores_wanted
from tapeflow.model.enums import Side
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.model.market import OrderAdded, OrderDeleted, OrderExecuted, OrderReduced, OrderReplaced

from .itch_mapping import EventMapper, slow_event
from .itch_messages import LAYOUTS
from .itch_parser import Frame, ItchStats, report_truncated

Implementation = Literal["auto", "python", "compiled"]
ChunkScan = Callable[[bytes, int, int, list[Event], EventMapper, bool, str], tuple[int, int, int, int]]
"""``scan(data, limit, offset, out, mapper, strict, name) -> (pos, filtered, slow, slow_events)``."""

_compiled: ChunkScan | None
try:
    from ._itch_core import scan as _compiled
except ImportError:  # a source tree without the built core: the Python loop runs, and ``ITCH_CORE`` says so
    _compiled = None

ITCH_CORE: Final[Literal["python", "compiled"]] = "python" if _compiled is None else "compiled"
"""The implementation ``"auto"`` runs in this process (benchmarks print it)."""


def resolve_implementation(choice: Implementation) -> Literal["python", "compiled"]:
    """``"auto"`` -> ``ITCH_CORE`` (the reference under ``TAPEFLOW_PURE_PYTHON=1``); asking for the compiled core
    where it is not built is a configuration error."""
    if choice == "auto":
        return ITCH_CORE if compiled_cores_wanted() else "python"
    if choice == "compiled" and _compiled is None:
        raise ConfigError(
            "the compiled ITCH core (tapeflow.data._itch_core) is not built; run `make .venv/.installed` "
            "or use implementation='python'"
        )
    if choice not in ("python", "compiled"):
        raise ConfigError(f"ITCH implementation must be 'auto', 'python' or 'compiled', not {choice!r}")
    return choice


_MAX_FRAME: Final = 2 + max(layout.length for layout in LAYOUTS.values())
_MASK48: Final = (1 << 48) - 1
# Fast-path layouts include the 2-byte length prefix; ``Q`` at byte 5 spans tracking number and timestamp.
# Order references are read signed (``q``): one past int64 comes out negative, and ``ref >= 0`` (a compare
# of small ints, the cheapest there is) sends it to the generic path, which refuses it.
_A = struct.Struct(">HxHQqBI8xI").unpack_from
_F = struct.Struct(">HxHQqBI8xI4s").unpack_from
_D = struct.Struct(">HxHQq").unpack_from
_U = struct.Struct(">HxHQqqII").unpack_from
_E = struct.Struct(">HxHQqIQ").unpack_from
_X = struct.Struct(">HxHQqI").unpack_from
_C = struct.Struct(">HxHQqIQBI").unpack_from
# The hot loop spells lengths as literals (a local constant is the cheapest operand); they must match the
# spec.
assert [LAYOUTS[ord(c)].length for c in "ADUEXFC"] == [36, 19, 35, 31, 23, 40, 36]


def fast_batches(
    chunks: Iterator[bytes],
    mapper: EventMapper,
    stats: ItchStats,
    *,
    strict: bool,
    name: str,
    implementation: Implementation = "auto",
) -> Iterator[list[Event]]:
    """The hot loop for length-prefixed streams; anything it does not expect goes to ``_slow_event``.

    One ``if`` per message type in order of frequency, locals for everything, and ``continue`` only after a
    message fully passed its checks (length prefix equal to the spec, known locate, non-zero shares, time not
    before the locate's last event, order references within int64), so that the generic path decides, counts
    and reports every irregular case exactly as ``messages()`` would. The time check costs about 6% of this
    loop's speed (2.57 against 2.74 M messages per CPU second on the benchmark file, interleaved runs), the
    int64 check next to nothing. Open-order tracking (``track_orders``, off by default) costs about 30% (1.8
    against 2.55 M): off, it is one test of a local flag per message.

    With the compiled core the whole inner loop is one call per chunk (``scan``); the Python loop below stays
    as written, the reference it is tested against.
    """
    scan = _compiled if resolve_implementation(implementation) == "compiled" else None
    syms = mapper.symbols
    known = mapper.known
    base = mapper.base_ns
    last = mapper.last_ts
    track = mapper.track_orders
    live = mapper.live
    mask = _MASK48
    sides: list[Side | None] = [None] * 256
    sides[ord("B")], sides[ord("S")] = Side.BUY, Side.SELL
    added, deleted, replaced, executed, reduced = (
        OrderAdded,
        OrderDeleted,
        OrderReplaced,
        OrderExecuted,
        OrderReduced,
    )
    unpack_a, unpack_f, unpack_d, unpack_u, unpack_e, unpack_x, unpack_c = _A, _F, _D, _U, _E, _X, _C
    carry = b""
    offset = 0  # stream offset of data[0]
    filtered = 0  # fast-path messages dropped by the symbol filter
    slow = 0  # messages that went the generic way
    slow_events = 0  # events those produced
    for chunk in chunks:
        data = carry + chunk if carry else chunk
        n = len(data)
        limit = n - _MAX_FRAME  # every known message starting before this is complete
        pos = 0
        out: list[Event] = []
        app = out.append
        if scan is not None:
            if type(data) is not bytes:  # a stream may read into bytearrays; the compiled core takes bytes
                data = bytes(data)
            pos, filtered, slow, slow_events = scan(data, limit, offset, out, mapper, strict, name)
        else:
            while pos < limit:
                t = data[pos + 2]
                if t == 65:  # A: Add Order
                    ln, loc, tt, ref, side, sh, px = unpack_a(data, pos)
                    if ln == 36 and sh and (sd := sides[side]) is not None:
                        sym = syms[loc]
                        if sym is not None:
                            ts = base + (tt & mask)
                            if ts >= last[loc] and ref >= 0 and (not track or ref not in live):
                                last[loc] = ts
                                if track:
                                    live[ref] = sh
                                app(
                                    added(
                                        ts_event=ts,
                                        ts_init=ts,
                                        symbol=sym,
                                        order_id=ref,
                                        side=sd,
                                        price=px,
                                        size=sh,
                                    )
                                )
                                pos += 38
                                continue
                        elif known[loc]:
                            filtered += 1
                            pos += 38
                            continue
                elif t == 68:  # D: Order Delete
                    ln, loc, tt, ref = unpack_d(data, pos)
                    if ln == 19:
                        sym = syms[loc]
                        if sym is not None:
                            ts = base + (tt & mask)
                            if ts >= last[loc] and ref >= 0 and (not track or ref in live):
                                last[loc] = ts
                                if track:
                                    del live[ref]
                                app(deleted(ts_event=ts, ts_init=ts, symbol=sym, order_id=ref))
                                pos += 21
                                continue
                        elif known[loc]:
                            filtered += 1
                            pos += 21
                            continue
                elif t == 85:  # U: Order Replace
                    ln, loc, tt, ref, new, sh, px = unpack_u(data, pos)
                    if ln == 35 and sh:
                        sym = syms[loc]
                        if sym is not None:
                            ts = base + (tt & mask)
                            if (
                                ts >= last[loc]
                                and ref >= 0
                                and new >= 0
                                and (not track or (ref in live and new not in live))
                            ):
                                last[loc] = ts
                                if track:
                                    del live[ref]
                                    live[new] = sh
                                app(
                                    replaced(
                                        ts_event=ts,
                                        ts_init=ts,
                                        symbol=sym,
                                        order_id=ref,
                                        new_order_id=new,
                                        price=px,
                                        size=sh,
                                    )
                                )
                                pos += 37
                                continue
                        elif known[loc]:
                            filtered += 1
                            pos += 37
                            continue
                elif t == 69:  # E: Order Executed
                    ln, loc, tt, ref, sh, match = unpack_e(data, pos)
                    if ln == 31 and sh:
                        sym = syms[loc]
                        if sym is not None:
                            ts = base + (tt & mask)
                            if ts >= last[loc] and ref >= 0 and (not track or ref in live):
                                last[loc] = ts
                                if track:
                                    left = live[ref] - sh
                                    if left > 0:
                                        live[ref] = left
                                    else:
                                        del live[ref]
                                app(
                                    executed(
                                        ts_event=ts,
                                        ts_init=ts,
                                        symbol=sym,
                                        order_id=ref,
                                        size=sh,
                                        trade_id=str(match),
                                    )
                                )
                                pos += 33
                                continue
                        elif known[loc]:
                            filtered += 1
                            pos += 33
                            continue
                elif t == 88:  # X: Order Cancel (partial)
                    ln, loc, tt, ref, sh = unpack_x(data, pos)
                    if ln == 23 and sh:
                        sym = syms[loc]
                        if sym is not None:
                            ts = base + (tt & mask)
                            if ts >= last[loc] and ref >= 0 and (not track or ref in live):
                                last[loc] = ts
                                if track:
                                    left = live[ref] - sh
                                    if left > 0:
                                        live[ref] = left
                                    else:
                                        del live[ref]
                                app(reduced(ts_event=ts, ts_init=ts, symbol=sym, order_id=ref, size=sh))
                                pos += 25
                                continue
                        elif known[loc]:
                            filtered += 1
                            pos += 25
                            continue
                elif t == 70:  # F: Add Order with MPID
                    ln, loc, tt, ref, side, sh, px, mpid = unpack_f(data, pos)
                    if ln == 40 and sh and (sd := sides[side]) is not None:
                        sym = syms[loc]
                        if sym is not None:
                            ts = base + (tt & mask)
                            if ts >= last[loc] and ref >= 0 and (not track or ref not in live):
                                last[loc] = ts
                                if track:
                                    live[ref] = sh
                                app(
                                    added(
                                        ts_event=ts,
                                        ts_init=ts,
                                        symbol=sym,
                                        order_id=ref,
                                        side=sd,
                                        price=px,
                                        size=sh,
                                        mpid=mpid.decode("latin-1").rstrip(" "),
                                    )
                                )
                                pos += 42
                                continue
                        elif known[loc]:
                            filtered += 1
                            pos += 42
                            continue
                elif t == 67:  # C: Order Executed With Price
                    ln, loc, tt, ref, sh, match, printable, px = unpack_c(data, pos)
                    if ln == 36 and sh:
                        sym = syms[loc]
                        if sym is not None:
                            ts = base + (tt & mask)
                            if ts >= last[loc] and ref >= 0 and (not track or ref in live):
                                last[loc] = ts
                                if track:
                                    left = live[ref] - sh
                                    if left > 0:
                                        live[ref] = left
                                    else:
                                        del live[ref]
                                app(
                                    executed(
                                        ts_event=ts,
                                        ts_init=ts,
                                        symbol=sym,
                                        order_id=ref,
                                        size=sh,
                                        price=px,
                                        trade_id=str(match),
                                        printable=printable == 89,
                                    )
                                )
                                pos += 38
                                continue
                        elif known[loc]:
                            filtered += 1
                            pos += 38
                            continue
                size = data[pos] << 8 | data[pos + 1]
                if pos + 2 + size > n:  # a long unknown message runs past the chunk: finish it next time
                    break
                slow += 1
                event = slow_event(Frame(data, pos + 2, size, offset + pos), mapper, strict=strict, name=name)
                if event is not None:
                    app(event)
                    slow_events += 1
                pos += 2 + size
        # Messages are counted per chunk, not per message: one addition less in the hot loop.
        stats.messages += len(out) - slow_events + filtered + slow
        stats.filtered += filtered
        filtered = slow = slow_events = 0
        carry = data[pos:]  # whatever may be incomplete waits for the next chunk
        offset += pos
        stats.bytes = offset
        if out:
            stats.events += len(out)
            yield out
    # The end of the input: complete messages go the generic way; anything left is a truncated message.
    tail: list[Event] = []
    pos = 0
    while pos + 3 <= len(carry):
        size = carry[pos] << 8 | carry[pos + 1]
        if pos + 2 + size > len(carry):
            break
        stats.messages += 1
        event = slow_event(Frame(carry, pos + 2, size, offset + pos), mapper, strict=strict, name=name)
        if event is not None:
            tail.append(event)
        pos += 2 + size
    stats.bytes = offset + pos
    if tail:
        stats.events += len(tail)
        yield tail
    if pos < len(carry):
        report_truncated(stats, offset + pos, len(carry) - pos, strict=strict, name=name)
