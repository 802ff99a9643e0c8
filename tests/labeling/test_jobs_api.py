"""Creating labeling jobs through the API (apps/labeling/api/jobs.py, services/jobs.py): a text job prepared by its
Job; every bad input is a 400 naming the field with nothing written (no job, no Job, no stored file); reading,
updating, pausing, resuming, cancelling and deleting."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.core.storage import project_root, walk_files
from apps.jobs.models import Job
from apps.labeling.choices import JobStatus
from apps.labeling.models import LabelingItem, LabelingJob
from apps.labeling.services.export import export_start
from tests.factories import ModelVersionFactory, labeling_job, make_version
from tests.labeling.labeling_data import TEXTS, jsonl, team_of, text_frame, upload

pytestmark = pytest.mark.django_db

LIST = reverse("api:labeling-job-list")


@pytest.fixture
def setup(project_a: Any, ds_user: Any, labeler_user: Any, media: Any) -> dict[str, Any]:
    version = make_version(project_a, ds_user, text_frame(), name="reviews")
    team = team_of(project_a, labeler_user)
    return {"project": project_a, "version": version, "team": team, "user": ds_user}


def body(setup: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {
        "project": setup["project"].pk,
        "name": "Sentiment",
        "task_type": "text_classification",
        "team": setup["team"].pk,
        "dataset_version": setup["version"].pk,
        "text_column": "review",
        "labels": ["pos", "neg"],
    }
    out.update(changes)
    return {k: v for k, v in out.items() if v is not ...}


def nothing_written(project: Any) -> None:
    assert not LabelingJob.objects.exists()
    assert not Job.objects.filter(kind="labeling.prepare").exists()
    assert not [p for p, _ in walk_files(project_root(project.pk)) if "/labeling/" in p]


def test_a_text_job_is_created_preparing_and_its_job_makes_the_items(
    setup: dict[str, Any], api_for: Any, run_job: Any
) -> None:
    response = api_for(setup["user"]).post(LIST, body(setup, instructions="Pick **one**."), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "preparing" and data["prepare_job"]
    assert data["attribute_name"] == "sentiment" and data["workers_per_item"] == 3 and data["time_limit_s"] == 600
    assert data["instructions_html"] == "<p>Pick <strong>one</strong>.</p>\n"
    job = run_job(data["prepare_job"])
    assert job.status == "succeeded", job.message
    assert job.message == "5 items; the job is open for work."
    labeling = LabelingJob.objects.get(pk=data["id"])
    assert labeling.status == JobStatus.ACTIVE and labeling.item_count == 5
    items = list(labeling.items.order_by("position").values_list("position", "data", "source_ref", "is_open"))
    assert items == [(i, {"text": t}, f"row {i}", True) for i, t in enumerate(TEXTS)]
    detail = api_for(setup["user"]).get(reverse("api:labeling-job-detail", kwargs={"pk": labeling.pk})).json()
    assert detail["status"] == "active" and detail["item_count"] == 5


def test_bounding_boxes_default_to_five_workers(project_a: Any, ds_user: Any, labeler_user: Any, media: Any) -> None:
    from apps.labeling.services.jobs import labeling_job_create
    from tests.labeling.labeling_data import image_bytes

    job = labeling_job_create(
        project=project_a,
        created_by=ds_user,
        name="Boxes",
        task_type="bounding_box",
        team=team_of(project_a, labeler_user),
        source_kind="images",
        upload=[upload("a.png", image_bytes())],
        labels=["cat"],
    )
    assert job.workers_per_item == 5 and job.source_kind == "images"


BAD_INPUTS = [
    ({"name": ""}, "name"),
    ({"task_type": "sentiment"}, "task_type"),
    ({"source_kind": "images"}, "source_kind"),
    ({"labels": []}, "labels"),
    ({"labels": ["pos", "pos"]}, "labels"),
    ({"labels": ["pos", "Pos"]}, "labels"),
    ({"labels": ["pos", "   "]}, "labels"),
    ({"labels": ["pos", "x" * 101]}, "labels"),
    ({"labels": [f"l{i}" for i in range(201)]}, "labels"),
    ({"labels": ["pos", "line\nbreak"]}, "labels"),
    ({"labels": ["pos"]}, "labels"),
    ({"workers_per_item": 0}, "workers_per_item"),
    ({"workers_per_item": 11}, "workers_per_item"),
    ({"time_limit_s": 29}, "time_limit_s"),
    ({"time_limit_s": 86_401}, "time_limit_s"),
    ({"text_column": "nope"}, "text_column"),
    ({"text_column": ...}, "text_column"),
    ({"attribute_name": "bad name!"}, "attribute_name"),
    ({"attribute_name": "label-metadata"}, "attribute_name"),
    ({"criteria": ["helpfulness"]}, "criteria"),
    ({"instructions": "x" * 50_001}, "instructions"),
    ({"examples": [{"text": "a", "colour": "red"}]}, "examples"),
    ({"auto_labeling": {"target_accuracy": 2}}, "auto_labeling"),
    ({"gold": {"99": {"label": "pos"}}}, "gold"),
    ({"gold": {"0": {"label": "maybe"}}}, "gold"),
    ({"gold": "stars"}, "gold"),
    ({"gold": "review"}, "gold"),
    ({"task_type": "tabular_classification", "columns": ["stars", "nope"]}, "columns"),
    ({"dataset_version": ...}, "dataset_version"),
    ({"team": 999_999}, "team"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_INPUTS, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_INPUTS)])
def test_each_bad_input_is_a_400_naming_its_field_and_nothing_is_written(
    setup: dict[str, Any], api_for: Any, changes: dict[str, Any], field: str
) -> None:
    response = api_for(setup["user"]).post(LIST, body(setup, **changes), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert response.json()["detail"].startswith(f"{field}: ")
    nothing_written(setup["project"])


def test_the_gold_column_must_hold_labels_and_stay_hidden(setup: dict[str, Any], api_for: Any, run_job: Any) -> None:
    response = api_for(setup["user"]).post(LIST, body(setup, gold="verdict"), format="json")
    assert response.status_code == 201, response.json()
    run_job(response.json()["prepare_job"])
    gold = list(LabelingItem.objects.filter(is_gold=True).order_by("position").values_list("position", "gold_answer"))
    assert gold == [
        (0, {"label": "pos"}),
        (1, {"label": "neg"}),
        (2, {"label": "neg"}),
        (3, {"label": "pos"}),
        (4, {"label": "neg"}),
    ]


def test_gold_answers_by_position_are_validated_and_marked(setup: dict[str, Any], api_for: Any, run_job: Any) -> None:
    response = api_for(setup["user"]).post(
        LIST, body(setup, gold={"1": {"label": "neg"}, "3": {"label": "pos"}}), format="json"
    )
    assert response.status_code == 201, response.json()
    run_job(response.json()["prepare_job"])
    items = LabelingItem.objects.order_by("position")
    assert [(i.position, i.is_gold, i.gold_answer) for i in items if i.is_gold] == [
        (1, True, {"label": "neg"}),
        (3, True, {"label": "pos"}),
    ]


def test_a_team_of_another_project_is_refused(setup: dict[str, Any], api_for: Any, project_b: Any) -> None:
    other = team_of(project_b, name="Elsewhere")
    response = api_for(setup["user"]).post(LIST, body(setup, team=other.pk), format="json")
    assert response.status_code == 400 and "team" in response.json()["errors"]
    nothing_written(setup["project"])


def test_a_dataset_version_of_another_project_is_a_404(
    setup: dict[str, Any], api_for: Any, project_b: Any, outsider: Any
) -> None:
    foreign = make_version(project_b, outsider, text_frame(), name="bravo reviews")
    response = api_for(setup["user"]).post(LIST, body(setup, dataset_version=foreign.pk), format="json")
    assert response.status_code == 404
    nothing_written(setup["project"])


def test_pre_annotation_needs_a_model_that_reads_the_rows(setup: dict[str, Any], api_for: Any) -> None:
    model = ModelVersionFactory(project=setup["project"], created_by=setup["user"])  # reads x1, x2, colour
    response = api_for(setup["user"]).post(LIST, body(setup, pre_annotation_model=model.pk), format="json")
    assert response.status_code == 400
    assert "x1" in response.json()["errors"]["pre_annotation_model"][0]
    nothing_written(setup["project"])


def test_too_many_rows_for_the_cap(setup: dict[str, Any], api_for: Any, settings: Any) -> None:
    settings.LABELING_MAX_ITEMS = 4
    response = api_for(setup["user"]).post(LIST, body(setup), format="json")
    assert response.status_code == 400
    assert "LABELING_MAX_ITEMS" in response.json()["errors"]["dataset_version"][0]


def test_rating_needs_criteria_and_a_scale_of_2_to_10(setup: dict[str, Any], api_for: Any) -> None:
    api = api_for(setup["user"])
    lines = jsonl({"prompt": "Say hi", "response": "Hi!"})
    base = {
        "project": setup["project"].pk,
        "name": "Ratings",
        "task_type": "rating",
        "team": setup["team"].pk,
    }
    for extra, field in (({}, "criteria"), ({"criteria": '["helpfulness"]', "scale": "11"}, "scale")):
        response = api.post(LIST, {**base, **extra, "file": upload("p.jsonl", lines)}, format="multipart")
        assert response.status_code == 400 and field in response.json()["errors"], response.json()
    nothing_written(setup["project"])
    ok = api.post(
        LIST,
        {
            **base,
            "criteria": '["helpfulness", {"name": "humour", "description": "Is it funny?"}]',
            "scale": "7",
            "file": upload("p.jsonl", lines),
        },
        format="multipart",
    )
    assert ok.status_code == 201, ok.json()
    assert ok.json()["criteria"] == [
        {"name": "helpfulness", "description": ""},
        {"name": "humour", "description": "Is it funny?"},
    ]
    assert ok.json()["scale"] == 7 and ok.json()["labels"] == []


def test_multipart_labels_repeated_or_as_json_text(setup: dict[str, Any], api_for: Any) -> None:
    api = api_for(setup["user"])
    data = {k: v for k, v in body(setup).items() if k != "labels"}
    one = api.post(LIST, {**data, "labels": ["pos", "neg"]}, format="multipart")
    two = api.post(LIST, {**data, "name": "Second", "labels": '["pos", "neg", "mixed"]'}, format="multipart")
    assert one.status_code == 201 and one.json()["labels"] == ["pos", "neg"], one.json()
    assert two.status_code == 201 and two.json()["labels"] == ["pos", "neg", "mixed"], two.json()


def test_a_duplicate_name_in_the_project_is_refused(setup: dict[str, Any], api_for: Any) -> None:
    api = api_for(setup["user"])
    assert api.post(LIST, body(setup), format="json").status_code == 201
    again = api.post(LIST, body(setup, name=" sentiment "), format="json")
    assert again.status_code == 400 and "name" in again.json()["errors"]
    assert LabelingJob.objects.count() == 1


# --- update, status, delete ---------------------------------------------------------------------------------------


def test_patch_changes_what_may_change_and_refuses_the_rest(project_a: Any, ds_user: Any, api_for: Any) -> None:
    job = labeling_job(project_a, created_by=ds_user)
    url = reverse("api:labeling-job-detail", kwargs={"pk": job.pk})
    api = api_for(ds_user)
    ok = api.patch(url, {"name": "Renamed", "instructions": "# New", "time_limit_s": 120}, format="json")
    assert ok.status_code == 200, ok.json()
    assert (ok.json()["name"], ok.json()["instructions_html"], ok.json()["time_limit_s"]) == (
        "Renamed",
        "<h1>New</h1>\n",
        120,
    )
    for bad, field in (
        ({"labels": ["a", "b"]}, "labels"),
        ({"time_limit_s": 5}, "time_limit_s"),
        ({"status": "completed"}, "status"),
    ):
        response = api.patch(url, bad, format="json")
        assert response.status_code == 400 and field in response.json()["errors"], response.json()
    job.refresh_from_db()
    assert job.labels == ["pos", "neg"] and job.time_limit_s == 120 and job.status == "active"


def test_pause_resume_cancel_and_refused_transitions(project_a: Any, ds_user: Any, api_for: Any) -> None:
    job = labeling_job(project_a, created_by=ds_user)
    url = reverse("api:labeling-job-status", kwargs={"pk": job.pk})
    api = api_for(ds_user)
    assert api.post(url, {"status": "active"}, format="json").json()["status"] == "active"  # already: unchanged
    assert api.post(url, {"status": "paused"}, format="json").json()["status"] == "paused"
    assert api.post(url, {"status": "active"}, format="json").json()["status"] == "active"
    assert api.post(url, {"status": "cancelled"}, format="json").json()["status"] == "cancelled"
    refused = api.post(url, {"status": "active"}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"]["status"] == [
        "A job that is cancelled cannot be set to active."
    ]
    assert api.post(url, {"status": "completed"}, format="json").status_code == 400


def test_cancelling_a_preparing_job_cancels_its_prepare_job(setup: dict[str, Any], api_for: Any, run_job: Any) -> None:
    api = api_for(setup["user"])
    created = api.post(LIST, body(setup), format="json").json()
    response = api.post(
        reverse("api:labeling-job-status", kwargs={"pk": created["id"]}), {"status": "cancelled"}, format="json"
    )
    assert response.json()["status"] == "cancelled"
    prepare = Job.objects.get(pk=created["prepare_job"])
    assert prepare.status == "cancelled"
    run_job(prepare)  # a redelivery of the cancelled Job does nothing
    assert not LabelingItem.objects.exists()


def test_a_job_prepared_after_it_was_cancelled_keeps_no_items(
    setup: dict[str, Any], api_for: Any, run_job: Any
) -> None:
    """The prepare service itself (not only the Job row) refuses a job that is no longer preparing."""
    from apps.jobs.runtime import JobContext
    from apps.labeling.services.prepare import prepare_run_execute

    created = api_for(setup["user"]).post(LIST, body(setup), format="json").json()
    LabelingJob.objects.filter(pk=created["id"]).update(status="cancelled")
    result = prepare_run_execute(JobContext(Job.objects.get(pk=created["prepare_job"])))
    assert result == {"labeling_job": created["id"], "items": 0}
    assert not LabelingItem.objects.exists()


def test_delete_removes_the_job_its_items_and_its_upload(
    django_capture_on_commit_callbacks: Any,
    project_a: Any,
    ds_user: Any,
    labeler_user: Any,
    api_for: Any,
    media: Any,
    run_job: Any,
) -> None:
    api = api_for(ds_user)
    team = team_of(project_a, labeler_user)
    created = api.post(
        LIST,
        {
            "project": project_a.pk,
            "name": "Prefs",
            "task_type": "rewrite",
            "team": team.pk,
            "file": upload("p.jsonl", jsonl({"prompt": "a", "response": "b"})),
        },
        format="multipart",
    ).json()
    run_job(created["prepare_job"])
    job = LabelingJob.objects.get(pk=created["id"])
    assert job.items.count() == 1 and job.source_file
    exported = export_start(job=job, fmt="csv", user=ds_user)  # a stored export goes with the job
    run_job(exported.job)
    exported.refresh_from_db()
    stored = [p for p, _ in walk_files(project_root(project_a.pk))]
    assert job.source_file in stored and exported.file in stored
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(reverse("api:labeling-job-detail", kwargs={"pk": job.pk}))
    assert response.status_code == 204
    left = [p for p, _ in walk_files(project_root(project_a.pk))]
    assert job.source_file not in left and exported.file not in left
    assert not LabelingJob.objects.filter(pk=job.pk).exists() and not LabelingItem.objects.exists()


def test_a_job_whose_labels_are_verified_cannot_be_deleted(project_a: Any, ds_user: Any, api_for: Any) -> None:
    source = labeling_job(project_a, created_by=ds_user)
    labeling_job(project_a, created_by=ds_user, team=source.team, task_type="label_verification", source_job=source)
    response = api_for(ds_user).delete(reverse("api:labeling-job-detail", kwargs={"pk": source.pk}))
    assert response.status_code == 400 and "job" in response.json()["errors"]
    assert LabelingJob.objects.filter(pk=source.pk).exists()


def test_the_list_filters_by_project_status_and_task_type(project_a: Any, ds_user: Any, api_for: Any) -> None:
    active = labeling_job(project_a, created_by=ds_user)
    paused = labeling_job(project_a, created_by=ds_user, team=active.team, status="paused", task_type="rating")
    api = api_for(ds_user)

    def ids(query: str) -> list[int]:
        response = api.get(LIST + query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [paused.pk, active.pk]
    assert ids("?status=paused") == [paused.pk]
    assert ids("?task_type=text_classification") == [active.pk]
    assert ids(f"?project={project_a.pk}") == [paused.pk, active.pk]
    assert api.get(LIST + "?status=nope").status_code == 400


def test_the_list_costs_the_same_queries_for_more_jobs(project_a: Any, ds_user: Any, api_for: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = api_for(ds_user)
    first = labeling_job(project_a, created_by=ds_user, n_items=1)
    api.get(LIST)  # the token's first use writes its last-used time

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(LIST).status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for _ in range(5):
        labeling_job(project_a, created_by=ds_user, team=first.team, n_items=1)
    assert queries() == few
