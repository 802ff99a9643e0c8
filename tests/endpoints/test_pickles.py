"""A crafted pickle sent through every other upload path is refused and never unpickled: dataset imports (file
upload through the API, whatever the file is called) and the real-time and async invocation bodies. The registry's
import paths are covered in tests/registry (API, UI form and browser)."""

from __future__ import annotations

import pytest

from apps.endpoints import services
from apps.endpoints.models import AsyncInvocation
from tests.datasets.conftest import upload
from tests.endpoints.conftest import call, invoke
from tests.registry.conftest import canary, crafted_pickles  # noqa: F401 - the canary fixture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("filename", ["model.pkl", "data.csv", "data.parquet", "data.json", "data.xlsx"])
def test_dataset_imports_never_unpickle(api_for, ds_user, project_a, media, run_job, canary, filename):  # noqa: F811
    api = api_for(ds_user)
    for kind, data in crafted_pickles(canary).items():
        r = api.post(
            "/api/datasets/",
            {"file": upload(filename, data, "application/octet-stream"), "name": f"p-{kind}", "project": project_a.pk},
            format="multipart",
        )
        if r.status_code == 202:  # parsed by a job: it must fail, with a reason
            job = run_job(r.json()["job"])
            assert job.status == "failed" and job.error, (kind, filename)
        else:
            assert r.status_code in (400, 415), (kind, filename, r.status_code, r.content[:200])
        assert not canary.exists(), (kind, filename)


def test_invocation_bodies_never_unpickle(serving, project_a, mlops_user, version, canary):  # noqa: F811
    _, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="churn-live", variants=[{"model_version": version}]
    )
    serving.refresh()
    for kind, data in crafted_pickles(canary).items():
        for content_type, allowed in (
            ("application/octet-stream", {415}),
            ("application/python-pickle", {415}),
            ("text/csv", {400}),
            ("application/json", {400}),
        ):
            reply = invoke(serving, "churn-live", key=key, body=data, content_type=content_type)
            assert reply.status in allowed, (kind, content_type, reply.status, reply.body[:200])
    assert not canary.exists()
    assert not AsyncInvocation.objects.exists()
    reply = call(
        serving,
        "POST",
        "/endpoints/churn-live/async-invocations",
        body=b"x",
        headers={"authorization": f"Bearer {key}", "content-type": "application/octet-stream"},
    )
    assert reply.status in (400, 404, 415)  # a real-time endpoint takes no async requests; never a pickle
