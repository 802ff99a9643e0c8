"""End-to-end builds on small data with short budgets: each problem type beats a constant predictor on rows it
never saw, the budget holds, the report is plain JSON, the ensemble is kept only when it is better."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from apps.automl.engine import BuildCancelled, BuildConfig, BuildError, build, load_model, predict, save_model
from apps.automl.engine.ensemble import caruana
from apps.automl.engine.metrics import METRICS, metrics_for
from tests.factories import make_binary, make_iris, make_regression


def _split(df: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    test = df.sample(frac=0.25, random_state=seed)
    return df.drop(index=test.index).reset_index(drop=True), test.reset_index(drop=True)


def _check_report(report: dict, problem_type: str) -> None:
    json.dumps(report, allow_nan=False)  # plain JSON, no NaN
    board = report["leaderboard"]
    assert board and sum(e["best"] for e in board) == 1 and board[0]["best"]
    names = {m.name for m in metrics_for(problem_type)}
    for e in board:
        assert set(e["metrics"]) == names
        assert e["fit_time_s"] >= 0 and e["predict_ms_per_row"] >= 0 and e["model_size_bytes"] > 100
    assert report["best"] == board[0]["name"]
    ens = report["ensemble"]
    if ens is not None and ens["kept"]:  # kept only when better than the best single model out of fold
        better = (
            ens["score"] < ens["best_single_score"]
            if report["objective_direction"] == "minimize"
            else ens["score"] > ens["best_single_score"]
        )
        assert better and board[0]["algorithm"] == "ensemble"
    elif ens is not None:
        assert board[0]["algorithm"] != "ensemble"


def test_binary_build_beats_constant_and_reports_everything() -> None:
    train, test = _split(make_binary(500))
    progress: list[tuple[float, str, float | None, int]] = []
    res = build(
        train,
        BuildConfig(target="churn", time_budget_s=6, seed=1),
        progress=lambda f, m, b, n: progress.append((f, m, b, n)),
    )
    r = res.report
    assert r["problem_type"] == "binary" and r["objective"] == "roc_auc"
    _check_report(r, "binary")
    out = predict(res.model, test.drop(columns=["churn"]))  # id and constant columns are known and ignored
    p_yes = np.array([p["yes"] for p in out["probabilities"]])
    auc = roc_auc_score(test["churn"] == "yes", p_yes)
    assert auc > 0.75, auc  # a constant predictor scores 0.5
    assert set(out["predictions"]) <= {"yes", "no"}
    codes = {c["code"] for c in r["checks"]}
    assert {"identifier_column", "constant_column"} <= codes
    assert "customer_id" not in res.model.feature_names and "const" not in res.model.feature_names
    kinds = {f["name"]: f["kind"] for f in r["schema"]["features"]}
    assert kinds == {
        "x1": "numeric",
        "x2": "numeric",
        "colour": "categorical",
        "member": "boolean",
        "signup": "datetime",
    }
    # analysis: permutation importance per original column, binary curves, confusion matrix
    importance = r["analysis"]["permutation_importance"]
    assert 50 <= importance["rows"] <= 1000 and importance["repeats"] >= 1
    imp = {d["column"]: d["importance"] for d in importance["columns"]}
    assert set(imp) == set(kinds) and imp["x1"] is not None and imp["x1"] > 0  # columns go in order: x1 first
    if imp["signup"] is not None:  # the last column is skipped when a busy machine eats the analysis share
        assert imp["x1"] > imp["signup"]
    roc = r["analysis"]["roc_curves"][0]
    assert roc["class"] == "yes" and len(roc["fpr"]) <= 101 and roc["fpr"][0] == 0 and roc["tpr"][-1] == 1
    assert np.array(r["analysis"]["confusion_matrix"]["matrix"]).sum() == len(train)
    assert r["typical_values"]["colour"] == "red" and isinstance(r["typical_values"]["x2"], float)
    # progress: fractions in [0, 1], ends at 1 with the trial count
    assert progress[-1][0] == 1.0 and progress[-1][3] == r["trials"]["total"]
    assert all(0 <= p[0] <= 1 for p in progress) and progress[-1][2] is not None


def test_multiclass_build_beats_constant() -> None:
    train, test = _split(make_iris(), seed=3)
    res = build(train, BuildConfig(target="species", time_budget_s=5, seed=0))
    r = res.report
    assert r["problem_type"] == "multiclass" and r["objective"] == "log_loss"
    _check_report(r, "multiclass")
    out = predict(res.model, test.drop(columns=["species"]))
    classes = list(res.model.classes)
    proba = np.array([[p[c] for c in classes] for p in out["probabilities"]])
    loss = log_loss(test["species"], proba, labels=classes)
    constant = log_loss(test["species"], np.full((len(test), 3), 1 / 3), labels=classes)
    assert loss < 0.35 * constant, (loss, constant)
    assert len(r["analysis"]["roc_curves"]) == 3 and len(r["analysis"]["pr_curves"]) == 3


def test_regression_build_beats_constant() -> None:
    train, test = _split(make_regression())
    res = build(train, BuildConfig(target="price", time_budget_s=5, seed=0, objective="mae"))
    r = res.report
    assert r["problem_type"] == "regression" and r["objective"] == "mae"
    assert r["objective_direction"] == "minimize"
    _check_report(r, "regression")
    pred = np.array(predict(res.model, test.drop(columns=["price"]))["predictions"])
    mae = np.mean(np.abs(pred - test["price"]))
    constant = np.mean(np.abs(train["price"].median() - test["price"]))
    assert mae < 0.5 * constant, (mae, constant)
    assert {"residuals", "error_density", "error_histogram"} <= set(r["analysis"])
    assert len(r["analysis"]["error_density"]["x"]) == 100


def test_budget_is_respected() -> None:
    rng = np.random.default_rng(5)
    n = 6000
    X = rng.normal(size=(n, 12))
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(12)])
    df["cat"] = pd.array(rng.choice(list("abcdefgh"), n), "string")
    is_a = (df["cat"] == "a").astype(float).to_numpy()
    df["y"] = X[:, 0] * 2 + np.sin(X[:, 1] * 2) + X[:, 2] * X[:, 3] + is_a + rng.normal(size=n)
    budget = 8.0
    start = time.monotonic()
    res = build(df, BuildConfig(target="y", time_budget_s=budget, mode="standard", seed=0))
    elapsed = time.monotonic() - start
    assert elapsed <= budget * 1.1 + 0.5, elapsed
    assert elapsed >= budget * 0.6, elapsed  # and it uses the time it was given
    t = res.report["timings"]
    assert t["elapsed_s"] <= budget * 1.1 + 0.5
    # On a loaded machine the refit may be cut short; the report must then say which model was kept.
    assert res.report["final_models"] and all(m["how"] for m in res.report["final_models"])
    assert res.report["trials"]["complete"] >= 2


def test_same_seed_and_trial_count_give_the_same_leaderboard() -> None:
    df = make_regression(200)
    cfg = BuildConfig(target="price", time_budget_s=30, seed=4, max_trials=6, algorithms=["linear", "lightgbm"])
    a, b = build(df, cfg).report, build(df, cfg).report
    assert [(e["name"], e["score"]) for e in a["leaderboard"]] == [(e["name"], e["score"]) for e in b["leaderboard"]]


def test_cancel_stops_the_build() -> None:
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    start = time.monotonic()
    with pytest.raises(BuildCancelled):
        build(make_regression(200), BuildConfig(target="price", time_budget_s=30), cancel=cancel)
    assert time.monotonic() - start < 10  # checked between folds, not only between trials
    assert calls["n"] == 3


def test_build_refuses_data_with_errors() -> None:
    df = make_regression(200)
    df["price"] = 1.0
    with pytest.raises(BuildError) as err:
        build(df, BuildConfig(target="price", time_budget_s=5))
    assert any(c["code"] == "target_single_class" for c in err.value.checks)


def test_caruana_blend_beats_single_only_when_blending_helps() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    noisy = [y + rng.normal(size=2000) for _ in range(3)]  # independent errors: the average is better
    blend = caruana(noisy, y, METRICS["rmse"], rounds=20)
    assert len(blend.indices) == 3 and blend.score > max(METRICS["rmse"].score(y, p) for p in noisy)
    perfect = [y.copy(), y + rng.normal(size=2000)]  # nothing improves on a perfect model
    blend = caruana(perfect, y, METRICS["rmse"], rounds=20)
    assert blend.indices == [0] and blend.weights == [1.0]


def test_ensemble_kept_in_a_build_when_it_is_better() -> None:
    train, _ = _split(make_binary(600, seed=3))
    r = build(
        train,
        BuildConfig(
            target="churn",
            time_budget_s=6,
            objective="log_loss",
            seed=2,
            algorithms=["linear", "extra_trees", "lightgbm"],
        ),
    ).report
    ens = r["ensemble"]
    assert ens is not None
    if ens["kept"]:
        assert ens["score"] < ens["best_single_score"]
        assert r["leaderboard"][0]["name"] == "ensemble" and len(ens["members"]) >= 2
    else:
        assert r["leaderboard"][0]["name"] != "ensemble"


def test_save_and_load_round_trip(tmp_path) -> None:
    df = make_iris()
    res = build(df, BuildConfig(target="species", time_budget_s=3, max_trials=3, algorithms=["linear"]))
    path = tmp_path / "model.joblib"
    assert save_model(res.model, path) > 0
    again = load_model(path)
    rows = df.drop(columns=["species"]).head(5)
    assert predict(again, rows) == predict(res.model, rows)


def test_text_and_datetime_columns_go_through_every_algorithm_family() -> None:
    rng = np.random.default_rng(7)
    n = 240
    good = ["great service fast delivery", "lovely product works well", "excellent quality would buy again"]
    bad = ["terrible support slow refund", "broken on arrival very poor", "awful experience never again"]
    y = rng.random(n) < 0.5
    text = [f"{rng.choice(good if t else bad)} order {i} note" for i, t in enumerate(y)]
    df = pd.DataFrame(
        {
            "review": pd.array(text, "string"),
            "stars": rng.integers(1, 6, n),
            "when": pd.date_range("2024-01-01 08:00", periods=n, freq="37h"),
            "label": np.where(y, "pos", "neg"),
        }
    )
    cfg = BuildConfig(
        target="label",
        time_budget_s=20,
        max_trials=6,
        ensemble=False,
        algorithms=["lightgbm", "linear", "hist_gradient_boosting", "extra_trees", "knn"],
    )
    r = build(df, cfg).report
    assert {f["name"]: f["kind"] for f in r["schema"]["features"]} == {
        "review": "text",
        "stars": "numeric",
        "when": "datetime",
    }
    assert r["trials"]["failed"] == 0 and r["trials"]["complete"] == 6
    assert {e["algorithm"] for e in r["leaderboard"]} == {
        "lightgbm",
        "linear",
        "hist_gradient_boosting",
        "extra_trees",
        "knn",
    }
    assert r["leaderboard"][0]["metrics"]["roc_auc"] > 0.95  # the words give the label away
