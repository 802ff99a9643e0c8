"""Labeling jobs: create (every input checked, the upload stored, Job `labeling.prepare` started), update, pause /
resume / cancel, delete. Bad input is a ValidationError naming the field; nothing is written until all is checked,
and an upload stored before a later failure is removed again."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import Project, User, WorkTeam
from apps.core.storage import project_path, project_root, storage
from apps.jobs.services import job_cancel, job_start
from apps.labeling.choices import JobStatus, SourceKind, TaskType
from apps.labeling.markdown import MAX_INSTRUCTIONS_CHARS
from apps.labeling.models import LabelingItem, LabelingJob
from apps.labeling.services import sources

PREPARE_KIND = "labeling.prepare"
MAX_LABELS = 200
MAX_LABEL_CHARS = 100
MAX_CRITERIA = 20
MAX_EXAMPLES = 50
MAX_EXAMPLE_CHARS = 5_000
SCALE_RANGE = (2, 10)
WORKERS_RANGE = (1, 10)
TIME_LIMIT_RANGE = (30, 86_400)
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# Task types whose workers pick from a label set; the others need none (rating: criteria; prompts: responses).
LABELED_TYPES = {
    TaskType.TEXT_CLASSIFICATION,
    TaskType.TEXT_CLASSIFICATION_MULTI,
    TaskType.NAMED_ENTITY,
    TaskType.IMAGE_CLASSIFICATION,
    TaskType.IMAGE_CLASSIFICATION_MULTI,
    TaskType.BOUNDING_BOX,
    TaskType.TABULAR_CLASSIFICATION,
    TaskType.LABEL_VERIFICATION,
}
SINGLE_LABEL_TYPES = {TaskType.TEXT_CLASSIFICATION, TaskType.TABULAR_CLASSIFICATION, TaskType.LABEL_VERIFICATION}
PRE_ANNOTATION_TYPES = {
    TaskType.TEXT_CLASSIFICATION,
    TaskType.TEXT_CLASSIFICATION_MULTI,
    TaskType.TABULAR_CLASSIFICATION,
}
AUTO_LABELING_TYPES = {TaskType.TEXT_CLASSIFICATION, TaskType.TABULAR_CLASSIFICATION}
VERIFICATION_LABELS = ["Correct", "Incorrect"]
# Status changes a person asks for: the statuses each may come from.
STATUS_CHANGES: dict[str, tuple[str, ...]] = {
    JobStatus.PAUSED: (JobStatus.ACTIVE,),
    JobStatus.ACTIVE: (JobStatus.PAUSED,),
    JobStatus.CANCELLED: (JobStatus.PREPARING, JobStatus.ACTIVE, JobStatus.PAUSED),
}


class Errors(dict[str, str]):
    """Field → first message; `raise_if_any` raises them all as one ValidationError."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, message)

    def raise_if_any(self) -> None:
        if self:
            raise ValidationError(dict(self))


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


# --- field checks (each returns the clean value or records an error) ----------------------------------------------


def clean_labels(raw: Any, errors: Errors, field: str = "labels") -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        errors.add(field, "Labels must be a list of text.")
        return []
    out: list[str] = []
    seen: dict[str, str] = {}
    for value in raw:
        if not isinstance(value, str):
            errors.add(field, f"Every label must be text (got {value!r}).")
            return []
        label = value.strip()
        if not label:
            errors.add(field, "A label cannot be empty.")
            return []
        if len(label) > MAX_LABEL_CHARS:
            errors.add(field, f"The label {label[:40]!r}… is longer than {MAX_LABEL_CHARS} characters.")
            return []
        if _has_control(label):
            errors.add(field, f"The label {label!r} holds control characters (line breaks, tabs...).")
            return []
        if label.casefold() in seen:
            errors.add(field, f"The label {label!r} appears twice (as {seen[label.casefold()]!r}).")
            return []
        seen[label.casefold()] = label
        out.append(label)
    if len(out) > MAX_LABELS:
        errors.add(field, f"{len(out)} labels; at most {MAX_LABELS}.")
    return out


