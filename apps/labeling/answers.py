"""Workers' answers: their shape per task type, validated on the way in, and compared with gold answers.

`validate_answer(job, item, raw)` checks one answer against the job (its labels, criteria, scale) and the item (its
text, image size, responses) and returns it normalised (only the documented keys; multi-label sets in the job's label
order). Any failure raises django's ValidationError({"answer": "<what is wrong, naming the key>"}).

Strings a worker writes (a preference's reason, a rewrite) are kept exactly as written: they are data, never
interpreted here or anywhere (templates escape them, the JS sets textContent). Only what cannot be stored or read back
as written is refused: NUL characters and lone surrogates (PostgreSQL's JSON refuses both).

`answers_match(task_type, a, b)` is the gold check; `ANSWER_EXAMPLES` holds one valid answer per task type, valid for
`EXAMPLE_JOB` and `EXAMPLE_ITEM_DATA` (tests and the API schema use them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError

from apps.labeling.choices import TaskType
from apps.labeling.engine.boxes import IOU_THRESHOLD, iou

REASON_MAX = 2000
REWRITE_MAX = 20_000
MAX_BOXES = 500
MAX_SPANS = 2000
BOX_TOLERANCE = 1e-6  # pixels: a box drawn to the very edge may round past it by a hair

SINGLE_LABEL = frozenset(
    {
        TaskType.TEXT_CLASSIFICATION,
        TaskType.IMAGE_CLASSIFICATION,
        TaskType.TABULAR_CLASSIFICATION,
        TaskType.LABEL_VERIFICATION,
    }
)
MULTI_LABEL = frozenset({TaskType.TEXT_CLASSIFICATION_MULTI, TaskType.IMAGE_CLASSIFICATION_MULTI})

# One valid answer per task type, for a job like EXAMPLE_JOB and an item holding EXAMPLE_ITEM_DATA of its kind.
EXAMPLE_LABELS = ["positive", "negative", "neutral"]
EXAMPLE_JOB: dict[str, Any] = {
    "labels": EXAMPLE_LABELS,
    "criteria": [{"name": "helpfulness", "description": ""}, {"name": "friendliness", "description": ""}],
    "scale": 5,
}
EXAMPLE_ITEM_DATA: dict[str, dict[str, Any]] = {
    TaskType.TEXT_CLASSIFICATION: {"text": "The service was quick and the staff kind."},
    TaskType.TEXT_CLASSIFICATION_MULTI: {"text": "The service was quick and the staff kind."},
    TaskType.NAMED_ENTITY: {"text": "Ada Lovelace met Charles Babbage in London."},
    TaskType.IMAGE_CLASSIFICATION: {"image": "labeling/1/cat.png", "name": "cat.png", "width": 640, "height": 480},
    TaskType.IMAGE_CLASSIFICATION_MULTI: {
        "image": "labeling/1/cat.png",
        "name": "cat.png",
        "width": 640,
        "height": 480,
    },
    TaskType.BOUNDING_BOX: {"image": "labeling/1/cat.png", "name": "cat.png", "width": 640, "height": 480},
    TaskType.TABULAR_CLASSIFICATION: {"row": {"age": 41, "job": "engineer"}},
    TaskType.LABEL_VERIFICATION: {"text": "The service was quick.", "label": {"label": "positive"}, "source_item": 1},
    TaskType.RATING: {"prompt": "Say hello.", "responses": [{"text": "Hello!", "model": "m1"}]},
    TaskType.PAIRWISE_PREFERENCE: {
        "prompt": "Say hello.",
        "responses": [{"text": "Hello!", "model": "m1"}, {"text": "Go away.", "model": "m2"}],
    },
    TaskType.RANKING: {
        "prompt": "Say hello.",
        "responses": [{"text": "Hi.", "model": "a"}, {"text": "Hello!", "model": "b"}, {"text": "No.", "model": "c"}],
    },
    TaskType.REWRITE: {"prompt": "Say hello.", "responses": [{"text": "Go away.", "model": "m1"}]},
}
ANSWER_EXAMPLES: dict[str, dict[str, Any]] = {
    TaskType.TEXT_CLASSIFICATION: {"label": "positive"},
    TaskType.TEXT_CLASSIFICATION_MULTI: {"labels": ["positive", "neutral"]},
    TaskType.NAMED_ENTITY: {
        "spans": [{"start": 0, "end": 12, "label": "positive"}, {"start": 17, "end": 32, "label": "negative"}]
    },
    TaskType.IMAGE_CLASSIFICATION: {"label": "negative"},
    TaskType.IMAGE_CLASSIFICATION_MULTI: {"labels": []},
    TaskType.BOUNDING_BOX: {
        "boxes": [{"left": 10.0, "top": 20.5, "width": 100.0, "height": 80.0, "label": "positive"}]
    },
    TaskType.TABULAR_CLASSIFICATION: {"label": "neutral"},
    TaskType.LABEL_VERIFICATION: {"label": "positive"},
    TaskType.RATING: {"ratings": {"helpfulness": 4, "friendliness": 5}},
    TaskType.PAIRWISE_PREFERENCE: {"preferred": 0, "reason": "The second one is rude."},
    TaskType.RANKING: {"ranking": [1, 0, 2]},
    TaskType.REWRITE: {"text": "Hello! How can I help?"},
}


def _fail(message: str) -> ValidationError:
    return ValidationError({"answer": message})


def _show(value: Any, limit: int = 60) -> str:
    """A value as quoted in a message (shortened; the message is JSON data, shown as text)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) and math.isfinite(value)


