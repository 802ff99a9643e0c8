"""Exports of a labeling job's consolidated labels, streamed item by item (chunks of items read by position: memory
stays constant whatever the job's size).

Formats (only those that fit the task type are offered; `allowed_formats`):
- ``manifest``: SageMaker Ground Truth's augmented manifest (JSON Lines), one line per labeled item: the item's source
  fields (``source`` for a text, the row's columns for a tabular row, ``source-ref`` = the stored key for an image,
  ``prompt`` / ``responses`` for prompts), then ``<attribute>`` = the label as SageMaker writes it (single label: the
  class index, with ``class-name`` and ``class-map``; multi-label: the list of indexes with ``confidence-map``; spans:
  ``annotations.entities`` with ``startOffset`` / ``endOffset``; boxes: ``image_size`` and ``annotations`` with
  ``class_id``, per-box ``objects`` confidences; feedback tasks: the consolidated answer as it is) and
  ``<attribute>-metadata`` (confidence, type, job-name, human-annotated "yes"/"no", creation-date).
- ``csv``: every item (position, source ref, the item's fields, label, confidence, label source, human-annotated),
  text cells neutralised against spreadsheet formulas (apps/core/csvio.py), as every CSV download.
- ``coco``: boxes as COCO object detection (images, annotations with ``bbox`` [x, y, w, h], categories from 1).
- ``conll``: spans as BIO tags on whitespace tokens, one ``token<TAB>tag`` line per token, a blank line between items.
- ``preference``: JSON Lines ``{"prompt", "chosen", "rejected"}`` as DPO and reward-model trainers read them.
  Pairwise: the preferred response against the other. Ranking: every ordered pair the consolidated ranking implies
  (N responses give N(N-1)/2 lines, best-ranked as chosen). Rewrite: each rewrite as chosen against the original
  response. Rating has no preferred response and is refused.
- ``dataset`` (a Job only): a new dataset version = the source version's columns plus the label, its confidence and
  whether a person labeled it, ready for Canvas; its lineage names the labeling job.

An item counts as labeled when it has a consolidated label that is not waiting for review.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import pandas as pd
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from apps.accounts.models import User
from apps.core.csvio import frame_to_csv_text
from apps.core.storage import project_path, storage
from apps.core.tempfiles import save_into_place, temp_path
from apps.datasets.choices import VersionKind
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start
from apps.labeling.answers import MULTI_LABEL, SINGLE_LABEL
from apps.labeling.choices import ExportFormat, LabelSource, ReviewStatus, TaskType
from apps.labeling.models import LabelingExport, LabelingItem, LabelingJob

CHUNK = 500
EXPORT_KIND = "labeling.export"

SINGLE, MULTI = SINGLE_LABEL, MULTI_LABEL
PREFERENCE_TYPES = frozenset({TaskType.PAIRWISE_PREFERENCE, TaskType.RANKING, TaskType.REWRITE})
DATASET_TYPES = frozenset({TaskType.TEXT_CLASSIFICATION, TaskType.TABULAR_CLASSIFICATION})

# SageMaker's `type` for its built-in task types; ours (no SageMaker counterpart) are named under "atelier/".
MANIFEST_TYPE = {
    TaskType.TEXT_CLASSIFICATION: "groundtruth/text-classification",
    TaskType.TEXT_CLASSIFICATION_MULTI: "groundtruth/text-classification-multilabel",
    TaskType.IMAGE_CLASSIFICATION: "groundtruth/image-classification",
    TaskType.IMAGE_CLASSIFICATION_MULTI: "groundtruth/image-classification-multilabel",
    TaskType.BOUNDING_BOX: "groundtruth/object-detection",
    TaskType.NAMED_ENTITY: "groundtruth/text-span",
    TaskType.LABEL_VERIFICATION: "groundtruth/label-verification",
    TaskType.TABULAR_CLASSIFICATION: "atelier/tabular-classification",
    TaskType.RATING: "atelier/rating",
    TaskType.PAIRWISE_PREFERENCE: "atelier/pairwise-preference",
    TaskType.RANKING: "atelier/ranking",
    TaskType.REWRITE: "atelier/rewrite",
}
CONTENT = {
    ExportFormat.MANIFEST: ("application/jsonlines", "manifest"),
    ExportFormat.CSV: ("text/csv; charset=utf-8", "csv"),
    ExportFormat.COCO: ("application/json", "coco.json"),
    ExportFormat.CONLL: ("text/plain; charset=utf-8", "conll"),
    ExportFormat.PREFERENCE: ("application/jsonlines", "preference.jsonl"),
}
TOKEN = re.compile(r"\S+")


@dataclass
class ExportStream:
    chunks: Iterator[bytes]
    content_type: str
    filename: str


# --- formats a job offers ---------------------------------------------------------------------------------------


def allowed_formats(job: LabelingJob, *, streamed: bool = False) -> list[str]:
    """The formats that fit the job's task type (in ExportFormat's order); `streamed`: without "dataset"."""
    task = job.task_type
    allowed = {ExportFormat.MANIFEST, ExportFormat.CSV}
    if task == TaskType.BOUNDING_BOX:
        allowed.add(ExportFormat.COCO)
    if task == TaskType.NAMED_ENTITY:
        allowed.add(ExportFormat.CONLL)
    if task in PREFERENCE_TYPES:
        allowed.add(ExportFormat.PREFERENCE)
    if task in DATASET_TYPES and job.dataset_version_id and not streamed:
        allowed.add(ExportFormat.DATASET)
    return [f.value for f in ExportFormat if f in allowed]


def clean_format(job: LabelingJob, fmt: Any, *, streamed: bool = False) -> str:
    """`fmt` if the job may be exported so; else ValidationError({"format": ...}) naming the formats it may."""
    value = str(fmt or "").strip().lower()
    allowed = allowed_formats(job, streamed=streamed)
    offered = ", ".join(allowed)
    if value == ExportFormat.PREFERENCE and job.task_type == TaskType.RATING:
        raise ValidationError(
            {
                "format": "A rating job has no preferred response (each response gets scores per criterion), so it "
                f"has no chosen/rejected pairs; export it as: {offered}."
            }
        )
    if value == ExportFormat.DATASET and streamed:
        raise ValidationError(
            {"format": "format 'dataset' makes a new dataset version: start it as an export job (POST .../exports/)."}
        )
    if value not in allowed:
        what = f"Unknown format {value!r}" if value not in ExportFormat.values else f"Format {value!r} does not fit"
        raise ValidationError(
            {"format": f"{what} for a {TaskType(job.task_type).label.lower()} job; choose one of: {offered}."}
        )
    return value


# --- items -----------------------------------------------------------------------------------------------------

ITEM_FIELDS = (
    "id",
    "position",
    "data",
    "source_ref",
    "consolidated",
    "confidence",
    "consolidation_info",
    "label_source",
    "review_status",
    "labeled_at",
)


def is_labeled(item: LabelingItem) -> bool:
    return item.consolidated is not None and item.review_status != ReviewStatus.PENDING


def iter_items(job: LabelingJob, *, labeled_only: bool = True, chunk: int | None = None) -> Iterator[LabelingItem]:
    """The job's items in position order, read `chunk` (default CHUNK) at a time (keyset on position: constant
    memory)."""
    chunk = chunk or CHUNK
    last = -1
    while True:
        query = LabelingItem.objects.filter(job_id=job.pk, position__gt=last).only(*ITEM_FIELDS)
        if labeled_only:
            query = query.filter(consolidated__isnull=False).exclude(review_status=ReviewStatus.PENDING)
        rows = list(query.order_by("position")[:chunk])
        if not rows:
            return
        yield from rows
        last = rows[-1].position


def human_annotated(item: LabelingItem) -> str:
    """SageMaker's flag: "yes" for a label people gave (consolidated or reviewed), "no" for automated labeling."""
    if not is_labeled(item):
        return ""
    return "no" if item.label_source == LabelSource.AUTO else "yes"


