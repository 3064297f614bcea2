"""The one small model interface of tapeflow.ml and its four implementations.

A strategy needs a model that is fitted on a window off the loop (in the training pool's worker process), crosses
back as bytes, and then predicts one feature vector at a time on the loop. ``Model`` is exactly that much:
``fit``, ``predict``, ``to_bytes`` and a ``version`` that is the content hash of those bytes, so a ModelUpdated
event and every audit record can name the model that decided, and two runs on the same data and seed name the same
one. Another model plugs in by satisfying the protocol and registering a ``ModelSpec`` in ``KINDS``.

Kinds are chosen by name with typed parameters (a msgspec Struct per kind): ``make_model`` checks the name and
every parameter first and raises a ``ConfigError`` naming the field before anything is instantiated, so a typo in a
configuration fails at start-up, not at the first retrain an hour into a session.

Trust of the bytes: the payload is a pickle. Unpickling runs code, so ``model_from_bytes`` must only ever be given
bytes that our own training pool produced in this run (or wrote into this run's output); never a file from
elsewhere. The header (magic, format version, kind) and the sha256 of the payload are checked before unpickling:
that catches truncation, corruption and a mix-up of kinds, but it is not a signature and does not make foreign
bytes safe.

Why this module is long: the interface, its four kinds with their typed parameters, and the byte format are one
contract; split, a reader would have to assemble it from three files to see what crosses the process boundary.

scikit-learn and river are imported lazily: they cost seconds to import and ``tapeflow --help`` must stay fast;
the pool's workers import them once when warmed.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from tapeflow.model.errors import ConfigError, DataError

FloatArray = npt.NDArray[np.float64]

MAGIC = b"TFML"
FORMAT_VERSION = 1
_DIGEST_LEN = 32
VERSION_CHARS = 16
"""A model's version: the first 16 hex characters of the sha256 of its bytes (64 bits: no collision in a run)."""


class Model(Protocol):
    """What the node needs of a model: fit on a window, predict one vector, travel as bytes."""

    kind: str

    def fit(self, xs: FloatArray, y: FloatArray) -> dict[str, float]:
        """Fits on the rows of ``xs`` (2-D float64) against ``y`` (1-D float64); returns in-sample metrics."""
        ...

    def predict(self, x: FloatArray) -> float:
        """Predicts one feature vector (1-D float64)."""
        ...

    def to_bytes(self) -> bytes:
        """The model as version-stamped bytes (header + sha256 + pickle); ``model_from_bytes`` reverses it."""
        ...

    @property
    def version(self) -> str:
        """The content hash of ``to_bytes()``: equal bytes, equal version."""
        ...


# ---- parameters: one frozen Struct per kind; constraints are checked by msgspec.convert ---------------------------

Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]


class SgdParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """scikit-learn SGDRegressor behind a StandardScaler (SGD diverges on unscaled features)."""

    alpha: Positive = 1e-4
    max_iter: Count = 1000
    tol: NonNegative = 1e-4
    eta0: Positive = 0.01
    learning_rate: str = "invscaling"
    l1_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.15
    penalty: str = "l2"


class RidgeParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """scikit-learn Ridge: closed form, no randomness, the cheapest retrain."""

    alpha: NonNegative = 1.0
    fit_intercept: bool = True


class HgbParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """scikit-learn HistGradientBoostingRegressor; early stopping is off so that the result depends on the data
    and the seed only (its validation split would otherwise switch on above 10,000 samples)."""

    max_iter: Count = 100
    learning_rate: Positive = 0.1
    max_leaf_nodes: Annotated[int, msgspec.Meta(ge=2)] = 31
    max_depth: Count | None = None
    min_samples_leaf: Count = 20
    l2_regularization: NonNegative = 0.0


class RiverLinearParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """river LinearRegression behind a StandardScaler: online, ``learn_one`` updates it between retrains."""

    lr: Positive = 0.01
    l2: NonNegative = 0.0
    intercept_lr: Positive = 0.01
    epochs: Count = 1


_SGD_LEARNING_RATES = ("constant", "optimal", "invscaling", "adaptive")
_SGD_PENALTIES = ("l2", "l1", "elasticnet")
_PATH = re.compile(r"\$\.(\w+)")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{value!r} is not one of {', '.join(allowed)}", field=f"params.{name}")


def _validate_sgd(params: SgdParams) -> None:
    _check_choice("learning_rate", params.learning_rate, _SGD_LEARNING_RATES)
    _check_choice("penalty", params.penalty, _SGD_PENALTIES)


