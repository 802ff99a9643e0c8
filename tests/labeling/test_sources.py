"""Each source of items end to end through the Job `labeling.prepare` (run in this process; test_sources_jobs.py
runs one on a real worker): tabular rows keep the user's tokens, prompts in both shapes, images and a zip of images,
an earlier job's consolidated labels, pre-annotation by a registry model."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from apps.core.storage import storage
from apps.labeling.models import LabelingItem
from apps.labeling.services.jobs import labeling_job_create
from tests.factories import DatasetVersionFactory, labeling_job, register, training_frame
from tests.labeling.labeling_data import (
    animated_gif,
    image_bytes,
    jpeg_with_exif,
    jsonl,
    team_of,
    upload,
    zip_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx(project_a: Any, ds_user: Any, labeler_user: Any, media: Any) -> dict[str, Any]:
    return {"project": project_a, "created_by": ds_user, "team": team_of(project_a, labeler_user)}


def prepared(run_job: Any, job: Any) -> list[LabelingItem]:
    result = run_job(job.prepare_job)
    assert result.status == "succeeded", (result.message, result.log)
    job.refresh_from_db()
    assert job.status == "active"
    items = list(job.items.order_by("position"))
    assert job.item_count == len(items)
    return items


def test_tabular_rows_keep_the_users_values_as_written(ctx: dict[str, Any], run_job: Any) -> None:
    frame = pd.DataFrame({"age": [41, 35], "plan": ["gold", "basic"], "churned": ["yes", "no"], "score": [0.5, None]})
    version = DatasetVersionFactory(project=ctx["project"], created_by=ctx["created_by"], frame=frame, typed=True)
    assert {c["name"]: c["type"] for c in version.schema}["churned"] == "boolean"  # stored as booleans...
    job = labeling_job_create(
        **ctx,
        name="Rows",
        task_type="tabular_classification",
        dataset_version=version,
        labels=["keep", "drop"],
        columns=["age", "churned", "score"],
    )
    items = prepared(run_job, job)
    assert [i.data for i in items] == [  # ...shown as the user wrote them
        {"row": {"age": 41, "churned": "yes", "score": 0.5}},
        {"row": {"age": 35, "churned": "no", "score": None}},
    ]
    assert [i.source_ref for i in items] == ["row 0", "row 1"]


def test_prompts_in_both_shapes(ctx: dict[str, Any], run_job: Any) -> None:
    lines = jsonl(
        {"prompt": "Say hi", "responses": ["Hi!", {"text": "Hello.", "model": "m2"}]},
        "",
        {"prompt": "Say bye", "responses": [{"text": "Bye", "model": None}, "Ciao"]},
    )
    job = labeling_job_create(
        **ctx, name="Prefs", task_type="pairwise_preference", source_kind="prompts", upload=upload("p.jsonl", lines)
    )
    items = prepared(run_job, job)
    assert [i.data for i in items] == [
        {"prompt": "Say hi", "responses": [{"text": "Hi!", "model": ""}, {"text": "Hello.", "model": "m2"}]},
        {"prompt": "Say bye", "responses": [{"text": "Bye", "model": ""}, {"text": "Ciao", "model": ""}]},
    ]
    assert [i.source_ref for i in items] == ["line 1", "line 3"]


@pytest.mark.parametrize(
    ("task_type", "line", "message"),
    [
        (
            "pairwise_preference",
            {"prompt": "a", "responses": ["one"]},
            "Line 2: Pairwise preference (which response is better) needs exactly 2 responses; this line has 1.",
        ),
        (
            "ranking",
            {"prompt": "a", "responses": [str(i) for i in range(11)]},
            "Line 2: Ranking of responses needs 2 to 10 responses; this line has 11.",
        ),
        ("rating", {"prompt": "", "response": "x"}, 'Line 2: "prompt" must be non-empty text.'),
        ("rewrite", "{not json", "Line 2: not valid JSON"),
        ("rewrite", {"prompt": "a"}, 'Line 2: "responses" (a list) or "response" is missing.'),
        (
            "rewrite",
            {"prompt": "a", "responses": [{"txt": "b"}]},
            'Line 2: each response must be text or {"text": ..., "model": ...}.',
        ),
        ("rewrite", ["a list"], "Line 2: each line must be an object"),
    ],
)
def test_a_bad_prompt_line_is_named(ctx: dict[str, Any], task_type: str, line: Any, message: str) -> None:
    lines = jsonl({"prompt": "fine", "responses": ["r1", "r2"]}, line)
    extra = {"criteria": ["helpfulness"]} if task_type == "rating" else {}
    with pytest.raises(ValidationError) as caught:
        labeling_job_create(**ctx, name="Bad", task_type=task_type, upload=upload("p.jsonl", lines), **extra)
    assert caught.value.message_dict["file"][0].startswith(message)


def test_images_and_a_zip_of_images_become_items_re_encoded(ctx: dict[str, Any], run_job: Any) -> None:
    files = [
        upload("photo.jpg", jpeg_with_exif()),
        upload("anim.gif", animated_gif()),
        upload("web.webp", image_bytes("WEBP", (12, 9))),
        upload(
            "more.zip",
            zip_of({"a/one.png": image_bytes("PNG", (5, 4)), "__MACOSX/._one.png": b"junk", ".DS_Store": b"x"}),
        ),
    ]
    job = labeling_job_create(
        **ctx, name="Pets", task_type="image_classification_multi", upload=files, labels=["cat", "dog"]
    )
    items = prepared(run_job, job)
    assert [(i.data["name"], i.data["width"], i.data["height"]) for i in items] == [
        ("photo.jpg", 20, 40),  # the EXIF orientation (90°) applied, then dropped
        ("anim.gif", 10, 8),
        ("web.webp", 12, 9),
        ("a/one.png", 5, 4),
    ]
    suffixes = [i.data["image"].rsplit(".", 1)[1] for i in items]
    assert suffixes == ["jpg", "png", "png", "png"]
    with storage().open(items[0].data["image"], "rb") as fh:
        stored = fh.read()
    assert b"SecretCam" not in stored and b"Exif" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()


def test_label_verification_items_carry_the_earlier_label(ctx: dict[str, Any], run_job: Any) -> None:
    source = labeling_job(ctx["project"], team=ctx["team"], n_items=3)
    first, _, third = source.items.order_by("position")
    LabelingItem.objects.filter(pk=first.pk).update(consolidated={"label": "pos"}, confidence=0.9)
    LabelingItem.objects.filter(pk=third.pk).update(consolidated={"label": "neg"}, confidence=0.6)
    job = labeling_job_create(**ctx, name="Check", task_type="label_verification", source_job=source)
    assert job.labels == ["Correct", "Incorrect"]
    items = prepared(run_job, job)
    assert [i.data for i in items] == [
        {"text": "a fine day", "label": {"label": "pos"}, "source_item": first.pk},
        {"text": "a fine day", "label": {"label": "neg"}, "source_item": third.pk},
    ]


def test_label_verification_needs_consolidated_labels(ctx: dict[str, Any]) -> None:
    source = labeling_job(ctx["project"], team=ctx["team"], n_items=2)
    with pytest.raises(ValidationError) as caught:
        labeling_job_create(**ctx, name="Check", task_type="label_verification", source_job=source)
    assert "no consolidated labels" in caught.value.message_dict["source_job"][0]


def test_pre_annotation_suggests_the_models_label_with_its_confidence(ctx: dict[str, Any], run_job: Any) -> None:
    frame = training_frame(n=30, seed=3)
    version = DatasetVersionFactory(project=ctx["project"], created_by=ctx["created_by"], frame=frame, name="churners")
    model = register(ctx["project"], ctx["created_by"])  # a logistic regression on x1, x2, colour: no / yes
    job = labeling_job_create(
        **ctx,
        name="Churn",
        task_type="tabular_classification",
        dataset_version=version,
        columns=["x1", "x2", "colour"],
        labels=["no", "yes"],
        pre_annotation_model=model,
    )
    items = prepared(run_job, job)
    job.prepare_job.refresh_from_db()
    assert job.prepare_job.message == "30 items, 30 with a suggestion; the job is open for work."
    suggestions = [i.suggestion for i in items]
    assert all(s is not None and set(s) == {"label", "confidence"} for s in suggestions)
    assert {s["label"] for s in suggestions} <= {"no", "yes"} and len({s["label"] for s in suggestions}) == 2
    assert all(0.5 <= s["confidence"] <= 1.0 for s in suggestions)
    from apps.registry.loading import load_version

    labels, proba = load_version(model, native_code=False).predict(frame[["x1", "x2", "colour"]])
    assert [s["label"] for s in suggestions] == [str(v) for v in labels]
    assert [s["confidence"] for s in suggestions] == pytest.approx(proba.max(axis=1).tolist(), abs=1e-6)


def test_a_model_whose_classes_are_not_labels_is_refused(ctx: dict[str, Any]) -> None:
    version = DatasetVersionFactory(project=ctx["project"], created_by=ctx["created_by"], frame=training_frame(n=10))
    model = register(ctx["project"], ctx["created_by"])
    with pytest.raises(ValidationError) as caught:
        labeling_job_create(
            **ctx,
            name="Churn",
            task_type="tabular_classification",
            dataset_version=version,
            labels=["stay", "leave"],
            pre_annotation_model=model,
        )
    assert "'no', 'yes'" in caught.value.message_dict["pre_annotation_model"][0]


def test_items_are_written_in_chunks_with_progress(ctx: dict[str, Any], run_job: Any, monkeypatch: Any) -> None:
    from apps.jobs.runtime import JobContext
    from apps.labeling.services import prepare

    monkeypatch.setattr(prepare, "CHUNK", 7)
    reported: list[tuple[float, str | None]] = []
    original = JobContext.progress

    def spy(self: Any, fraction: float, message: str | None = None, **kw: Any) -> None:
        reported.append((round(fraction, 3), message))
        original(self, fraction, message, **kw)

    monkeypatch.setattr(JobContext, "progress", spy)
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(30)]})
    version = DatasetVersionFactory(project=ctx["project"], created_by=ctx["created_by"], frame=frame, name="many")
    job = labeling_job_create(
        **ctx, name="Many", task_type="named_entity", dataset_version=version, text_column="text", labels=["PER"]
    )
    items = prepared(run_job, job)
    assert [i.data["text"] for i in items] == [f"t{i}" for i in range(30)]
    written = [m for _, m in reported if m and m.endswith("items written")]
    assert written == [f"{n} of 30 items written" for n in (7, 14, 21, 28, 30)]
    assert sorted(LabelingItem.objects.filter(job=job).values_list("position", flat=True)) == list(range(30))
