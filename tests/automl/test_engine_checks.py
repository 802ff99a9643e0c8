"""The pre-build checklist catches each listed problem with a clear message; typing and problem detection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apps.automl.engine import check_data, detect_problem_type, infer_columns, metric_catalogue, resolve_objective
from apps.automl.engine.metrics import MetricError
from tests.factories import make_binary, make_regression


def _codes(checks: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for c in checks:
        assert set(c) >= {"code", "severity", "message"} and c["severity"] in ("error", "warning")
        out.setdefault(c["code"], []).append(c)
    return out


def test_clean_data_has_no_errors() -> None:
    checks = check_data(make_regression(), "price")
    assert not [c for c in checks if c["severity"] == "error"]


def test_target_missing_from_the_data() -> None:
    (c,) = check_data(make_regression(), "nope")
    assert c["code"] == "target_missing" and c["severity"] == "error" and "'nope'" in c["message"]


def test_missing_target_values_warn_with_count() -> None:
    df = make_regression()
    df.loc[:6, "price"] = np.nan
    c = _codes(check_data(df, "price"))["target_missing_values"][0]
    assert c["severity"] == "warning" and c["count"] == 7 and "dropped" in c["message"]


def test_single_class_target_is_an_error() -> None:
    df = make_binary()
    df["churn"] = "yes"
    c = _codes(check_data(df, "churn"))["target_single_class"][0]
    assert c["severity"] == "error" and c["column"] == "churn"


def test_too_many_classes_and_classes_too_small() -> None:
    df = make_regression(100)
    df["label"] = [f"c{i % 40}" for i in range(100)]  # 40 classes for 100 rows: more than rows / 5
    df.loc[0, "label"] = "lonely"
    codes = _codes(check_data(df.drop(columns=["price"]), "label", problem_type="multiclass"))
    assert codes["too_many_classes"][0]["severity"] == "error"
    small = codes["class_too_small"][0]
    assert small["severity"] == "error" and "lonely" in small["classes"]


def test_constant_identifier_and_unsupported_columns() -> None:
    df = make_binary()
    df["tags"] = [["a"]] * len(df)
    df["empty"] = np.nan
    codes = _codes(check_data(df, "churn"))
    assert {c["column"] for c in codes["constant_column"]} == {"const", "empty"}
    assert codes["identifier_column"][0]["column"] == "customer_id"
    assert "dropped" in codes["identifier_column"][0]["message"]
    assert codes["unsupported_column"][0]["column"] == "tags"


def test_string_identifiers_are_flagged_too() -> None:
    df = make_regression(60)
    df["order_ref"] = [f"ORD-{i:05d}" for i in range(60)]
    assert _codes(check_data(df, "price"))["identifier_column"][0]["column"] == "order_ref"


def test_leakage_from_the_profile_and_from_the_own_check() -> None:
    df = make_binary()
    df["leak"] = (df["churn"] == "yes").astype(float) + np.random.default_rng(0).normal(0, 0.01, len(df))
    codes = _codes(check_data(df, "churn", leaky_columns=["x2"]))
    by_source = {c["source"]: c for c in codes["leakage"]}
    assert by_source["profile"]["column"] == "x2"
    assert by_source["check"]["column"] == "leak" and by_source["check"]["score"] >= 0.98
    assert all(c["severity"] == "warning" for c in codes["leakage"])
    assert len(codes["leakage"]) == 2  # x1 / colour predict only partly: not flagged


def test_regression_leak_is_found() -> None:
    df = make_regression()
    df["price_copy"] = df["price"] * 1.01 + 3
    codes = _codes(check_data(df, "price"))
    assert [c["column"] for c in codes["leakage"]] == ["price_copy"]


def test_too_few_rows_is_an_error_and_few_rows_a_warning() -> None:
    assert _codes(check_data(make_regression(15), "price"))["too_few_rows"][0]["severity"] == "error"
    assert _codes(check_data(make_regression(60), "price"))["few_rows"][0]["severity"] == "warning"


def test_regression_on_text_target_and_no_features() -> None:
    df = make_binary()
    codes = _codes(check_data(df, "churn", problem_type="regression"))
    assert codes["target_not_numeric"][0]["severity"] == "error"
    only_target = df[["customer_id", "churn"]]
    assert _codes(check_data(only_target, "churn"))["no_features"][0]["severity"] == "error"


def test_column_kinds() -> None:
    df = make_binary()
    df["note"] = [
        f"customer wrote a long comment number {i} about the service and the delivery" for i in range(len(df))
    ]
    df["flag"] = pd.array(np.where(np.arange(len(df)) % 2, "yes", "no"), "string")
    df["when"] = pd.array([f"2024-03-{1 + i % 28:02d}" for i in range(len(df))], "string")
    kinds = {k: v.kind for k, v in infer_columns(df, "churn").items()}
    assert kinds == {
        "customer_id": "identifier",
        "x1": "numeric",
        "x2": "numeric",
        "colour": "categorical",
        "member": "boolean",
        "signup": "datetime",
        "const": "constant",
        "note": "text",
        "flag": "boolean",
        "when": "datetime",
    }


def test_problem_type_detection_and_objectives() -> None:
    assert detect_problem_type(pd.Series(["a", "b", "a"])) == "binary"
    assert detect_problem_type(pd.Series([0, 1, 2, 1, 0] * 20)) == "multiclass"
    assert detect_problem_type(pd.Series(np.linspace(0, 1, 100))) == "regression"
    assert detect_problem_type(pd.Series(np.arange(100))) == "regression"
    assert resolve_objective("binary", None).name == "roc_auc"
    assert resolve_objective("multiclass", None).name == "log_loss"
    assert resolve_objective("regression", None).name == "rmse"
    assert resolve_objective("multiclass", "f1").name == "f1_macro"
    assert resolve_objective("regression", "r2").direction == "maximize"
    with pytest.raises(MetricError, match="does not apply"):
        resolve_objective("regression", "accuracy")
    cat = metric_catalogue()
    assert cat["binary"][0]["name"] == "roc_auc" and {m["name"] for m in cat["regression"]} == {
        "rmse",
        "mae",
        "r2",
        "mape",
    }


def test_duplicate_column_names_are_an_error() -> None:
    df = make_regression(50)
    df.columns = ["a", "a", "grade", "price"]
    (c,) = check_data(df, "price")
    assert c["code"] == "duplicate_columns" and c["severity"] == "error" and c["columns"] == ["a"]