# ---- the models ---------------------------------------------------------------------------------------------------


def _check_training(xs: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The window must be a finite 2-D matrix with one label per row: a NaN would train a silently broken model."""
    xs = np.asarray(xs, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if xs.ndim != 2 or y.ndim != 1:
        raise DataError(f"training window: xs must be 2-D and y 1-D, got xs.ndim={xs.ndim}, y.ndim={y.ndim}")
    if xs.shape[0] != y.shape[0]:
        raise DataError(f"training window: {xs.shape[0]} rows in xs but {y.shape[0]} labels in y")
    if xs.shape[0] < 2 or xs.shape[1] < 1:
        raise DataError(f"training window: need at least 2 samples and 1 feature, got shape {xs.shape}")
    if not (np.isfinite(xs).all() and np.isfinite(y).all()):
        raise DataError("training window: xs or y holds values that are not finite (NaN or inf); drop those rows")
    return xs, y


def _metrics(y: FloatArray, predicted: FloatArray) -> dict[str, float]:
    """In-sample fit quality: a sanity figure for the ModelUpdated event, not an out-of-sample claim."""
    residual = y - predicted
    mse = float(np.mean(residual * residual))
    variance = float(np.var(y))
    r2 = 1.0 - mse / variance if variance > 0.0 else 0.0
    return {"n_samples": float(y.shape[0]), "mse": mse, "r2": r2}


class _Packed:
    """The bytes of a model are made once per state and kept: re-pickling an unpickled estimator need not give
    the same bytes (pickle's memo follows object identity), so a loaded model keeps the bytes it came from and its
    version stays the version the pool reported. ``fit`` and ``learn_one`` drop them (the state changed)."""

    kind: str
    _packed: bytes | None = None
    _TRANSIENT: ClassVar[tuple[str, ...]] = ("_packed",)

    def to_bytes(self) -> bytes:
        if self._packed is None:
            self._packed = _pack(self.kind, self)
        return self._packed

    @property
    def version(self) -> str:
        return version_of(self.to_bytes())

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        for name in self._TRANSIENT:
            state.pop(name, None)
        return state


Linear = tuple[FloatArray | None, FloatArray | None, FloatArray, float]
"""An affine model as (scaler mean, scaler scale, coef, intercept): predicted without sklearn's per-call checks."""


def _linear_form(estimator: Any) -> Linear | None:
    """The affine form of a fitted Ridge or StandardScaler+SGD pipeline, else None (HGB is not affine)."""
    mean = scale = None
    final = estimator
    steps = getattr(estimator, "steps", None)
    if steps is not None:
        if len(steps) != 2 or not hasattr(steps[0][1], "scale_"):
            return None
        mean, scale = np.asarray(steps[0][1].mean_, np.float64), np.asarray(steps[0][1].scale_, np.float64)
        final = steps[1][1]
    coef = getattr(final, "coef_", None)
    if coef is None or np.ndim(coef) != 1:
        return None
    return mean, scale, np.asarray(coef, np.float64), float(np.ravel(final.intercept_)[0])


class SklearnModel(_Packed):
    """One scikit-learn regressor (or pipeline) behind ``Model``; ``kind`` names which.

    ``predict`` of a linear kind computes the affine form itself: sklearn's ``predict`` spends 50-150 us per call
    validating one row, which the loop would pay on every event (HGB keeps sklearn's path, ~0.8 ms a call).
    """

    _TRANSIENT = ("_packed", "_linear")

    def __init__(self, kind: str, estimator: Any) -> None:
        self.kind = kind
        self.estimator = estimator
        self._fitted = False
        self._linear: Linear | None = None

    def fit(self, xs: FloatArray, y: FloatArray) -> dict[str, float]:
        xs, y = _check_training(xs, y)
        self._packed = None
        if self.kind != "hgb":
            self.estimator.fit(xs, y)
            predicted = self.estimator.predict(xs)
        else:
            # One OpenMP thread, whatever the machine: HGB's parallel sums make the model (and its version) depend
            # on the thread count, and one thread per core let a training in the pool take the loop's core too
            # (the loop's p99 stretched 15-fold on 2 cores: docs/PERFORMANCE.md, ML). Costs ~3 ms a fit.
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # lazy: hgb only, via sklearn

            with threadpool_limits(limits=1, user_api="openmp"):
                self.estimator.fit(xs, y)
                predicted = self.estimator.predict(xs)
        self._fitted = True
        self._linear = _linear_form(self.estimator)
        return _metrics(y, np.asarray(predicted, dtype=np.float64))

    def predict(self, x: FloatArray) -> float:
        if not self._fitted:
            raise DataError(f"model {self.kind!r} predicts before it was fitted")
        row = np.asarray(x, dtype=np.float64)
        if self._linear is not None:
            mean, scale, coef, intercept = self._linear
            if mean is not None and scale is not None:
                row = (row - mean) / scale
            return float(row @ coef + intercept)
        return float(self.estimator.predict(row.reshape(1, -1))[0])

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._linear = _linear_form(self.estimator) if self._fitted else None


class RiverModel(_Packed):
    """river's online linear regression: ``fit`` learns a fresh model over the window in row order (``epochs``
    passes), ``learn_one`` keeps updating it between retrains as labels arrive."""

    kind = "river_linear"

    def __init__(self, params: RiverLinearParams) -> None:
        from river import linear_model, optim, preprocessing  # lazy: river costs ~1 s to import; --help stays fast

        self.params = params
        self.pipeline: Any = preprocessing.StandardScaler() | linear_model.LinearRegression(
            optimizer=optim.SGD(params.lr), l2=params.l2, intercept_lr=params.intercept_lr
        )
        self.n_learned = 0

    @staticmethod
    def _row(x: FloatArray) -> dict[int, float]:
        return {i: float(v) for i, v in enumerate(x)}

    def fit(self, xs: FloatArray, y: FloatArray) -> dict[str, float]:
        xs, y = _check_training(xs, y)
        fresh = RiverModel(self.params)
        for _ in range(self.params.epochs):
            for row, label in zip(xs, y, strict=True):
                fresh.learn_one(row, float(label))
        self.pipeline, self.n_learned, self._packed = fresh.pipeline, fresh.n_learned, None
        predicted = np.fromiter((self.predict(row) for row in xs), dtype=np.float64, count=xs.shape[0])
        return _metrics(y, predicted)

    def learn_one(self, x: FloatArray, y: float) -> None:
        """One incremental update (a label that matured since the last retrain); changes ``version``."""
        if not (np.isfinite(x).all() and np.isfinite(y)):
            raise DataError("learn_one: x or y is not finite (NaN or inf)")
        self._packed = None
        self.pipeline.learn_one(self._row(x), y)
        self.n_learned += 1

    def predict(self, x: FloatArray) -> float:
        return float(self.pipeline.predict_one(self._row(x)))


# ---- the registry: kind name -> params type, validation, constructor ---------------------------------------------


def _build_sgd(params: SgdParams, seed: int) -> Model:
    from sklearn.linear_model import SGDRegressor  # type: ignore[import-untyped]  # lazy: sklearn import is ~2 s
    from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]  # lazy: sklearn import is ~2 s
    from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]  # lazy: sklearn import is ~2 s

    regressor = SGDRegressor(
        alpha=params.alpha,
        max_iter=params.max_iter,
        tol=params.tol,
        eta0=params.eta0,
        learning_rate=params.learning_rate,
        l1_ratio=params.l1_ratio,
        penalty=params.penalty,
        random_state=seed,
    )
    return SklearnModel("sgd", make_pipeline(StandardScaler(), regressor))


