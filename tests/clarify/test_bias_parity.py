"""Parity with SageMaker Clarify's metric library (smclarify, a test-only dependency): every pre- and post-training
metric on five generated datasets and one real one (scikit-learn's bundled breast cancer set, read offline) equals
smclarify's within 1e-9, and where smclarify reports an error (empty facet, no common label value, ...) Atelier
reports one too. smclarify wants text columns as `object` (pandas 3 infers its string dtype), so they are
converted for it; Atelier takes them as they come."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from smclarify.bias import report as sm

from apps.clarify.engine import bias_formulas as formulas
from apps.clarify.engine.bias import (
    BiasInputError,
    FacetSpec,
    LabelSpec,
    dumps_analysis,
    post_training_bias,
    pre_training_bias,
)

TOLERANCE = 1e-9


def for_smclarify(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_string_dtype(out[column].dtype) and not pd.api.types.is_numeric_dtype(out[column].dtype):
            out[column] = out[column].astype(object)
    return out


def smclarify_report(
    df: pd.DataFrame,
    *,
    label: str,
    label_values: list[Any],
    facet: str,
    facet_values: list[Any] | None,
    stage: str,
    predicted: pd.Series | None = None,
    group: str | None = None,
    features: list[str] | None = None,
) -> list[dict[str, Any]]:
    """smclarify's bias_report. For FT it reads every column it is given but the facet, label and predicted label;
    `features` keeps only those (plus the facet and label)."""
    frame = for_smclarify(df)
    group_series = frame[group] if group else None
    columns = [facet, label] + (features or [])
    data = frame[list(dict.fromkeys(columns))].copy()
    label_column = sm.LabelColumn(label, data[label], list(label_values))
    facet_column = sm.FacetColumn(facet, list(facet_values) if facet_values is not None else None)
    if stage == "pre":
        return sm.bias_report(data, facet_column, label_column, sm.StageType.PRE_TRAINING, group_variable=group_series)
    assert predicted is not None
    values = for_smclarify(predicted.to_frame("__predicted"))["__predicted"]
    data["__predicted"] = pd.Series(values.to_numpy(), index=data.index, dtype=values.dtype)
    predicted_column = sm.LabelColumn("__predicted", data["__predicted"], list(label_values))
    return sm.bias_report(
        data,
        facet_column,
        label_column,
        sm.StageType.POST_TRAINING,
        predicted_column,
        group_variable=group_series,
    )


def assert_same(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> int:
    """Same facet entries, same metric names, values within TOLERANCE, errors where smclarify has errors.
    Returns how many numbers were compared."""
    assert [e["value_or_threshold"] for e in ours] == [e["value_or_threshold"] for e in theirs]
    compared = 0
    for mine, ref in zip(ours, theirs, strict=True):
        assert [m["name"] for m in mine["metrics"]] == [m["name"] for m in ref["metrics"]]
        for a, b in zip(mine["metrics"], ref["metrics"], strict=True):
            where = f"{mine['value_or_threshold']} {a['name']}"
            if "error" in b:
                assert a["value"] is None and a["error"], f"{where}: smclarify says {b['error']!r}, we {a['value']}"
                continue
            assert "error" not in a, f"{where}: we fail with {a.get('error')!r}, smclarify gives {b['value']}"
            expected = b["value"]
            if isinstance(expected, str):  # smclarify's report writes infinities as "Infinity"/"-Infinity"
                assert math.isinf(a["value"]) and (a["value"] > 0) == (expected == "Infinity"), where
            else:
                assert math.isclose(a["value"], expected, rel_tol=0, abs_tol=TOLERANCE), (where, a["value"], expected)
            compared += 1
    return compared


# ---------------------------------------------------------------------------------------------------------------
# Datasets


def loans(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    """Binary label (0/1), a binary text facet where women get the positive label less often, a text group."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n, p=[0.35, 0.65])
    district = rng.choice(["north", "south", "east", "west"], n)
    income = rng.normal(50, 15, n).round(1)
    debt = rng.gamma(2.0, 5.0, n).round(2)
    rate = 0.25 + 0.3 * (sex == "male") + 0.004 * (income - 50) - 0.01 * (debt - 10)
    approved = (rng.random(n) < np.clip(rate, 0.02, 0.98)).astype(int)
    frame = pd.DataFrame({"sex": sex, "district": district, "income": income, "debt": debt, "approved": approved})
    frame["predicted"] = (rng.random(n) < np.clip(rate + 0.1 * (sex == "male"), 0, 1)).astype(int)
    return frame