def _keys(obj: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = (), where: str = "") -> None:
    prefix = f"{where}: " if where else ""
    missing = [k for k in required if k not in obj]
    if missing:
        raise _fail(f"{prefix}missing {', '.join(repr(k) for k in missing)}.")
    unknown = sorted(str(k) for k in obj if k not in required and k not in optional)
    if unknown:
        raise _fail(f"{prefix}unknown key{'s' if len(unknown) > 1 else ''} {', '.join(_show(k) for k in unknown)}.")


def _storable_text(value: str, where: str) -> None:
    if "\x00" in value:
        raise _fail(f"{where} contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _fail(f"{where} is not valid Unicode (a lone surrogate).") from exc


def _job_labels(job: Any) -> list[str]:
    return [str(label) for label in (job.labels or [])]


def _label(value: Any, labels: list[str], where: str) -> str:
    if not isinstance(value, str):
        raise _fail(f"{where} must be a string (one of the job's labels), not {type(value).__name__}.")
    if value not in labels:
        raise _fail(f"{where} {_show(value)} is not one of the job's labels ({', '.join(map(repr, labels))}).")
    return value


# --- per task type ---------------------------------------------------------------------------------------------


def _single(job: Any, item: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    _keys(raw, ("label",))
    return {"label": _label(raw["label"], _job_labels(job), "label")}


def _multi(job: Any, item: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    _keys(raw, ("labels",))
    chosen = raw["labels"]
    if not isinstance(chosen, list):
        raise _fail("labels must be a list of the job's labels (may be empty).")
    labels = _job_labels(job)
    seen: set[str] = set()
    for i, value in enumerate(chosen):
        label = _label(value, labels, f"labels[{i}]")
        if label in seen:
            raise _fail(f"labels[{i}]: {_show(label)} is given twice.")
        seen.add(label)
    return {"labels": [label for label in labels if label in seen]}


def _spans(job: Any, item: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    _keys(raw, ("spans",))
    spans = raw["spans"]
    if not isinstance(spans, list):
        raise _fail("spans must be a list of {start, end, label}.")
    if len(spans) > MAX_SPANS:
        raise _fail(f"spans: at most {MAX_SPANS} spans.")
    text = (item.data or {}).get("text")
    length = len(text) if isinstance(text, str) else 0
    labels = _job_labels(job)
    out: list[dict[str, Any]] = []
    for i, span in enumerate(spans):
        where = f"spans[{i}]"
        if not isinstance(span, dict):
            raise _fail(f"{where} must be an object {{start, end, label}}.")
        _keys(span, ("start", "end", "label"), where=where)
        start, end = span["start"], span["end"]
        if not _is_int(start) or not _is_int(end):
            raise _fail(f"{where}: start and end must be whole numbers (character offsets).")
        if not 0 <= start < end <= length:
            raise _fail(f"{where}: needs 0 <= start < end <= {length} (the text's length); got {start}..{end}.")
        label = _label(span["label"], labels, f"{where}.label")
        if out and start < out[-1]["end"]:
            if start < out[-1]["start"]:
                raise _fail(f"{where}: spans must be sorted by start.")
            raise _fail(f"{where} overlaps spans[{i - 1}] (they may touch, not overlap).")
        out.append({"start": start, "end": end, "label": label})
    return {"spans": out}


def _boxes(job: Any, item: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    _keys(raw, ("boxes",))
    boxes = raw["boxes"]
    if not isinstance(boxes, list):
        raise _fail("boxes must be a list of {left, top, width, height, label}.")
    if len(boxes) > MAX_BOXES:
        raise _fail(f"boxes: at most {MAX_BOXES} boxes.")
    data = item.data or {}
    size: Any = (data.get("width"), data.get("height"))
    if not all(_is_number(v) for v in size):
        raise _fail("This item has no image size, so no box can be placed on it.")
    image_w, image_h = float(size[0]), float(size[1])
    labels = _job_labels(job)
    out: list[dict[str, Any]] = []
    for i, box in enumerate(boxes):
        where = f"boxes[{i}]"
        if not isinstance(box, dict):
            raise _fail(f"{where} must be an object {{left, top, width, height, label}}.")
        _keys(box, ("left", "top", "width", "height", "label"), where=where)
        for key in ("left", "top", "width", "height"):
            if not _is_number(box[key]):
                raise _fail(f"{where}.{key} must be a finite number (image pixels).")
        left, top, width, height = (float(box[k]) for k in ("left", "top", "width", "height"))
        if width <= 0 or height <= 0:
            raise _fail(f"{where}: width and height must be greater than 0.")
        if left < -BOX_TOLERANCE or top < -BOX_TOLERANCE:
            raise _fail(f"{where}: left and top must be 0 or more (inside the image).")
        if left + width > image_w + BOX_TOLERANCE or top + height > image_h + BOX_TOLERANCE:
            raise _fail(f"{where} goes past the image ({image_w:g} x {image_h:g} pixels).")
        label = _label(box["label"], labels, f"{where}.label")
        out.append({"left": left, "top": top, "width": width, "height": height, "label": label})
    return {"boxes": out}


def criterion_names(job: Any) -> list[str]:
    """The rating criteria's names (criteria are [{"name", "description"}]; a bare string is its own name)."""
    names = []
    for criterion in job.criteria or []:
        name = criterion.get("name") if isinstance(criterion, dict) else criterion
        if isinstance(name, str) and name:
            names.append(name)
    return names


def _ratings(job: Any, item: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    _keys(raw, ("ratings",))
    ratings = raw["ratings"]
    if not isinstance(ratings, dict):
        raise _fail("ratings must be an object {criterion: points}.")
    names = criterion_names(job)
    scale = int(job.scale or 5)
    missing = [n for n in names if n not in ratings]
    if missing:
        raise _fail(f"ratings: no rating for {', '.join(map(repr, missing))}.")
    unknown = sorted(str(k) for k in ratings if k not in names)
    if unknown:
        raise _fail(f"ratings: {', '.join(_show(k) for k in unknown)} is not a criterion of this job.")
    out = {}
    for name in names:
        value = ratings[name]
        if not _is_int(value) or not 1 <= value <= scale:
            raise _fail(f"ratings[{name!r}] must be a whole number from 1 to {scale}; got {_show(value)}.")
        out[name] = value
    return {"ratings": out}


def _responses(item: Any) -> list[Any]:
    responses = (item.data or {}).get("responses")
    return responses if isinstance(responses, list) else []


def _preference(job: Any, item: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    _keys(raw, ("preferred",), ("reason",))
    preferred = raw["preferred"]
    count = len(_responses(item)) or 2
    if not _is_int(preferred) or not 0 <= preferred < count:
        raise _fail(f"preferred must be 0 or 1 (the index of the better response); got {_show(preferred)}.")
    reason = raw.get("reason", "")
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        raise _fail("reason must be a string (may be empty).")
    if len(reason) > REASON_MAX:
        raise _fail(f"reason is {len(reason)} characters long; at most {REASON_MAX}.")
    _storable_text(reason, "reason")
    return {"preferred": preferred, "reason": reason}


def _ranking(job: Any, item: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    _keys(raw, ("ranking",))
    ranking = raw["ranking"]
    count = len(_responses(item))
    if not isinstance(ranking, list) or not all(_is_int(v) for v in ranking):
        raise _fail("ranking must be a list of response indices, best first.")
    if sorted(ranking) != list(range(count)):
        raise _fail(f"ranking must list each response index 0..{count - 1} exactly once, best first.")
    return {"ranking": list(ranking)}


def _rewrite(job: Any, item: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    _keys(raw, ("text",))
    text = raw["text"]
    if not isinstance(text, str):
        raise _fail("text must be a string (the rewritten response).")
    if not text.strip():
        raise _fail("text is empty: write the better response.")
    if len(text) > REWRITE_MAX:
        raise _fail(f"text is {len(text)} characters long; at most {REWRITE_MAX}.")
    _storable_text(text, "text")
    return {"text": text}


VALIDATORS: dict[str, Callable[[Any, Any, Mapping[str, Any]], dict[str, Any]]] = {
    **{t: _single for t in SINGLE_LABEL},
    **{t: _multi for t in MULTI_LABEL},
    TaskType.NAMED_ENTITY: _spans,
    TaskType.BOUNDING_BOX: _boxes,
    TaskType.RATING: _ratings,
    TaskType.PAIRWISE_PREFERENCE: _preference,
    TaskType.RANKING: _ranking,
    TaskType.REWRITE: _rewrite,
}


def validate_answer(job: Any, item: Any, raw: Any) -> dict[str, Any]:
    """`raw` checked against `job` and `item`; the normalised answer, or ValidationError({"answer": ...})."""
    validator = VALIDATORS.get(str(job.task_type))
    if validator is None:
        raise _fail(f"Unknown task type {_show(job.task_type)}.")
    if not isinstance(raw, dict):
        raise _fail(f"The answer must be an object, e.g. {ANSWER_EXAMPLES[str(job.task_type)]}.")
    return validator(job, item, raw)


# --- gold checks ------------------------------------------------------------------------------------------------


def _boxes_match(a: list[Mapping[str, Any]], b: list[Mapping[str, Any]]) -> bool:
    """A one-to-one matching of `a` and `b` where each pair has the same label and IoU >= 0.5 (Kuhn's matching)."""
    if len(a) != len(b):
        return False
    edges = [[j for j, y in enumerate(b) if x["label"] == y["label"] and iou(x, y) >= IOU_THRESHOLD] for x in a]
    match_of_b: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in match_of_b or augment(match_of_b[j], seen):
                match_of_b[j] = i
                return True
        return False

    return all(augment(i, set()) for i in range(len(a)))


def answers_match(task_type: str, a: Any, b: Any) -> bool:
    """Whether two answers of `task_type` agree, for gold checks (see LABELING.md). Malformed answers never match."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return False
    try:
        if task_type in SINGLE_LABEL:
            return isinstance(a["label"], str) and a["label"] == b["label"]
        if task_type in MULTI_LABEL:
            return set(a["labels"]) == set(b["labels"])
        if task_type == TaskType.NAMED_ENTITY:

            def spans(x: Any) -> set[tuple[Any, Any, Any]]:
                return {(s["start"], s["end"], s["label"]) for s in x["spans"]}

            return spans(a) == spans(b)
        if task_type == TaskType.BOUNDING_BOX:
            return _boxes_match(list(a["boxes"]), list(b["boxes"]))
        if task_type == TaskType.RATING:
            ra, rb = a["ratings"], b["ratings"]
            return set(ra) == set(rb) and all(abs(float(ra[k]) - float(rb[k])) <= 1 for k in ra)
        if task_type == TaskType.PAIRWISE_PREFERENCE:
            return _is_int(a["preferred"]) and a["preferred"] == b["preferred"]
        if task_type == TaskType.RANKING:
            return list(a["ranking"]) == list(b["ranking"])
    except (KeyError, TypeError, ValueError):
        return False
    return False  # rewrite (free text never matches) and unknown types
