"""Where a labeling job's items come from, as (position, data, source_ref) in order (LABELING.md "Item data"):

- a dataset version's rows: `{"text": ...}` for text tasks, `{"row": {column: value as the user wrote it}}` for
  tabular rows (yes/no stay yes/no: the version is read as written, apps/datasets/selectors.version_frame);
- uploaded images: the manifest apps/labeling/images.py wrote (each image already checked and re-encoded);
- a JSON Lines file of prompts with model responses (checked line by line: `prompts_check` names the line at fault);
- an earlier job of the project: its items with a consolidated label (label verification).
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError

from apps.core.storage import storage
from apps.labeling.choices import SourceKind, TaskType

Item = tuple[int, dict[str, Any], str]

TEXT_TYPES = (TaskType.TEXT_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION_MULTI, TaskType.NAMED_ENTITY)
IMAGE_TYPES = (TaskType.IMAGE_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION_MULTI, TaskType.BOUNDING_BOX)
PROMPT_TYPES = (TaskType.RATING, TaskType.PAIRWISE_PREFERENCE, TaskType.RANKING, TaskType.REWRITE)
SOURCE_OF_TYPE: dict[str, str] = {
    **{t.value: SourceKind.DATASET.value for t in (*TEXT_TYPES, TaskType.TABULAR_CLASSIFICATION)},
    **{t.value: SourceKind.IMAGES.value for t in IMAGE_TYPES},
    **{t.value: SourceKind.PROMPTS.value for t in PROMPT_TYPES},
    TaskType.LABEL_VERIFICATION.value: SourceKind.JOB.value,
}
# How many responses a line must hold, per task type (rating and rewrite use the first).
RESPONSES_NEEDED: dict[str, tuple[int, int]] = {
    TaskType.RATING: (1, 50),
    TaskType.REWRITE: (1, 50),
    TaskType.PAIRWISE_PREFERENCE: (2, 2),
    TaskType.RANKING: (2, 10),
}
MAX_TEXT_CHARS = 100_000
MAX_MODEL_CHARS = 200
CHUNK_ROWS = 5_000


def max_items() -> int:
    return int(settings.LABELING_MAX_ITEMS)


def json_value(value: Any) -> Any:
    """A cell as JSON: numbers as numbers, text as text, missing as null, dates as ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else (value if math.isfinite(value) else str(value))
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, pd.Timestamp | datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, pd.Timedelta | datetime.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple | np.ndarray):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


# --- dataset rows -----------------------------------------------------------------------------------------------


def dataset_frame(*, version: Any, columns: list[str]) -> pd.DataFrame:
    from apps.datasets import selectors as data_selectors

    return data_selectors.version_frame(version=version, as_written=True, columns=columns)


def dataset_items(*, version: Any, task_type: str, text_column: str, columns: list[str]) -> Iterator[Item]:
    wanted = [text_column] if task_type in TEXT_TYPES else list(columns)
    frame = dataset_frame(version=version, columns=wanted)
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        records = chunk.to_dict("records")
        for offset, record in enumerate(records):
            position = start + offset
            if task_type in TEXT_TYPES:
                text = json_value(record[text_column])
                data: dict[str, Any] = {"text": "" if text is None else str(text)}
            else:
                data = {"row": {str(c): json_value(record[c]) for c in wanted}}
            yield position, data, f"row {position}"


# --- prompts (JSON Lines) ---------------------------------------------------------------------------------------


def _response(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str):
        text, model = value, ""
    elif isinstance(value, dict) and isinstance(value.get("text"), str):
        text, model = value["text"], value.get("model", "")
        if model is None:
            model = ""
        if not isinstance(model, str):
            raise ValueError(f'{where}: a response\'s "model" must be text.')
    else:
        raise ValueError(f'{where}: each response must be text or {{"text": ..., "model": ...}}.')
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"{where}: a response is longer than {MAX_TEXT_CHARS:,} characters.")
    if len(model) > MAX_MODEL_CHARS:
        raise ValueError(f"{where}: a model name is longer than {MAX_MODEL_CHARS} characters.")
    return {"text": text, "model": model}


