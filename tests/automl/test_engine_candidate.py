"""fit_candidate: a leaderboard entry other than the best is refitted on all rows with its own parameters and
analysed; its report has the build report's shape and its out-of-fold score matches the leaderboard's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.automl.engine import BuildConfig, BuildError, build, fit_candidate, predict
from tests.factories import make_binary, make_regression


def test_a_non_best_candidate_is_refitted_with_its_own_parameters() -> None:
    df = make_binary(400)
    config = BuildConfig(
        target="churn", time_budget_s=6, seed=3, algorithms=["linear", "random_forest"], ensemble=False
    )
    res = build(df, config)
    others = [e for e in res.report["leaderboard"] if not e["best"] and e["algorithm"] != "ensemble"]
    assert others, res.report["leaderboard"]
    entry = others[0]
    out = fit_candidate(df, config, entry["algorithm"], entry["params"], name=entry["name"])
    r = out.report
    json.dumps(r, allow_nan=False)
    assert r["best"] == entry["name"] and r["leaderboard"][0]["params"] == entry["params"]
    assert out.model.members[0].algorithm == entry["algorithm"] and len(out.model.members) == 1
    # same folds, same parameters: the same out-of-fold ROC AUC as on the build's leaderboard
    assert r["best_score"] == pytest.approx(entry["score"], abs=0.02)
    assert {"roc_curves", "pr_curves", "confusion_matrix"} <= set(r["analysis"])
    assert r["analysis"]["permutation_importance"]["columns"]
    pred = predict(out.model, df.drop(columns=["churn"]).head(5))
    assert len(pred["predictions"]) == 5 and set(pred["predictions"]) <= {"yes", "no"}


def test_regression_candidate_and_bad_input() -> None:
    df = make_regression(300)
    out = fit_candidate(df, BuildConfig(target="price"), "hist_gradient_boosting", {}, name="hgb")
    assert out.report["problem_type"] == "regression" and out.report["best_score"] < np.std(df["price"])
    with pytest.raises(ValueError, match="Unknown algorithm"):
        fit_candidate(df, BuildConfig(target="price"), "no_such_algorithm", {})
    with pytest.raises(BuildError):
        fit_candidate(df.assign(price=1.0), BuildConfig(target="price"), "linear", {})