def clean_criteria(raw: Any, errors: Errors) -> list[dict[str, str]]:
    if not isinstance(raw, list | tuple):
        errors.add("criteria", 'Criteria must be a list of names or {"name": ..., "description": ...}.')
        return []
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for value in raw:
        if isinstance(value, str):
            name, description = value, ""
        elif isinstance(value, Mapping) and isinstance(value.get("name"), str):
            name, description = value["name"], value.get("description") or ""
        else:
            errors.add("criteria", 'Each criterion must be a name or {"name": ..., "description": ...}.')
            return []
        name = name.strip()
        if not name or len(name) > MAX_LABEL_CHARS or _has_control(name):
            errors.add("criteria", f"A criterion needs a name of 1 to {MAX_LABEL_CHARS} characters, on one line.")
            return []
        if not isinstance(description, str) or len(description) > 1000:
            errors.add("criteria", f"The description of {name!r} must be text of at most 1,000 characters.")
            return []
        if name.casefold() in seen:
            errors.add("criteria", f"The criterion {name!r} appears twice.")
            return []
        seen.add(name.casefold())
        out.append({"name": name, "description": description.strip()})
    if len(out) > MAX_CRITERIA:
        errors.add("criteria", f"{len(out)} criteria; at most {MAX_CRITERIA}.")
    return out


def clean_examples(raw: Any, errors: Errors) -> list[dict[str, str]]:
    if not isinstance(raw, list | tuple):
        errors.add("examples", 'Examples must be a list of {"text": ..., "label": ..., "note": ...}.')
        return []
    out: list[dict[str, str]] = []
    for value in raw:
        entry = {"text": value} if isinstance(value, str) else value
        if not isinstance(entry, Mapping) or set(entry) - {"text", "label", "note"}:
            errors.add("examples", 'Each example is {"text": ..., "label": ..., "note": ...} (text only).')
            return []
        clean: dict[str, str] = {}
        for key in ("text", "label", "note"):
            part = entry.get(key, "")
            if part is None:
                part = ""
            if not isinstance(part, str) or len(part) > MAX_EXAMPLE_CHARS:
                errors.add("examples", f'An example\'s "{key}" must be text of at most {MAX_EXAMPLE_CHARS:,} chars.')
                return []
            clean[key] = part
        out.append(clean)
    if len(out) > MAX_EXAMPLES:
        errors.add("examples", f"{len(out)} examples; at most {MAX_EXAMPLES}.")
    return out


def _int_in(value: Any, field: str, bounds: tuple[int, int], what: str, errors: Errors) -> int:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except (TypeError, ValueError):
            errors.add(field, f"{what} must be a whole number from {low:,} to {high:,}.")
            return low
    if not low <= value <= high:
        errors.add(field, f"{what} must be from {low:,} to {high:,} (got {value:,}).")
    return int(value)