def _build_ridge(params: RidgeParams, seed: int) -> Model:
    from sklearn.linear_model import Ridge  # lazy: sklearn import is ~2 s

    return SklearnModel("ridge", Ridge(alpha=params.alpha, fit_intercept=params.fit_intercept, random_state=seed))


def _build_hgb(params: HgbParams, seed: int) -> Model:
    from sklearn.ensemble import HistGradientBoostingRegressor  # type: ignore[import-untyped]  # lazy: ~2 s import

    return SklearnModel(
        "hgb",
        HistGradientBoostingRegressor(
            max_iter=params.max_iter,
            learning_rate=params.learning_rate,
            max_leaf_nodes=params.max_leaf_nodes,
            max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf,
            l2_regularization=params.l2_regularization,
            early_stopping=False,
            random_state=seed,
        ),
    )


def _build_river(params: RiverLinearParams, seed: int) -> Model:
    return RiverModel(params)  # river's linear regression has no randomness: the seed has nothing to drive


class ModelSpec(msgspec.Struct, frozen=True):
    """One kind: its parameter Struct, an extra check of values msgspec cannot express, and its constructor."""

    params: type[msgspec.Struct]
    build: Callable[[Any, int], Model]
    validate: Callable[[Any], None] | None = None
    online: bool = False
    """Its models have ``learn_one``: they keep learning between retrains (``ml/online.py``)."""


