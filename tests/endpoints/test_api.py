"""Endpoints API and pages: the approval rule, personas, one-time keys, updates, metrics; batch transform output
equal to in-process predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from apps.automl import engine
from apps.core.keys import key_hash
from apps.core.tempfiles import temp_path
from apps.datasets import services as data_services
from apps.datasets import storage as data_files
from apps.endpoints import charts, services
from apps.endpoints.models import BatchTransform, Endpoint, EndpointKey, EndpointMetric
from apps.jobs.models import Job
from tests.endpoints.conftest import invoke
from tests.factories import ROWS, binary_model, register, training_frame

pytestmark = pytest.mark.django_db


def test_create_returns_the_endpoint_and_a_key_that_works(api_for, serving, mlops_user, project_a, version) -> None:
    response = api_for(mlops_user).post(
        "/api/endpoints/",
        {"project": project_a.pk, "name": "churn-api", "model_version": version.pk, "type": "realtime"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["name"] == "churn-api" and data["type"] == "realtime" and data["status"] == "InService"
    assert data["invocation_url"] == "/endpoints/churn-api/invocations"
    assert data["variants"] == [
        {"name": "variant-1", "model_version": version.pk, "model_version_label": str(version), "weight": 1.0}
    ]
    key = data["key"]
    assert EndpointKey.objects.get(endpoint_id=data["id"]).key_hash == key_hash(key)
    serving.refresh()
    assert invoke(serving, "churn-api", {"instances": ROWS}, key=key).status == 200
    detail = api_for(mlops_user).get(f"/api/endpoints/{data['id']}/").json()
    assert "key" not in detail, "the key is shown once"


def test_only_approved_versions_deploy(api_for, media, mlops_user, project_a) -> None:
    pending = register(project_a, mlops_user, binary_model())
    response = api_for(mlops_user).post(
        "/api/endpoints/", {"project": project_a.pk, "name": "nope", "model_version": pending.pk}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert f"id {pending.pk}" in body["errors"]["model_version"][0] and "only Approved" in body["detail"]
    assert not Endpoint.objects.exists()
    with pytest.raises(services.ValidationError):
        services.endpoint_create(project=project_a, user=mlops_user, name="x", variants=[{"model_version": pending}])


def test_data_scientists_may_not_deploy(api_for, ds_user, project_a, version) -> None:
    response = api_for(ds_user).post(
        "/api/endpoints/", {"project": project_a.pk, "name": "x", "model_version": version.pk}, format="json"
    )
    assert response.status_code == 403


def test_another_projects_version_is_404(api_for, media, mlops_user, project_a, project_b, admin_user) -> None:
    foreign = register(project_b, admin_user, binary_model(), approve_by=admin_user)
    response = api_for(mlops_user).post(
        "/api/endpoints/", {"project": project_a.pk, "name": "x", "model_version": foreign.pk}, format="json"
    )
    assert response.status_code == 404
    admin = api_for(admin_user).post(
        "/api/endpoints/", {"project": project_a.pk, "name": "x", "model_version": foreign.pk}, format="json"
    )
    assert admin.status_code == 400 and "another project" in admin.json()["detail"]


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "a" * 64, "../x", "a/b", "a b", "é"])
def test_bad_names_are_400(api_for, mlops_user, project_a, version, name: str) -> None:
    response = api_for(mlops_user).post(
        "/api/endpoints/", {"project": project_a.pk, "name": name, "model_version": version.pk}, format="json"
    )
    assert response.status_code == 400 and "name" in response.json()["errors"]


def test_names_are_unique(api_for, mlops_user, project_a, version) -> None:
    client = api_for(mlops_user)
    payload = {"project": project_a.pk, "name": "dup", "model_version": version.pk}
    assert client.post("/api/endpoints/", payload, format="json").status_code == 201
    second = client.post("/api/endpoints/", payload, format="json")
    assert second.status_code == 400 and "already exists" in second.json()["detail"]


def test_variants_and_update(api_for, serving, mlops_user, project_a, version, version_b) -> None:
    client = api_for(mlops_user)
    created = client.post(
        "/api/endpoints/",
        {
            "project": project_a.pk,
            "name": "ab",
            "variants": [
                {"model_version": version.pk, "weight": 3, "name": "a"},
                {"model_version": version_b.pk, "weight": 1},
            ],
        },
        format="json",
    ).json()
    assert [(v["name"], v["weight"]) for v in created["variants"]] == [("a", 3.0), ("variant-2", 1.0)]
    updated = client.post(f"/api/endpoints/{created['id']}/update/", {"model_version": version_b.pk}, format="json")
    assert updated.status_code == 200
    assert [v["model_version"] for v in updated.json()["variants"]] == [version_b.pk]
    assert updated.json()["config_version"] == created["config_version"] + 1
    weights = client.post(
        f"/api/endpoints/{created['id']}/update/",
        {"variants": [{"model_version": version.pk, "weight": 0}]},
        format="json",
    )
    assert weights.status_code == 400 and "weight above 0" in weights.json()["detail"]
    bad_type = client.post(
        "/api/endpoints/",
        {"project": project_a.pk, "name": "t", "model_version": version.pk, "type": "gpu"},
        format="json",
    )
    assert bad_type.status_code == 400 and "type" in bad_type.json()["errors"]


def test_keys_create_list_revoke(api_for, serving, mlops_user, ds_user, project_a, version) -> None:
    endpoint, _ = services.endpoint_create(
        project=project_a, user=mlops_user, name="k", variants=[{"model_version": version}]
    )
    client = api_for(mlops_user)
    created = client.post(f"/api/endpoints/{endpoint.pk}/keys/", {"name": "app"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    listed = client.get(f"/api/endpoints/{endpoint.pk}/keys/").json()
    assert {k["name"] for k in listed} == {"default", "app"} and all("key" not in k for k in listed)
    assert api_for(ds_user).post(f"/api/endpoint-keys/{created.json()['id']}/revoke/").status_code == 403
    serving.refresh()
    assert invoke(serving, "k", {"instances": ROWS}, key=key).status == 200
    revoked = client.post(f"/api/endpoint-keys/{created.json()['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    serving.refresh()
    assert invoke(serving, "k", {"instances": ROWS}, key=key).status == 401


def test_metrics_api(api_for, serving, mlops_user, project_a, version) -> None:
    endpoint, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="m", variants=[{"model_version": version}]
    )
    serving.refresh()
    for _ in range(3):
        invoke(serving, "m", {"instances": ROWS}, key=key)
    invoke(serving, "m", {"rows": ROWS}, key=key)  # 400: the client's mistake
    for _ in range(2):
        invoke(serving, "m", {"instances": ROWS}, key="bad")  # 401: rejected, not the endpoint's error
    serving.flush_metrics()
    data = api_for(mlops_user).get(f"/api/endpoints/{endpoint.pk}/metrics/?minutes=10").json()
    assert len(data["minutes"]) == 10
    totals = data["totals"]
    assert (totals["invocations"], totals["client_errors"], totals["server_errors"], totals["rejected"]) == (4, 1, 0, 2)
    assert (totals["error_rate"], totals["client_error_rate"], totals["server_error_rate"]) == (25.0, 25.0, 0.0)
    assert data["client_error_rate"][-1] == 25.0 and data["server_error_rate"][-1] == 0.0
    assert data["rejected"][-1] == 2 and sum(data["invocations"]["variant-1"]) == 4
    errors = charts.error_rate_figure(data)["data"]
    assert [(t["name"], t["y"][-1]) for t in errors] == [("client errors (4xx)", 25.0), ("server errors (5xx)", 0.0)]
    bars = {t["name"]: t["y"][-1] for t in charts.invocations_figure(data)["data"]}
    assert bars == {"variant-1": 4, "rejected (bad key)": 2}
    assert data["p50"][-1] is not None and data["p99"][-1] >= data["p50"][-1]
    assert EndpointMetric.objects.count() == 1


# --- batch transform -----------------------------------------------------------------------------------------------


def _dataset(project, user, frame):  # type: ignore[no-untyped-def]
    with temp_path(".parquet") as tmp:
        data_files.write_frame(frame, tmp)
        return data_services.dataset_version_create(
            project_id=project.pk,
            dataset_name="customers",
            local_file=tmp,
            kind="import",
            source={"kind": "import"},
            created_by_id=user.pk,
        )


@pytest.mark.parametrize("join", [False, True])
def test_batch_transform_output_equals_in_process_predictions(
    api_for, run_job, settings, mlops_user, project_a, version, join: bool
) -> None:
    settings.SERVING_BATCH_CHUNK_ROWS = 64  # several chunks
    frame = training_frame(n=500, seed=3).drop(columns=["churn"])
    frame.insert(0, "customer_id", np.arange(500))
    source = _dataset(project_a, mlops_user, frame)
    response = api_for(mlops_user).post(
        "/api/batch-transforms/",
        {"model_version": version.pk, "dataset_version": source.pk, "join_input_columns": join},
        format="json",
    )
    assert response.status_code == 202, response.json()
    job = run_job(response.json()["job"])
    assert job.status == "succeeded", job.error
    detail = api_for(mlops_user).get(f"/api/batch-transforms/{response.json()['id']}/").json()
    assert detail["rows"] == 500 and detail["status"] == "succeeded"
    from apps.datasets.models import DatasetVersion

    out_version = DatasetVersion.objects.get(pk=detail["output_version"])
    out = data_files.read_frame(out_version.file)
    expected = engine.predict(binary_model(), frame, allow_extra=True)
    assert out["predicted_churn"].tolist() == expected["predictions"]
    assert np.allclose(out["probability_yes"], [p["yes"] for p in expected["probabilities"]], atol=1e-6)
    assert len(out) == 500 and out_version.parents.get() == source
    if join:
        pd.testing.assert_frame_equal(out[list(frame.columns)], frame, check_dtype=False)
    else:
        assert list(out.columns) == ["predicted_churn", "probability_no", "probability_yes"]


def test_batch_transform_output_downloads_as_csv_defused_for_people_and_exact_for_pipelines(
    api_for, run_job, mlops_user, project_a, version
) -> None:
    import csv
    import io

    from apps.core.csvio import FORMULA_START, strip_neutralised
    from apps.datasets.models import DatasetVersion

    notes = ["\r=1+1", '=HYPERLINK("http://x")', "-2+3", "@A1", "a\rb", "plain"] * 10
    frame = training_frame(n=60, seed=4).drop(columns=["churn"]).assign(note=notes)
    source = _dataset(project_a, mlops_user, frame)
    api = api_for(mlops_user)
    response = api.post(
        "/api/batch-transforms/",
        {"model_version": version.pk, "dataset_version": source.pk, "join_input_columns": True},
        format="json",
    )
    assert run_job(response.json()["job"]).status == "succeeded"
    out_version = DatasetVersion.objects.get(
        pk=api.get(f"/api/batch-transforms/{response.json()['id']}/").json()["output_version"]
    )
    url = f"/api/dataset-versions/{out_version.pk}/download/"
    raw = b"".join(api.get(url, {"format": "csv", "escape": "none"}).streaming_content).decode()
    back = pd.read_csv(io.StringIO(raw), keep_default_na=False)
    assert len(back) == 60 and back["note"].tolist() == notes
    assert back["x1"].tolist() == frame["x1"].tolist()
    people = list(
        csv.reader(io.StringIO(b"".join(api.get(url, {"format": "csv"}).streaming_content).decode(), newline=""))
    )
    column = people[0].index("note")
    cells = [row[column] for row in people[1:]]
    assert len(cells) == 60 and not any(cell.startswith(FORMULA_START) for cell in cells)
    assert [strip_neutralised(cell) for cell in cells] == notes
    x1 = [float(row[people[0].index("x1")]) for row in people[1:]]
    assert x1 == frame["x1"].tolist() and any(value < 0 for value in x1)  # negative numbers are left as numbers


def test_batch_transform_refuses_unapproved_and_foreign(
    api_for, media, mlops_user, project_a, project_b, admin_user
) -> None:
    pending = register(project_a, mlops_user, binary_model())
    source = _dataset(project_a, mlops_user, training_frame(n=10))
    refused = api_for(mlops_user).post(
        "/api/batch-transforms/", {"model_version": pending.pk, "dataset_version": source.pk}, format="json"
    )
    assert refused.status_code == 400 and "only Approved" in refused.json()["detail"]
    foreign = _dataset(project_b, admin_user, training_frame(n=10))
    approved = register(project_a, mlops_user, binary_model(), approve_by=mlops_user)
    response = api_for(mlops_user).post(
        "/api/batch-transforms/", {"model_version": approved.pk, "dataset_version": foreign.pk}, format="json"
    )
    assert response.status_code == 404


def test_batch_transform_of_a_version_missing_columns_is_refused_before_a_job_starts(
    api_for, mlops_user, project_a, version
) -> None:
    source = _dataset(project_a, mlops_user, training_frame(n=10).drop(columns=["x2"]))
    response = api_for(mlops_user).post(
        "/api/batch-transforms/", {"model_version": version.pk, "dataset_version": source.pk}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"].startswith("Missing column(s) in") and body["detail"].count("x2") == 2  # missing; reads
    assert body["errors"]["x2"] == ["missing"]
    assert not BatchTransform.objects.filter(dataset_version=source).exists()
    assert not Job.objects.filter(kind="endpoints.batch_transform").exists()


# --- pages ------------------------------------------------------------------------------------------------------


def test_create_page_deploys_and_shows_the_key_once(client_for, mlops_user, project_a, version, media) -> None:
    client = client_for(mlops_user)
    page = client.get(reverse("endpoints:create"))
    assert page.status_code == 200 and str(version) in page.content.decode()
    response = client.post(
        reverse("endpoints:create"),
        {
            "name": "web",
            "type": "realtime",
            "model_version": version.pk,
            "weight": 1,
            "second_weight": 0,
            "capture_percent": 0,
            "idle_timeout_s": 300,
            "max_concurrency": 5,
        },
    )
    assert response.status_code == 302  # Post/Redirect/Get: the key waits for the page it redirects to
    html = client.get(response["Location"]).content.decode()
    endpoint = Endpoint.objects.get(name="web")
    key = html.split('id="new-key-value">')[1].split("<")[0]
    assert EndpointKey.objects.get(endpoint=endpoint).key_hash == key_hash(key)
    again = client.get(reverse("endpoints:detail", args=[endpoint.pk])).content.decode()
    assert key not in again and "new-key-value" not in again
    for part in ('id="chart-latency"', 'id="try-it"', "dataframe_records", "-X POST", "requests.post"):
        assert part in again


def test_create_page_lists_only_approved_versions(client_for, mlops_user, project_a, version, media) -> None:
    pending = register(project_a, mlops_user, binary_model(), group="pending-group")
    html = client_for(mlops_user).get(reverse("endpoints:create")).content.decode()
    assert f'value="{version.pk}"' in html and "pending-group" not in html and f'value="{pending.pk}"' not in html


def test_try_key_expires(client_for, mlops_user, project_a, version) -> None:
    endpoint, _ = services.endpoint_create(
        project=project_a, user=mlops_user, name="t", variants=[{"model_version": version}]
    )
    response = client_for(mlops_user).post(reverse("endpoints:try_key", args=[endpoint.pk]))
    assert response.status_code == 201
    row = EndpointKey.objects.get(key_hash=key_hash(response.json()["key"]))
    assert row.expires_at is not None and row.name.startswith("try it")


def test_update_page_changes_weights(client_for, mlops_user, project_a, version, version_b) -> None:
    endpoint, _ = services.endpoint_create(
        project=project_a, user=mlops_user, name="u", variants=[{"model_version": version}]
    )
    response = client_for(mlops_user).post(
        reverse("endpoints:update", args=[endpoint.pk]),
        {"variant_name": ["a", "b"], "variant_version": [version.pk, version_b.pk], "variant_weight": ["9", "1"]},
    )
    assert response.status_code == 302
    assert list(endpoint.variants.values_list("name", "model_version_id", "weight")) == [
        ("a", version.pk, 9.0),
        ("b", version_b.pk, 1.0),
    ]


def test_detail_page_example_uses_training_rows(client_for, mlops_user, project_a, media) -> None:
    source = _dataset(project_a, mlops_user, training_frame(n=20))
    v = register(project_a, mlops_user, binary_model(), approve_by=mlops_user, dataset_version=source)
    endpoint, _ = services.endpoint_create(
        project=project_a, user=mlops_user, name="ex", variants=[{"model_version": v}]
    )
    html = client_for(mlops_user).get(reverse("endpoints:detail", args=[endpoint.pk])).content.decode()
    first = training_frame(n=20).iloc[0]
    assert f"{first['x1']:.6f}"[:6] in html and "churn" not in html.split('id="try-body"')[1].split("</textarea>")[0]
    assert ROWS  # the factory rows stay importable for other tests


def test_batch_transform_reads_in_chunks(run_job, settings, monkeypatch, mlops_user, project_a, version) -> None:
    """Memory stays flat: the model never sees more than SERVING_BATCH_CHUNK_ROWS rows at once."""
    from apps.registry import loading

    settings.SERVING_BATCH_CHUNK_ROWS = 100
    seen: list[int] = []
    real = loading.load_version

    def spying_load(v):  # type: ignore[no-untyped-def]
        predictor = real(v)
        inner = predictor.predict

        def predict(frame):  # type: ignore[no-untyped-def]
            seen.append(len(frame))
            return inner(frame)

        predictor.predict = predict
        return predictor

    monkeypatch.setattr(loading, "load_version", spying_load)
    source = _dataset(project_a, mlops_user, training_frame(n=1050).drop(columns=["churn"]))
    transform = services.batch_transform_start(user=mlops_user, model_version=version, dataset_version=source)
    assert run_job(transform.job).status == "succeeded"
    assert seen == [100] * 10 + [50]
    transform.refresh_from_db()
    assert transform.rows == 1050 and transform.output_version.row_count == 1050


def test_batch_transform_page_names_missing_columns_once(client_for, mlops_user, project_a, version) -> None:
    source = _dataset(project_a, mlops_user, training_frame(n=10).drop(columns=["x2"]))
    response = client_for(mlops_user).post(
        reverse("endpoints:batch_list"),
        {"model_version": version.pk, "dataset_version": source.pk, "probabilities": "on"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert page.count("Missing column(s) in") == 1 and ">missing<" not in page
    assert not BatchTransform.objects.filter(dataset_version=source).exists()


@pytest.mark.parametrize(
    ("endpoint_type", "setting", "value"),
    [
        ("realtime", "max_concurrency", 5),
        ("async", "idle_timeout_s", 60),
        ("serverless", "webhook_url", "https://x.test/h"),
    ],
)
def test_create_api_refuses_another_types_setting(
    api_for, mlops_user, project_a, version, endpoint_type, setting, value
) -> None:
    response = api_for(mlops_user).post(
        "/api/endpoints/",
        {"project": project_a.pk, "name": "typed", "type": endpoint_type, "model_version": version.pk, setting: value},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [setting]
    assert f"not {endpoint_type} ones" in response.json()["errors"][setting][0]
    assert not Endpoint.objects.filter(name="typed").exists()
