"""The rolling window of feature samples, and the look-ahead guard on what leaves it for training.

A model retrained at a trigger time T may learn only from what was known at T. A sample taken at t is labelled by
the mid at t + H, so it is known only from t + H on: the window hands out the samples with t in [T - window, T)
whose label ended at or before T - embargo (purged; the embargo leaves a margin for effects that outlast the
horizon). Building the set right is not enough: a ``TrainingSet`` can be made by hand, so the guard also sits
where training data is accepted (``TrainingSet.__init__`` and ``accept_training_set``, which the training code
calls with its own trigger), and a leak planted through the API is refused with ``LookAheadError``.

Fixed memory: a ``SampleRing`` holds the last ``capacity`` samples in preallocated numpy arrays; the oldest is
overwritten. Features and labels are floats (they are not money); times stay int64 ns. An append runs once per
sample on the loop, so it writes through typed memoryviews of those arrays (a feature row packed by ``struct`` in
one call: about 190 ns where numpy's row assignment from a list took 240-420; the same IEEE doubles either way).
"""

from __future__ import annotations

import math
import struct
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tapeflow.model.errors import ConfigError, LookAheadError, ValueRangeError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_NAN = float("nan")
_SCALE = 2.0**200
"""A double in [``_LO``, ``_HI``) times this is an integer (its last bit is worth at least 2**-200) held exactly;
ints of ~170 bits for the squared returns of prices (a 2**600 scale made ints three times as long and the
conversion twice as slow)."""
_UNSCALE = 2.0**-200
_LO = 2.0**-148
_HI = 2.0**100


def _frozen(array: npt.ArrayLike, dtype: type[np.generic]) -> npt.NDArray[np.generic]:
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class TrainingSet:
    """What a model may be fitted on at ``trigger_ts``: ``X`` (n, features), ``y`` (n,) forward returns, and each
    sample's time and label end time (int64 ns). Construction copies the arrays read-only and refuses a look-ahead
    (a label ending after ``trigger_ts - embargo_ns``), a label not after its sample, or an unknown label."""

    X: F64
    y: F64
    sample_times: I64
    label_end_times: I64
    trigger_ts: int
    window_ns: int
    embargo_ns: int = 0
    feature_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        x = _frozen(self.X, np.float64)
        if x.ndim == 1 and x.size == 0:
            x = _frozen(np.empty((0, len(self.feature_names))), np.float64)
        n = x.shape[0]
        arrays = {
            "y": _frozen(self.y, np.float64),
            "sample_times": _frozen(self.sample_times, np.int64),
            "label_end_times": _frozen(self.label_end_times, np.int64),
        }
        if x.ndim != 2 or any(a.shape != (n,) for a in arrays.values()):
            shapes = ", ".join(f"{k} {a.shape}" for k, a in arrays.items())
            raise ValueRangeError(f"training set: X {x.shape} must be (n, features) with {shapes} all (n,)")
        if self.feature_names and x.shape[1] != len(self.feature_names):
            raise ValueRangeError(f"training set: X has {x.shape[1]} columns for {len(self.feature_names)} names")
        object.__setattr__(self, "X", x)
        for name, array in arrays.items():
            object.__setattr__(self, name, array)
        check_no_lookahead(self, self.trigger_ts)

    def __len__(self) -> int:
        return int(self.y.shape[0])


def check_no_lookahead(ts: TrainingSet, trigger_ts: int) -> None:
    """Refuses ``ts`` for a retrain triggered at ``trigger_ts`` if any label ends after ``trigger_ts - embargo``
    (so no sample is at or after the trigger either: a label ends after its sample), or a label is not known."""
    limit = trigger_ts - ts.embargo_ns
    late = np.flatnonzero(ts.label_end_times > limit)
    if late.size:
        first = int(late[np.argmax(ts.label_end_times[late])])
        raise LookAheadError(int(ts.sample_times[first]), int(ts.label_end_times[first]), limit, int(late.size))
    if np.any(ts.label_end_times <= ts.sample_times):
        raise ValueRangeError("training set: a label must end after its sample (the horizon is positive)")
    if not np.all(np.isfinite(ts.y)) or not np.all(np.isfinite(ts.X)):
        raise ValueRangeError("training set holds a NaN or infinite label or feature; only matured samples train")