def hiring(n: int = 4000, seed: int = 2) -> pd.DataFrame:
    """Multi-valued facet (four groups), text label "Yes"/"No", a text group variable."""
    rng = np.random.default_rng(seed)
    ethnicity = rng.choice(["A", "B", "C", "D"], n, p=[0.5, 0.25, 0.15, 0.1])
    degree = rng.choice(["none", "bachelor", "master", "phd"], n)
    years = rng.integers(0, 30, n)
    score = rng.normal(0, 1, n).round(3)
    boost = {"A": 0.5, "B": 0.35, "C": 0.3, "D": 0.2}
    rate = np.vectorize(boost.get)(ethnicity) + 0.01 * years + 0.1 * score
    hired = np.where(rng.random(n) < np.clip(rate, 0, 1), "Yes", "No")
    predicted = np.where(rng.random(n) < np.clip(rate + 0.05, 0, 1), "Yes", "No")
    return pd.DataFrame(
        {
            "ethnicity": ethnicity,
            "degree": degree,
            "years": years,
            "score": score,
            "hired": hired,
            "predicted": predicted,
        }
    )


def grades(n: int = 2500, seed: int = 3) -> pd.DataFrame:
    """Numeric (float) label binarised with a threshold, a binary integer facet, numeric features."""
    rng = np.random.default_rng(seed)
    first_generation = rng.choice([0, 1], n, p=[0.7, 0.3])
    hours = rng.normal(10, 3, n).round(2)
    mark = np.clip(0.5 + 0.02 * (hours - 10) - 0.08 * first_generation + rng.normal(0, 0.15, n), 0, 1).round(4)
    predicted = np.clip(mark + rng.normal(0, 0.1, n), 0, 1).round(4)
    return pd.DataFrame({"first_generation": first_generation, "hours": hours, "mark": mark, "predicted": predicted})


