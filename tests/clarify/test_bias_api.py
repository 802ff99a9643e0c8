"""The bias engine's public functions beyond parity: the analysis.json shape, input errors keyed by field, values as
the user wrote them, several facets at once, the METRICS table, JSON with infinities as SageMaker writes them, chart
data per facet value, FlipTest on text columns (one-hot, stated in the result) and label disagreement against a
reference column."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from smclarify.bias import report as sm

from apps.clarify.engine.bias import (
    BIAS_KINDS,
    METRICS,
    POST_TRAINING,
    PRE_TRAINING,
    BiasInputError,
    FacetSpec,
    LabelSpec,
    analysis_document,
    check_config,
    dumps_analysis,
    facet_breakdown,
    flag_rows,
    label_disagreement,
    metric_info,
    post_training_bias,
    pre_training_bias,
    specs_from_config,
    to_jsonable,
)


def small() -> pd.DataFrame:
    """20 rows small enough to count by hand."""
    return pd.DataFrame(
        {
            "gender": ["F"] * 8 + ["M"] * 12,
            "answer": ["Yes", "No", "No", "No", "Yes", "No", "No", "No"] + ["Yes"] * 7 + ["No"] * 5,
            "age": [25, 35, 45, 55, 65, 30, 40, 50, 22, 33, 44, 55, 66, 27, 38, 49, 51, 62, 70, 29],
            "region": ["n", "s"] * 10,
        }
    )


def values_of(result: dict, facet: str, index: int = 0) -> dict[str, float | None]:
    return {m["name"]: m["value"] for m in result["facets"][facet][index]["metrics"]}


def test_pre_training_shape_and_values_by_hand() -> None:
    df = small()
    pre = pre_training_bias(df, label=LabelSpec("answer", ("Yes",)), facets=[FacetSpec("gender", ("F",))])
    assert list(pre) == ["label", "facets", "label_value_or_threshold"]
    assert pre["label"] == "answer" and pre["label_value_or_threshold"] == "Yes"  # as the user wrote it
    entry = pre["facets"]["gender"][0]
    assert entry["value_or_threshold"] == "F"
    assert [m["name"] for m in entry["metrics"]] == sorted(PRE_TRAINING)  # SageMaker's order: by name
    values = values_of(pre, "gender")
    assert values["CI"] == pytest.approx((12 - 8) / 20)
    assert values["DPL"] == pytest.approx(7 / 12 - 2 / 8)
    cddl = next(m for m in entry["metrics"] if m["name"] == "CDDL")
    assert cddl["value"] is None and "group" in cddl["error"]  # no group variable: an error, as SageMaker writes it


def test_several_facets_in_one_call_equal_separate_calls() -> None:
    df = small()
    label = LabelSpec("answer", ("Yes",))
    both = pre_training_bias(
        df, label=label, facets=[FacetSpec("gender", ("F",)), FacetSpec("age", threshold=50)], group="region"
    )
    assert list(both["facets"]) == ["gender", "age"]
    alone = pre_training_bias(df, label=label, facets=[FacetSpec("age", threshold=50)], group="region")
    assert both["facets"]["age"] == alone["facets"]["age"]
    assert both["facets"]["age"][0]["value_or_threshold"] == "(50, 70]"  # SageMaker's interval text


def test_positive_value_written_as_text_finds_the_integer() -> None:
    df = small().assign(flag=lambda f: (f["answer"] == "Yes").astype(int))
    as_text = pre_training_bias(df, label=LabelSpec("flag", ("1",)), facets=[FacetSpec("gender", ("F",))])
    as_int = pre_training_bias(df, label=LabelSpec("flag", (1,)), facets=[FacetSpec("gender", ("F",))])
    assert values_of(as_text, "gender") == values_of(as_int, "gender")
    assert as_text["label_value_or_threshold"] == "1"


def test_dcacc_is_accepted_for_dca() -> None:
    df = small()
    predicted = df["answer"].where(df.index % 3 != 0, "Yes")
    post = post_training_bias(
        df,
        label=LabelSpec("answer", ("Yes",)),
        predicted=predicted,
        facets=[FacetSpec("gender", ("F",))],
        metrics=["DCAcc", "DI"],
    )
    assert [m["name"] for m in post["facets"]["gender"][0]["metrics"]] == ["DCA", "DI"]
    assert metric_info("DCAcc") is METRICS["DCA"]


@pytest.mark.parametrize(
    ("call", "field", "words"),
    [
        (dict(label=LabelSpec("nope", ("Yes",)), facets=[FacetSpec("gender", ("F",))]), "label", "nope"),
        (dict(label=LabelSpec("answer", ("Yes",)), facets=[FacetSpec("sex", ("F",))]), "facets", "sex"),
        (dict(label=LabelSpec("answer", ("Yes",)), facets=[FacetSpec("gender", ("X",))]), "facets", "'X' never"),
        (dict(label=LabelSpec("answer", ("Yes",)), facets=[FacetSpec("gender", ("F",))], group="g"), "group", "g"),
        (
            dict(label=LabelSpec("answer", ("Maybe",)), facets=[FacetSpec("gender", ("F",))]),
            "positive_label_values",
            "Maybe",
        ),
        (dict(label=LabelSpec("answer"), facets=[FacetSpec("gender", ("F",))]), "positive_label_values", "give"),
        (
            dict(label=LabelSpec("answer", threshold=1.0), facets=[FacetSpec("gender", ("F",))]),
            "label_threshold",
            "not numeric",
        ),
        (
            dict(label=LabelSpec("age", threshold=10), facets=[FacetSpec("gender", ("F",))]),
            "label_threshold",
            "every row",
        ),
        (
            dict(label=LabelSpec("answer", ("Yes", "No")), facets=[FacetSpec("gender", ("F",))]),
            "positive_label_values",
            "every row",
        ),
        (
            dict(label=LabelSpec("answer", ("Yes",)), facets=[FacetSpec("gender", ("F",), threshold=1.0)]),
            "facets",
            "not both",
        ),
        (dict(label=LabelSpec("answer", ("Yes",)), facets=[]), "facets", "at least one"),
        (
            dict(label=LabelSpec("answer", ("Yes",)), facets=[FacetSpec("gender", ("F",))], metrics=["DPPL"]),
            "metrics",
            "DPPL",
        ),
    ],
)
def test_bad_input_names_the_field(call: dict, field: str, words: str) -> None:
    with pytest.raises(BiasInputError) as caught:
        pre_training_bias(small(), **call)
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_facet_with_too_many_values_needs_values_or_a_threshold() -> None:
    df = pd.DataFrame({"height": np.arange(60.0), "y": [0, 1] * 30})
    with pytest.raises(BiasInputError) as caught:
        pre_training_bias(df, label=LabelSpec("y", (1,)), facets=[FacetSpec("height")])
    assert caught.value.field == "facets" and "60 distinct values" in caught.value.message
    assert pre_training_bias(df, label=LabelSpec("y", (1,)), facets=[FacetSpec("height", threshold=29.5)])


def test_a_label_with_one_class_is_refused() -> None:
    df = small().assign(answer="Yes")
    with pytest.raises(BiasInputError) as caught:
        pre_training_bias(df, label=LabelSpec("answer", ("Yes",)), facets=[FacetSpec("gender", ("F",))])
    assert caught.value.field == "label" and "only the value 'Yes'" in caught.value.message


def test_predictions_must_match_the_rows() -> None:
    df = small()
    with pytest.raises(BiasInputError) as caught:
        post_training_bias(
            df, label=LabelSpec("answer", ("Yes",)), predicted=df["answer"][:5], facets=[FacetSpec("gender", ("F",))]
        )
    assert caught.value.field == "predicted" and "5 predictions for 20 rows" in caught.value.message


def test_predictions_align_by_position_and_take_their_own_label_spec() -> None:
    df = small()
    truth = (df["answer"] == "Yes").to_numpy()
    scores = pd.Series(np.where(truth, 0.9, 0.2), index=np.arange(100, 120))  # another index: position counts
    by_score = post_training_bias(
        df,
        label=LabelSpec("answer", ("Yes",)),
        predicted=scores,
        predicted_label=LabelSpec("score", threshold=0.5),
        facets=[FacetSpec("gender", ("F",))],
        metrics=["AD", "DPPL"],
    )
    values = values_of(by_score, "gender")
    assert values["AD"] == 0.0  # predictions equal the labels
    assert values["DPPL"] == pytest.approx(7 / 12 - 2 / 8)


def test_one_vs_all_skips_missing_values_and_counts_them_in_the_rest() -> None:
    df = small()
    df.loc[[0, 10], "gender"] = None
    pre = pre_training_bias(df, label=LabelSpec("answer", ("Yes",)), facets=[FacetSpec("gender")])
    assert [e["value_or_threshold"] for e in pre["facets"]["gender"]] == ["F", "M"]
    assert values_of(pre, "gender", 0)["CI"] == pytest.approx((20 - 7 - 7) / 20)  # 7 F, the other 13 (2 missing)


def test_metrics_table_describes_every_metric() -> None:
    assert set(METRICS) == set(PRE_TRAINING) | set(POST_TRAINING)
    for name, info in METRICS.items():
        assert info.name == name and info.stage == ("pre_training" if name in PRE_TRAINING else "post_training")
        assert info.description.endswith(f"({name})") and len(info.meaning) > 40
        low, high = info.range
        assert low <= info.ideal <= high and info.threshold > 0
        assert info.bias_kinds and set(info.bias_kinds) <= set(BIAS_KINDS)
    sampling = {n for n, i in METRICS.items() if "sampling" in i.bias_kinds}
    assert {"CI", "DPL", "KL", "JS", "LP", "TVD", "KS"} <= sampling
    assert "out of scope" in BIAS_KINDS["confirmation"]
    di = METRICS["DI"]
    assert di.flagged(0.7) and not di.flagged(0.9) and di.flagged(math.inf) and not di.flagged(None)
    assert not di.flagged(0.7, threshold=0.4)


def test_dumps_analysis_writes_infinities_as_sagemaker() -> None:
    doc = analysis_document(
        {
            "label": "y",
            "facets": {
                "f": [
                    {
                        "value_or_threshold": "1",
                        "metrics": [
                            {"name": "TE", "description": "Treatment Equality (TE)", "value": -math.inf},
                            {"name": "DI", "description": "Disparate Impact (DI)", "value": math.inf},
                            {"name": "AD", "description": "Accuracy Difference (AD)", "value": np.float64(0.25)},
                        ],
                    }
                ]
            },
            "label_value_or_threshold": "1",
        },
        None,
    )
    text = dumps_analysis(doc | {"elsewhere": [math.nan, np.int64(3)]})
    back = json.loads(text)
    metrics = back["pre_training_bias_metrics"]["facets"]["f"][0]["metrics"]
    assert [m["value"] for m in metrics] == ["-Infinity", "Infinity", 0.25]
    assert '"elsewhere": [NaN, 3]' in text  # Python's json, as SageMaker's analysis.json is written
    assert "post_training_bias_metrics" not in back and back["version"] == "1.0"
    # The same turn as smclarify's own report object hook.
    assert sm.inf_as_str({"value": -math.inf}) == {"value": "-Infinity"}
    stored = to_jsonable(doc | {"elsewhere": [math.nan]})
    assert stored["elsewhere"] == [None] and json.dumps(stored, allow_nan=False)


def test_facet_breakdown_counts_by_hand() -> None:
    df = small()
    predicted = pd.Series(["Yes"] * 10 + ["No"] * 10)
    out = facet_breakdown(
        df,
        label=LabelSpec("answer", ("Yes",)),
        facets=[FacetSpec("gender", ("F",)), FacetSpec("age", threshold=50)],
        predicted=predicted,
    )
    female, male = out["facets"]["gender"]
    assert female == {
        "value": "F",
        "sensitive": True,
        "n": 8,
        "label_positive_rate": 2 / 8,
        "predicted_positive_rate": 1.0,
        "confusion_matrix": [[0, 6], [0, 2]],
    }
    assert male["value"] == "M" and not male["sensitive"] and male["n"] == 12
    # Men are rows 8-19: 8, 9 Yes predicted Yes; 10-14 Yes predicted No; 15-19 No predicted No.
    assert male["confusion_matrix"] == [[5, 0], [5, 2]]
    older, younger = out["facets"]["age"]
    assert older["value"] == "> 50" and older["sensitive"] and older["n"] == int((df["age"] > 50).sum())
    assert younger["value"] == "<= 50" and younger["n"] == int((df["age"] <= 50).sum())
    without = facet_breakdown(df, label=LabelSpec("answer", ("Yes",)), facets=[FacetSpec("gender")])
    assert "confusion_matrix" not in without["facets"]["gender"][0]
    assert [r["sensitive"] for r in without["facets"]["gender"]] == [True, True]


def test_flip_test_one_hot_encodes_text_columns_and_says_so() -> None:
    rng = np.random.default_rng(11)
    n = 600
    df = pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], n),
            "job": rng.choice(["clerk", "driver", "nurse", None], n),
            "hours": rng.integers(10, 60, n).astype(float),
        }
    )
    df["y"] = (rng.random(n) < 0.5).astype(int)
    predicted = pd.Series((rng.random(n) < np.where(df["job"] == "nurse", 0.8, 0.3)).astype(int))
    post = post_training_bias(
        df, label=LabelSpec("y", (1,)), predicted=predicted, facets=[FacetSpec("sex", ("f",))], metrics=["FT"]
    )
    ft = post["facets"]["sex"][0]["metrics"][0]
    assert ft["value"] is not None
    encoding = ft["feature_encoding"]
    assert encoding["method"] == "one-hot" and encoding["one_hot"] == [{"column": "job", "categories": 4}]
    # smclarify refuses the text column ...
    frame = df.astype({"sex": object, "job": object}).assign(p=predicted)
    ref = sm.bias_report(
        frame,
        sm.FacetColumn("sex", ["f"]),
        sm.LabelColumn("y", frame["y"], [1]),
        sm.StageType.POST_TRAINING,
        sm.LabelColumn("p", frame["p"], [1]),
        metrics=["FT"],
    )
    assert "non-numeric" in ref[0]["metrics"][0]["error"]
    # ... and on the frame encoded as documented (categories in order of appearance, missing its own column, the
    # numbers as they are) it gives our value.
    codes, uniques = pd.factorize(df["job"])
    encoded = pd.DataFrame({f"job={u}": (codes == i).astype(float) for i, u in enumerate(uniques)})
    encoded["job=(missing)"] = (codes < 0).astype(float)
    encoded = pd.concat([df[["sex", "y"]].astype({"sex": object}), encoded, df[["hours"]]], axis=1)
    encoded["p"] = predicted
    ref = sm.bias_report(
        encoded,
        sm.FacetColumn("sex", ["f"]),
        sm.LabelColumn("y", encoded["y"], [1]),
        sm.StageType.POST_TRAINING,
        sm.LabelColumn("p", encoded["p"], [1]),
        metrics=["FT"],
    )
    assert ref[0]["metrics"][0]["value"] == pytest.approx(ft["value"], abs=1e-12)


def test_flip_test_defaults_to_every_column_but_label_and_facet() -> None:
    rng = np.random.default_rng(3)
    n = 300
    df = pd.DataFrame({"f": rng.integers(0, 2, n), "x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    df["y"] = (df["x1"] > 0).astype(int)
    predicted = (df["x1"] + 0.3 * df["f"] > 0.2).astype(int)
    common = dict(label=LabelSpec("y", (1,)), predicted=predicted, facets=[FacetSpec("f", (1,))], metrics=["FT"])
    default = post_training_bias(df, **common)
    explicit = post_training_bias(df, features=df[["x1", "x2"]], **common)
    assert default == explicit and "feature_encoding" not in default["facets"]["f"][0]["metrics"][0]
    assert values_of(default, "f")["FT"] != values_of(post_training_bias(df, features=df[["x2"]], **common), "f")["FT"]


def test_label_disagreement_against_a_reference_column() -> None:
    df = small()
    reference = df["answer"].copy()
    reference.iloc[[0, 1]] = ["No", "Yes"]  # two women's labels disagree with the reference
    reference.iloc[12] = "No"  # one man's
    df["audited"] = reference
    out = label_disagreement(
        df,
        label=LabelSpec("answer", ("Yes",)),
        reference=LabelSpec("audited", ("Yes",)),
        facets=[FacetSpec("gender", ("F",))],
    )
    row = out["facets"]["gender"][0]
    assert row["disagreement_d"] == pytest.approx(2 / 8) and row["disagreement_a"] == pytest.approx(1 / 12)
    assert row["difference"] == pytest.approx(2 / 8 - 1 / 12)
    assert row["label_positive_rate_a"] == pytest.approx(7 / 12)
    assert row["reference_positive_rate_a"] == pytest.approx(6 / 12)


def test_a_numeric_label_with_one_value_is_named_plainly() -> None:
    df = small().assign(flag=1)
    with pytest.raises(BiasInputError) as caught:
        pre_training_bias(df, label=LabelSpec("flag", (1,)), facets=[FacetSpec("gender", ("F",))])
    assert caught.value.field == "label" and "only the value 1:" in caught.value.message


def test_specs_from_the_app_config_and_a_check_without_computing() -> None:
    config = {
        "label": "answer",
        "positive_label_values": ["Yes"],
        "label_threshold": None,
        "facets": [{"name": "gender", "values": ["F"], "threshold": None}, {"name": "age", "threshold": 50}],
        "group": "region",
    }
    label, facets, group = specs_from_config(config)
    assert label == LabelSpec("answer", ("Yes",)) and group == "region"
    assert facets == [FacetSpec("gender", ("F",)), FacetSpec("age", (), 50)]
    check_config(small(), config)  # nothing wrong
    with pytest.raises(BiasInputError) as caught:
        check_config(small(), config | {"facets": [{"name": "gender", "values": ["X"]}]})
    assert caught.value.field == "facets" and "'X' never occurs" in caught.value.message
    for bad, field in [
        ({"label": ""}, "label"),
        ({"positive_label_values": [], "label_threshold": None}, "positive_label_values"),
        ({"label_threshold": "high"}, "label_threshold"),
        ({"facets": []}, "facets"),
        ({"facets": [{"values": ["F"]}]}, "facets"),
        ({"facets": [{"name": "age", "threshold": "old"}]}, "facets"),
        ({"group": 3}, "group"),
    ]:
        with pytest.raises(BiasInputError) as caught:
            specs_from_config(config | bad)
        assert caught.value.field == field, bad


def test_flag_rows_use_default_or_chosen_thresholds() -> None:
    df = small()
    label = LabelSpec("answer", ("Yes",))
    facets = [FacetSpec("gender", ("F",))]
    predicted = pd.Series(["Yes"] * 8 + ["No"] * 12)
    doc = analysis_document(
        pre_training_bias(df, label=label, facets=facets),
        post_training_bias(df, label=label, predicted=predicted, facets=facets, metrics=["DI", "TE"]),
    )
    rows = {(r["stage"], r["name"]): r for r in flag_rows(to_jsonable(doc))}
    ci = rows[("pre_training", "CI")]
    assert ci["value"] == pytest.approx(0.2) and ci["threshold"] == 0.2 and not ci["flagged"]  # |0.2| is not > 0.2
    assert rows[("pre_training", "DPL")]["flagged"]  # 7/12 - 2/8 = 0.33
    assert rows[("pre_training", "CDDL")]["error"] and not rows[("pre_training", "CDDL")]["flagged"]
    di = rows[("post_training", "DI")]
    assert di["value"] == "Infinity" and di["flagged"]  # the men get no positive prediction: x/0
    assert "sampling" in ci["bias_kinds"] and ci["meaning"] == METRICS["CI"].meaning
    relaxed = {(r["stage"], r["name"]): r for r in flag_rows(doc, {"DPL": 0.5, "CI": 0.1})}
    assert not relaxed[("pre_training", "DPL")]["flagged"] and relaxed[("pre_training", "CI")]["flagged"]


def test_each_sensitive_value_matches_as_written_or_as_text() -> None:
    df = pd.DataFrame({"code": [1, 2, 3, 1, 2, 3, 1, 2], "flag": [True, False] * 4, "y": [0, 1, 1, 0, 1, 0, 1, 0]})
    mixed = pre_training_bias(df, label=LabelSpec("y", (1,)), facets=[FacetSpec("code", (1, "2"))], metrics=["CI"])
    assert mixed["facets"]["code"][0]["value_or_threshold"] == "1,2"
    assert values_of(mixed, "code")["CI"] == pytest.approx((2 - 6) / 8)  # six rows are 1 or 2
    from_form = pre_training_bias(df, label=LabelSpec("y", ("1",)), facets=[FacetSpec("flag", ("False",))])
    assert values_of(from_form, "flag")["CI"] == 0.0
    assert values_of(from_form, "flag")["DPL"] == pytest.approx(3 / 4 - 1 / 4)  # True rows: 3 of 4 positive


def test_flip_test_on_a_stated_random_sample() -> None:
    rng = np.random.default_rng(8)
    n = 2000
    df = pd.DataFrame({"f": rng.integers(0, 2, n), "x": rng.normal(size=n), "z": rng.normal(size=n)})
    df["y"] = (df["x"] > 0).astype(int)
    predicted = (df["x"] + 0.5 * df["f"] + rng.normal(0, 0.5, n) > 0).astype(int)
    common = dict(label=LabelSpec("y", (1,)), facets=[FacetSpec("f", (1,))], metrics=["FT", "DPPL"])
    sampled = post_training_bias(df, predicted=predicted, ft_max_rows=500, ft_seed=4, **common)
    ft, dppl = sampled["facets"]["f"][0]["metrics"][1], sampled["facets"]["f"][0]["metrics"][0]
    assert ft["name"] == "FT" and ft["sample"] == {"rows": 500, "of": 2000, "seed": 4}
    rows = np.sort(np.random.default_rng(4).choice(n, 500, replace=False))
    alone = post_training_bias(
        df.iloc[rows].reset_index(drop=True), predicted=predicted.iloc[rows].reset_index(drop=True), **common
    )
    assert ft["value"] == alone["facets"]["f"][0]["metrics"][1]["value"]
    full = post_training_bias(df, predicted=predicted, **common)
    assert dppl == full["facets"]["f"][0]["metrics"][0]  # the other metrics use every row
    assert "sample" not in full["facets"]["f"][0]["metrics"][1]