def accept_training_set(ts: TrainingSet, trigger_ts: int) -> TrainingSet:
    """The gate every training entry point calls with the trigger it was started for (not the one the set claims):
    a set built for a later trigger, or altered after it was built, is refused here with ``LookAheadError``."""
    check_no_lookahead(ts, min(trigger_ts, ts.trigger_ts))
    return ts


class SampleRing:
    """The last ``capacity`` samples of one symbol: time, features, mid, label and label end time.

    Slotted: the compiled sample step (``ml._sample_core``) reads ``appended``, ``deferred_from``, ``on_call`` and
    ``capacity`` through their slots' offsets."""

    __slots__ = (
        "X",
        "_ends",
        "_mids",
        "_pack",
        "_row",
        "_times",
        "_x_bytes",
        "_y",
        "appended",
        "capacity",
        "deferred_from",
        "ends_view",
        "label_end",
        "mids",
        "mids_view",
        "on_call",
        "pack_row",
        "row_bytes",
        "times",
        "times_view",
        "x_bytes",
        "y",
        "y_view",
    )

    def __init__(self, capacity: int, n_features: int) -> None:
        if capacity <= 0 or n_features <= 0:
            raise ConfigError(f"sample ring: capacity {capacity} and features {n_features} must be positive")
        self.capacity = capacity
        self.times: I64 = np.zeros(capacity, dtype=np.int64)
        self.X: F64 = np.zeros((capacity, n_features), dtype=np.float64)
        self.mids: F64 = np.zeros(capacity, dtype=np.float64)
        self.y: F64 = np.full(capacity, np.nan, dtype=np.float64)
        self.label_end: I64 = np.zeros(capacity, dtype=np.int64)
        # typed views of the arrays, for ``append`` and the recorder's sample that writes it out
        self.row_bytes = self._row = n_features * 8
        self.pack_row = self._pack = struct.Struct(f"={n_features}d").pack_into
        self.x_bytes = self._x_bytes = self.X.data.cast("B")
        self.times_view = self._times = self.times.data.cast("B").cast("q")
        self.mids_view = self._mids = self.mids.data.cast("B").cast("d")
        self.y_view = self._y = self.y.data.cast("B").cast("d")
        self.ends_view = self._ends = self.label_end.data.cast("B").cast("q")
        self.appended = 0
        """Samples ever appended; sample number ``s`` lives in slot ``s % capacity`` while ``s`` is held."""
        self.deferred_from = 0
        """The oldest sample that may still wait for a label deferred to a sampling tick (``ml.labels``, the ring
        path): samples from here to ``appended`` wait, but for those in ``on_call``."""
        self.on_call: set[int] = set()
        """Samples after ``deferred_from`` labelled otherwise (a kernel call each: on-demand samples)."""

    def __len__(self) -> int:
        return min(self.appended, self.capacity)

    def append(self, ts: int, x: F64 | list[float], mid: float, label_end: int) -> int:
        """Stores a sample without a label; returns its number for ``set_label``."""
        seq = self.appended
        slot = seq % self.capacity
        try:
            self._pack(self._x_bytes, slot * self._row, *x)
        except struct.error as e:  # the wrong number of features, or one that is not a number
            raise ValueRangeError(f"sample ring: {len(x)} features for rows of {self._row // 8}: {e}") from e
        self._times[slot] = ts
        self._mids[slot] = mid
        self._y[slot] = _NAN
        self._ends[slot] = label_end
        self.appended = seq + 1
        return seq

    def held(self, seq: int) -> bool:
        return self.appended - len(self) <= seq < self.appended

    def set_label(self, seq: int, value: float) -> bool:
        """Labels sample ``seq``; False (and nothing changes) when it was already overwritten."""
        if not self.held(seq):
            return False
        self.y[seq % self.capacity] = value
        return True

    def order(self) -> npt.NDArray[np.intp]:
        """Slots from oldest to newest."""
        n = len(self)
        return (np.arange(n, dtype=np.intp) + (self.appended - n)) % self.capacity

    def select(self, trigger_ts: int, window_ns: int, embargo_ns: int) -> npt.NDArray[np.intp]:
        """Slots (oldest first) of matured samples with time in [trigger - window, trigger) and label end at or
        before trigger - embargo."""
        slots = self.order()
        t = self.times[slots]
        keep = (
            (t >= trigger_ts - window_ns)
            & (t < trigger_ts)
            & (self.label_end[slots] <= trigger_ts - embargo_ns)
            & ~np.isnan(self.y[slots])
        )
        return slots[keep]


