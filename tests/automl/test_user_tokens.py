"""A Canvas build on a yes/no target answers yes/no everywhere (DESIGN.md: the user's values come back as written).

One uploaded CSV (a yes/no target, a Y/N feature, a 1/0 feature, a number and a colour) is imported by its job, built
in quick mode through the API, then asked through the what-if form, `/api/automl/{id}/predict/`, a Canvas batch
prediction, and, once registered and approved, a real-time endpoint (the serving app) and a batch transform."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from apps.datasets.models import DatasetVersion
from apps.endpoints import services as endpoint_services
from apps.endpoints.serving.app import ServingApp
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.registry.models import ModelVersion
from tests.datasets.conftest import upload
from tests.endpoints.conftest import invoke

pytestmark = pytest.mark.usefixtures("media")

ROWS = 80


def churn_csv() -> str:
    rng = np.random.default_rng(3)
    lines = ["tenure,colour,member,promo,churn"]
    for _ in range(ROWS):
        tenure = round(float(rng.uniform(0, 10)), 2)
        colour = str(rng.choice(["red", "green", "blue"]))
        member = bool(rng.random() < 0.5)
        promo = int(rng.random() < 0.5)
        churn = tenure < 5 if colour != "red" else tenure < 8
        lines.append(f"{tenure},{colour},{'Y' if member else 'N'},{promo},{'yes' if churn else 'no'}")
    return "\n".join(lines) + "\n"


def run_ok(run_job, job_id: int) -> None:  # type: ignore[no-untyped-def]
    job = run_job(job_id)
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.error)


@pytest.fixture
def built(api_for, ds_user, project_a, run_job):  # type: ignore[no-untyped-def]
    """(build id, dataset version) of a finished quick build on the uploaded file."""
    api = api_for(ds_user)
    imported = api.post(
        "/api/datasets/",
        {"file": upload("churn.csv", churn_csv()), "name": "churn", "project": project_a.pk},
        format="multipart",
    )
    assert imported.status_code == 202, imported.content
    run_ok(run_job, imported.json()["job"])
    version = DatasetVersion.objects.get(dataset_id=imported.json()["id"])
    started = api.post(
        "/api/automl/",
        {
            "project": project_a.pk,
            "dataset_version": version.pk,
            "target": "churn",
            "mode": "quick",
            "time_budget_s": 8,  # quick mode uses its budget; 8 s leaves room on a loaded machine
        },
        format="json",
    )
    assert started.status_code == 202, started.content
    run_ok(run_job, started.json()["job"])
    return started.json()["id"], version


def test_a_yes_no_build_answers_yes_no_everywhere(
    built, api_for, client_for, ds_user, mlops_user, project_a, run_job
) -> None:  # type: ignore[no-untyped-def]
    build_id, version = built
    api = api_for(ds_user)
    assert api.get(f"/api/automl/{build_id}/").json()["status"] == "succeeded"

    # the what-if form: selects with the user's values, a number input for numbers
    page = client_for(ds_user).get(reverse("automl:detail", args=[build_id])).content.decode()
    form = page[page.index('id="whatif-form"') : page.index("</form>", page.index('id="whatif-form"'))]
    assert (
        'data-column="member" data-kind="boolean">' in form and 'data-column="colour" data-kind="categorical">' in form
    )
    assert '<option value="Y"' in form and '<option value="N"' in form and "True" not in form
    assert '<option value="red"' in form
    assert 'data-column="tenure" data-kind="numeric" type="number"' in form

    # the predict API: yes/no answers and probabilities keyed by yes/no; the user's tokens and JSON booleans as input
    rows = [
        {"tenure": 1.0, "colour": "blue", "member": "Y", "promo": 1},
        {"tenure": 9.5, "colour": "green", "member": "N", "promo": 0},
        {"tenure": 1.0, "colour": "blue", "member": True, "promo": 1},
    ]
    answer = api.post(f"/api/automl/{build_id}/predict/", {"rows": rows}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["predictions"] == ["yes", "no", "yes"]
    assert set(answer.json()["probabilities"][0]) == {"yes", "no"}

    # a Canvas batch prediction: a new version whose predictions and input columns are as the user wrote them
    response = client_for(ds_user).post(
        reverse("automl:batch_predict", args=[build_id]), {"dataset_version": version.pk}
    )
    assert response.status_code == 302
    run_ok(run_job, Job.objects.filter(kind="automl.batch_predict").latest("pk").pk)
    predicted = DatasetVersion.objects.exclude(pk=version.pk).latest("pk")
    csv = api.get(f"/api/dataset-versions/{predicted.pk}/download/", {"format": "csv", "escape": "none"})
    out = pd.read_csv(io.BytesIO(b"".join(csv.streaming_content)), dtype=str, keep_default_na=False)
    assert set(out["predicted_churn"]) == {"yes", "no"}
    assert set(out["churn"]) == {"yes", "no"} and set(out["member"]) == {"Y", "N"} and set(out["promo"]) == {"1", "0"}

    # registered, approved, deployed: the endpoint answers yes/no (JSON and CSV requests)
    registered = api.post(f"/api/automl/{build_id}/register/", {}, format="json")
    assert registered.status_code in (200, 201), registered.content
    model_version = registered.json()["id"]
    inputs = {i["name"]: i["type"] for i in ModelVersion.objects.get(pk=model_version).signature["inputs"]}
    assert inputs["member"] == "string" and inputs["tenure"] == "double"  # the model reads Y/N as text
    approved = api_for(mlops_user).post(
        f"/api/model-versions/{model_version}/approval/", {"status": "Approved"}, format="json"
    )
    assert approved.status_code == 200, approved.content
    endpoint, key = endpoint_services.endpoint_create(
        project=project_a,
        user=mlops_user,
        name="churn-tokens",
        variants=[{"model_version": ModelVersion.objects.get(pk=model_version)}],
    )
    app = ServingApp(background=False)
    try:
        app.refresh()
        reply = invoke(app, endpoint.name, {"dataframe_records": rows[:2]}, key=key)
        assert reply.status == 200, reply.body
        assert reply.json()["predictions"] == ["yes", "no"]
        body = b"tenure,colour,member,promo\n1.0,blue,Y,1\n9.5,green,N,0\n"
        reply = invoke(app, endpoint.name, key=key, content_type="text/csv", body=body)
        assert reply.status == 200 and reply.json()["predictions"] == ["yes", "no"]
    finally:
        app.pool.shutdown(wait=False, cancel_futures=True)
        app.io_pool.shutdown(wait=False, cancel_futures=True)

    # a batch transform of the approved version: yes/no beside the user's own input values
    started = api_for(mlops_user).post(
        "/api/batch-transforms/",
        {"model_version": model_version, "dataset_version": version.pk, "join_input_columns": True},
        format="json",
    )
    assert started.status_code == 202, started.content
    run_ok(run_job, started.json()["job"])
    output = DatasetVersion.objects.latest("pk")
    rows_out = api.get(f"/api/dataset-versions/{output.pk}/rows/", {"limit": ROWS}).json()["rows"]
    assert {r["predicted_churn"] for r in rows_out} == {"yes", "no"}
    assert {r["member"] for r in rows_out} == {"Y", "N"} and {r["churn"] for r in rows_out} == {"yes", "no"}
