"""Ground Truth's forms: the new-job form (every option of services.jobs.labeling_job_create), the action buttons of
a job's page, and a reviewer's accept / adjust form.

The forms check only the shape of what was sent (numbers are numbers, a line is `name: description`); the service
checks the rest against the data (a label set for the task type, the text column in the version, the team in the
project) and `add_service_errors` puts its messages next to the field they name. Values go to the service exactly as
written (a label "Yes" stays "Yes"; only the blanks around a line are trimmed)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from apps.accounts.requests import form_add_errors
from apps.labeling.choices import SourceKind, TaskType

# Which task types read which source (the service has the last word; the page shows only what fits).
TEXT_TASKS = (TaskType.TEXT_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION_MULTI, TaskType.NAMED_ENTITY)
IMAGE_TASKS = (TaskType.IMAGE_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION_MULTI, TaskType.BOUNDING_BOX)
PROMPT_TASKS = (TaskType.RATING, TaskType.PAIRWISE_PREFERENCE, TaskType.RANKING, TaskType.REWRITE)
SOURCES: dict[str, tuple[str, ...]] = {
    **{t.value: (SourceKind.DATASET.value,) for t in TEXT_TASKS},
    TaskType.TABULAR_CLASSIFICATION.value: (SourceKind.DATASET.value,),
    **{t.value: (SourceKind.IMAGES.value,) for t in IMAGE_TASKS},
    **{t.value: (SourceKind.PROMPTS.value,) for t in PROMPT_TASKS},
    TaskType.LABEL_VERIFICATION.value: (SourceKind.JOB.value,),
}
# Task types that take a label set / rating criteria / automated labeling.
LABELED = tuple(
    t.value for t in (*TEXT_TASKS, *IMAGE_TASKS, TaskType.TABULAR_CLASSIFICATION, TaskType.LABEL_VERIFICATION)
)
RATED = (TaskType.RATING.value,)
AUTO_LABELED = (TaskType.TEXT_CLASSIFICATION.value, TaskType.TABULAR_CLASSIFICATION.value)
SINGLE_LABEL = (
    TaskType.TEXT_CLASSIFICATION.value,
    TaskType.IMAGE_CLASSIFICATION.value,
    TaskType.TABULAR_CLASSIFICATION.value,
    TaskType.LABEL_VERIFICATION.value,
)
MULTI_LABEL = (TaskType.TEXT_CLASSIFICATION_MULTI.value, TaskType.IMAGE_CLASSIFICATION_MULTI.value)

# The service's field names that this form shows under another name.
ALIASES = {
    "labels": "labels_text",
    "criteria": "criteria_text",
    "examples": "examples_text",
    "gold": "gold_text",
    "auto_labeling": "target_accuracy",
    "source_file": "upload",
    "file": "upload",
}


def lines(text: str) -> list[str]:
    """The non-empty lines of a text box, each trimmed of the blanks around it (nothing else changes)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class LabelingJobForm(forms.Form):
    name = forms.CharField(max_length=200, label="Job name")
    task_type = forms.ChoiceField(choices=TaskType.choices, label="Task type")
    source_kind = forms.ChoiceField(choices=SourceKind.choices, label="Items come from", widget=forms.RadioSelect)
    # source: a dataset version (text column or columns) / an upload / an earlier job
    dataset_version = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Dataset version")
    text_column = forms.CharField(required=False, max_length=300, label="Text column", widget=forms.Select)
    columns = forms.MultipleChoiceField(required=False, label="Columns shown to workers")
    upload = forms.FileField(
        required=False,
        label="File",
        help_text="Images (PNG, JPEG, WebP, GIF) or a zip of them; prompts: a JSON Lines file.",
    )
    source_job = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Earlier labeling job")
    # what workers give
    labels_text = forms.CharField(
        required=False,
        max_length=20_000,
        label="Labels",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One label per line, in the order workers see them (digits 1–9 pick them).",
    )
    criteria_text = forms.CharField(
        required=False,
        max_length=20_000,
        label="Rating criteria",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: name: what it means (e.g. helpfulness: answers the question asked).",
    )
    scale = forms.IntegerField(min_value=2, max_value=10, initial=5, required=False, label="Points of the scale")
    instructions = forms.CharField(
        required=False,
        max_length=100_000,
        label="Instructions (Markdown)",
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    examples_text = forms.CharField(
        required=False,
        max_length=50_000,
        label="Examples",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: label | example text | a note (optional).",
    )
    # who and how
    team = forms.TypedChoiceField(coerce=int, empty_value=None, label="Work team")
    workers_per_item = forms.IntegerField(
        required=False, min_value=1, max_value=50, label="Workers per item", help_text="Empty: 3 (boxes: 5)."
    )
    time_limit_s = forms.IntegerField(
        min_value=30, max_value=86_400, initial=600, label="Time limit per task (seconds)"
    )
    review_required = forms.BooleanField(required=False, label="Review step: a reviewer checks each label")
    hide_project = forms.BooleanField(required=False, label="Hide the project's name from workers")
    pre_annotation_model = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Pre-annotation model"
    )
    attribute_name = forms.CharField(
        required=False,
        max_length=100,
        label="Label attribute",
        help_text="The augmented manifest's label key. Empty: the job's name.",
    )
    gold_column = forms.CharField(required=False, max_length=300, label="Gold answers column", widget=forms.Select)
    gold_text = forms.CharField(
        required=False,
        max_length=50_000,
        label="Gold items",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: item number: its correct label (0-based, as in the source).",
    )
    auto_labeling = forms.BooleanField(required=False, label="Automated labeling (active learning)")
    target_accuracy = forms.DecimalField(
        required=False, min_value=50, max_value=99.9, decimal_places=2, initial=95, label="Target accuracy (%)"
    )

    def __init__(
        self,
        *args: Any,
        versions: list[tuple[int, str]],
        teams: list[tuple[int, str]],
        jobs: list[tuple[int, str]],
        models: list[tuple[int, str]],
        columns: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset_version"].choices = [("", "Choose a dataset version"), *versions]  # type: ignore[attr-defined]
        self.fields["team"].choices = [("", "Choose a work team"), *teams]  # type: ignore[attr-defined]
        self.fields["source_job"].choices = [("", "Choose a job"), *jobs]  # type: ignore[attr-defined]
        self.fields["pre_annotation_model"].choices = [("", "None"), *models]  # type: ignore[attr-defined]
        names = [(c, c) for c in columns]
        self.fields["text_column"].widget.choices = [("", "Choose a column"), *names]  # type: ignore[attr-defined]
        self.fields["gold_column"].widget.choices = [("", "None"), *names]  # type: ignore[attr-defined]
        self.fields["columns"].choices = names  # type: ignore[attr-defined]
        self.fields["team"].error_messages["required"] = "Choose the work team that labels the items."
        self.fields["name"].error_messages["required"] = "Give the job a name."

    # -- cleaning ------------------------------------------------------------------------------------------------
    def clean_criteria_text(self) -> list[dict[str, str]]:
        out = []
        for line in lines(self.cleaned_data.get("criteria_text") or ""):
            name, sep, description = line.partition(":")
            if not name.strip():
                raise ValidationError(f"'{line}' has no criterion name before the colon.")
            out.append({"name": name.strip(), "description": description.strip() if sep else ""})
        return out

    def clean_examples_text(self) -> list[dict[str, str]]:
        out = []
        for line in lines(self.cleaned_data.get("examples_text") or ""):
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 2 or not parts[1]:
                raise ValidationError(f"'{line}': write label | example text | note.")
            out.append({"label": parts[0], "text": parts[1], "note": " | ".join(parts[2:])})
        return out

    def clean_gold_text(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for line in lines(self.cleaned_data.get("gold_text") or ""):
            number, sep, answer = line.partition(":")
            if not sep or not number.strip().isdigit() or not answer.strip():
                raise ValidationError(f"'{line}': write the item number, a colon and its correct label.")
            out[int(number.strip())] = answer.strip()
        return out

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        task, source = d.get("task_type"), d.get("source_kind")
        if task and source and source not in SOURCES.get(task, ()):
            fits = ", ".join(str(SourceKind(s).label).lower() for s in SOURCES.get(task, ()))
            self.add_error("source_kind", f"{TaskType(task).label} reads {fits}.")
        if source == SourceKind.DATASET and not d.get("dataset_version") and "dataset_version" not in self.errors:
            self.add_error("dataset_version", "Choose the dataset version whose rows are labeled.")
        if source in (SourceKind.IMAGES, SourceKind.PROMPTS) and not d.get("upload"):
            self.add_error("upload", "Choose the file to upload.")
        if source == SourceKind.JOB and not d.get("source_job") and "source_job" not in self.errors:
            self.add_error("source_job", "Choose the earlier job whose labels are verified.")
        return d

    def answer_of(self, task_type: str, text: str) -> dict[str, Any]:
        """A gold line's answer in the task's answer shape (a label, or labels separated by commas)."""
        if task_type in MULTI_LABEL:
            return {"labels": [p.strip() for p in text.split(",") if p.strip()]}
        return {"label": text}

    def service_kwargs(self, *, version: Any, team: Any, source_job: Any, model: Any) -> dict[str, Any]:
        """The keyword arguments of services.jobs.labeling_job_create (project and created_by aside)."""
        d = self.cleaned_data
        task, source = d["task_type"], d["source_kind"]
        gold: Any = None
        if d.get("gold_column") and source == SourceKind.DATASET:
            gold = d["gold_column"]
        elif d.get("gold_text"):
            gold = {pos: self.answer_of(task, text) for pos, text in d["gold_text"].items()}
        auto = None
        if d.get("auto_labeling") and task in AUTO_LABELED:
            target = d.get("target_accuracy")
            auto = {"enabled": True, "target_accuracy": float(target) / 100 if target is not None else 0.95}
        return {
            "name": d["name"],
            "task_type": task,
            "team": team,
            "source_kind": source,
            "dataset_version": version if source == SourceKind.DATASET else None,
            "text_column": (d.get("text_column") or "") if source == SourceKind.DATASET else "",
            "columns": tuple(d.get("columns") or ()) if source == SourceKind.DATASET else (),
            "source_job": source_job if source == SourceKind.JOB else None,
            "upload": d.get("upload") if source in (SourceKind.IMAGES, SourceKind.PROMPTS) else None,
            "labels": tuple(lines(d.get("labels_text") or "")) if task in LABELED else (),
            "criteria": tuple(d.get("criteria_text") or ()) if task in RATED else (),
            "scale": d.get("scale") or 5,
            "instructions": d.get("instructions") or "",
            "examples": tuple(d.get("examples_text") or ()),
            "workers_per_item": d.get("workers_per_item"),
            "time_limit_s": d.get("time_limit_s") or 600,
            "review_required": bool(d.get("review_required")),
            "hide_project": bool(d.get("hide_project")),
            "pre_annotation_model": model,
            "attribute_name": d.get("attribute_name") or "",
            "gold": gold,
            "auto_labeling": auto,
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            renamed: dict[str, list[str]] = {}
            for key, messages in exc.message_dict.items():
                base = key.split(".")[0].split("[")[0]
                target = ALIASES.get(base, base)
                renamed.setdefault(target, []).extend(messages)
            exc = ValidationError(renamed)  # type: ignore[arg-type]
        form_add_errors(self, exc)


def parse_answer(task_type: str, post: Any, labels: list[str]) -> dict[str, Any] | None:
    """A reviewer's adjusted answer from the review form: a label (single), labels (multi), the preferred response
    (pairwise), or the answer as JSON for the other task types. None when nothing was given."""
    if task_type in SINGLE_LABEL:
        label = post.get("label")
        return {"label": label} if label else None
    if task_type in MULTI_LABEL:
        return {"labels": [v for v in post.getlist("labels") if v]}
    if task_type == TaskType.PAIRWISE_PREFERENCE:
        preferred = post.get("preferred", "")
        if preferred not in ("0", "1"):
            return None
        return {"preferred": int(preferred), "reason": post.get("reason", "")}
    raw = (post.get("answer_json") or "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValidationError({"answer": f"The answer is not valid JSON: {exc}."}) from exc
    if not isinstance(value, dict):
        raise ValidationError({"answer": "The answer is a JSON object, e.g. " + '{"text": "..."}.'})
    return value