def clean_name(project: Project, name: Any, errors: Errors, job: LabelingJob | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        errors.add("name", "A labeling job needs a name.")
        return ""
    name = name.strip()
    if len(name) > 200:
        errors.add("name", "The name is longer than 200 characters.")
    clash = LabelingJob.objects.filter(project=project, name__iexact=name)
    if job is not None:
        clash = clash.exclude(pk=job.pk)
    if clash.exists():
        errors.add("name", f"This project already has a labeling job named {name!r}.")
    return name


def clean_instructions(value: Any, errors: Errors) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add("instructions", "Instructions must be text (Markdown).")
        return ""
    if len(value) > MAX_INSTRUCTIONS_CHARS:
        errors.add("instructions", f"Instructions are longer than {MAX_INSTRUCTIONS_CHARS:,} characters.")
    return value


def clean_attribute_name(value: Any, name: str, errors: Errors) -> str:
    value = (value or "").strip() if isinstance(value, str) else value
    if not value:
        return slugify(name)[:100] or "label"
    if not isinstance(value, str) or not ATTRIBUTE_NAME.match(value):
        errors.add("attribute_name", "The attribute name may hold only letters, digits, '-' and '_' (1 to 100).")
        return ""
    if value.endswith("-metadata"):
        errors.add("attribute_name", "The attribute name cannot end in '-metadata' (the manifest's metadata key).")
    return value


def clean_auto_labeling(raw: Any, task_type: str, errors: Errors) -> dict[str, Any]:
    if raw in (None, {}, False):
        return {}
    if raw is True:
        raw = {"enabled": True}
    if not isinstance(raw, Mapping) or set(raw) - {"enabled", "target_accuracy", "min_human_labels"}:
        errors.add("auto_labeling", 'Automated labeling is {"enabled": true, "target_accuracy": 0.95, ...}.')
        return {}
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.add("auto_labeling", '"enabled" must be true or false.')
        return {}
    if enabled and task_type not in AUTO_LABELING_TYPES:
        errors.add("auto_labeling", "Automated labeling is for text and tabular classification (one label).")
        return {}
    target = raw.get("target_accuracy", 0.95)
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0.5 <= float(target) < 1.0:
        errors.add("auto_labeling", "The target accuracy must be a number from 0.5 to below 1 (e.g. 0.95).")
        return {}
    minimum = raw.get("min_human_labels", 100)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or not 10 <= minimum <= 1_000_000:
        errors.add("auto_labeling", "The minimum of human labels must be a whole number from 10 to 1,000,000.")
        return {}
    return {"enabled": enabled, "target_accuracy": float(target), "min_human_labels": minimum}


def _uploads(upload: Any) -> list[Any]:
    if upload is None:
        return []
    if isinstance(upload, list | tuple):
        return [u for u in upload if u is not None]
    return [upload]


# --- create ------------------------------------------------------------------------------------------------------


def labeling_job_create(
    *,
    project: Project,
    created_by: User | None,
    name: str,
    task_type: str,
    team: WorkTeam | None,
    source_kind: str = "",
    dataset_version: Any = None,
    text_column: str = "",
    columns: Iterable[str] = (),
    source_job: LabelingJob | None = None,
    upload: Any = None,
    labels: Iterable[str] = (),
    criteria: Iterable[Any] = (),
    scale: int = 5,
    instructions: str = "",
    examples: Iterable[Any] = (),
    workers_per_item: int | None = None,
    time_limit_s: int = 600,
    review_required: bool = False,
    hide_project: bool = False,
    pre_annotation_model: Any = None,
    attribute_name: str = "",
    gold: Mapping[Any, Any] | str | None = None,
    auto_labeling: Mapping[str, Any] | None = None,
) -> LabelingJob:
    """A new job in status `preparing`, with its Job `labeling.prepare` started (see the module docstring)."""
    errors = Errors()
    name = clean_name(project, name, errors)
    if task_type not in TaskType.values:
        errors.add("task_type", f"Unknown task type {task_type!r}; one of: {', '.join(TaskType.values)}.")
        errors.raise_if_any()
    expected_source = sources.SOURCE_OF_TYPE[task_type]
    source_kind = source_kind or expected_source
    if source_kind not in SourceKind.values:
        errors.add("source_kind", f"Unknown source {source_kind!r}; one of: {', '.join(SourceKind.values)}.")
    elif source_kind != expected_source:
        errors.add(
            "source_kind",
            f"{TaskType(task_type).label} takes its items from {SourceKind(expected_source).label.lower()}, "
            f"not from {SourceKind(source_kind).label.lower()}.",
        )
    if team is None:
        errors.add("team", "Choose the work team that labels this job.")
    elif team.project_id != project.pk:
        errors.add("team", "The work team must belong to this job's project.")

    labels = clean_labels(list(labels) if not isinstance(labels, str) else labels, errors)
    if task_type == TaskType.LABEL_VERIFICATION and not labels:
        labels = list(VERIFICATION_LABELS)
    if task_type in LABELED_TYPES:
        if not labels and "labels" not in errors:
            errors.add("labels", f"{TaskType(task_type).label} needs at least one label.")
        elif task_type != TaskType.NAMED_ENTITY and task_type != TaskType.BOUNDING_BOX and len(labels) == 1:
            if task_type in SINGLE_LABEL_TYPES or task_type == TaskType.IMAGE_CLASSIFICATION:
                errors.add("labels", "A choice of one label is no choice: give at least two.")
    elif labels:
        errors.add("labels", f"{TaskType(task_type).label} does not use labels.")
    criteria_clean = clean_criteria(list(criteria), errors) if not isinstance(criteria, str) else []
    if isinstance(criteria, str):
        errors.add("criteria", "Criteria must be a list.")
    if task_type == TaskType.RATING:
        if not criteria_clean and "criteria" not in errors:
            errors.add("criteria", "A rating job needs at least one criterion (e.g. helpfulness).")
        scale = _int_in(scale, "scale", SCALE_RANGE, "The scale", errors)
    elif criteria_clean:
        errors.add("criteria", "Only rating jobs have criteria.")
    else:
        scale = _int_in(scale if scale is not None else 5, "scale", SCALE_RANGE, "The scale", errors)
    instructions = clean_instructions(instructions, errors)
    examples_clean = clean_examples(list(examples) if not isinstance(examples, str) else examples, errors)
    if workers_per_item is None or workers_per_item == "":
        workers_per_item = 5 if task_type == TaskType.BOUNDING_BOX else 3
    workers = _int_in(workers_per_item, "workers_per_item", WORKERS_RANGE, "Workers per item", errors)
    time_limit = _int_in(time_limit_s, "time_limit_s", TIME_LIMIT_RANGE, "The time limit (seconds)", errors)
    attribute = clean_attribute_name(attribute_name, name, errors)
    auto = clean_auto_labeling(auto_labeling, task_type, errors)

    # The source.
    columns = [columns] if isinstance(columns, str) else [str(c) for c in columns]
    text_column = (text_column or "").strip() if isinstance(text_column, str) else ""
    files = _uploads(upload)
    expected = 0
    if source_kind == SourceKind.DATASET:
        if dataset_version is None:
            errors.add("dataset_version", "Choose the dataset version whose rows are labeled.")
        elif dataset_version.project_id != project.pk:
            errors.add("dataset_version", "The dataset version must belong to this job's project.")
        else:
            names = dataset_version.column_names
            expected = int(dataset_version.row_count)
            if expected == 0:
                errors.add("dataset_version", "The dataset version has no rows.")
            elif expected > sources.max_items():
                errors.add(
                    "dataset_version",
                    f"{expected:,} rows; a labeling job takes at most {sources.max_items():,} (LABELING_MAX_ITEMS).",
                )
            if task_type in sources.TEXT_TYPES:
                if not text_column:
                    errors.add("text_column", "Choose the column that holds the text workers read.")
                elif text_column not in names:
                    errors.add("text_column", f"The dataset version has no column {text_column!r}.")
                columns = []
            else:
                missing = [c for c in columns if c not in names]
                if missing:
                    errors.add("columns", f"The dataset version has no column(s): {', '.join(map(repr, missing))}.")
                if len(set(columns)) != len(columns):
                    errors.add("columns", "A column is listed twice.")
                columns = columns or list(names)
                text_column = ""
    elif dataset_version is not None:
        errors.add("dataset_version", "Only jobs on a dataset's rows take a dataset version.")
    if source_kind != SourceKind.DATASET and (text_column or columns):
        errors.add("text_column" if text_column else "columns", "Only jobs on a dataset's rows take columns.")
    if source_kind in (SourceKind.IMAGES, SourceKind.PROMPTS):
        if not files:
            what = "images (or a zip of images)" if source_kind == SourceKind.IMAGES else "a JSON Lines file"
            errors.add("file", f"Upload {what}.")
        elif source_kind == SourceKind.PROMPTS and len(files) > 1:
            errors.add("file", "Upload one JSON Lines file.")
    elif files:
        errors.add("file", "Only image and prompt jobs take an uploaded file.")
    if source_kind == SourceKind.JOB:
        if source_job is None:
            errors.add("source_job", "Choose the earlier labeling job whose labels are verified.")
        elif source_job.project_id != project.pk:
            errors.add("source_job", "The earlier job must belong to this job's project.")
        else:
            expected = source_job.items.exclude(consolidated=None).count()
            if expected == 0:
                errors.add("source_job", f"The job {source_job.name!r} has no consolidated labels yet.")
    elif source_job is not None:
        errors.add("source_job", "Only label verification jobs take an earlier job.")

    # Pre-annotation.
    if pre_annotation_model is not None:
        if pre_annotation_model.project_id != project.pk:
            errors.add("pre_annotation_model", "The model version must be in this job's project registry.")
        elif task_type not in PRE_ANNOTATION_TYPES or source_kind != SourceKind.DATASET:
            errors.add("pre_annotation_model", "Pre-annotation is for text and tabular classification of rows.")
        elif (pre_annotation_model.problem_type or "") == "regression":
            errors.add("pre_annotation_model", "A regression model gives no labels: choose a classifier.")
        elif dataset_version is not None and dataset_version.project_id == project.pk:
            inputs = [str(i.get("name")) for i in (pre_annotation_model.signature or {}).get("inputs") or []]
            missing = [c for c in inputs if c not in dataset_version.column_names]
            if missing:
                errors.add(
                    "pre_annotation_model",
                    f"The model reads column(s) the dataset version lacks: {', '.join(map(repr, missing[:10]))}.",
                )
            unknown = [str(c) for c in pre_annotation_model.classes or [] if str(c) not in labels]
            if labels and unknown:
                errors.add(
                    "pre_annotation_model",
                    f"The model predicts class(es) that are not labels of this job: {', '.join(map(repr, unknown))}.",
                )
    errors.raise_if_any()

    # The upload, checked and stored (then removed again if anything later fails).
    stored_key = ""
    try:
        if source_kind == SourceKind.IMAGES:
            from apps.labeling.images import ImageRefused, images_store, manifest_read

            try:
                stored_key = images_store(project_id=project.pk, files=files)
            except ImageRefused as exc:
                raise ValidationError({"file": str(exc)}) from exc
            expected = len(manifest_read(stored_key))
        elif source_kind == SourceKind.PROMPTS:
            handle = files[0]
            expected = sources.prompts_check(handle, task_type)
            handle.seek(0)
            folder = f"labeling/uploads/{uuid.uuid4().hex}"
            stored_key = storage().save(project_path(project.pk, folder, "prompts.jsonl"), handle)

        job = LabelingJob(
            project=project,
            created_by=created_by,
            name=name,
            task_type=task_type,
            status=JobStatus.PREPARING,
            source_kind=source_kind,
            dataset_version=dataset_version if source_kind == SourceKind.DATASET else None,
            text_column=text_column,
            columns=columns,
            source_job=source_job,
            source_file=stored_key,
            labels=labels,
            criteria=criteria_clean,
            scale=scale,
            instructions=instructions,
            examples=examples_clean,
            team=team,
            workers_per_item=workers,
            time_limit_s=time_limit,
            review_required=bool(review_required),
            hide_project=bool(hide_project),
            pre_annotation_model=pre_annotation_model,
            attribute_name=attribute,
            auto_labeling=auto,
        )
        gold_params = clean_gold(job, gold, expected)
        with transaction.atomic():
            job.save()
            job.prepare_job = job_start(
                kind=PREPARE_KIND,
                project=project,
                created_by=created_by,
                params={"labeling_job": job.pk, "expected": expected, **gold_params},
                title=f"Prepare labeling job: {name}"[:200],
            )
            job.save(update_fields=["prepare_job", "updated_at"])
        return job
    except BaseException:
        _delete_source_file(project.pk, stored_key)
        raise


def clean_gold(job: LabelingJob, gold: Any, expected: int) -> dict[str, Any]:
    """Gold answers as the prepare Job's params: {"gold": {position: answer}} or {"gold_column": name}, each answer
    checked against its item by apps.labeling.answers.validate_answer (ValidationError on "gold")."""
    if gold in (None, "", {}):
        return {}
    if isinstance(gold, str):
        return _gold_column(job, gold.strip())
    if not isinstance(gold, Mapping):
        raise ValidationError({"gold": "Gold answers are {item position: answer} or the name of a dataset column."})
    answers: dict[int, Any] = {}
    for key, answer in gold.items():
        try:
            position = int(str(key))
        except ValueError:
            raise ValidationError({"gold": f"{key!r} is not an item position (0, 1, ...)."}) from None
        if not 0 <= position < expected:
            raise ValidationError({"gold": f"Position {position} is outside the items (0 to {expected - 1})."})
        answers[position] = answer
    from apps.labeling.answers import validate_answer

    found = sources.items_at(sources.source_items(job), set(answers))
    clean: dict[str, Any] = {}
    for position in sorted(answers):
        item = LabelingItem(job=job, position=position, data=found.get(position) or {})
        try:
            clean[str(position)] = validate_answer(job, item, answers[position])
        except ValidationError as exc:
            detail = exc.message_dict.get("answer") if hasattr(exc, "error_dict") else exc.messages
            raise ValidationError({"gold": f"Item {position}: {' '.join(detail or exc.messages)}"}) from exc
    return {"gold": clean}


def _gold_column(job: LabelingJob, column: str) -> dict[str, Any]:
    if job.source_kind != SourceKind.DATASET or job.dataset_version is None:
        raise ValidationError({"gold": "A gold column is for jobs on a dataset's rows; give {position: answer}."})
    if job.task_type not in (TaskType.TEXT_CLASSIFICATION, TaskType.TABULAR_CLASSIFICATION):
        raise ValidationError({"gold": "A gold column is for one-label classification; give {position: answer}."})
    if column not in job.dataset_version.column_names:
        raise ValidationError({"gold": f"The dataset version has no column {column!r}."})
    if column == job.text_column or column in job.columns:
        raise ValidationError({"gold": f"The gold column {column!r} would be shown to workers: leave it out."})
    frame = sources.dataset_frame(version=job.dataset_version, columns=[column])
    values = {sources.json_value(v) for v in frame[column].tolist()} - {None, ""}
    unknown = sorted(str(v) for v in values if str(v) not in job.labels)
    if unknown:
        raise ValidationError(
            {"gold": f"The gold column holds value(s) that are not labels: {', '.join(map(repr, unknown[:10]))}."}
        )
    if not values:
        raise ValidationError({"gold": f"The gold column {column!r} is empty."})
    return {"gold_column": column}


def _delete_source_file(project_id: int, key: str) -> None:
    if not key:
        return
    from apps.labeling.images import uploads_delete

    if key.endswith("manifest.json"):
        uploads_delete(project_id=project_id, manifest_key=key)
    elif key.startswith(project_root(project_id) + "/labeling/uploads/"):
        storage().delete(key)


def _delete_files(names: list[str]) -> None:
    store = storage()
    for name in names:
        store.delete(name)


# --- update, status, delete --------------------------------------------------------------------------------------

UPDATABLE = ("name", "instructions", "examples", "time_limit_s", "review_required", "hide_project")


def labeling_job_update(*, job: LabelingJob, status: str | None = None, **changes: Any) -> LabelingJob:
    """Change the name, instructions, examples, time limit, review step or hiding of the project name; `status`
    pauses, resumes or cancels (labeling_job_status_set). Unknown fields are a ValidationError naming them."""
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise ValidationError({unknown[0]: "This field cannot be changed after the job is created."})
    errors = Errors()
    clean: dict[str, Any] = {}
    if "name" in changes:
        clean["name"] = clean_name(job.project, changes["name"], errors, job=job)
    if "instructions" in changes:
        clean["instructions"] = clean_instructions(changes["instructions"], errors)
    if "examples" in changes:
        clean["examples"] = clean_examples(changes["examples"], errors)
    if "time_limit_s" in changes:
        clean["time_limit_s"] = _int_in(
            changes["time_limit_s"], "time_limit_s", TIME_LIMIT_RANGE, "The time limit (seconds)", errors
        )
    for flag in ("review_required", "hide_project"):
        if flag in changes:
            if not isinstance(changes[flag], bool):
                errors.add(flag, "Must be true or false.")
            clean[flag] = changes[flag]
    if status is not None and status != job.status and status not in STATUS_CHANGES:
        errors.add("status", f"The status can be set to {', '.join(STATUS_CHANGES)}, not {status!r}.")
    errors.raise_if_any()
    with transaction.atomic():
        if clean:
            for key, value in clean.items():
                setattr(job, key, value)
            job.save(update_fields=[*clean, "updated_at"])
        if status is not None and status != job.status:
            job = labeling_job_status_set(job=job, status=status)
    return job


def labeling_job_status_set(*, job: LabelingJob, status: str) -> LabelingJob:
    """Pause (active → paused), resume (paused → active) or cancel (preparing, active or paused → cancelled: the
    prepare Job is cancelled too). Conditional on the status read, so two people at once cannot both move it."""
    allowed = STATUS_CHANGES.get(status)
    if allowed is None:
        raise ValidationError({"status": f"The status can be set to {', '.join(STATUS_CHANGES)}, not {status!r}."})
    with transaction.atomic():
        current = LabelingJob.objects.select_for_update().get(pk=job.pk)
        if current.status == status:
            return current
        if current.status not in allowed:
            raise ValidationError(
                {"status": f"A job that is {current.get_status_display().lower()} cannot be set to {status}."}
            )
        current.status = status
        current.save(update_fields=["status", "updated_at"])
    if status == JobStatus.CANCELLED and current.prepare_job is not None and not current.prepare_job.is_final:
        job_cancel(job=current.prepare_job)
    return current


def labeling_job_delete(*, job: LabelingJob) -> None:
    """The job, its items, tasks and exports, and its uploaded source files. Refused while a label verification job
    reads its labels."""
    if job.verification_jobs.exists():
        names = ", ".join(repr(j.name) for j in job.verification_jobs.all()[:5])
        raise ValidationError({"job": f"Label verification job(s) {names} read this job's labels; delete them first."})
    prepare = job.prepare_job
    project_id, key = job.project_id, job.source_file
    exports_dir = project_path(project_id, "labeling", str(job.pk), "exports") + "/"
    exported = [f for f in job.exports.exclude(file="").values_list("file", flat=True) if f.startswith(exports_dir)]
    with transaction.atomic():
        job.delete()
        transaction.on_commit(lambda: _delete_source_file(project_id, key))
        transaction.on_commit(lambda: _delete_files(exported))  # the export files too
    if prepare is not None and not prepare.is_final:
        job_cancel(job=prepare)


def labeling_job_mark(*, job_id: int, **fields: Any) -> int:
    """A conditional write of a preparing job's fields (the prepare Job: active + item_count, or failed)."""
    return LabelingJob.objects.filter(pk=job_id, status=JobStatus.PREPARING).update(updated_at=timezone.now(), **fields)