def training_set(
    rings: list[SampleRing],
    trigger_ts: int,
    window_ns: int,
    embargo_ns: int = 0,
    feature_names: tuple[str, ...] = (),
) -> TrainingSet:
    """The purged window over several rings (one per symbol, in the order given), sorted by sample time (stable:
    equal times keep the rings' order), so the same rings give the same set."""
    if window_ns <= 0 or embargo_ns < 0:
        raise ConfigError(f"training window {window_ns} ns must be positive and embargo {embargo_ns} ns not negative")
    picked = [(ring, ring.select(trigger_ts, window_ns, embargo_ns)) for ring in rings]
    n_features = rings[0].X.shape[1] if rings else len(feature_names)
    times = np.concatenate([r.times[s] for r, s in picked] or [np.empty(0, np.int64)])
    order = np.argsort(times, kind="stable")
    x = np.concatenate([r.X[s] for r, s in picked] or [np.empty((0, n_features))])
    y = np.concatenate([r.y[s] for r, s in picked] or [np.empty(0)])
    ends = np.concatenate([r.label_end[s] for r, s in picked] or [np.empty(0, np.int64)])
    return TrainingSet(
        X=x[order],
        y=y[order],
        sample_times=times[order],
        label_end_times=ends[order],
        trigger_ts=trigger_ts,
        window_ns=window_ns,
        embargo_ns=embargo_ns,
        feature_names=feature_names,
    )


class SquaresSum:
    """sqrt(math.fsum(values)) over the last ``n`` squared returns, kept as values join and leave instead of summed
    again each time (the recorder's realized volatility: fsum over 29 values was ~0.5 us of every 1 s sample).

    Exact, so the double is fsum's own: fsum returns the exact sum correctly rounded (half-even), and so does this.
    A value in [2**-148, 2**100) times 2**200 is an integer, summed in a Python int; ``float`` of that int is
    correctly rounded (half-even) and the scaling back by 2**-200 is exact (the result stays a normal double). A
    value outside that range is counted, and while one is held the sum is fsum's again: a log return of two
    different positive doubles is at least ~2**-53, so its square at least ~2**-106, and at most 745**2; an inf
    or a NaN is outside. Values are squares: never negative, never -0.0.
    ``tests/ml/test_window.py`` holds it equal to sqrt(fsum) over hypothesis streams."""

    __slots__ = ("n", "odd", "total", "values", "vol")

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: deque[float] = deque(maxlen=n)
        self.total = 0
        """The held in-range values times 2**200, exactly."""
        self.odd = 0
        """Held values outside [2**-148, 2**100) and not 0.0."""
        self.vol = 0.0

    def push(self, r2: float) -> float:
        """Appends ``r2`` (the oldest leaves once ``n`` are held) and returns sqrt of the sum of those held."""
        values = self.values
        if len(values) == self.n:
            if not values:  # n == 0: nothing is ever held
                return 0.0
            old = values[0]
            values.append(r2)
            if r2 == old:
                return self.vol
            if old:
                if _LO <= old < _HI:
                    self.total -= int(old * _SCALE)
                else:
                    self.odd -= 1
        else:
            values.append(r2)
            if not r2:
                return self.vol
        if r2:
            if _LO <= r2 < _HI:
                self.total += int(r2 * _SCALE)
            else:
                self.odd += 1
        vol = self.vol = math.sqrt(math.fsum(values) if self.odd else float(self.total) * _UNSCALE)
        return vol