def insurance(n: int = 3000, seed: int = 4) -> pd.DataFrame:
    """Numeric facet (age, float) with a threshold, integer group variable (region code), binary label."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, n).round(1)
    region = rng.integers(1, 6, n)
    bmi = rng.normal(27, 4, n).round(1)
    rate = 0.6 - 0.004 * (age - 18) - 0.03 * (region - 3) - 0.01 * (bmi - 27)
    covered = (rng.random(n) < np.clip(rate, 0.01, 0.99)).astype(int)
    predicted = (rng.random(n) < np.clip(rate - 0.1 * (age > 60), 0, 1)).astype(int)
    return pd.DataFrame({"age": age, "region": region, "bmi": bmi, "covered": covered, "predicted": predicted})


def clinic(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    """Integer label with several classes (1..4, positive 3 and 4), a boolean facet, and a group variable where the
    sensitive group is rejected more inside each subgroup (CDDL far from 0)."""
    rng = np.random.default_rng(seed)
    insured = rng.random(n) < 0.6
    hospital = rng.choice(["h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"], n)
    waiting = rng.exponential(20, n).round(1)
    base = rng.integers(1, 5, n)
    outcome = np.where(~insured & (rng.random(n) < 0.3), 1, base)
    predicted = np.where(rng.random(n) < 0.8, outcome, rng.integers(1, 5, n))
    return pd.DataFrame(
        {"insured": insured, "hospital": hospital, "waiting": waiting, "outcome": outcome, "predicted": predicted}
    )


# ---------------------------------------------------------------------------------------------------------------
# Generated datasets


def run_both(
    df: pd.DataFrame,
    *,
    label: str,
    label_values: list[Any] | None = None,
    label_threshold: float | None = None,
    facet: str,
    facet_values: list[Any] | None = None,
    facet_threshold: float | None = None,
    group: str | None = None,
    features: list[str],
) -> int:
    label_spec = LabelSpec(label, tuple(label_values or ()), label_threshold)
    facet_spec = FacetSpec(facet, tuple(facet_values or ()), facet_threshold)
    sm_label = label_values if label_values is not None else [label_threshold]
    sm_facet = (
        facet_values if facet_values is not None else ([facet_threshold] if facet_threshold is not None else None)
    )
    compared = 0
    pre = pre_training_bias(df, label=label_spec, facets=[facet_spec], group=group)
    ref = smclarify_report(
        df, label=label, label_values=sm_label, facet=facet, facet_values=sm_facet, stage="pre", group=group
    )
    compared += assert_same(pre["facets"][facet], ref)
    post = post_training_bias(
        df,
        label=label_spec,
        predicted=df["predicted"],
        facets=[facet_spec],
        group=group,
        features=df[features],
    )
    ref = smclarify_report(
        df,
        label=label,
        label_values=sm_label,
        facet=facet,
        facet_values=sm_facet,
        stage="post",
        predicted=df["predicted"],
        group=group,
        features=features,
    )
    compared += assert_same(post["facets"][facet], ref)
    return compared


def test_binary_label_binary_facet_with_group() -> None:
    df = loans()
    compared = run_both(
        df,
        label="approved",
        label_values=[1],
        facet="sex",
        facet_values=["female"],
        group="district",
        features=["income", "debt"],
    )
    assert compared == 8 + 13  # every metric has a value here


def test_multi_valued_facet_sensitive_values_and_one_vs_all() -> None:
    df = hiring()
    # Two sensitive values together ("B,C"), text label values, text group.
    assert (
        run_both(
            df,
            label="hired",
            label_values=["Yes"],
            facet="ethnicity",
            facet_values=["B", "C"],
            group="degree",
            features=["years", "score"],
        )
        == 21
    )
    # No values: each of the four groups against the rest, in order of first appearance.
    compared = run_both(
        df, label="hired", label_values=["Yes"], facet="ethnicity", group="degree", features=["years", "score"]
    )
    assert compared == 4 * 21


def test_numeric_label_with_threshold() -> None:
    df = grades()
    pre = pre_training_bias(df, label=LabelSpec("mark", threshold=0.5), facets=[FacetSpec("first_generation", (1,))])
    assert pre["label_value_or_threshold"] == sm.label_value_or_threshold(df["mark"], [0.5]) == "(0.5, 1.0]"
    # Without a group, CDDL and CDDPL are errors on both sides; the others compare.
    assert (
        run_both(df, label="mark", label_threshold=0.5, facet="first_generation", facet_values=[1], features=["hours"])
        == 21 - 2
    )


def test_numeric_facet_with_threshold_and_integer_group() -> None:
    df = insurance()
    compared = run_both(
        df,
        label="covered",
        label_values=[1],
        facet="age",
        facet_threshold=60.0,
        group="region",
        features=["bmi", "region"],
    )
    assert compared == 21
    pre = pre_training_bias(df, label=LabelSpec("covered", (1,)), facets=[FacetSpec("age", threshold=60.0)])
    assert pre["facets"]["age"][0]["value_or_threshold"] == f"(60.0, {df['age'].max()}]"


def test_multiclass_integer_label_boolean_facet_nine_subgroups() -> None:
    df = clinic()
    compared = run_both(
        df,
        label="outcome",
        label_values=[3, 4],
        facet="insured",
        facet_values=[False],
        group="hospital",
        features=["waiting"],
    )
    assert compared == 21
    pre = pre_training_bias(
        df, label=LabelSpec("outcome", (3, 4)), facets=[FacetSpec("insured", (False,))], group="hospital"
    )
    cddl = next(m for m in pre["facets"]["insured"][0]["metrics"] if m["name"] == "CDDL")
    assert cddl["value"] > 0.05  # the uninsured are rejected more within hospitals, and both sides agree on it


def test_breast_cancer_from_scikit_learn_with_a_trained_model() -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)  # bundled with scikit-learn: read from its package, nothing downloads
    df = data.frame.copy()
    features = [c for c in data.feature_names if c != "mean radius"][:12]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    df["predicted"] = cross_val_predict(model, df[features], df["target"], cv=5)
    df["texture_band"] = pd.qcut(df["mean texture"], 4, labels=["t1", "t2", "t3", "t4"]).astype(str)
    assert len(df) == 569
    compared = run_both(
        df,
        label="target",
        label_values=[1],
        facet="mean radius",
        facet_threshold=14.0,
        group="texture_band",
        features=features,
    )
    assert compared == 21


# ---------------------------------------------------------------------------------------------------------------
# Edge cases


def test_empty_sensitive_group_errors_where_smclarify_errors() -> None:
    df = insurance(600)
    # A threshold above every age: the sensitive group is empty.
    compared = run_both(
        df, label="covered", label_values=[1], facet="age", facet_threshold=95.0, group="region", features=["bmi"]
    )
    pre = pre_training_bias(
        df, label=LabelSpec("covered", (1,)), facets=[FacetSpec("age", threshold=95.0)], group="region"
    )
    values = {m["name"]: m for m in pre["facets"]["age"][0]["metrics"]}
    assert values["CI"]["value"] is None and "empty" in values["CI"]["error"]
    assert values["KL"]["value"] is None
    # CDDL has no emptiness check in SageMaker: the sensitive share is 0 everywhere, so 0.
    assert values["CDDL"]["value"] == 0.0
    assert compared == 3  # CDDL, CDDPL and GE (not per group) are the only numbers on either side


def test_facet_with_a_single_value_one_vs_all_has_an_empty_rest() -> None:
    df = loans(400)
    df["country"] = "FR"
    compared = run_both(df, label="approved", label_values=[1], facet="country", group="district", features=["income"])
    assert compared == 3  # again only CDDL, CDDPL and GE


def test_single_label_class_inside_the_sensitive_group() -> None:
    df = loans(800)
    df.loc[df["sex"] == "female", "approved"] = 1  # every woman positive: the distributions share only "positive"
    assert (
        run_both(
            df,
            label="approved",
            label_values=[1],
            facet="sex",
            facet_values=["female"],
            group="district",
            features=["income", "debt"],
        )
        == 21
    )
    pre = pre_training_bias(df, label=LabelSpec("approved", (1,)), facets=[FacetSpec("sex", ("female",))])
    values = {m["name"]: m["value"] for m in pre["facets"]["sex"][0]["metrics"]}
    share = float((df.loc[df["sex"] == "male", "approved"] == 1).mean())
    assert values["KL"] == pytest.approx(share * math.log(share))  # SageMaker keeps only the common value


def test_all_positive_predictions_give_infinities_as_smclarify() -> None:
    df = loans(1000)
    df["predicted"] = 1
    assert (
        run_both(
            df,
            label="approved",
            label_values=[1],
            facet="sex",
            facet_values=["female"],
            group="district",
            features=["income", "debt"],
        )
        == 20  # CDDPL: no negative prediction, an error on both sides
    )
    post = post_training_bias(
        df,
        label=LabelSpec("approved", (1,)),
        predicted=df["predicted"],
        facets=[FacetSpec("sex", ("female",))],
        group="district",
        features=df[["income"]],
    )
    values = {m["name"]: m["value"] for m in post["facets"]["sex"][0]["metrics"]}
    assert values["DI"] == 1.0 and values["DPPL"] == 0.0
    # No predicted negative on either side: the conditional rejections are 0/0 ... and x/0 = inf on both sides,
    # whose difference SageMaker defines as 0.
    assert values["DCR"] == 0.0 and values["DRR"] == 0.0


def test_infinite_values_written_as_sagemaker_writes_them() -> None:
    df = loans(1200, seed=7)
    women = df["sex"] == "female"
    df["predicted"] = df["approved"]
    df.loc[women & (df["approved"] == 1), "predicted"] = 0  # some false negatives among women, no false positive
    post = post_training_bias(
        df,
        label=LabelSpec("approved", (1,)),
        predicted=df["predicted"],
        facets=[FacetSpec("sex", ("female",))],
        metrics=["TE", "DCA"],
        features=df[["income"]],
    )
    te = post["facets"]["sex"][0]["metrics"][1]
    assert te["name"] == "TE" and te["value"] == math.inf
    ref = smclarify_report(
        df,
        label="approved",
        label_values=[1],
        facet="sex",
        facet_values=["female"],
        stage="post",
        predicted=df["predicted"],
        features=["income"],
    )
    ref_te = next(m for m in ref[0]["metrics"] if m["name"] == "TE")
    assert ref_te["value"] == "Infinity"  # smclarify's report turns inf into text ...
    assert '"name": "TE", "description": "Treatment Equality (TE)", "value": "Infinity"' in dumps_analysis(post)


def test_all_negative_predictions_stop_the_report_on_both_sides() -> None:
    df = loans(500)
    df["predicted"] = 0
    with pytest.raises(ValueError, match="No Label values are present in the predicted"):
        smclarify_report(
            df,
            label="approved",
            label_values=[1],
            facet="sex",
            facet_values=["female"],
            stage="post",
            predicted=df["predicted"],
            features=["income"],
        )
    with pytest.raises(BiasInputError) as caught:
        post_training_bias(
            df, label=LabelSpec("approved", (1,)), predicted=df["predicted"], facets=[FacetSpec("sex", ("female",))]
        )
    assert caught.value.field == "predicted"


@pytest.mark.parametrize(
    ("label", "predicted", "sensitive"),
    [
        ([1] * 8, [1, 0, 1, 1, 0, 1, 1, 1], [1, 1, 0, 0, 0, 0, 1, 0]),  # one label class
        ([1] * 6, [0] * 6, [1, 1, 0, 0, 0, 1]),  # every prediction a false negative (GE undefined)
        ([0, 1, 0, 1, 1, 0], [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]),  # everyone sensitive
        ([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]),  # d all negative labels, a all positive
    ],
)
def test_edge_counts_match_smclarify_metric_functions(
    label: list[int], predicted: list[int], sensitive: list[int]
) -> None:
    """Cases the public API refuses as bad input (a single label class) still compute as SageMaker computes them
    in the counting core, metric by metric."""
    import smclarify.bias.metrics as smm

    y = pd.Series(label, dtype=bool)
    p = pd.Series(predicted, dtype=bool)
    s = pd.Series(sensitive, dtype=bool)
    group = pd.Series(["g1", "g2"] * (len(label) // 2))
    features = pd.DataFrame({"x": np.arange(len(label), dtype=float)})
    names = [f.__name__ for f in smm.PRETRAINING_METRICS + smm.POSTTRAINING_METRICS]
    cells = formulas.cells_from_masks(s.to_numpy(), y.to_numpy(), p.to_numpy(), pd.factorize(group, sort=True)[0])
    ours = formulas.compute(names, cells, features=features.to_numpy(), sensitive=s.to_numpy(), predicted=p.to_numpy())
    for metric in smm.PRETRAINING_METRICS + smm.POSTTRAINING_METRICS:
        try:
            expected: float | None = smm.call_metric(
                metric,
                df=features,
                feature=features["x"],
                sensitive_facet_index=s,
                label=y,
                positive_label_index=y,
                predicted_label=p,
                positive_predicted_label_index=p,
                group_variable=group,
            )
        except (ValueError, AssertionError):
            expected = None
        mine = ours[metric.__name__]
        if expected is None:
            assert isinstance(mine, formulas.MetricError), (metric.__name__, mine)
        else:
            assert not isinstance(mine, Exception), (metric.__name__, mine)
            assert mine == pytest.approx(expected, abs=TOLERANCE) or mine == expected, metric.__name__
