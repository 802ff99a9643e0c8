"""The shared factories (tests/factories.py) make what their names say, through the services the app uses."""

from __future__ import annotations

import pytest

from apps.datasets import storage as data_files
from apps.registry.choices import ApprovalStatus
from tests.factories import (
    AutomlBuildFactory,
    DatasetVersionFactory,
    EndpointFactory,
    ModelVersionFactory,
    binary_frame,
    training_frame,
)

pytestmark = pytest.mark.django_db


def test_dataset_version_factory_stores_the_frame_as_the_next_version(media, project_a, ds_user) -> None:
    first = DatasetVersionFactory(project=project_a, created_by=ds_user, frame=training_frame(30), name="churn")
    second = DatasetVersionFactory(project=project_a, frame=training_frame(40), name="churn")
    assert (first.number, second.number, second.dataset_id) == (1, 2, first.dataset_id)
    assert second.row_count == 40 and first.created_by == ds_user
    assert list(data_files.read_frame(first.file).columns) == ["x1", "x2", "colour", "churn"]


def test_model_version_and_endpoint_factories_deploy_an_approved_version(media, project_a, mlops_user) -> None:
    version = ModelVersionFactory(project=project_a, created_by=mlops_user, approved_by=mlops_user)
    assert version.approval_status == ApprovalStatus.APPROVED and version.group.name == "churn"
    endpoint = EndpointFactory(model_version=version, created_by=mlops_user, name="churn-live")
    assert endpoint.project == project_a and endpoint.raw_key.startswith(endpoint.keys.get().prefix)
    assert [v.model_version_id for v in endpoint.variants.all()] == [version.pk]


def test_automl_build_factory_trains_a_finished_build(media, project_a, ds_user) -> None:
    build = AutomlBuildFactory(project=project_a, created_by=ds_user, frame=binary_frame(), target="churn")
    assert build.problem_type == "binary" and build.best_candidate and build.artifact_id
    assert build.dataset_version.row_count == 120
