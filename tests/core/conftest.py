"""Fixtures for the whole-API tests in this folder (schemathesis, number ranges)."""

from __future__ import annotations

import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from apps.accounts.services import api_token_create


@pytest.fixture
def wsgi_app():  # type: ignore[no-untyped-def]
    """Django's WSGI app on the test transaction: like Django's test client, requests must not close the
    connection that holds the test's uncommitted data."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(media, project_a, project_b, admin_user, mlops_user, ds_user) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    """Real objects in both projects; returns the ids to use per path prefix."""
    from apps.automl.models import AutomlBuild
    from apps.datasets.services import flow_create, profile_start
    from apps.endpoints import services as endpoint_services
    from apps.jobs.models import Job
    from tests.datasets.conftest import make_version
    from tests.factories import binary_model, register, training_frame

    version = make_version(project_a, training_frame(60), name="churn", user=ds_user)
    other = make_version(project_b, training_frame(20, seed=1), name="other")
    flow = flow_create(project=project_a, created_by=ds_user, name="prep", sources=[version])
    build = AutomlBuild.objects.create(project=project_a, dataset_version=version, target="churn", name="b1")
    model_version = register(project_a, mlops_user, binary_model(), approve_by=mlops_user, dataset_version=version)
    endpoint, _ = endpoint_services.endpoint_create(
        project=project_a, user=mlops_user, name="churn-live", variants=[{"model_version": model_version}]
    )
    profile_start(version=version, created_by=ds_user, target=None)
    token, _ = api_token_create(user=admin_user, name="spare")
    return {
        "projects": [project_a.pk, project_b.pk],
        "datasets": [version.dataset_id, other.dataset_id],
        "dataset-versions": [version.pk, other.pk],
        "flows": [flow.pk],
        "automl": [build.pk],
        "model-groups": [model_version.group_id],
        "model-versions": [model_version.pk],
        "endpoints": [endpoint.pk],
        "endpoint-keys": list(endpoint.keys.values_list("pk", flat=True)),
        "jobs": list(Job.objects.values_list("pk", flat=True)),
        "tokens": [token.pk],
    }
