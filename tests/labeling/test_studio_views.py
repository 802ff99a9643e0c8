"""Ground Truth's studio pages: the jobs list (empty state, status, progress, team), the new-job form (every option,
errors next to their field, values kept as written), a job's page (progress, agreement, charts from the stats, the
items with their label, confidence and source, actions with Post/Redirect/Get), the review page (pending first,
raw answers beside the label, accept and adjust), and who may do what (a Labeler 403, MLOps read-only, another
project's job 404). User content comes back escaped."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.labeling import charts
from apps.labeling.forms import LabelingJobForm
from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask
from apps.labeling.views.studio import answer_text
from tests.factories import DatasetVersionFactory, UserFactory, labeling_job

HOSTILE = "<script>alert(1)</script>"

pytestmark = pytest.mark.django_db


def _figure(html: str, name: str) -> dict[str, Any]:
    match = re.search(rf'<script id="fig-{name}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no figure {name}"
    return json.loads(match.group(1))


def _answered(job: LabelingJob, item: LabelingItem, worker: Any, answer: dict[str, Any], minutes: int = 0) -> None:
    now = timezone.now() - timedelta(minutes=minutes)
    LabelingTask.objects.create(
        job=job, item=item, worker=worker, status="answered", answer=answer, answered_at=now, expires_at=now
    )


def _stats() -> dict[str, Any]:
    return {
        "agreement": {"fleiss_kappa": 0.4123, "krippendorff_alpha": 0.3871, "level": "nominal"},
        "workers": [
            {
                "worker": "w1",
                "items": 3,
                "median_time_s": 4.5,
                "agreement": 0.9,
                "gold_items": 1,
                "gold_accuracy": 1.0,
                "reliability": 0.92,
            },
            {
                "worker": HOSTILE,
                "items": 2,
                "median_time_s": None,
                "agreement": 0.5,
                "gold_items": 0,
                "gold_accuracy": None,
                "reliability": None,
            },
        ],
        "labels": {"pos": 2, HOSTILE: 1},
        "models": [],
        "progress": {"items": 3, "answers": 5, "labeled": 3, "auto": 0, "reviewed": 0, "pending_review": 1},
        "auto_labeling": [],
    }


@pytest.fixture
def text_job(project_a, ds_user, labeler_user) -> LabelingJob:
    """A text job of project A with three items: two consolidated from answers (one waiting for review), one open."""
    w2 = UserFactory(username="walt", personas=["labeler"], projects=[project_a])
    job = labeling_job(
        project_a,
        created_by=ds_user,
        workers=[labeler_user, w2],
        items=[{"text": "great film"}, {"text": f"awful {HOSTILE}"}, {"text": "so-so"}],
        labels=["pos", "neg", HOSTILE],
        name="Film reviews",
        workers_per_item=2,
        review_required=True,
        stats=_stats(),
    )
    items = list(job.items.order_by("position"))
    _answered(job, items[0], labeler_user, {"label": "pos"}, minutes=90)
    _answered(job, items[0], w2, {"label": "pos"}, minutes=30)
    _answered(job, items[1], labeler_user, {"label": HOSTILE}, minutes=20)
    _answered(job, items[1], w2, {"label": "neg"}, minutes=10)
    LabelingItem.objects.filter(pk=items[0].pk).update(
        consolidated={"label": "pos"},
        confidence=0.97,
        label_source="human",
        review_status="accepted",
        answer_count=2,
        labeled_at=timezone.now(),
    )
    LabelingItem.objects.filter(pk=items[1].pk).update(
        consolidated={"label": HOSTILE},
        confidence=0.51,
        label_source="human",
        review_status="pending",
        answer_count=2,
        labeled_at=timezone.now(),
    )
    LabelingJob.objects.filter(pk=job.pk).update(labeled_count=2)
    job.refresh_from_db()
    return job


# --- the list -----------------------------------------------------------------------------------------------------


def test_list_empty_state_and_new_job_button(client_for, ds_user, mlops_user) -> None:
    page = client_for(ds_user).get(reverse("labeling:list")).content.decode()
    assert "No labeling job yet" in page
    assert reverse("labeling:create") in page
    # MLOps reads labeling jobs but does not create them: no button
    page = client_for(mlops_user).get(reverse("labeling:list")).content.decode()
    assert "No labeling job yet" in page and 'id="new-job"' not in page


def test_list_shows_status_progress_team_and_review(client_for, ds_user, text_job) -> None:
    r = client_for(ds_user).get(reverse("labeling:list"))
    assert r.status_code == 200
    page = r.content.decode()
    row = re.search(rf'<tr data-job="{text_job.pk}">(.*?)</tr>', page, re.S).group(1)  # type: ignore[union-attr]
    assert "Film reviews" in row and "Open for work" in row and text_job.team.name in row
    assert "2/3" in row  # labeled of items
    assert ">4<" in row.replace(" ", "")  # answers
    assert "1 to review" in row


def test_list_is_scoped_to_the_project(client_for, ds_user, outsider, project_b) -> None:
    labeling_job(project_b, created_by=outsider, name="Bravo secret labels")
    page = client_for(ds_user).get(reverse("labeling:list")).content.decode()
    assert "Bravo secret labels" not in page


def test_nav_entry_for_studio_not_for_labelers(client_for, ds_user, labeler_user) -> None:
    assert "Labeling jobs" in client_for(ds_user).get(reverse("labeling:list")).content.decode()
    assert client_for(labeler_user).get(reverse("labeling:list")).status_code == 403


# --- the new-job form ---------------------------------------------------------------------------------------------


def _version(project: Any, user: Any) -> Any:
    frame = pd.DataFrame({"review": ["good", "bad", "fine"], "stars": [5, 1, 3], "gold": ["pos", "neg", "pos"]})
    return DatasetVersionFactory(project=project, created_by=user, frame=frame, name="reviews")


def test_create_form_offers_every_option(client_for, ds_user, project_a, labeler_user) -> None:
    version = _version(project_a, ds_user)
    labeling_job(project_a, created_by=ds_user, workers=[labeler_user], name="Team maker")
    r = client_for(ds_user).get(reverse("labeling:create"))
    assert r.status_code == 200
    page = r.content.decode()
    for field in (
        "name",
        "task_type",
        "source_kind",
        "dataset_version",
        "text_column",
        "columns",
        "upload",
        "source_job",
        "labels_text",
        "criteria_text",
        "scale",
        "instructions",
        "examples_text",
        "team",
        "workers_per_item",
        "time_limit_s",
        "review_required",
        "hide_project",
        "pre_annotation_model",
        "attribute_name",
        "gold_column",
        "gold_text",
        "auto_labeling",
        "target_accuracy",
    ):
        assert f'name="{field}"' in page, field
    for value in ("text_classification", "pairwise_preference", "rating", "ranking", "rewrite", "bounding_box"):
        assert f'value="{value}"' in page
    rules = json.loads(re.search(r'id="labeling-form-rules" type="application/json">(.*?)</script>', page).group(1))  # type: ignore[union-attr]
    assert rules["columns"][str(version.pk)] == ["review", "stars", "gold"]
    assert rules["sources"]["pairwise_preference"] == ["prompts"]
    assert "text_classification" in rules["auto"]
    assert 'enctype="multipart/form-data"' in page
    assert "js/labeling_studio" in page


def test_create_needs_manage_labeling(client_for, mlops_user, labeler_user) -> None:
    assert client_for(mlops_user).get(reverse("labeling:create")).status_code == 403
    assert client_for(labeler_user).get(reverse("labeling:create")).status_code == 403
    assert client_for(mlops_user).post(reverse("labeling:create"), {}).status_code == 403


def test_create_refused_names_the_fields_and_keeps_values(client_for, ds_user, project_a) -> None:
    _version(project_a, ds_user)
    r = client_for(ds_user).post(
        reverse("labeling:create"),
        {"name": HOSTILE, "task_type": "pairwise_preference", "source_kind": "dataset", "labels_text": "Yes\nNo"},
    )
    assert r.status_code == 400
    page = r.content.decode()
    assert 'id="team-error"' in page and "Choose the work team" in page
    assert 'id="source_kind-error"' in page and "reads prompts" in page.lower()
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the name comes back, escaped
    assert "Yes\nNo</textarea>" in page  # the labels as written
    assert not LabelingJob.objects.exists()


def test_form_lines_parse_as_written() -> None:
    form = LabelingJobForm(
        {
            "name": "Chat ratings",
            "task_type": "rating",
            "source_kind": "prompts",
            "team": "7",
            "time_limit_s": "300",
            "criteria_text": "helpfulness: answers what was asked\n  humour :  \n",
            "examples_text": "Yes | a fine answer | note: short",
            "gold_text": "0: Yes\n2: No",
            "scale": "7",
        },
        {"upload": _jsonl()},
        versions=[],
        teams=[(7, "Annotators")],
        jobs=[],
        models=[],
        columns=[],
    )
    assert form.is_valid(), form.errors
    kw = form.service_kwargs(version=None, team="T", source_job=None, model=None)
    assert kw["criteria"] == (
        {"name": "helpfulness", "description": "answers what was asked"},
        {"name": "humour", "description": ""},
    )
    assert kw["scale"] == 7 and kw["labels"] == () and kw["source_kind"] == "prompts"
    assert kw["examples"] == ({"label": "Yes", "text": "a fine answer", "note": "note: short"},)
    assert kw["gold"] == {0: {"label": "Yes"}, 2: {"label": "No"}}
    assert kw["auto_labeling"] is None and kw["upload"] is not None and kw["dataset_version"] is None


def test_form_refuses_bad_lines() -> None:
    form = LabelingJobForm(
        {
            "name": "x",
            "task_type": "text_classification",
            "source_kind": "dataset",
            "team": "1",
            "time_limit_s": "600",
            "gold_text": "first: pos",
            "examples_text": "pos",
        },
        versions=[],
        teams=[(1, "A")],
        jobs=[],
        models=[],
        columns=[],
    )
    assert not form.is_valid()
    assert "item number" in form.errors["gold_text"][0]
    assert "label | example text" in form.errors["examples_text"][0]
    assert "Choose the dataset version" in form.errors["dataset_version"][0]


def _jsonl() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = json.dumps({"prompt": "Hi?", "responses": ["Hello", "Hey"]}).encode() + b"\n"
    return SimpleUploadedFile("prompts.jsonl", body, content_type="application/jsonl")


def test_create_a_text_job_redirects_to_its_page(client_for, ds_user, project_a, labeler_user) -> None:
    pytest.importorskip("apps.labeling.services.jobs")
    version = _version(project_a, ds_user)
    team = labeling_job(project_a, created_by=ds_user, workers=[labeler_user]).team
    r = client_for(ds_user).post(
        reverse("labeling:create"),
        {
            "name": "Review sentiment",
            "task_type": "text_classification",
            "source_kind": "dataset",
            "dataset_version": version.pk,
            "text_column": "review",
            "labels_text": "Yes\nNo\n",
            "team": team.pk,
            "time_limit_s": "600",
            "workers_per_item": "2",
            "review_required": "on",
            "instructions": "# Read *carefully*",
            "auto_labeling": "on",
            "target_accuracy": "90",
        },
    )
    job = LabelingJob.objects.get(name="Review sentiment")
    assert r.status_code == 302 and r["Location"] == reverse("labeling:detail", args=[job.pk])
    assert job.labels == ["Yes", "No"] and job.text_column == "review" and job.workers_per_item == 2
    assert job.review_required and job.dataset_version_id == version.pk
    assert job.auto_labeling.get("target_accuracy") == pytest.approx(0.9)


def test_instructions_preview_is_sanitised(client_for, ds_user, mlops_user) -> None:
    pytest.importorskip("apps.labeling.markdown")
    r = client_for(ds_user).post(reverse("labeling:preview"), {"instructions": f"**bold** {HOSTILE}"})
    assert r.status_code == 200
    body = r.content.decode()
    assert "<strong>bold</strong>" in body and "<script" not in body
    assert client_for(mlops_user).post(reverse("labeling:preview"), {"instructions": "x"}).status_code == 403


# --- a job's page -------------------------------------------------------------------------------------------------


def test_detail_shows_progress_agreement_charts_and_items(client_for, ds_user, text_job) -> None:
    r = client_for(ds_user).get(reverse("labeling:detail", args=[text_job.pk]))
    assert r.status_code == 200
    page = r.content.decode()
    assert re.search(r'id="count-items">3<', page) and re.search(r'id="count-answers">4<', page)
    assert re.search(r'id="count-labeled">2<', page) and re.search(r'id="count-pending">1<', page)
    assert "0.412" in page and "0.387" in page  # Fleiss' kappa, Krippendorff's alpha
    labels = _figure(page, "labels")
    assert labels["data"][0]["x"] == ["pos", "&lt;script&gt;alert(1)&lt;/script&gt;"]  # plotly text, escaped
    assert labels["data"][0]["y"] == [2, 1]
    conf = _figure(page, "confidence")
    assert sum(conf["data"][0]["y"]) == 2 and conf["data"][0]["y"][9] == 1 and conf["data"][0]["y"][5] == 1
    quality = _figure(page, "workers-quality")
    assert quality["data"][0]["x"] == [0.5, 0.9]  # fewest items at the bottom
    assert _figure(page, "answers")["data"][0]["y"] == [1, 3] or sum(_figure(page, "answers")["data"][0]["y"]) == 4
    # the items: consolidated label, confidence, source; user content escaped
    row = re.search(r'<tr data-item="\d+" data-position="1">(.*?)</tr>', page, re.S).group(1)  # type: ignore[union-attr]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row and "0.51" in row and "human" in row
    assert HOSTILE not in page
    assert "Waiting for review" in row
    # actions for a data scientist
    for action in ("pause", "consolidate", "autolabel", "cancel"):
        assert f'id="action-{action}"' in page
    assert 'id="export-dataset"' in page


def test_detail_items_filter_by_source(client_for, ds_user, text_job) -> None:
    page = client_for(ds_user).get(reverse("labeling:detail", args=[text_job.pk]) + "?source=none").content.decode()
    assert page.count('<tr data-item="') == 1 and 'data-position="2"' in page


def test_detail_preparing_shows_the_prepare_job_live(client_for, ds_user, project_a) -> None:
    from apps.jobs.models import Job

    prepare = Job.objects.create(
        kind="labeling.prepare",
        project=project_a,
        created_by=ds_user,
        status="running",
        progress=0.4,
        message="Reading rows",
    )
    job = labeling_job(project_a, created_by=ds_user, status="preparing", n_items=0, prepare_job=prepare)
    page = client_for(ds_user).get(reverse("labeling:detail", args=[job.pk])).content.decode()
    assert f'data-live-jobs="job:{prepare.pk}"' in page and f'data-job-final-reload="{prepare.pk}"' in page
    assert "Reading rows" in page and "No items yet" in page


def test_detail_read_only_for_mlops_and_404_for_another_project(client_for, mlops_user, outsider, text_job) -> None:
    page = client_for(mlops_user).get(reverse("labeling:detail", args=[text_job.pk])).content.decode()
    assert 'id="action-pause"' not in page and 'id="export-dataset"' not in page
    assert client_for(outsider).get(reverse("labeling:detail", args=[text_job.pk])).status_code == 404


def test_action_consolidate_redirects_and_starts_the_job(client_for, ds_user, text_job) -> None:
    client = client_for(ds_user)
    r = client.post(reverse("labeling:action", args=[text_job.pk]), {"action": "consolidate"})
    assert r.status_code == 302 and r["Location"] == reverse("labeling:detail", args=[text_job.pk])
    text_job.refresh_from_db()
    assert text_job.consolidate_job is not None and text_job.consolidate_job.kind == "labeling.consolidate"
    page = client.get(r["Location"]).content.decode()
    assert "Consolidation started" in page
    assert f'data-live-jobs="job:{text_job.consolidate_job_id}"' in page


def test_action_unknown_is_refused_in_words(client_for, ds_user, text_job) -> None:
    client = client_for(ds_user)
    r = client.post(reverse("labeling:action", args=[text_job.pk]), {"action": "explode"})
    assert r.status_code == 302
    assert "Choose an action" in client.get(r["Location"]).content.decode()


def test_action_pause_and_resume(client_for, ds_user, text_job) -> None:
    pytest.importorskip("apps.labeling.services.jobs")
    client = client_for(ds_user)
    client.post(reverse("labeling:action", args=[text_job.pk]), {"action": "pause"})
    text_job.refresh_from_db()
    assert text_job.status == "paused"
    client.post(reverse("labeling:action", args=[text_job.pk]), {"action": "resume"})
    text_job.refresh_from_db()
    assert text_job.status == "active"


def test_action_needs_manage_labeling_and_the_project(client_for, mlops_user, outsider, text_job) -> None:
    url = reverse("labeling:action", args=[text_job.pk])
    assert client_for(mlops_user).post(url, {"action": "consolidate"}).status_code == 403
    assert client_for(outsider).post(url, {"action": "consolidate"}).status_code == 404
    text_job.refresh_from_db()
    assert text_job.consolidate_job is None


# --- review -------------------------------------------------------------------------------------------------------


def test_review_pending_first_with_raw_answers(client_for, ds_user, text_job) -> None:
    page = client_for(ds_user).get(reverse("labeling:review", args=[text_job.pk])).content.decode()
    cards = re.findall(r'class="review-card" id="item-(\d+)"', page)
    assert len(cards) == 1  # only the pending one
    assert "lena</span>: &lt;script&gt;" in page and "walt</span>: neg" in page
    assert HOSTILE not in page
    page = client_for(ds_user).get(reverse("labeling:review", args=[text_job.pk]) + "?show=all").content.decode()
    positions = re.findall(r'class="review-card" id="item-\d+" data-item="\d+" data-position="(\d+)"', page)
    assert positions == ["1", "0"]  # pending first


def test_review_adjust_and_accept(client_for, ds_user, text_job) -> None:
    pytest.importorskip("apps.labeling.services.review")
    client = client_for(ds_user)
    item = text_job.items.get(position=1)
    url = reverse("labeling:review", args=[text_job.pk])
    r = client.post(url, {"item": item.pk, "decision": "adjust", "label": "neg"})
    assert r.status_code == 302 and r["Location"] == url
    item.refresh_from_db()
    assert item.consolidated == {"label": "neg"} and item.label_source == "reviewed"
    assert item.review_status == "adjusted" and item.reviewed_by == ds_user
    other = text_job.items.get(position=0)
    client.post(url, {"item": other.pk, "decision": "accept"})
    other.refresh_from_db()
    assert other.review_status == "accepted" and other.consolidated == {"label": "pos"}


def test_review_refuses_a_label_outside_the_set(client_for, ds_user, text_job) -> None:
    pytest.importorskip("apps.labeling.services.review")
    item = text_job.items.get(position=1)
    r = client_for(ds_user).post(
        reverse("labeling:review", args=[text_job.pk]), {"item": item.pk, "decision": "adjust", "label": "maybe"}
    )
    assert r.status_code == 400
    assert f'id="review-error-{item.pk}"' in r.content.decode()
    item.refresh_from_db()
    assert item.review_status == "pending"


def test_review_of_another_jobs_item_is_refused(client_for, ds_user, text_job, project_a) -> None:
    other = labeling_job(project_a, created_by=ds_user)
    item = other.items.first()
    client = client_for(ds_user)
    r = client.post(reverse("labeling:review", args=[text_job.pk]), {"item": item.pk, "decision": "accept"})
    assert r.status_code == 302
    assert "Choose an item of this job" in client.get(r["Location"]).content.decode()


# --- plain pieces ---------------------------------------------------------------------------------------------------


def test_answer_text_per_shape() -> None:
    assert answer_text("text_classification", {"label": "Yes"}) == "Yes"
    assert answer_text("text_classification_multi", {"labels": ["a", "b"]}) == "a, b"
    assert answer_text("pairwise_preference", {"preferred": 1, "reason": "shorter"}) == "response 2: shorter"
    assert answer_text("ranking", {"ranking": [2, 0, 1]}) == "3 > 1 > 2"
    assert answer_text("rating", {"ratings": {"help": {"mean": 4.5, "std": 0.5, "n": 2}}}) == "help 4.50"
    assert answer_text("rating", {"ratings": {"help": 4}}) == "help 4"
    assert answer_text("bounding_box", {"boxes": [{}, {}]}) == "2 boxes"
    assert answer_text("rewrite", {"texts": ["a"]}) == "1 rewrite"
    assert answer_text("text_classification", None) == ""


def test_charts_models_and_empty() -> None:
    stats = {
        "models": [
            {"model": "small", "score": 0.3, "wins": 1, "comparisons": 4},
            {"model": "big", "score": 0.7, "wins": 3, "comparisons": 4},
        ]
    }
    fig = charts.models_figure(stats)
    assert fig is not None and fig["data"][0]["x"] == ["big", "small"]
    assert charts.job_figures({}, confidences=[], answers=[]) == []
    assert charts.answers_over_time_figure([("2026-01-01T10:00:00", 3)]) is None
