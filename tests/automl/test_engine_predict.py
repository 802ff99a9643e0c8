"""predict(): schema errors name the columns at fault; predictions and probabilities are plain JSON."""

from __future__ import annotations

import json

import pytest

from apps.automl.engine import BuildConfig, SchemaError, build, predict
from tests.factories import make_binary

_MODEL = {}


def _model():  # type: ignore[no-untyped-def]
    if "m" not in _MODEL:
        df = make_binary(300)
        _MODEL["m"] = build(
            df, BuildConfig(target="churn", time_budget_s=3, max_trials=3, algorithms=["linear", "lightgbm"])
        ).model
    return _MODEL["m"]


def _rows() -> list[dict]:
    return [
        {"x1": 0.5, "x2": -1.0, "colour": "red", "member": True, "signup": "2024-05-01"},
        {"x1": None, "x2": 2.0, "colour": "never-seen", "member": "no", "signup": "2024-07-09"},
    ]


def test_predict_returns_labels_and_probabilities_as_json() -> None:
    out = predict(_model(), _rows())
    json.dumps(out, allow_nan=False)
    assert len(out["predictions"]) == 2 and set(out["predictions"]) <= {"yes", "no"}
    for p in out["probabilities"]:
        assert set(p) == {"no", "yes"} and abs(sum(p.values()) - 1) < 1e-6


def test_missing_columns_are_named() -> None:
    rows = [{k: v for k, v in r.items() if k not in ("x2", "colour")} for r in _rows()]
    with pytest.raises(SchemaError) as err:
        predict(_model(), rows)
    assert err.value.columns == ["x2", "colour"] and "Missing column(s): x2, colour" in str(err.value)


def test_extra_columns_are_named_but_known_training_columns_are_ignored() -> None:
    rows = [{**r, "surprise": 1} for r in _rows()]
    with pytest.raises(SchemaError) as err:
        predict(_model(), rows)
    assert err.value.columns == ["surprise"] and "Unknown column(s): surprise" in err.value.message
    known = [{**r, "customer_id": 5, "const": 7, "churn": "yes"} for r in _rows()]  # dropped at training
    assert len(predict(_model(), known)["predictions"]) == 2
    assert len(predict(_model(), rows, allow_extra=True)["predictions"]) == 2


def test_wrong_types_are_named_with_an_example() -> None:
    rows = _rows()
    rows[1]["x2"] = "lots"
    rows[0]["signup"] = "not a date"
    rows[0]["member"] = "perhaps"
    with pytest.raises(SchemaError) as err:
        predict(_model(), rows)
    assert set(err.value.columns) == {"x2", "signup", "member"}
    assert "x2 expects numeric values, got 'lots' (row 1)" in err.value.message


def test_numeric_strings_from_json_are_accepted() -> None:
    rows = _rows()
    rows[0]["x1"] = "0.5"
    assert predict(_model(), rows)["predictions"][0] == predict(_model(), _rows())["predictions"][0]


def test_typical_values_fill_a_what_if_form() -> None:
    model = _model()
    typical = model.typical
    assert set(typical) == set(model.feature_names)
    out = predict(model, [typical])
    assert len(out["predictions"]) == 1
    assert typical["signup"].startswith("2024-") and typical["member"] in (True, False)


@pytest.mark.parametrize("bad", [["a", "list"], {"a": "dict"}, b"bytes"])
def test_non_scalar_category_values_are_named(bad) -> None:  # type: ignore[no-untyped-def]
    rows = _rows()
    rows[1]["colour"] = bad
    with pytest.raises(SchemaError) as err:
        predict(_model(), rows)
    assert err.value.columns == ["colour"] and "(row 1)" in err.value.message


def test_mixed_scalar_categories_pass_the_quick_check() -> None:
    rows = _rows()
    rows[0]["colour"], rows[1]["colour"] = 3, "red"  # an object column of int and str: scalars, no pass per row
    assert len(predict(_model(), rows)["predictions"]) == 2


def test_duplicate_columns_are_named() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        [[0.5, -1.0, 1.0, "red", True, "2024-05-01"]], columns=["x1", "x2", "x2", "colour", "member", "signup"]
    )
    with pytest.raises(SchemaError) as err:
        predict(_model(), frame)
    assert err.value.columns == ["x2"] and "Duplicate column(s): x2" in err.value.message
