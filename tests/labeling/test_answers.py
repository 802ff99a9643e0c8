"""apps/labeling/answers.py: every task type's answer shape, valid and invalid, and the gold check (no database)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.labeling.answers import (
    ANSWER_EXAMPLES,
    EXAMPLE_ITEM_DATA,
    EXAMPLE_JOB,
    answers_match,
    validate_answer,
)
from apps.labeling.choices import TaskType


def job_item(task_type: str, **job: Any) -> tuple[Any, Any]:
    fields = {**EXAMPLE_JOB, **job}
    return SimpleNamespace(task_type=task_type, **fields), SimpleNamespace(data=EXAMPLE_ITEM_DATA[task_type])


def check(task_type: str, raw: Any, **job: Any) -> dict[str, Any]:
    j, item = job_item(task_type, **job)
    return validate_answer(j, item, raw)


def refused(task_type: str, raw: Any, **job: Any) -> str:
    with pytest.raises(ValidationError) as exc:
        check(task_type, raw, **job)
    messages = exc.value.message_dict["answer"]
    assert messages and all(messages)
    return messages[0]


def test_every_task_type_has_a_valid_example() -> None:
    assert set(ANSWER_EXAMPLES) == set(TaskType.values)
    for task_type, example in ANSWER_EXAMPLES.items():
        assert check(task_type, example) == example, task_type


@pytest.mark.parametrize("task_type", sorted(TaskType.values))
def test_an_answer_must_be_an_object(task_type: str) -> None:
    for raw in (None, "pos", ["positive"], 3):
        assert "must be an object" in refused(task_type, raw)
    assert "missing" in refused(task_type, {})


@pytest.mark.parametrize(
    "task_type",
    ["text_classification", "image_classification", "tabular_classification", "label_verification"],
)
def test_single_label(task_type: str) -> None:
    assert check(task_type, {"label": "negative"}) == {"label": "negative"}
    assert "'Negative' is not one of the job's labels" in refused(task_type, {"label": "Negative"})
    assert "must be a string" in refused(task_type, {"label": 1})
    assert "unknown key 'extra'" in refused(task_type, {"label": "positive", "extra": 1})
    # A hostile label name is a label like another: matched exactly, stored as written.
    hostile = '<script>alert("x")</script>'
    assert check(task_type, {"label": hostile}, labels=[hostile, "ok"]) == {"label": hostile}
    assert "is not one of" in refused(task_type, {"label": "<script>"}, labels=[hostile, "ok"])


@pytest.mark.parametrize("task_type", ["text_classification_multi", "image_classification_multi"])
def test_multi_label(task_type: str) -> None:
    # Normalised to the job's label order; empty allowed.
    assert check(task_type, {"labels": ["neutral", "positive"]}) == {"labels": ["positive", "neutral"]}
    assert check(task_type, {"labels": []}) == {"labels": []}
    assert "labels[1]: 'positive' is given twice" in refused(task_type, {"labels": ["positive", "positive"]})
    assert "labels[0] 'joy' is not one of" in refused(task_type, {"labels": ["joy"]})
    assert "must be a list" in refused(task_type, {"labels": "positive"})


def test_named_entity_spans() -> None:
    t = "named_entity"  # text: "Ada Lovelace met Charles Babbage in London." (43 characters)
    ok = {"spans": [{"start": 0, "end": 3, "label": "positive"}, {"start": 3, "end": 12, "label": "negative"}]}
    assert check(t, ok) == ok  # touching spans are fine
    assert check(t, {"spans": []}) == {"spans": []}
    assert "got 5..5" in refused(t, {"spans": [{"start": 5, "end": 5, "label": "positive"}]})
    assert "0 <= start < end <= 43" in refused(t, {"spans": [{"start": 40, "end": 44, "label": "positive"}]})
    assert "0 <= start < end" in refused(t, {"spans": [{"start": -1, "end": 2, "label": "positive"}]})
    assert "whole numbers" in refused(t, {"spans": [{"start": 0.5, "end": 2, "label": "positive"}]})
    assert "whole numbers" in refused(t, {"spans": [{"start": True, "end": 2, "label": "positive"}]})
    overlap = {"spans": [{"start": 0, "end": 5, "label": "positive"}, {"start": 4, "end": 9, "label": "positive"}]}
    assert "spans[1] overlaps spans[0]" in refused(t, overlap)
    unsorted = {"spans": [{"start": 6, "end": 9, "label": "positive"}, {"start": 0, "end": 3, "label": "positive"}]}
    assert "sorted" in refused(t, unsorted)
    assert "spans[0].label 'PER' is not one of" in refused(t, {"spans": [{"start": 0, "end": 3, "label": "PER"}]})
    assert "spans[0]: missing 'label'" in refused(t, {"spans": [{"start": 0, "end": 3}]})
    assert "must be an object" in refused(t, {"spans": [[0, 3, "positive"]]})


def test_bounding_boxes() -> None:
    t = "bounding_box"  # image 640 x 480
    box = {"left": 0, "top": 0, "width": 640, "height": 480, "label": "positive"}
    assert check(t, {"boxes": [box]}) == {"boxes": [{**box, "left": 0.0, "top": 0.0, "width": 640.0, "height": 480.0}]}
    assert check(t, {"boxes": []}) == {"boxes": []}
    assert "goes past the image (640 x 480 pixels)" in refused(t, {"boxes": [{**box, "left": 1}]})
    assert "greater than 0" in refused(t, {"boxes": [{**box, "width": 0}]})
    assert "0 or more" in refused(t, {"boxes": [{**box, "top": -3, "height": 10}]})
    assert "boxes[0].left must be a finite number" in refused(t, {"boxes": [{**box, "left": float("nan")}]})
    assert "boxes[0].left must be a finite number" in refused(t, {"boxes": [{**box, "left": "10"}]})
    assert "boxes[0].label" in refused(t, {"boxes": [{**box, "label": "cat"}]})
    j = SimpleNamespace(task_type=t, **EXAMPLE_JOB)
    with pytest.raises(ValidationError, match="no image size"):
        validate_answer(j, SimpleNamespace(data={"text": "not an image"}), {"boxes": [box]})


def test_rating() -> None:
    t = "rating"  # criteria helpfulness, friendliness; scale 5
    assert check(t, {"ratings": {"friendliness": 1, "helpfulness": 5}}) == {
        "ratings": {"helpfulness": 5, "friendliness": 1}
    }
    assert "no rating for 'friendliness'" in refused(t, {"ratings": {"helpfulness": 3}})
    assert "'humour' is not a criterion" in refused(t, {"ratings": {"helpfulness": 3, "friendliness": 3, "humour": 2}})
    assert "from 1 to 5; got 6" in refused(t, {"ratings": {"helpfulness": 6, "friendliness": 3}})
    assert "from 1 to 5; got 0" in refused(t, {"ratings": {"helpfulness": 0, "friendliness": 3}})
    assert "from 1 to 5; got 2.5" in refused(t, {"ratings": {"helpfulness": 2.5, "friendliness": 3}})
    assert "from 1 to 7" in refused(t, {"ratings": {"helpfulness": 8, "friendliness": 3}}, scale=7)
    assert check(t, {"ratings": {"helpfulness": 7, "friendliness": 3}}, scale=7)["ratings"]["helpfulness"] == 7
    assert "must be an object" in refused(t, {"ratings": [4, 5]})


def test_pairwise_preference() -> None:
    t = "pairwise_preference"
    assert check(t, {"preferred": 1}) == {"preferred": 1, "reason": ""}
    assert check(t, {"preferred": 0, "reason": None}) == {"preferred": 0, "reason": ""}
    assert "0 or 1" in refused(t, {"preferred": 2})
    assert "0 or 1" in refused(t, {"preferred": True})
    assert "0 or 1" in refused(t, {"preferred": "0"})
    assert "at most 2000" in refused(t, {"preferred": 0, "reason": "x" * 2001})
    assert check(t, {"preferred": 0, "reason": "x" * 2000})["reason"] == "x" * 2000
    # Hostile text is kept as written: data, never interpreted.
    hostile = '<img src=x onerror="alert(1)"><svg><script>alert(2)</script></svg>{{ 7*7 }}'
    assert check(t, {"preferred": 0, "reason": hostile})["reason"] == hostile
    assert "NUL" in refused(t, {"preferred": 0, "reason": "a\x00b"})
    assert "lone surrogate" in refused(t, {"preferred": 0, "reason": "a\ud800b"})


def test_ranking() -> None:
    t = "ranking"  # three responses
    assert check(t, {"ranking": [2, 0, 1]}) == {"ranking": [2, 0, 1]}
    assert "exactly once" in refused(t, {"ranking": [0, 1]})
    assert "exactly once" in refused(t, {"ranking": [0, 0, 1]})
    assert "exactly once" in refused(t, {"ranking": [1, 2, 3]})
    assert "list of response indices" in refused(t, {"ranking": [0, 1, "2"]})
    assert "list of response indices" in refused(t, {"ranking": [0, 1, True]})


def test_rewrite() -> None:
    t = "rewrite"
    hostile = "<script>alert(1)</script>\n  Hello  "
    assert check(t, {"text": hostile}) == {"text": hostile}  # as written, whitespace included
    assert "empty" in refused(t, {"text": "   \n"})
    assert "at most 20000" in refused(t, {"text": "a" * 20_001})
    assert check(t, {"text": "a" * 20_000})["text"] == "a" * 20_000
    assert "must be a string" in refused(t, {"text": ["a"]})


def test_answers_match_single_and_multi() -> None:
    assert answers_match("text_classification", {"label": "a"}, {"label": "a"})
    assert not answers_match("text_classification", {"label": "a"}, {"label": "b"})
    assert answers_match("text_classification_multi", {"labels": ["a", "b"]}, {"labels": ["b", "a"]})
    assert not answers_match("image_classification_multi", {"labels": ["a"]}, {"labels": ["a", "b"]})
    assert not answers_match("text_classification", None, {"label": "a"})
    assert not answers_match("text_classification", {"labels": ["a"]}, {"label": "a"})  # malformed: never a match


def test_answers_match_spans_boxes_ratings_preferences() -> None:
    s1 = {"spans": [{"start": 0, "end": 3, "label": "PER"}]}
    assert answers_match("named_entity", s1, {"spans": [{"start": 0, "end": 3, "label": "PER", "confidence": 0.9}]})
    assert not answers_match("named_entity", s1, {"spans": [{"start": 0, "end": 4, "label": "PER"}]})
    a = {"left": 0, "top": 0, "width": 10, "height": 10, "label": "cat"}
    b = {"left": 2, "top": 0, "width": 10, "height": 10, "label": "cat"}  # IoU 80/120 = 0.67
    c = {"left": 5, "top": 0, "width": 10, "height": 10, "label": "cat"}  # IoU with a: 50/150 = 0.33
    far = {"left": 100, "top": 100, "width": 10, "height": 10, "label": "cat"}
    assert answers_match("bounding_box", {"boxes": [a]}, {"boxes": [b]})
    assert not answers_match("bounding_box", {"boxes": [a]}, {"boxes": [c]})
    assert not answers_match("bounding_box", {"boxes": [a]}, {"boxes": [{**b, "label": "dog"}]})
    assert not answers_match("bounding_box", {"boxes": [a]}, {"boxes": [a, far]})
    # One-to-one: a greedy pairing (a↔b first) would fail; the matching pairs a↔b2 and b↔a2.
    a2 = {"left": 1, "top": 0, "width": 10, "height": 10, "label": "cat"}  # matches a and b
    b2 = {"left": -3, "top": 0, "width": 10, "height": 10, "label": "cat"}  # matches a only (IoU 7/13 = 0.54)
    assert answers_match("bounding_box", {"boxes": [a, a2]}, {"boxes": [b, b2]})
    assert not answers_match("bounding_box", {"boxes": [a, a]}, {"boxes": [a, far]})
    r = {"ratings": {"helpfulness": 4, "humour": 2}}
    assert answers_match("rating", r, {"ratings": {"helpfulness": 5, "humour": 1}})
    assert not answers_match("rating", r, {"ratings": {"helpfulness": 2, "humour": 2}})
    assert not answers_match("rating", r, {"ratings": {"helpfulness": 4}})
    assert answers_match("pairwise_preference", {"preferred": 1, "reason": "x"}, {"preferred": 1, "reason": ""})
    assert not answers_match("pairwise_preference", {"preferred": 1}, {"preferred": 0})
    assert answers_match("ranking", {"ranking": [1, 0, 2]}, {"ranking": [1, 0, 2]})
    assert not answers_match("ranking", {"ranking": [1, 0, 2]}, {"ranking": [0, 1, 2]})
    assert not answers_match("rewrite", {"text": "same"}, {"text": "same"})
