"""FastForest (apps/registry/acceleration.py) answers exactly what scikit-learn's forests answer, bit for bit, on
one thread or split over several, alone or at the end of a pipeline, and served models use it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from apps.automl import engine
from apps.automl.engine import AtelierModel, save_model
from apps.automl.engine.model import Member
from apps.registry import acceleration
from apps.registry.acceleration import FastForest, FastPipeline, accelerate
from apps.registry.loading import load_file
from tests.factories import FEATURES, pipeline, training_frame


def classification(n: int = 600, classes: int = 2, missing: bool = False) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=n, n_features=8, n_informative=5, n_classes=classes, random_state=1)
    if missing:
        X[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    return X, np.array(["cat", "dog", "eel", "fox"])[y]


@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier])
@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("missing", [False, True])
def test_classifier_probabilities_are_bit_identical(cls, classes: int, missing: bool) -> None:
    X, y = classification(classes=classes, missing=missing)
    forest = cls(n_estimators=30, random_state=0).fit(X[:400], y[:400])
    fast = accelerate(forest)
    assert isinstance(fast, FastForest)
    assert np.array_equal(fast.predict_proba(X), forest.predict_proba(X))
    assert np.array_equal(fast.predict(X), forest.predict(X))
    assert list(fast.classes_) == list(forest.classes_)


@pytest.mark.parametrize("cls", [RandomForestRegressor, ExtraTreesRegressor])
def test_regressor_values_are_bit_identical(cls) -> None:
    X, y = make_regression(n_samples=500, n_features=6, noise=5.0, random_state=2)
    forest = cls(n_estimators=25, random_state=0).fit(X[:300], y[:300])
    fast = accelerate(forest)
    assert isinstance(fast, FastForest)
    assert np.array_equal(fast.predict(X), forest.predict(X))
    with pytest.raises(AttributeError):
        fast.predict_proba(X)


def test_large_batches_split_over_threads_give_the_same_answer(monkeypatch) -> None:
    X, y = classification(n=3000)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X[:1000], y[:1000])
    big = np.vstack([X, X, X])  # 9,000 rows: three parts of 3,000
    calls: list[int] = []
    monkeypatch.setattr(acceleration, "CPUS", 2)
    monkeypatch.setattr(acceleration, "cpu_idle", lambda: 1.0)  # two idle cores: three parts (this one and two)
    fast = FastForest(forest, threads=3)
    real_sum = fast._sum
    monkeypatch.setattr(fast, "_sum", lambda part: calls.append(len(part)) or real_sum(part))
    assert np.array_equal(fast.predict_proba(big), forest.predict_proba(big))
    assert sorted(calls) == [3000, 3000, 3000]
    calls.clear()
    fast.predict_proba(big[: acceleration.MIN_ROWS_PER_THREAD])  # too few rows to split
    assert calls == [acceleration.MIN_ROWS_PER_THREAD]
    calls.clear()
    monkeypatch.setattr(acceleration, "cpu_idle", lambda: 0.2)  # 0.4 of a core idle: no split
    assert np.array_equal(fast.predict_proba(big), forest.predict_proba(big))
    assert calls == [9000]


def test_cpu_idle_is_a_fraction_read_from_proc_stat() -> None:
    acceleration._idle.update(at=0.0)
    acceleration.cpu_idle(max_age_s=0)
    value = acceleration.cpu_idle(max_age_s=0)
    assert 0.0 <= value <= 1.0


def test_pipeline_keeps_its_preprocessing_and_feature_checks() -> None:
    df = training_frame(n=300)
    pipe = pipeline(RandomForestClassifier(n_estimators=15, random_state=0)).fit(
        df[["x1", "x2", "colour"]], df["churn"]
    )
    fast = accelerate(pipe)
    assert isinstance(fast, FastPipeline) and isinstance(fast.last, FastForest)
    rows = df[["x1", "x2", "colour"]]
    assert np.array_equal(fast.predict_proba(rows), pipe.predict_proba(rows))
    assert np.array_equal(fast.predict(rows), pipe.predict(rows))
    with pytest.raises(ValueError):  # the wrapped forest still validates its input
        fast.last.predict(np.zeros((2, 99)))


def test_other_estimators_and_multi_output_forests_are_left_as_they_are() -> None:
    X, y = classification()
    linear = LogisticRegression().fit(X, y)
    assert accelerate(linear) is linear
    pipe = pipeline(LogisticRegression())
    assert accelerate(pipe) is pipe
    multi = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, np.c_[X[:, 0], X[:, 1]])
    assert accelerate(multi) is multi


def test_a_served_atelier_model_uses_it_and_predicts_what_the_engine_predicts() -> None:
    df = training_frame(n=300)
    pipe = pipeline(RandomForestClassifier(n_estimators=20, random_state=0, n_jobs=2))
    pipe.fit(df[["x1", "x2", "colour"]], (df["churn"] == "yes").astype(int))
    model = AtelierModel(
        problem_type="binary",
        target="churn",
        objective="roc_auc",
        classes=["no", "yes"],
        features=list(FEATURES),
        ignored_columns=["churn"],
        members=[Member("rf-0", "random_forest", 1.0, pipe)],
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        save_model(model, path)
        predictor = load_file(str(path), "atelier", inputs=[], classes=["no", "yes"])
    assert isinstance(predictor.model.members[0].pipeline, FastPipeline)
    rows = df.drop(columns=["churn"])
    labels, proba = predictor.predict(rows)
    expected = engine.predict(model, rows)
    assert labels.tolist() == expected["predictions"]
    assert np.array_equal(proba, model.raw(rows[["x1", "x2", "colour"]]))


def test_leaf_fractions_that_do_not_add_up_to_one_are_not_divided_again() -> None:
    """scikit-learn 1.9 stores a leaf's class fractions and returns them as they are; dividing them by their sum
    (0.9999999999999999 for 0.5, 0.1, 0.3, 0.1) changed the last bit of some probabilities."""
    X, y = make_classification(n_samples=600, n_features=8, n_informative=5, n_classes=5, random_state=3)
    forest = RandomForestClassifier(n_estimators=12, max_depth=8, random_state=0).fit(X[:400], y[:400])
    sums = np.concatenate([e.tree_.value[:, 0].sum(axis=1) for e in forest.estimators_])
    assert np.any(sums != 1.0)  # the case this is about
    assert np.array_equal(FastForest(forest).predict_proba(X), forest.predict_proba(X))


def test_a_platform_without_native_compiling_keeps_fast_forest(monkeypatch) -> None:
    """apps/registry/native.py needs fcntl (POSIX); where it cannot be imported the forest is still served."""
    import sys

    import apps.registry

    monkeypatch.setitem(sys.modules, "apps.registry.native", None)  # makes the import raise ImportError
    monkeypatch.delattr(apps.registry, "native", raising=False)  # (once imported, it is also an attribute)
    X, y = classification()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    fast = accelerate(forest, native=True)
    assert isinstance(fast, FastForest) and fast.native is None
    assert fast.native_status.startswith("unavailable on this platform")
    assert np.array_equal(fast.predict_proba(X), forest.predict_proba(X))