KINDS: Mapping[str, ModelSpec] = {
    "sgd": ModelSpec(SgdParams, _build_sgd, _validate_sgd),
    "ridge": ModelSpec(RidgeParams, _build_ridge),
    "hgb": ModelSpec(HgbParams, _build_hgb),
    "river_linear": ModelSpec(RiverLinearParams, _build_river, online=True),
}


def check_params(kind: str, params: Mapping[str, object] | msgspec.Struct | None = None) -> msgspec.Struct:
    """The typed parameters for ``kind``, or a ConfigError naming the field; instantiates no model."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ConfigError(f"unknown model kind {kind!r}; known kinds: {', '.join(KINDS)}", field="kind")
    if params is None:
        typed = spec.params()
    elif isinstance(params, msgspec.Struct):
        if not isinstance(params, spec.params):
            raise ConfigError(f"{type(params).__name__} given for kind {kind!r}", field="params")
        typed = params
    else:
        known = spec.params.__struct_fields__
        for name in params:
            if name not in known:
                raise ConfigError(
                    f"unknown parameter {name!r} for model kind {kind!r}; known: {', '.join(known)}",
                    field=f"params.{name}",
                )
        try:
            typed = msgspec.convert(dict(params), spec.params, strict=False)
        except msgspec.ValidationError as exc:
            found = _PATH.search(str(exc))
            raise ConfigError(str(exc), field=f"params.{found.group(1)}" if found else "params") from exc
    if spec.validate is not None:
        spec.validate(typed)
    return typed


def make_model(kind: str, params: Mapping[str, object] | msgspec.Struct | None = None, seed: int = 0) -> Model:
    """A fresh, unfitted model of ``kind``; every name and parameter is checked before anything is built."""
    typed = check_params(kind, params)
    return KINDS[kind].build(typed, seed)


# ---- bytes: header + sha256 of the payload + pickle ---------------------------------------------------------------


class _Header(msgspec.Struct, frozen=True):
    format_version: int
    kind: str

    SIZE: ClassVar[int] = len(MAGIC) + 2


def version_of(data: bytes) -> str:
    """The version stamp of model bytes: sha256 hex, first 16 characters."""
    return hashlib.sha256(data).hexdigest()[:VERSION_CHARS]


def _pack(kind: str, model: object) -> bytes:
    payload = pickle.dumps(model, protocol=5)
    name = kind.encode("ascii")
    return MAGIC + bytes((FORMAT_VERSION, len(name))) + name + hashlib.sha256(payload).digest() + payload


def read_header(data: bytes) -> _Header:
    """The format version and kind of model bytes, or a DataError saying what does not match."""
    if len(data) < _Header.SIZE or data[: len(MAGIC)] != MAGIC:
        raise DataError("model bytes: missing the TFML header (not bytes written by tapeflow's model pool)")
    fmt, name_len = data[len(MAGIC)], data[len(MAGIC) + 1]
    if fmt != FORMAT_VERSION:
        raise DataError(f"model bytes: format version {fmt}, this tapeflow reads {FORMAT_VERSION}")
    name = data[_Header.SIZE : _Header.SIZE + name_len]
    try:
        kind = name.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DataError("model bytes: the kind in the header is not ASCII") from exc
    if kind not in KINDS:
        raise DataError(f"model bytes: unknown model kind {kind!r} in the header")
    return _Header(fmt, kind)


def model_from_bytes(data: bytes, *, expected_version: str | None = None) -> Model:
    """The model ``to_bytes`` wrote. Trust: only our own pool's output (the payload is a pickle, see the module
    docstring). Refuses bytes whose header, payload hash or (when given) version does not match."""
    header = read_header(data)
    start = _Header.SIZE + len(header.kind)
    digest, payload = data[start : start + _DIGEST_LEN], data[start + _DIGEST_LEN :]
    if len(digest) != _DIGEST_LEN or hashlib.sha256(payload).digest() != digest:
        raise DataError("model bytes: the payload does not match its sha256 (truncated or altered); refused")
    if expected_version is not None and version_of(data) != expected_version:
        raise DataError(f"model bytes: version {version_of(data)} is not the expected {expected_version}; refused")
    model = pickle.loads(payload)
    if getattr(model, "kind", None) != header.kind:
        raise DataError(f"model bytes: the payload is not a {header.kind!r} model; refused")
    model._packed = data
    loaded: Model = model
    return loaded
