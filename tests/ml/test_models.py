"""The model interface: every kind learns a known linear relation, travels as bytes unchanged, is versioned by
content, refuses altered bytes, and a bad configuration is refused with the field named before anything is built."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.ml import models
from tapeflow.ml.models import (
    FORMAT_VERSION,
    KINDS,
    MAGIC,
    FloatArray,
    ModelSpec,
    RiverModel,
    SgdParams,
    check_params,
    make_model,
    model_from_bytes,
    read_header,
    version_of,
)
from tapeflow.model.errors import ConfigError, DataError

COEF = np.array([1.5, -2.0, 0.5])
INTERCEPT = 0.3


def linear_window(seed: int, rows: int = 2_000, coef: FloatArray = COEF) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(rows, coef.shape[0]))
    y = xs @ coef + INTERCEPT + rng.normal(scale=0.05, size=rows)
    return xs, y


# HistGradientBoosting approximates a plane by steps: a looser bound, still far from what a constant would get
TOLERANCE = {"sgd": 0.05, "ridge": 0.05, "hgb": 0.35, "river_linear": 0.1}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_fitted_on_a_linear_relation_predicts_it_on_unseen_points(kind: str) -> None:
    xs, y = linear_window(1)
    model = make_model(kind, None, seed=7)
    metrics = model.fit(xs, y)
    assert metrics["n_samples"] == 2_000
    assert metrics["r2"] > 0.95
    test_xs, _ = linear_window(2, rows=50)
    errors = [abs(model.predict(x) - (x @ COEF + INTERCEPT)) for x in test_xs]
    assert float(np.median(errors)) < TOLERANCE[kind]
    assert isinstance(model.predict(test_xs[0]), float)


@pytest.mark.parametrize("kind", list(KINDS))
def test_bytes_round_trip_gives_the_same_predictions_version_and_kind(kind: str) -> None:
    xs, y = linear_window(1, rows=500)
    model = make_model(kind, None, seed=3)
    model.fit(xs, y)
    data = model.to_bytes()
    loaded = model_from_bytes(data, expected_version=model.version)
    assert loaded.kind == kind
    assert loaded.version == model.version == version_of(data)
    assert len(model.version) == 16
    test_xs, _ = linear_window(5, rows=20)
    assert [loaded.predict(x) for x in test_xs] == [model.predict(x) for x in test_xs]
    assert read_header(data).kind == kind


@pytest.mark.parametrize("kind", list(KINDS))
def test_two_fits_of_the_same_data_and_seed_have_one_version_and_other_data_another(kind: str) -> None:
    xs, y = linear_window(1, rows=500)
    first, second = make_model(kind, None, seed=11), make_model(kind, None, seed=11)
    first.fit(xs, y)
    second.fit(xs.copy(), y.copy())
    assert first.to_bytes() == second.to_bytes()
    assert first.version == second.version
    other = make_model(kind, None, seed=11)
    other_xs, other_y = linear_window(2, rows=500)
    other.fit(other_xs, other_y)
    assert other.version != first.version


def test_sgd_with_another_seed_is_another_model() -> None:
    xs, y = linear_window(1, rows=500)
    first, second = make_model("sgd", None, seed=1), make_model("sgd", None, seed=2)
    first.fit(xs, y)
    second.fit(xs, y)
    assert first.version != second.version


def test_river_learn_one_moves_the_model_toward_a_new_relation_and_changes_its_version() -> None:
    xs, y = linear_window(1, rows=1_000)
    model = make_model("river_linear", None, seed=0)
    assert isinstance(model, RiverModel)
    model.fit(xs, y)
    before_version = model.version
    new_coef = -COEF
    probe = np.array([1.0, 0.0, 0.0])  # old relation 1.8, new one -1.2
    before_error = abs(model.predict(probe) - (probe @ new_coef + INTERCEPT))
    new_xs, new_y = linear_window(3, rows=2_000, coef=new_coef)
    for x, label in zip(new_xs, new_y, strict=True):
        model.learn_one(x, float(label))
    after_error = abs(model.predict(probe) - (probe @ new_coef + INTERCEPT))
    assert after_error < before_error / 5
    assert model.n_learned == 3_000
    assert model.version != before_version


def test_river_learn_one_refuses_a_nan_and_leaves_the_model_as_it_was() -> None:
    xs, y = linear_window(1, rows=200)
    model = make_model("river_linear", None, seed=0)
    assert isinstance(model, RiverModel)
    model.fit(xs, y)
    version = model.version
    with pytest.raises(DataError, match="not finite"):
        model.learn_one(np.array([np.nan, 0.0, 0.0]), 1.0)
    assert model.version == version


def test_river_fit_starts_afresh_rather_than_continuing_the_previous_window() -> None:
    xs, y = linear_window(1, rows=300)
    fresh = make_model("river_linear", None, seed=0)
    fresh.fit(xs, y)
    reused = make_model("river_linear", None, seed=0)
    other_xs, other_y = linear_window(9, rows=300, coef=-COEF)
    reused.fit(other_xs, other_y)
    reused.fit(xs, y)
    assert reused.version == fresh.version


@pytest.mark.parametrize(
    ("xs", "y", "message"),
    [
        (np.zeros(4), np.zeros(4), "2-D"),
        (np.zeros((4, 2)), np.zeros(3), "3 labels"),
        (np.zeros((1, 2)), np.zeros(1), "at least 2 samples"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), np.zeros(2), "not finite"),
        (np.zeros((2, 2)), np.array([0.0, np.inf]), "not finite"),
    ],
)
def test_fit_refuses_a_malformed_window_with_a_data_error(xs: FloatArray, y: FloatArray, message: str) -> None:
    with pytest.raises(DataError, match=message):
        make_model("ridge", None).fit(xs, y)


def test_predict_before_fit_is_a_data_error_not_a_sklearn_traceback() -> None:
    with pytest.raises(DataError, match="before it was fitted"):
        make_model("ridge", None).predict(np.zeros(3))


# ---- bytes that do not match are refused --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ridge_bytes() -> bytes:
    xs, y = linear_window(1, rows=200)
    model = make_model("ridge", None)
    model.fit(xs, y)
    return model.to_bytes()


def test_a_flipped_byte_in_the_payload_is_refused(ridge_bytes: bytes) -> None:
    tampered = bytearray(ridge_bytes)
    tampered[-10] ^= 0x01
    with pytest.raises(DataError, match="sha256"):
        model_from_bytes(bytes(tampered))


def test_truncated_bytes_are_refused(ridge_bytes: bytes) -> None:
    with pytest.raises(DataError, match="sha256"):
        model_from_bytes(ridge_bytes[:-1])
    with pytest.raises(DataError, match="header"):
        model_from_bytes(ridge_bytes[:3])


def test_bytes_without_the_magic_are_refused(ridge_bytes: bytes) -> None:
    with pytest.raises(DataError, match="header"):
        model_from_bytes(b"XXXX" + ridge_bytes[4:])


def test_another_format_version_is_refused(ridge_bytes: bytes) -> None:
    other = MAGIC + bytes((FORMAT_VERSION + 1,)) + ridge_bytes[len(MAGIC) + 1 :]
    with pytest.raises(DataError, match="format version"):
        model_from_bytes(other)


def test_a_header_naming_another_kind_than_the_payload_is_refused() -> None:
    xs, y = linear_window(1, rows=200)
    model = make_model("sgd", None)
    model.fit(xs, y)
    relabelled = model.to_bytes().replace(b"sgd", b"hgb", 1)  # same length: only the header's kind changes
    with pytest.raises(DataError, match="not a 'hgb' model"):
        model_from_bytes(relabelled)


def test_an_unexpected_version_is_refused(ridge_bytes: bytes) -> None:
    with pytest.raises(DataError, match="not the expected"):
        model_from_bytes(ridge_bytes, expected_version="0" * 16)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_refused_with_a_data_error_and_nothing_else(data: bytes) -> None:
    with pytest.raises(DataError):
        model_from_bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_of_real_model_bytes_is_refused(ridge_bytes: bytes, position: int, flip: int) -> None:
    tampered = bytearray(ridge_bytes)
    tampered[position % len(tampered)] ^= flip
    with pytest.raises(DataError):
        model_from_bytes(bytes(tampered))


# ---- configuration: a bad name or parameter names its field, before anything is built -----------------------------


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every model construction, so a test can show a refused configuration built nothing."""
    built: list[str] = []
    for kind, spec in list(KINDS.items()):

        def build(params: Any, seed: int, kind: str = kind, spec: ModelSpec = spec) -> models.Model:
            built.append(kind)
            return spec.build(params, seed)

        monkeypatch.setitem(KINDS, kind, ModelSpec(spec.params, build, spec.validate))  # type: ignore[arg-type]
    return built


