"""The `labeling_job` factory other helpers build on: a job ready for the queue, its team holding the workers."""

from __future__ import annotations

import pytest

from tests.factories import ProjectFactory, UserFactory, labeling_job

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("task_type", ["text_classification", "bounding_box", "rating", "ranking"])
def test_factory_builds_an_active_job_with_items_and_a_team(task_type: str) -> None:
    project = ProjectFactory()
    worker = UserFactory(personas=["labeler"])
    job = labeling_job(project, workers=[worker], task_type=task_type, n_items=4)
    assert job.status == "active" and job.item_count == 4
    assert list(job.items.values_list("position", flat=True)) == [0, 1, 2, 3]
    assert list(job.team.members.all()) == [worker] and job.team.project == project
    assert job.workers_per_item == (5 if task_type == "bounding_box" else 3)
    assert (job.criteria != []) == (task_type == "rating")
