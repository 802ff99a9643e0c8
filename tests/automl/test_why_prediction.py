"""Canvas what-if "why this prediction": `POST /api/automl/{id}/explain/` answers the row's SHAP contributions to
the prediction the what-if shows, adding up exactly, with a waterfall figure; bad rows are 400 naming the problem;
the same who-may-call rules as predict."""

from __future__ import annotations

import time

import pytest

from tests.factories import binary_frame, multiclass_frame, regression_frame, trained_build

GOOD = {"x1": 1.0, "x2": 0.0, "colour": "red"}


def _total(body: dict) -> float:
    return body["expected_value"] + sum(c["shap"] for c in body["contributions"]) + body["rest"]


def test_explain_adds_up_to_the_predicted_probability(api_for, ds_user, project_a, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    api = api_for(ds_user)
    predicted = api.post(f"/api/automl/{build.pk}/predict/", {"rows": [GOOD]}, format="json").json()
    label = predicted["predictions"][0]
    started = time.monotonic()
    r = api.post(f"/api/automl/{build.pk}/explain/", {"rows": [GOOD]}, format="json")
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.content
    body = r.json()
    # it explains the probability of the class the what-if shows, as the user wrote it
    assert body["target_class"] == label
    assert body["output"] == f"probability of {label!r}"
    assert body["prediction"] == pytest.approx(predicted["probabilities"][0][str(label)], abs=1e-6)
    assert _total(body) == pytest.approx(body["prediction"], abs=1e-9)
    assert body["method"] in ("tree", "tree+kernel", "kernel")
    by = {c["feature"]: c for c in body["contributions"]}
    assert set(by) == {"x1", "x2", "colour"} and by["colour"]["value"] == "red"
    shaps = [abs(c["shap"]) for c in body["contributions"]]
    assert shaps == sorted(shaps, reverse=True)
    # the waterfall: base value, one bar per contribution, the prediction as the total
    trace = body["figure"]["data"][0]
    assert trace["type"] == "waterfall"
    assert trace["measure"][0] == "absolute" and trace["measure"][-1] == "total"
    assert trace["y"][1:-1] == [f"{c['feature']} = {c['value']}" for c in body["contributions"]]
    assert trace["x"][-1] == pytest.approx(body["prediction"])
    # bounded for the web process (the first call also imports shap)
    assert body["seconds"] < 5 and elapsed < 30


@pytest.mark.parametrize(("make", "target", "row"), [(regression_frame, "price", None), (multiclass_frame, None, None)])
def test_explain_regression_and_multiclass(api_for, ds_user, project_a, media, make, target, row) -> None:  # type: ignore[no-untyped-def]
    frame = make()
    target = target or frame.columns[-1]
    build = trained_build(project_a, ds_user, frame, target)
    row = frame.drop(columns=[target]).iloc[0].to_dict()
    api = api_for(ds_user)
    predicted = api.post(f"/api/automl/{build.pk}/predict/", {"rows": [row]}, format="json").json()
    body = api.post(f"/api/automl/{build.pk}/explain/", {"rows": [row]}, format="json").json()
    if "probabilities" in predicted:
        label = predicted["predictions"][0]
        assert body["target_class"] == label
        assert body["prediction"] == pytest.approx(predicted["probabilities"][0][str(label)], abs=1e-6)
    else:
        assert body["output"] == f"predicted {target}"
        assert body["prediction"] == pytest.approx(predicted["predictions"][0], rel=1e-9)
    assert _total(body) == pytest.approx(body["prediction"], abs=1e-9)


def test_explain_bad_rows_are_400_naming_the_problem(api_for, ds_user, project_a, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    api = api_for(ds_user)
    url = f"/api/automl/{build.pk}/explain/"
    r = api.post(url, {"rows": [{"x1": 1.0}]}, format="json")
    assert r.status_code == 400
    assert r.json()["detail"] == "Missing column(s): x2, colour. The model needs: x1, x2, colour."
    assert r.json()["errors"]["colour"] == ["missing"]
    r = api.post(url, {"rows": [GOOD, GOOD]}, format="json")
    assert r.status_code == 400 and "exactly one row" in r.json()["errors"]["rows"][0]
    r = api.post(url, {}, format="json")
    assert r.status_code == 400 and "rows" in r.json()["errors"]
    r = api.post(url, {"rows": [{**GOOD, "x2": "abc"}]}, format="json")
    assert r.status_code == 400 and r.json()["errors"]["x2"] == ["expects numeric values, got 'abc' (row 0)"]


def test_explain_who_may_call(api_for, ds_user, labeler_user, outsider, project_a, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    url = f"/api/automl/{build.pk}/explain/"
    assert api_for(labeler_user).post(url, {"rows": [GOOD]}, format="json").status_code == 403
    assert api_for(outsider).post(url, {"rows": [GOOD]}, format="json").status_code == 404
    assert api_for(None).post(url, {"rows": [GOOD]}, format="json").status_code == 401