def _confidence(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _creation_date(item: LabelingItem) -> str | None:
    if item.labeled_at is None:
        return None
    return item.labeled_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _responses(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in data.get("responses") or []:
        out.append(r if isinstance(r, dict) else {"text": str(r), "model": ""})
    return out


def attribute_name(job: LabelingJob) -> str:
    return (job.attribute_name or "").strip() or slugify(job.name) or "label"


# --- source fields ---------------------------------------------------------------------------------------------


def _source_fields(data: dict[str, Any]) -> dict[str, Any]:
    """An item's data as the manifest's source fields (by the shape of the data, LABELING.md "Item data")."""
    if "row" in data and isinstance(data["row"], dict):
        out: dict[str, Any] = dict(data["row"])
    elif "image" in data:
        out = {"source-ref": data.get("image", "")}
    elif "prompt" in data:
        out = {"prompt": data.get("prompt", ""), "responses": _responses(data)}
    else:
        out = {"source": data.get("text", "")}
    if "source_item" in data:  # label verification: the earlier job's label under review
        out["source-label"] = data.get("label")
    return out


def _reserved_clash(job: LabelingJob) -> str | None:
    """A tabular column that would be overwritten by the manifest's label attribute."""
    if job.task_type != TaskType.TABULAR_CLASSIFICATION:
        return None
    attr = attribute_name(job)
    columns = list(job.columns or [])
    if not columns:
        first = LabelingItem.objects.filter(job_id=job.pk).order_by("position").values_list("data", flat=True).first()
        columns = list(((first or {}).get("row") or {}).keys())
    for column in columns:
        if column in (attr, f"{attr}-metadata"):
            return str(column)
    return None


# --- manifest ---------------------------------------------------------------------------------------------------


def _class_map(labels: list[str]) -> dict[str, str]:
    return {str(i): label for i, label in enumerate(labels)}


def manifest_record(job: LabelingJob, item: LabelingItem) -> dict[str, Any]:
    """One augmented-manifest object for a labeled item."""
    attr = attribute_name(job)
    labels = [str(x) for x in job.labels or []]
    index = {label: i for i, label in enumerate(labels)}
    c = item.consolidated or {}
    confidence = _confidence(item.confidence)
    task = job.task_type
    value: Any
    meta: dict[str, Any] = {}
    if task in SINGLE:
        label = c.get("label")
        value = index.get(str(label)) if label is not None else None
        meta = {"class-name": label, "confidence": confidence}
    elif task in MULTI:
        chosen = [x for x in c.get("labels") or []]
        value = [index[x] for x in chosen if x in index]
        per_label = (item.consolidation_info or {}).get("per_label") or {}
        meta = {
            "confidence-map": {
                str(index[x]): _confidence(per_label.get(x, item.confidence)) for x in chosen if x in index
            },
        }
    elif task == TaskType.NAMED_ENTITY:
        spans = c.get("spans") or []
        value = {
            "annotations": {
                "labels": [{"label": x} for x in labels],
                "entities": [{"label": s["label"], "startOffset": s["start"], "endOffset": s["end"]} for s in spans],
            }
        }
        meta = {"entities": [{"confidence": _confidence(s.get("confidence", item.confidence))} for s in spans]}
    elif task == TaskType.BOUNDING_BOX:
        boxes = c.get("boxes") or []
        data = item.data or {}
        value = {
            "image_size": [{"width": data.get("width"), "height": data.get("height"), "depth": 3}],
            "annotations": [
                {
                    "class_id": index.get(b["label"]),
                    "left": b["left"],
                    "top": b["top"],
                    "width": b["width"],
                    "height": b["height"],
                }
                for b in boxes
            ],
        }
        meta = {"objects": [{"confidence": _confidence(b.get("confidence", item.confidence))} for b in boxes]}
    else:  # rating, preference, ranking, rewrite: the consolidated answer as it is
        value = c
        meta = {"confidence": confidence}
    if task in SINGLE or task in MULTI or task == TaskType.BOUNDING_BOX:
        meta["class-map"] = _class_map(labels)
    meta.update(
        {
            "type": MANIFEST_TYPE.get(TaskType(task), f"atelier/{task}"),
            "job-name": job.name,
            "human-annotated": human_annotated(item),
            "creation-date": _creation_date(item),
        }
    )
    if item.review_status == ReviewStatus.ADJUSTED:
        meta["adjustment-status"] = "adjusted"
    return {**_source_fields(item.data or {}), attr: value, f"{attr}-metadata": meta}


def _json_line(obj: Any) -> bytes:
    """One JSON Lines line; U+2028 / U+2029 escaped too (JSON allows them raw, but readers that split lines on
    every Unicode line break, such as Python's str.splitlines, would cut the record)."""
    text = (
        json.dumps(obj, ensure_ascii=False, allow_nan=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )
    return (text + "\n").encode("utf-8")


def _manifest(job: LabelingJob) -> Iterator[bytes]:
    for item in iter_items(job):
        yield _json_line(manifest_record(job, item))


# --- CSV --------------------------------------------------------------------------------------------------------


def _field_columns(job: LabelingJob) -> list[str]:
    task = job.task_type
    if task == TaskType.TABULAR_CLASSIFICATION:
        if job.columns:
            return [str(c) for c in job.columns]
        first = LabelingItem.objects.filter(job_id=job.pk).order_by("position").values_list("data", flat=True).first()
        keys = [str(c) for c in ((first or {}).get("row") or {})]
        # PostgreSQL's jsonb does not keep key order: the version's column order, when the job has one
        schema = [str(e.get("name")) for e in (job.dataset_version.schema if job.dataset_version else None) or []]
        return [c for c in schema if c in keys] + [c for c in keys if c not in schema]
    if job.source_kind == "images" or task in (
        TaskType.IMAGE_CLASSIFICATION,
        TaskType.IMAGE_CLASSIFICATION_MULTI,
        TaskType.BOUNDING_BOX,
    ):
        return ["image", "name", "width", "height"]
    if task in (TaskType.RATING, *PREFERENCE_TYPES):
        return ["prompt", "responses"]
    if task == TaskType.LABEL_VERIFICATION:
        first = LabelingItem.objects.filter(job_id=job.pk).order_by("position").values_list("data", flat=True).first()
        keys = [k for k in (first or {}) if k not in ("label", "source_item")]
        if "row" in keys:
            return ["row", "label_to_verify"]
        return [*keys, "label_to_verify"]
    return ["text"]


def _field_values(job: LabelingJob, data: dict[str, Any], columns: list[str]) -> list[Any]:
    if job.task_type == TaskType.TABULAR_CLASSIFICATION:
        row = data.get("row") or {}
        return [row.get(c) for c in columns]
    out = []
    for c in columns:
        if c == "label_to_verify":
            value: Any = data.get("label")
        elif c == "responses":
            value = _responses(data)
        else:
            value = data.get(c)
        out.append(json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value)
    return out


def label_cell(job: LabelingJob, consolidated: Any) -> Any:
    """The label in one cell: a single label as written; anything else as JSON."""
    if consolidated is None:
        return None
    if job.task_type in SINGLE:
        return consolidated.get("label")
    return json.dumps(consolidated, ensure_ascii=False)


def _free(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _csv(job: LabelingJob) -> Iterator[bytes]:
    fields = _field_columns(job)
    taken = set(fields)
    ours = [_free(c, taken) for c in ("position", "source_ref")]
    tail = [_free(c, taken) for c in ("label", "confidence", "label_source", "human_annotated")]
    columns = [*ours, *fields, *tail]
    first = True
    rows: list[list[Any]] = []

    def flush(header: bool) -> bytes:
        frame = pd.DataFrame(rows, columns=pd.Index(columns, dtype=object), dtype=object)
        return frame_to_csv_text(frame, neutralise=True, header=header).encode("utf-8")

    for item in iter_items(job, labeled_only=False):
        labeled = is_labeled(item)
        rows.append(
            [
                item.position,
                item.source_ref,
                *_field_values(job, item.data or {}, fields),
                label_cell(job, item.consolidated) if labeled else None,
                _confidence(item.confidence) if labeled else None,
                item.label_source if labeled else LabelSource.NONE.value,
                human_annotated(item),
            ]
        )
        if len(rows) >= CHUNK:
            yield flush(first)
            first, rows = False, []
    if rows or first:
        yield flush(first)


# --- COCO -------------------------------------------------------------------------------------------------------


def _coco(job: LabelingJob) -> Iterator[bytes]:
    labels = [str(x) for x in job.labels or []]
    category = {label: i + 1 for i, label in enumerate(labels)}
    info = {
        "description": f"{job.name} (Atelier labeling job {job.pk})",
        "version": "1.0",
        "date_created": _now_iso(),
    }
    categories = [{"id": i + 1, "name": label, "supercategory": ""} for i, label in enumerate(labels)]
    yield (
        '{"info": '
        + json.dumps(info, ensure_ascii=False)
        + ', "licenses": [], "categories": '
        + json.dumps(categories, ensure_ascii=False)
        + ', "images": ['
    ).encode("utf-8")
    images: set[int] = set()  # positions written in the first pass (ints only)
    for item in iter_items(job):
        data = item.data or {}
        image = {
            "id": item.position + 1,
            "file_name": data.get("name") or data.get("image", ""),
            "width": data.get("width"),
            "height": data.get("height"),
            "storage_key": data.get("image", ""),
        }
        yield ((", " if images else "") + json.dumps(image, ensure_ascii=False)).encode("utf-8")
        images.add(item.position)
    yield b'], "annotations": ['
    n = 0
    for item in iter_items(job):
        if item.position not in images:  # labeled after the first pass: it has no image entry
            continue
        for box in (item.consolidated or {}).get("boxes") or []:
            if box.get("label") not in category:
                continue
            n += 1
            w, h = float(box["width"]), float(box["height"])
            annotation: dict[str, Any] = {
                "id": n,
                "image_id": item.position + 1,
                "category_id": category[box["label"]],
                "bbox": [float(box["left"]), float(box["top"]), w, h],
                "area": w * h,
                "iscrowd": 0,
            }
            confidence = box.get("confidence", item.confidence)
            if confidence is not None:
                annotation["score"] = _confidence(confidence)
            yield ((", " if n > 1 else "") + json.dumps(annotation)).encode("utf-8")
    yield b"]}\n"


def _now_iso() -> str:
    from django.utils import timezone

    return timezone.now().isoformat(timespec="seconds")


# --- CoNLL ------------------------------------------------------------------------------------------------------


def bio_tags(text: str, spans: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(token, tag) for the whitespace tokens of `text`: B-<label> on a span's first token, I-<label> on the next
    tokens it overlaps, O elsewhere (a token overlapping a span by one character belongs to it)."""
    ordered = sorted(spans, key=lambda s: (s["start"], s["end"]))
    out: list[tuple[str, str]] = []
    previous: int | None = None
    for match in TOKEN.finditer(text):
        start, end = match.start(), match.end()
        hit = next((i for i, s in enumerate(ordered) if start < s["end"] and end > s["start"]), None)
        if hit is None:
            tag = "O"
        else:
            tag = ("I-" if previous == hit else "B-") + str(ordered[hit]["label"])
        previous = hit
        out.append((match.group(), tag))
    return out


def _conll(job: LabelingJob) -> Iterator[bytes]:
    first = True
    for item in iter_items(job):
        pairs = bio_tags(str((item.data or {}).get("text") or ""), (item.consolidated or {}).get("spans") or [])
        if not pairs:
            continue
        block = "".join(f"{token}\t{tag}\n" for token, tag in pairs)
        yield (("" if first else "\n") + block).encode("utf-8")
        first = False


# --- preference -------------------------------------------------------------------------------------------------


def preference_pairs(job: LabelingJob, item: LabelingItem) -> Iterator[dict[str, str]]:
    data = item.data or {}
    prompt = str(data.get("prompt", ""))
    texts = [str(r.get("text", "")) for r in _responses(data)]
    c = item.consolidated or {}
    if job.task_type == TaskType.PAIRWISE_PREFERENCE:
        best = c.get("preferred")
        if best in (0, 1) and len(texts) == 2:
            yield {"prompt": prompt, "chosen": texts[best], "rejected": texts[1 - best]}
    elif job.task_type == TaskType.RANKING:
        order = [i for i in c.get("ranking") or [] if isinstance(i, int) and 0 <= i < len(texts)]
        for a in range(len(order)):
            for b in range(a + 1, len(order)):
                yield {"prompt": prompt, "chosen": texts[order[a]], "rejected": texts[order[b]]}
    elif job.task_type == TaskType.REWRITE and texts:
        for rewrite in c.get("texts") or []:
            yield {"prompt": prompt, "chosen": str(rewrite), "rejected": texts[0]}


def _preference(job: LabelingJob) -> Iterator[bytes]:
    for item in iter_items(job):
        for pair in preference_pairs(job, item):
            yield _json_line(pair)


WRITERS: dict[str, Callable[[LabelingJob], Iterator[bytes]]] = {
    ExportFormat.MANIFEST: _manifest,
    ExportFormat.CSV: _csv,
    ExportFormat.COCO: _coco,
    ExportFormat.CONLL: _conll,
    ExportFormat.PREFERENCE: _preference,
}


def file_stem(job: LabelingJob) -> str:
    return f"{slugify(job.name)[:80].strip('-') or 'labeling-job'}-{job.pk}"


def export_stream(*, job: LabelingJob, fmt: Any) -> ExportStream:
    """The job's labels in `fmt`, as chunks of bytes to stream (checked before the first chunk: a wrong format or a
    manifest that would overwrite a column raises ValidationError naming the field)."""
    value = clean_format(job, fmt, streamed=True)
    if value == ExportFormat.MANIFEST:
        clash = _reserved_clash(job)
        if clash is not None:
            raise ValidationError(
                {
                    "format": f"The rows have a column named {clash!r}, the manifest's label attribute: rename the "
                    "job's attribute (attribute_name) or export as CSV."
                }
            )
    content_type, suffix = CONTENT[ExportFormat(value)]
    return ExportStream(WRITERS[value](job), content_type, f"{file_stem(job)}.{suffix}")


# --- export jobs ------------------------------------------------------------------------------------------------


def export_start(*, job: LabelingJob, fmt: Any, user: User | None) -> LabelingExport:
    """A `labeling.export` Job writing the export to storage (or, for "dataset", a new dataset version)."""
    value = clean_format(job, fmt)
    if value != ExportFormat.DATASET:
        export_stream(job=job, fmt=value)  # the same checks as a streamed export, before anything is written
    with transaction.atomic():
        export = LabelingExport.objects.create(
            project=job.project, created_by=user, labeling_job=job, format=value, dataset_version=None
        )
        export.job = job_start(
            kind=EXPORT_KIND,
            project=job.project,
            created_by=user,
            params={"export": export.pk},
            title=f"Export of {job.name} ({ExportFormat(value).label})"[:200],
        )
        export.save(update_fields=["job", "updated_at"])
    return export


def export_run_execute(ctx: JobContext) -> dict[str, Any]:
    export = (
        LabelingExport.objects.select_related("labeling_job__dataset_version__dataset", "labeling_job__project")
        .filter(pk=ctx.params["export"], project_id=ctx.project_id)
        .first()
    )
    if export is None:
        raise JobError("The export was deleted before it ran.")
    job = export.labeling_job
    if export.format == ExportFormat.DATASET:
        return _dataset_export(ctx, export, job)
    ctx.progress(0.05, f"Writing the {ExportFormat(export.format).label}", force=True)
    try:
        stream = export_stream(job=job, fmt=export.format)
    except ValidationError as exc:
        raise JobError(" ".join(exc.messages)) from exc
    total = max(1, job.item_count)
    done = 0
    size = 0
    with temp_path(".export") as tmp:
        with open(tmp, "wb") as handle:
            for chunk in stream.chunks:
                handle.write(chunk)
                size += len(chunk)
                done += 1
                if done % 200 == 0:
                    ctx.progress(0.05 + 0.85 * min(1.0, done / total), "Writing")
        name = project_path(job.project_id, "labeling", str(job.pk), "exports", f"{export.pk}-{stream.filename}")
        saved = save_into_place(tmp, name)
    count = LabelingItem.objects.filter(job_id=job.pk, consolidated__isnull=False).exclude(
        review_status=ReviewStatus.PENDING
    )
    labeled = count.count()
    LabelingExport.objects.filter(pk=export.pk).update(file=saved, size_bytes=size, item_count=labeled)
    ctx.final_message = f"{ExportFormat(export.format).label}: {labeled:,} labeled item(s), {size:,} bytes."
    return {"export": export.pk, "file": saved, "size_bytes": size, "items": labeled}


def export_open(*, export: LabelingExport) -> Any:
    """The stored file of a finished export, opened for reading (None when it has none)."""
    if not export.file:
        return None
    try:
        return storage().open(export.file, "rb")
    except FileNotFoundError:
        return None


def export_filename(export: LabelingExport) -> str:
    suffix = CONTENT[ExportFormat(export.format)][1] if export.format in CONTENT else "bin"
    return f"{file_stem(export.labeling_job)}.{suffix}"


def _row_index(item: LabelingItem) -> int:
    match = re.fullmatch(r"row (\d+)", item.source_ref or "")
    return int(match.group(1)) if match else item.position


def _dataset_export(ctx: JobContext, export: LabelingExport, job: LabelingJob) -> dict[str, Any]:
    from apps.datasets import selectors as data_selectors
    from apps.datasets import services as data_services
    from apps.datasets.models import DatasetVersion

    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()  # a retry after the version was stored
    if done is None:
        version = job.dataset_version
        if version is None:
            raise JobError("The labeling job's dataset version was deleted; nothing to add the labels to.")
        ctx.progress(0.05, f"Reading {version.row_count:,} rows of {version}", force=True)
        frame = data_selectors.version_frame(version=version, as_written=True)
        n = len(frame)
        labels: list[Any] = [None] * n
        confidences: list[Any] = [None] * n
        human: list[Any] = [None] * n
        ctx.progress(0.3, "Adding the labels", force=True)
        for item in iter_items(job):
            row = _row_index(item)
            if 0 <= row < n:
                labels[row] = label_cell(job, item.consolidated)
                confidences[row] = _confidence(item.confidence)
                human[row] = human_annotated(item)
        taken = {str(c) for c in frame.columns}
        label_column = _free(attribute_name(job), taken)
        confidence_column = _free(f"{label_column}_confidence", taken)
        human_column = _free(f"{label_column}_human_annotated", taken)
        frame = frame.copy()
        frame[label_column] = pd.Series(labels, dtype=object, index=frame.index)
        frame[confidence_column] = pd.Series(confidences, dtype="Float64", index=frame.index)
        frame[human_column] = pd.Series(human, dtype=object, index=frame.index)
        done = data_services.dataset_version_create_from_frame(
            ctx,
            frame=frame,
            kind=VersionKind.LABELING,
            dataset_name=f"{job.name} labels"[: data_services.NAME_MAX],
            source={
                "kind": "labeling",
                "labeling_job": job.pk,
                "labeling_job_name": job.name,
                "export": export.pk,
                "dataset_version": version.pk,
                "label_column": label_column,
                "confidence_column": confidence_column,
                "human_annotated_column": human_column,
                "labeled": sum(1 for x in labels if x is not None),
            },
            parents=[version],
        )
    labeled = int((done.source or {}).get("labeled") or 0)
    LabelingExport.objects.filter(pk=export.pk).update(dataset_version=done, item_count=labeled, size_bytes=done.bytes)
    ctx.final_message = f"{labeled:,} labeled row(s) of {done.row_count:,} saved as {done}."
    return {"export": export.pk, "dataset_version": done.pk, "dataset": done.dataset_id, "items": labeled}
