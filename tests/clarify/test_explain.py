"""Clarify explanations engine: SHAP additivity (tree, kernel, a Canvas ensemble), exactness against shap's own
TreeExplainer and against Shapley values computed by hand, partial dependence against hand-computed averages."""

from __future__ import annotations

import itertools
import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import SVC

from apps.automl.engine import BuildConfig, build
from apps.automl.engine.model import AtelierModel, Member
from apps.clarify.engine import explain as E

TIGHT = 1e-9


def frame(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.integers(0, 4, n).astype(float)})
    y = (X.a + X.b * X.c + rng.normal(scale=0.3, size=n) > 0.5).astype(int)
    return X, y


def churn_frame(n: int = 800, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue", "teal"], n),
            "flag": rng.choice([True, False], n),
        }
    )
    df.loc[rng.random(n) < 0.05, "x2"] = np.nan
    noise = rng.normal(scale=0.5, size=n)
    df["churn"] = np.where(df.x1 + 0.5 * df.x2.fillna(0) + (df.colour == "red") + noise > 0.3, "Yes", "No")
    return df


class Scored:
    """Any model behind a predict function (a registry model looks the same to the explainer)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def predict_fn(self, df: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.fn(df), dtype=float)


# --------------------------------------------------------------------------------------------------- tree path
def test_random_forest_is_shaps_own_tree_shap_and_adds_up() -> None:
    X, y = frame()
    rf = RandomForestClassifier(60, random_state=0).fit(X, y)
    out = E.shap_values(rf, X.iloc[:150])
    assert out["method"] == "tree"
    assert out["output"] == "probability of 1"
    own = shap.TreeExplainer(rf)
    expected = own.shap_values(X.iloc[:150].to_numpy(dtype=float))[:, :, 1]
    assert np.abs(out["shap"] - expected).max() == 0.0
    assert out["expected_value"] == pytest.approx(float(own.expected_value[1]), abs=1e-15)
    proba = rf.predict_proba(X.iloc[:150])[:, 1]
    assert np.abs(out["shap"].sum(axis=1) + out["expected_value"] - proba).max() < TIGHT


def test_random_forest_regressor_matches_shap() -> None:
    X, _ = frame()
    target = X.a * 2 + X.b * X.c
    rf = RandomForestRegressor(40, random_state=0).fit(X, target)
    out = E.shap_values(rf, X.iloc[:100])
    own = shap.TreeExplainer(rf).shap_values(X.iloc[:100].to_numpy(dtype=float))
    assert np.abs(out["shap"] - own).max() < 1e-12
    assert np.abs(out["shap"].sum(axis=1) + out["expected_value"] - rf.predict(X.iloc[:100])).max() < 1e-9


def test_lightgbm_probability_adds_up_and_keeps_the_margin_attribution_shares() -> None:
    X, y = frame()
    m = lgb.LGBMClassifier(n_estimators=60, verbose=-1, random_state=0).fit(X, y)
    out = E.shap_values(m, X.iloc[:200])
    assert out["method"] == "tree"
    proba = m.predict_proba(X.iloc[:200])[:, 1]
    assert np.abs(out["shap"].sum(axis=1) + out["expected_value"] - proba).max() < TIGHT
    # the exact log-odds TreeSHAP, carried to probability by one factor per row: same signs, same shares
    margin = shap.TreeExplainer(m).shap_values(X.iloc[:200].to_numpy(dtype=float))
    moved = np.abs(margin.sum(axis=1)) > 1e-6
    ratio = out["shap"][moved] / np.where(np.abs(margin[moved]) > 1e-12, margin[moved], np.nan)
    spread = np.nanmax(ratio, axis=1) - np.nanmin(ratio, axis=1)
    assert np.nanmax(spread) < 1e-9
    assert (np.nanmin(ratio, axis=1) > 0).all()


def test_lightgbm_multiclass_adds_up_for_every_class() -> None:
    X, _ = frame()
    y = pd.cut(X.a + X.b, [-np.inf, -0.5, 0.5, np.inf], labels=["low", "mid", "high"]).astype(str)
    m = lgb.LGBMClassifier(n_estimators=40, verbose=-1, random_state=0).fit(X, y)
    for k, cls in enumerate(m.classes_):
        out = E.shap_values(m, X.iloc[:100], target_class=cls)
        proba = m.predict_proba(X.iloc[:100])[:, k]
        assert np.abs(out["shap"].sum(axis=1) + out["expected_value"] - proba).max() < TIGHT


# --------------------------------------------------------------------------------------------------- kernel path
def brute_force_shapley(fn: Any, x: pd.DataFrame, background: pd.DataFrame) -> np.ndarray:
    """Interventional Shapley values by enumeration: v(S) = mean over background rows of f(x_S, b_rest)."""
    cols = list(x.columns)
    p = len(cols)

    def value(S: tuple[int, ...]) -> float:
        rows = background.copy()
        for i in S:
            rows[cols[i]] = x.iloc[0][cols[i]]
        return float(np.mean(fn(rows)))

    phi = np.zeros(p)
    for i in range(p):
        others = [j for j in range(p) if j != i]
        for size in range(p):
            for S in itertools.combinations(others, size):
                w = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
                phi[i] += w * (value(tuple(sorted((*S, i)))) - value(S))
    return phi


def test_kernel_svm_through_a_predict_function_adds_up() -> None:
    X, y = frame(400)
    svc = SVC(random_state=0).fit(X, y)
    model = Scored(lambda df: svc.decision_function(df[["a", "b", "c"]]))
    out = E.shap_values(model, X.iloc[:20], background=X, background_size=15, nsamples=64)
    assert out["method"] == "kernel"
    assert np.abs(out["shap"].sum(axis=1) + out["expected_value"] - out["prediction"]).max() < TIGHT


def test_kernel_equals_exact_shapley_values_when_every_coalition_fits_the_budget() -> None:
    X, y = frame(300)
    logit = LogisticRegression().fit(X, y)
    model = Scored(lambda df: logit.predict_proba(df[["a", "b", "c"]])[:, 1])
    background = X.iloc[:12]  # at most background_size rows: used as they are (no k-means)
    row = X.iloc[[40]]
    out = E.shap_values(model, row, background=background, background_size=20, nsamples=100)
    exact = brute_force_shapley(model.predict_fn, row, background)
    assert np.abs(out["shap"][0] - exact).max() < 1e-9
    assert out["expected_value"] == pytest.approx(float(model.predict_fn(background).mean()), abs=1e-12)


def test_kernel_on_categorical_text_columns_keeps_values_as_written() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"colour": rng.choice(["red", "green"], 200), "size": rng.normal(size=200)})
    bonus = {"red": 1.0, "green": -1.0}
    model = Scored(lambda df: df["colour"].map(bonus).to_numpy(dtype=float) + 0.5 * df["size"].to_numpy())
    res = E.explain_row(model, X.iloc[[0]], background=X, background_size=10, nsamples=16)
    by = {c["feature"]: c for c in res["contributions"]}
    assert by["colour"]["value"] == X.iloc[0]["colour"]
    total = res["expected_value"] + sum(c["shap"] for c in res["contributions"]) + res["rest"]
    assert total == pytest.approx(res["prediction"], abs=1e-9)


# --------------------------------------------------------------------------------------------------- Canvas models
@pytest.fixture(scope="module")
def ensemble() -> tuple[AtelierModel, pd.DataFrame]:
    df = churn_frame()
    res = build(
        df,
        BuildConfig(target="churn", time_budget_s=20, algorithms=["lightgbm", "random_forest", "extra_trees"], seed=0),
    )
    return res.model, df.drop(columns="churn")


def test_canvas_ensemble_tree_shap_adds_up_to_the_probability_it_predicts(ensemble: Any) -> None:
    model, X = ensemble
    assert len(model.members) >= 2, [m.algorithm for m in model.members]
    out = E.shap_values(model, X.iloc[:200])
    assert out["method"] == "tree"
    assert out["output"] == "probability of 'Yes'"
    assert out["features"] == model.feature_names  # one value per input column, one-hot levels summed back
    proba = model.raw(X.iloc[:200])[:, 1]
    assert np.abs(out["shap"].sum(axis=1) + out["expected_value"] - proba).max() < TIGHT


def test_canvas_member_sums_its_one_hot_columns_back_to_the_input_column(ensemble: Any) -> None:
    model, X = ensemble
    forest = next(m for m in model.members if m.algorithm in ("random_forest", "extra_trees"))
    single = AtelierModel(
        **{**model.__dict__, "members": [Member(forest.name, forest.algorithm, 1.0, forest.pipeline)]}
    )
    single.floor, single.temperature = 0.0, 1.0
    out = E.shap_values(single, X.iloc[:50])
    prep, est = forest.pipeline[:-1], forest.pipeline[-1]
    Xt = prep.transform(X.iloc[:50])
    raw = shap.TreeExplainer(est).shap_values(np.asarray(Xt, dtype=float))[:, :, 1]
    ct = prep[-1]
    assert [c for name, _, cols in ct.transformers_ if name == "categorical" for c in cols] == ["colour"]
    colour_cols = list(range(Xt.shape[1]))[ct.output_indices_["categorical"]]  # the one-hot levels of colour
    assert len(colour_cols) >= 3
    j = model.feature_names.index("colour")
    assert np.abs(out["shap"][:, j] - raw[:, colour_cols].sum(axis=1)).max() < 1e-12
    assert np.abs(out["shap"].sum(axis=1) - raw.sum(axis=1)).max() < 1e-12


def test_temperature_and_floor_keep_additivity_and_signs(ensemble: Any) -> None:
    model, X = ensemble
    plain = E.shap_values(model, X.iloc[:100])
    sharp = AtelierModel(**{**model.__dict__, "temperature": 0.6, "floor": 0.01})
    out = E.shap_values(sharp, X.iloc[:100])
    proba = sharp.raw(X.iloc[:100])[:, 1]
    assert np.abs(out["shap"].sum(axis=1) + out["expected_value"] - proba).max() < TIGHT
    big = np.abs(plain["shap"]) > 1e-3
    assert (np.sign(out["shap"][big]) == np.sign(plain["shap"][big])).all()


def test_mixed_ensemble_explains_non_tree_members_by_kernel() -> None:
    df = churn_frame(500)
    trees = build(df, BuildConfig(target="churn", time_budget_s=6, algorithms=["random_forest"], seed=0)).model
    linear = build(df, BuildConfig(target="churn", time_budget_s=6, algorithms=["linear"], seed=0)).model
    assert trees.classes == linear.classes
    both = AtelierModel(
        **{
            **trees.__dict__,
            "members": [
                Member("rf", "random_forest", 0.6, trees.members[0].pipeline),
                Member("lin", "linear", 0.4, linear.members[0].pipeline),
            ],
        }
    )
    X = df.drop(columns="churn")
    out = E.shap_values(both, X.iloc[:10], background=X, background_size=10, nsamples=64)
    assert out["method"] == "tree+kernel"
    proba = both.raw(X.iloc[:10])[:, 1]
    assert np.abs(out["shap"].sum(axis=1) + out["expected_value"] - proba).max() < TIGHT


def test_explain_row_sorted_contributions_as_written_and_top(ensemble: Any) -> None:
    model, X = ensemble
    row = X.iloc[[7]].to_dict("records")
    row[0]["x2"] = None  # a missing value explains like any other
    res = E.explain_row(model, row)
    shaps = [abs(c["shap"]) for c in res["contributions"]]
    assert shaps == sorted(shaps, reverse=True)
    by = {c["feature"]: c for c in res["contributions"]}
    assert by["colour"]["value"] == row[0]["colour"]  # "red", not a code
    assert by["x2"]["value"] is None
    assert res["prediction"] == pytest.approx(float(model.raw(pd.DataFrame(row))[0, 1]), abs=1e-12)
    total = res["expected_value"] + sum(shaps and [c["shap"] for c in res["contributions"]]) + res["rest"]
    assert total == pytest.approx(res["prediction"], abs=TIGHT)
    short = E.explain_row(model, row, top=2)
    assert len(short["contributions"]) == 2
    assert short["rest"] == pytest.approx(sum(c["shap"] for c in res["contributions"][2:]), abs=1e-12)
    assert res["seconds"] < 5


def test_explain_global_importance_spread_and_beeswarm(ensemble: Any) -> None:
    model, X = ensemble
    g = E.explain_global(model, X, max_rows=300)
    assert g["n_rows"] == 300 and g["n_rows_total"] == len(X)
    assert g["features"][0] in ("x1", "colour")  # the strongest drivers of the label
    values = list(g["mean_abs"].values())
    assert values == sorted(values, reverse=True)
    assert set(g["spread"]) == set(model.feature_names)
    for f, s in g["spread"].items():
        assert s["p10"] <= s["p90"]
        assert g["mean_abs"][f] >= 0
    assert len(g["beeswarm"]["shap"]) == 300 and len(g["beeswarm"]["shap"][0]) == len(model.feature_names)
    assert g["beeswarm"]["features"] == g["features"]
    colour = g["features"].index("colour")
    assert {row[colour] for row in g["beeswarm"]["values"]} <= {"red", "green", "blue", "teal"}


def test_kernel_global_uses_kmeans_background_and_the_budget() -> None:
    X, y = frame(400)
    logit = LogisticRegression().fit(X, y)
    model = Scored(lambda df: logit.predict_proba(df[["a", "b", "c"]])[:, 1])
    g = E.explain_global(model, X, background_size=8, nsamples=6, max_rows=40)
    assert g["method"] == "kernel"
    assert g["background_size"] == 8 and g["nsamples"] == 6
    # a logistic model on standardised normal features: a and b matter more than c's small coefficient
    assert g["features"][-1] != "a"
    # by default the kernel path explains a bounded, stated sample of the rows
    g = E.explain_global(model, X, background_size=8, nsamples=6)
    assert (g["n_rows"], g["n_rows_total"]) == (E.KERNEL_MAX_ROWS, 400)


# --------------------------------------------------------------------------------------------------- partial dependence
def test_partial_dependence_of_a_linear_model_is_the_line_through_the_mean() -> None:
    X, _ = frame(300)
    target = 2.0 * X.a - 3.0 * X.b + 0.5 * X.c
    lin = LinearRegression().fit(X, target)
    pdp = E.partial_dependence(lin, X, features=["a", "c"], grid=7, max_rows=None)
    a = pdp["pdp"][0]
    assert a["data_type"] == "numerical" and len(a["feature_values"]) == 7
    coef = dict(zip(X.columns, lin.coef_, strict=True))
    rest = lin.intercept_ + coef["b"] * X.b.mean() + coef["c"] * X.c.mean()
    for v, p in zip(a["feature_values"], a["model_predictions"], strict=True):
        assert p == pytest.approx(rest + coef["a"] * v, abs=1e-9)
    assert sum(a["data_distribution"]) == pytest.approx(1.0)
    c = pdp["pdp"][1]
    assert c["feature_values"] == [0.0, 1.0, 2.0, 3.0]  # 4 distinct values: used as they are


def test_partial_dependence_categorical_and_interaction_by_hand() -> None:
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200), "c": rng.choice(["x", "y", "z"], 200)})
    bonus = {"x": 1.0, "y": 5.0, "z": -2.0}
    model = Scored(lambda df: df.a * df.b + df.c.map(bonus).astype(float))
    pdp = E.partial_dependence(model, X, features=["c"], pairs=[("a", "b")], max_rows=None, pair_grid=4)
    c = pdp["pdp"][0]
    assert c["data_type"] == "categorical"
    assert set(c["feature_values"]) == {"x", "y", "z"}
    mean_ab = float((X.a * X.b).mean())
    for v, p in zip(c["feature_values"], c["model_predictions"], strict=True):
        assert p == pytest.approx(mean_ab + bonus[v], abs=1e-12)
    inter = pdp["interactions"][0]
    mean_c = float(X.c.map(bonus).mean())
    for i, u in enumerate(inter["values_a"]):
        for j, v in enumerate(inter["values_b"]):
            assert inter["predictions"][i][j] == pytest.approx(u * v + mean_c, abs=1e-12)


def test_sagemaker_explanations_shape() -> None:
    X, y = frame(300)
    rf = RandomForestClassifier(20, random_state=0).fit(X, y)
    g = E.explain_global(rf, X, max_rows=100)
    p = E.partial_dependence(rf, X, features=["a"], grid=5)
    out = E.sagemaker_explanations(g, p, label="label0")
    assert set(out) == {"kernel_shap", "pdp"}
    ks = out["kernel_shap"]["label0"]
    assert ks["global_shap_values"] == g["mean_abs"]
    assert ks["expected_value"] == g["expected_value"]
    entry = out["pdp"][0]
    assert entry["feature_name"] == "a" and entry["label_headers"] == ["label0"]
    assert entry["model_predictions"] == [p["pdp"][0]["model_predictions"]]
    assert set(entry) == {
        "feature_name",
        "data_type",
        "feature_values",
        "data_distribution",
        "model_predictions",
        "label_headers",
    }


# --------------------------------------------------------------------------------------------------- bad input
def test_bad_input_names_the_field() -> None:
    X, y = frame(200)
    rf = RandomForestClassifier(10, random_state=0).fit(X, y)
    with pytest.raises(E.ExplainError) as err:
        E.partial_dependence(rf, X, features=["nope"])
    assert err.value.field == "features" and "nope" in err.value.message
    with pytest.raises(E.ExplainError) as err:
        E.partial_dependence(rf, X, features=["a"], pairs=[("a", "a")])
    assert err.value.field == "pairs"
    svc = Scored(lambda df: df.a.to_numpy())
    with pytest.raises(E.ExplainError) as err:
        E.explain_global(svc, X, method="tree")
    assert err.value.field == "method"
    with pytest.raises(E.ExplainError) as err:
        E.explain_row(rf, X.iloc[:2])
    assert err.value.field == "rows"
    with pytest.raises(E.ExplainError) as err:
        E.shap_values(rf, X.iloc[:2], target_class=7)
    assert err.value.field == "target_class"
    with pytest.raises(E.ExplainError) as err:  # kernel with nothing to compare with: not all-zero values
        E.explain_row(svc, X.iloc[:1])
    assert err.value.field == "background"


def test_kernel_row_of_a_canvas_model_compares_with_its_typical_row() -> None:
    from tests.factories import binary_model

    model = binary_model()
    model.typical = {"x1": 0.0, "x2": 0.0, "colour": "red"}
    row = {"x1": 1.5, "x2": -0.5, "colour": "purple"}  # a colour never seen in training
    res = E.explain_row(model, [row])
    assert res["method"] == "kernel" and res["background_size"] == 1
    typical = float(model.raw(pd.DataFrame([model.typical]))[0, 1])
    assert res["expected_value"] == pytest.approx(typical, abs=1e-12)
    assert res["prediction"] == pytest.approx(float(model.raw(pd.DataFrame([row]))[0, 1]), abs=1e-12)
    total = res["expected_value"] + sum(c["shap"] for c in res["contributions"]) + res["rest"]
    assert total == pytest.approx(res["prediction"], abs=TIGHT)
    by = {c["feature"]: c for c in res["contributions"]}
    assert by["colour"]["value"] == "purple"
    # one background row and 3 features: every coalition is evaluated, so these are the exact Shapley values
    exact = brute_force_shapley(lambda df: model.raw(df)[:, 1], pd.DataFrame([row]), pd.DataFrame([model.typical]))
    assert [by[f]["shap"] for f in ("x1", "x2", "colour")] == pytest.approx(list(exact), abs=1e-9)
