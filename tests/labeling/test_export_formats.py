"""Each export format's exact shape on small hand-made jobs (items consolidated as the engine writes them,
answer-shaped), parsed back: the SageMaker augmented manifest's keys and metadata, CSV (formulas neutralised, a yes/no
label as written), COCO validated structurally, CoNLL's BIO tags on a known sentence, preference pairs, and the
formats a task type refuses."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.labeling.models import LabelingItem, LabelingJob
from apps.labeling.services import export as ex
from tests.factories import UserFactory, labeling_job

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def consolidate(job: LabelingJob, position: int, answer: dict[str, Any], **fields: Any) -> LabelingItem:
    """Mark an item consolidated as the engine (or automated labeling, or a reviewer) would."""
    values = {"label_source": "human", "confidence": 0.9, "labeled_at": WHEN, "is_open": False, **fields}
    LabelingItem.objects.filter(job=job, position=position).update(consolidated=answer, **values)
    return LabelingItem.objects.get(job=job, position=position)


def body(stream: ex.ExportStream) -> bytes:
    return b"".join(stream.chunks)


def lines(job: LabelingJob, fmt: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body(ex.export_stream(job=job, fmt=fmt)).decode().splitlines()]


@pytest.fixture
def project(project_a):  # type: ignore[no-untyped-def]
    return project_a


def text_job(project: Any, **kw: Any) -> LabelingJob:
    return labeling_job(
        project,
        task_type="text_classification",
        items=[{"text": "I liked it"}, {"text": '=HYPERLINK("x")'}, {"text": "meh"}, {"text": "so so"}],
        labels=["yes", "no"],
        attribute_name="liked",
        name="Sentiment, round 1",
        **kw,
    )


def test_manifest_text_classification_keys_and_metadata(project) -> None:
    job = text_job(project)
    consolidate(job, 0, {"label": "yes"}, confidence=0.87654)
    consolidate(job, 1, {"label": "no"}, label_source="auto", confidence=0.99)
    consolidate(job, 2, {"label": "yes"}, review_status="pending")  # waits for review: not exported as a label
    records = lines(job, "manifest")
    assert len(records) == 2  # item 3 has no label, item 2 waits for review
    first, second = records
    assert list(first) == ["source", "liked", "liked-metadata"]
    assert first["source"] == "I liked it"
    assert first["liked"] == 0  # the class index, as SageMaker writes it
    assert first["liked-metadata"] == {
        "class-name": "yes",
        "confidence": 0.8765,
        "class-map": {"0": "yes", "1": "no"},
        "type": "groundtruth/text-classification",
        "job-name": "Sentiment, round 1",
        "human-annotated": "yes",
        "creation-date": "2026-03-04T05:06:07.123456",
    }
    assert second["liked"] == 1
    assert second["liked-metadata"]["class-name"] == "no"  # a yes/no label comes back as written
    assert second["liked-metadata"]["human-annotated"] == "no"  # automated labeling
    stream = ex.export_stream(job=job, fmt="manifest")
    assert stream.content_type == "application/jsonlines"
    assert stream.filename == f"sentiment-round-1-{job.pk}.manifest"


def test_manifest_reviewed_label_is_human_and_adjusted(project) -> None:
    job = text_job(project)
    consolidate(job, 0, {"label": "no"}, label_source="reviewed", review_status="adjusted")
    (record,) = lines(job, "manifest")
    assert record["liked-metadata"]["human-annotated"] == "yes"
    assert record["liked-metadata"]["adjustment-status"] == "adjusted"


def test_manifest_multi_label_indexes_and_confidence_map(project) -> None:
    job = labeling_job(
        project,
        task_type="text_classification_multi",
        items=[{"text": "quick and kind"}],
        labels=["fast", "rude", "kind"],
        attribute_name="tags",
    )
    consolidate(
        job, 0, {"labels": ["fast", "kind"]}, consolidation_info={"per_label": {"fast": 0.8, "rude": 0.1, "kind": 0.7}}
    )
    (record,) = lines(job, "manifest")
    assert record["tags"] == [0, 2]
    meta = record["tags-metadata"]
    assert meta["confidence-map"] == {"0": 0.8, "2": 0.7}
    assert meta["class-map"] == {"0": "fast", "1": "rude", "2": "kind"}
    assert meta["type"] == "groundtruth/text-classification-multilabel"


def test_manifest_tabular_columns_and_a_clash_refused(project) -> None:
    job = labeling_job(
        project,
        task_type="tabular_classification",
        items=[{"row": {"age": 41, "plan": "gold"}}, {"row": {"age": 7, "plan": "-1"}}],
        labels=["churn", "stay"],
        attribute_name="outcome",
    )
    consolidate(job, 1, {"label": "stay"})
    (record,) = lines(job, "manifest")
    assert record == {
        "age": 7,
        "plan": "-1",
        "outcome": 1,
        "outcome-metadata": record["outcome-metadata"],
    }
    assert record["outcome-metadata"]["type"] == "atelier/tabular-classification"
    clash = labeling_job(
        project,
        task_type="tabular_classification",
        items=[{"row": {"label": "x"}}],
        labels=["a", "b"],
        attribute_name="label",
    )
    with pytest.raises(ValidationError) as err:
        ex.export_stream(job=clash, fmt="manifest")
    assert "'label'" in err.value.message_dict["format"][0]


def test_manifest_image_source_ref_and_boxes(project) -> None:
    image = {"image": "projects/1/labeling/5/a.png", "name": "a.png", "width": 40, "height": 30}
    job = labeling_job(project, task_type="bounding_box", items=[image], labels=["dog", "bone"], attribute_name="bb")
    boxes = [
        {"left": 1.0, "top": 2.0, "width": 10.0, "height": 5.0, "label": "bone", "confidence": 0.75},
        {"left": 20.0, "top": 3.0, "width": 4.0, "height": 6.0, "label": "dog", "confidence": 0.5},
    ]
    consolidate(job, 0, {"boxes": boxes})
    (record,) = lines(job, "manifest")
    assert record["source-ref"] == "projects/1/labeling/5/a.png"
    assert record["bb"] == {
        "image_size": [{"width": 40, "height": 30, "depth": 3}],
        "annotations": [
            {"class_id": 1, "left": 1.0, "top": 2.0, "width": 10.0, "height": 5.0},
            {"class_id": 0, "left": 20.0, "top": 3.0, "width": 4.0, "height": 6.0},
        ],
    }
    assert record["bb-metadata"]["objects"] == [{"confidence": 0.75}, {"confidence": 0.5}]
    assert record["bb-metadata"]["class-map"] == {"0": "dog", "1": "bone"}
    assert record["bb-metadata"]["type"] == "groundtruth/object-detection"


def test_coco_is_structurally_valid(project) -> None:
    images = [{"image": f"projects/1/labeling/5/{n}.png", "name": f"{n}.png", "width": 40, "height": 30} for n in "abc"]
    job = labeling_job(project, task_type="bounding_box", items=images, labels=["dog", "bone"])
    consolidate(
        job, 0, {"boxes": [{"left": 1, "top": 2, "width": 10, "height": 5, "label": "bone", "confidence": 0.7}]}
    )
    consolidate(
        job,
        2,
        {
            "boxes": [
                {"left": 0, "top": 0, "width": 4, "height": 4, "label": "dog", "confidence": 0.9},
                {"left": 5, "top": 5, "width": 2, "height": 3, "label": "dog", "confidence": 0.6},
            ]
        },
    )
    raw = body(ex.export_stream(job=job, fmt="coco"))
    coco = json.loads(raw)
    assert set(coco) == {"info", "licenses", "categories", "images", "annotations"}
    assert coco["categories"] == [
        {"id": 1, "name": "dog", "supercategory": ""},
        {"id": 2, "name": "bone", "supercategory": ""},
    ]
    assert [(i["id"], i["file_name"], i["width"], i["height"]) for i in coco["images"]] == [
        (1, "a.png", 40, 30),
        (3, "c.png", 40, 30),
    ]
    image_ids = {i["id"] for i in coco["images"]}
    category_ids = {c["id"] for c in coco["categories"]}
    ids = [a["id"] for a in coco["annotations"]]
    assert len(ids) == len(set(ids)) == 3
    for a in coco["annotations"]:
        assert a["image_id"] in image_ids and a["category_id"] in category_ids
        _, _, w, h = a["bbox"]
        assert all(isinstance(v, float) for v in a["bbox"]) and w > 0 and h > 0
        assert a["area"] == pytest.approx(w * h)
        assert a["iscrowd"] == 0
    first = coco["annotations"][0]
    assert (first["image_id"], first["category_id"], first["bbox"], first["score"]) == (
        1,
        2,
        [1.0, 2.0, 10.0, 5.0],
        0.7,
    )


def test_conll_bio_tags_on_a_known_sentence(project) -> None:
    job = labeling_job(
        project,
        task_type="named_entity",
        items=[{"text": "Ada Lovelace lived in London"}, {"text": "Nothing  here"}, {"text": "New York, said Ada."}],
        labels=["PER", "LOC"],
    )
    consolidate(job, 0, {"spans": [{"start": 0, "end": 12, "label": "PER"}, {"start": 22, "end": 28, "label": "LOC"}]})
    consolidate(job, 1, {"spans": []})
    consolidate(job, 2, {"spans": [{"start": 0, "end": 8, "label": "LOC"}, {"start": 15, "end": 18, "label": "PER"}]})
    text = body(ex.export_stream(job=job, fmt="conll")).decode()
    assert text == (
        "Ada\tB-PER\nLovelace\tI-PER\nlived\tO\nin\tO\nLondon\tB-LOC\n"
        "\n"
        "Nothing\tO\nhere\tO\n"
        "\n"
        "New\tB-LOC\nYork,\tI-LOC\nsaid\tO\nAda.\tB-PER\n"
    )


def test_bio_tags_two_adjacent_spans_each_begin() -> None:
    spans = [{"start": 0, "end": 3, "label": "PER"}, {"start": 4, "end": 8, "label": "PER"}]
    assert ex.bio_tags("Ada Love", spans) == [("Ada", "B-PER"), ("Love", "B-PER")]


def test_manifest_spans_entities(project) -> None:
    job = labeling_job(
        project, task_type="named_entity", items=[{"text": "Ada in Rome"}], labels=["PER", "LOC"], attribute_name="ner"
    )
    consolidate(
        job,
        0,
        {
            "spans": [
                {"start": 0, "end": 3, "label": "PER", "confidence": 0.9},
                {"start": 7, "end": 11, "label": "LOC", "confidence": 0.4},
            ]
        },
    )
    (record,) = lines(job, "manifest")
    assert record["source"] == "Ada in Rome"
    assert record["ner"]["annotations"] == {
        "labels": [{"label": "PER"}, {"label": "LOC"}],
        "entities": [
            {"label": "PER", "startOffset": 0, "endOffset": 3},
            {"label": "LOC", "startOffset": 7, "endOffset": 11},
        ],
    }
    assert record["ner-metadata"]["entities"] == [{"confidence": 0.9}, {"confidence": 0.4}]
    assert record["ner-metadata"]["type"] == "groundtruth/text-span"


def test_csv_every_item_formulas_neutralised_labels_as_written(project) -> None:
    job = text_job(project)
    consolidate(job, 0, {"label": "yes"}, confidence=0.5)
    consolidate(job, 1, {"label": "no"}, label_source="auto", confidence=0.97)
    stream = ex.export_stream(job=job, fmt="csv")
    assert stream.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body(stream).decode())))
    assert list(rows[0]) == [
        "position",
        "source_ref",
        "text",
        "label",
        "confidence",
        "label_source",
        "human_annotated",
    ]
    assert [r["position"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[0] | {} == {
        "position": "0",
        "source_ref": "row 0",
        "text": "I liked it",
        "label": "yes",
        "confidence": "0.5",
        "label_source": "human",
        "human_annotated": "yes",
    }
    assert rows[1]["text"] == '\'=HYPERLINK("x")'  # a formula is neutralised, as every CSV download
    assert (rows[1]["label"], rows[1]["human_annotated"]) == ("no", "no")
    assert (rows[2]["label"], rows[2]["confidence"], rows[2]["label_source"]) == ("", "", "none")


def test_csv_tabular_columns_keep_their_names(project) -> None:
    job = labeling_job(
        project,
        task_type="tabular_classification",
        items=[{"row": {"label": "old", "n": -3}}, {"row": {"label": "@x", "n": 4}}],
        labels=["a", "b"],
        columns=["label", "n"],
    )
    consolidate(job, 0, {"label": "b"})
    rows = list(csv.DictReader(io.StringIO(body(ex.export_stream(job=job, fmt="csv")).decode())))
    assert list(rows[0])[:5] == ["position", "source_ref", "label", "n", "label_2"]
    assert (rows[0]["label"], rows[0]["n"], rows[0]["label_2"]) == ("old", "-3", "b")  # a number is not a formula
    assert rows[1]["label"] == "'@x"


def test_csv_streams_in_chunks_in_order(project, monkeypatch) -> None:
    monkeypatch.setattr(ex, "CHUNK", 2)
    job = labeling_job(project, task_type="text_classification", items=[{"text": f"t{i}"} for i in range(5)])
    for i in range(5):
        consolidate(job, i, {"label": "pos"})
    chunks = list(ex.export_stream(job=job, fmt="csv").chunks)
    assert len(chunks) == 3  # 2 + 2 + 1 items; the header once
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [r["text"] for r in rows] == [f"t{i}" for i in range(5)]
    assert len(list(ex.export_stream(job=job, fmt="manifest").chunks)) == 5


def test_csv_of_an_empty_job_is_its_header(project) -> None:
    job = labeling_job(project, task_type="text_classification", items=[])
    assert body(ex.export_stream(job=job, fmt="csv")).decode() == (
        "position,source_ref,text,label,confidence,label_source,human_annotated\n"
    )


def test_preference_pairwise_ranking_rewrite(project) -> None:
    pair = labeling_job(project, task_type="pairwise_preference", n_items=2)
    consolidate(pair, 0, {"preferred": 1, "scores": [0.2, 0.8]})
    assert lines(pair, "preference") == [{"prompt": "Say hello", "chosen": "Go away.", "rejected": "Hello!"}]
    ranking = labeling_job(project, task_type="ranking")
    consolidate(ranking, 0, {"ranking": [2, 0, 1], "scores": [0.5, 0.1, 0.9]})
    assert lines(ranking, "preference") == [
        {"prompt": "Say hello", "chosen": "No.", "rejected": "Hello!"},
        {"prompt": "Say hello", "chosen": "No.", "rejected": "Hi."},
        {"prompt": "Say hello", "chosen": "Hello!", "rejected": "Hi."},
    ]
    rewrite = labeling_job(project, task_type="rewrite", n_items=1)
    consolidate(rewrite, 0, {"texts": ["Hello there!", "Hi, welcome."]}, confidence=None)
    assert lines(rewrite, "preference") == [
        {"prompt": "Say hello", "chosen": "Hello there!", "rejected": "Go away."},
        {"prompt": "Say hello", "chosen": "Hi, welcome.", "rejected": "Go away."},
    ]
    (record,) = lines(rewrite, "manifest")
    assert record["prompt"] == "Say hello"
    assert record["responses"] == [{"text": "Go away.", "model": "m1"}]
    assert record["label"] == {"texts": ["Hello there!", "Hi, welcome."]}
    assert record["label-metadata"]["confidence"] is None
    assert record["label-metadata"]["type"] == "atelier/rewrite"


def test_rating_has_no_preference_export(project) -> None:
    job = labeling_job(project, task_type="rating")
    with pytest.raises(ValidationError) as err:
        ex.export_stream(job=job, fmt="preference")
    message = err.value.message_dict["format"][0]
    assert "no preferred response" in message and "manifest, csv" in message


@pytest.mark.parametrize(
    ("task_type", "allowed"),
    [
        ("text_classification", ["manifest", "csv"]),
        ("named_entity", ["manifest", "csv", "conll"]),
        ("bounding_box", ["manifest", "csv", "coco"]),
        ("image_classification", ["manifest", "csv"]),
        ("pairwise_preference", ["manifest", "csv", "preference"]),
        ("rating", ["manifest", "csv"]),
    ],
)
def test_formats_offered_per_task_type(project, task_type, allowed) -> None:
    job = labeling_job(project, task_type=task_type, n_items=1)
    assert ex.allowed_formats(job) == allowed
    wrong = "coco" if "coco" not in allowed else "conll"
    with pytest.raises(ValidationError) as err:
        ex.export_stream(job=job, fmt=wrong)
    assert ", ".join(allowed) in err.value.message_dict["format"][0]


def test_api_wrong_format_is_a_400_naming_the_allowed_ones(project, api_for) -> None:
    user = UserFactory(personas=["data_scientist"], projects=[project])
    job = text_job(project)
    consolidate(job, 0, {"label": "yes"})
    api = api_for(user)
    bad = api.get(f"/api/labeling-jobs/{job.pk}/export/?format=coco")
    assert bad.status_code == 400
    assert bad.json()["errors"]["format"] == [
        "Format 'coco' does not fit for a text classification (one label) job; choose one of: manifest, csv."
    ]
    ok = api.get(f"/api/labeling-jobs/{job.pk}/export/?format=csv")
    assert ok.status_code == 200
    assert ok["Content-Disposition"].startswith("attachment")
    assert ok["X-Content-Type-Options"] == "nosniff"
    assert b"I liked it" in b"".join(ok.streaming_content)
    default = api.get(f"/api/labeling-jobs/{job.pk}/export/")
    (line,) = b"".join(default.streaming_content).decode().splitlines()
    assert json.loads(line)["liked"] == 0
    start = api.post(f"/api/labeling-jobs/{job.pk}/exports/", {"format": "conll"}, format="json")
    assert start.status_code == 400
    assert "choose one of: manifest, csv" in start.json()["errors"]["format"][0]