def prompt_line(line: bytes | str, number: int, task_type: str) -> dict[str, Any] | None:
    """One line as item data (None for a blank line); ValueError naming the line otherwise."""
    where = f"Line {number}"
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg}).") from exc
    if not isinstance(obj, dict):
        raise ValueError(f'{where}: each line must be an object {{"prompt": ..., "responses": [...]}}.')
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f'{where}: "prompt" must be non-empty text.')
    if len(prompt) > MAX_TEXT_CHARS:
        raise ValueError(f"{where}: the prompt is longer than {MAX_TEXT_CHARS:,} characters.")
    if "responses" in obj:
        raw = obj["responses"]
        if not isinstance(raw, list):
            raise ValueError(f'{where}: "responses" must be a list.')
    elif "response" in obj:
        raw = [obj["response"]]
    else:
        raise ValueError(f'{where}: "responses" (a list) or "response" is missing.')
    responses = [_response(r, where) for r in raw]
    low, high = RESPONSES_NEEDED.get(task_type, (1, 50))
    if not low <= len(responses) <= high:
        need = f"exactly {low}" if low == high else f"{low} to {high}"
        kind = TaskType(task_type).label
        raise ValueError(f"{where}: {kind} needs {need} responses; this line has {len(responses)}.")
    return {"prompt": prompt, "responses": responses}


def prompt_items(handle: IO[bytes], task_type: str) -> Iterator[Item]:
    """The file's items; ValueError naming the first line at fault."""
    position = 0
    for number, line in enumerate(handle, start=1):
        try:
            data = prompt_line(line, number, task_type)
        except UnicodeDecodeError as exc:
            raise ValueError(f"Line {number}: not UTF-8 text.") from exc
        if data is None:
            continue
        if position >= max_items():
            raise ValueError(f"More than {max_items():,} prompts (LABELING_MAX_ITEMS).")
        yield position, data, f"line {number}"
        position += 1


def prompts_check(handle: IO[bytes], task_type: str) -> int:
    """Lines with a prompt, once the whole file is checked (ValidationError on "file" naming the line)."""
    size = getattr(handle, "size", None)
    cap = int(settings.LABELING_MAX_PROMPTS_BYTES)
    if size is not None and size > cap:
        raise ValidationError({"file": f"The file is over the limit of {cap:,} bytes (LABELING_MAX_PROMPTS_BYTES)."})
    handle.seek(0)
    try:
        count = sum(1 for _ in prompt_items(handle, task_type))
    except ValueError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    finally:
        handle.seek(0)
    if count == 0:
        raise ValidationError({"file": "The file holds no prompts (one JSON object per line)."})
    return count


# --- images and earlier jobs -------------------------------------------------------------------------------------


def image_items(manifest_key: str) -> Iterator[Item]:
    from apps.labeling.images import manifest_read

    for position, entry in enumerate(manifest_read(manifest_key)):
        yield position, dict(entry), str(entry.get("name", ""))[:500]


def verification_items(source_job: Any) -> Iterator[Item]:
    """The earlier job's items that have a consolidated label, each with that label and its own id."""
    rows = source_job.items.exclude(consolidated=None).order_by("position").values_list("pk", "data", "consolidated")
    for position, (pk, data, consolidated) in enumerate(rows.iterator(chunk_size=2000)):
        yield position, {**dict(data or {}), "label": consolidated, "source_item": pk}, f"item {pk}"


def source_items(job: Any) -> Iterator[Item]:
    """The items of `job`'s source, in order."""
    if job.source_kind == SourceKind.DATASET:
        yield from dataset_items(
            version=job.dataset_version, task_type=job.task_type, text_column=job.text_column, columns=job.columns
        )
    elif job.source_kind == SourceKind.IMAGES:
        yield from image_items(job.source_file)
    elif job.source_kind == SourceKind.PROMPTS:
        with storage().open(job.source_file, "rb") as handle:
            yield from prompt_items(handle, job.task_type)
    elif job.source_kind == SourceKind.JOB:
        yield from verification_items(job.source_job)
    else:
        raise ValueError(f"Unknown source kind {job.source_kind!r}.")


def items_at(items: Iterable[Item], positions: set[int]) -> dict[int, dict[str, Any]]:
    """The data of the items at `positions` (for checking gold answers against their items)."""
    found: dict[int, dict[str, Any]] = {}
    for position, data, _ in items:
        if position in positions:
            found[position] = data
            if len(found) == len(positions):
                break
    return found