def test_an_unknown_kind_is_a_config_error_naming_the_kind_field(builds: list[str]) -> None:
    with pytest.raises(ConfigError, match="unknown model kind 'xgboost'") as caught:
        make_model("xgboost", {"alpha": 1.0})
    assert caught.value.field == "kind"
    assert builds == []


@pytest.mark.parametrize(
    ("kind", "params", "field", "message"),
    [
        ("ridge", {"alpah": 1.0}, "params.alpah", "unknown parameter 'alpah'"),
        ("ridge", {"alpha": "much"}, "params.alpha", "Expected `float`"),
        ("ridge", {"alpha": -1.0}, "params.alpha", ">= 0"),
        ("sgd", {"learning_rate": "fast"}, "params.learning_rate", "'fast' is not one of"),
        ("sgd", {"penalty": "l3"}, "params.penalty", "'l3' is not one of"),
        ("hgb", {"max_iter": 0}, "params.max_iter", ">= 1"),
        ("hgb", {"max_leaf_nodes": 1}, "params.max_leaf_nodes", ">= 2"),
        ("river_linear", {"lr": 0.0}, "params.lr", "> 0"),
        ("river_linear", {"epochs": 1.5}, "params.epochs", "Expected `int`"),
    ],
)
def test_a_bad_parameter_is_a_config_error_naming_its_field_and_builds_nothing(
    builds: list[str], kind: str, params: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        make_model(kind, params)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert builds == []


def test_params_of_another_kind_are_refused(builds: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        make_model("ridge", SgdParams())
    assert caught.value.field == "params"
    assert builds == []


def test_good_params_from_a_toml_like_dict_are_typed_and_reach_the_estimator(builds: list[str]) -> None:
    params = check_params("hgb", {"max_iter": 5, "learning_rate": 1})
    assert params == models.HgbParams(max_iter=5, learning_rate=1.0)
    model = make_model("hgb", {"max_iter": 5, "learning_rate": 1}, seed=4)
    assert isinstance(model, models.SklearnModel)
    assert model.estimator.max_iter == 5
    assert model.estimator.random_state == 4
    assert builds == ["hgb"]


@pytest.mark.parametrize("kind", ["sgd", "ridge"])
def test_the_fast_linear_predict_agrees_with_sklearns_own_predict(kind: str) -> None:
    xs, y = linear_window(1, rows=500)
    model = make_model(kind, None, seed=0)
    model.fit(xs, y)
    assert isinstance(model, models.SklearnModel)
    assert model._linear is not None  # the fast path is the one under test
    loaded = model_from_bytes(model.to_bytes())
    assert isinstance(loaded, models.SklearnModel)
    assert loaded._linear is not None
    test_xs, _ = linear_window(6, rows=50)
    expected = model.estimator.predict(test_xs)
    assert [model.predict(x) for x in test_xs] == pytest.approx(list(expected), rel=1e-12, abs=1e-12)
    assert [loaded.predict(x) for x in test_xs] == [model.predict(x) for x in test_xs]


def test_an_hgb_fit_is_the_same_model_whatever_the_processs_openmp_thread_count() -> None:
    """Its parallel sums made the version depend on the thread count (a pool worker limited to one thread named
    another model than the same fit in the test process); the fit now runs on one OpenMP thread."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # lazy: a scikit-learn dependency

    xs, y = linear_window(4, rows=300)
    make_model("hgb", None, seed=9)  # loads scikit-learn's OpenMP runtime, which threadpool_limits then sees
    versions = set()
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            model = make_model("hgb", None, seed=9)
            model.fit(xs, y)
            versions.add(model.version)
    assert len(versions) == 1
