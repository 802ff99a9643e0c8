"""Serializers of the labeling API's jobs part: a job as read (list and detail), and the bodies of create, update
and status changes. Bodies come as JSON or, with an upload, as multipart: there a list or object field may be sent
as JSON text (`labels=["pos", "neg"]`) or, for lists, repeated (`labels=pos&labels=neg`)."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.fields import IdField
from apps.labeling.choices import JobStatus, SourceKind, TaskType
from apps.labeling.markdown import render_instructions
from apps.labeling.models import LabelingJob


class FormJsonField(serializers.JSONField):
    """JSON in a JSON body; in a multipart body, JSON text, or (for `many`) the field's repeated values."""

    def __init__(self, *, many: bool = False, **kwargs: Any) -> None:
        self.many = many
        super().__init__(**kwargs)

    def get_value(self, dictionary: Any) -> Any:
        if hasattr(dictionary, "getlist"):  # a multipart body (QueryDict)
            if self.field_name not in dictionary:
                return serializers.empty
            values = dictionary.getlist(self.field_name)
            if len(values) == 1 and isinstance(values[0], str):
                text = values[0].strip()
                if text[:1] in ("[", "{") or text in ("null", "true", "false"):
                    try:
                        return json.loads(text)
                    except json.JSONDecodeError:
                        self.fail("invalid")
                if not self.many:
                    return text
            return list(values) if self.many else values[-1]
        return super().get_value(dictionary)


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class StringListField(FormJsonField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(many=True, **kwargs)


class LabelingJobSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    team = serializers.IntegerField(source="team_id", read_only=True)
    dataset_version = serializers.IntegerField(source="dataset_version_id", read_only=True, allow_null=True)
    source_job = serializers.IntegerField(source="source_job_id", read_only=True, allow_null=True)
    pre_annotation_model = serializers.IntegerField(source="pre_annotation_model_id", read_only=True, allow_null=True)
    prepare_job = serializers.IntegerField(source="prepare_job_id", read_only=True, allow_null=True)
    consolidate_job = serializers.IntegerField(source="consolidate_job_id", read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    instructions_html = serializers.SerializerMethodField()

    class Meta:
        model = LabelingJob
        fields = [
            "id",
            "project",
            "name",
            "task_type",
            "status",
            "source_kind",
            "dataset_version",
            "text_column",
            "columns",
            "source_job",
            "labels",
            "criteria",
            "scale",
            "instructions",
            "instructions_html",
            "examples",
            "team",
            "workers_per_item",
            "time_limit_s",
            "review_required",
            "hide_project",
            "pre_annotation_model",
            "attribute_name",
            "auto_labeling",
            "prepare_job",
            "consolidate_job",
            "item_count",
            "labeled_count",
            "consolidated_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_instructions_html(self, job: LabelingJob) -> str:
        return render_instructions(job.instructions)


class LabelingJobCreateSerializer(serializers.Serializer):
    """The body of `POST /api/labeling-jobs/` (apps.labeling.services.jobs.labeling_job_create checks the rest)."""

    project = IdField()
    name = serializers.CharField(max_length=200)
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    team = IdField()
    source_kind = serializers.ChoiceField(choices=SourceKind.choices, required=False, allow_blank=True)
    dataset_version = IdField(required=False, allow_null=True)
    text_column = serializers.CharField(required=False, allow_blank=True, max_length=300)
    columns = StringListField(required=False)
    source_job = IdField(required=False, allow_null=True)
    labels = StringListField(required=False)
    criteria = FormJsonField(many=True, required=False)
    scale = serializers.IntegerField(required=False, min_value=2, max_value=10)
    instructions = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    examples = FormJsonField(many=True, required=False)
    workers_per_item = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10)
    time_limit_s = serializers.IntegerField(required=False, min_value=30, max_value=86_400)
    review_required = serializers.BooleanField(required=False, default=False)
    hide_project = serializers.BooleanField(required=False, default=False)
    pre_annotation_model = IdField(required=False, allow_null=True)
    attribute_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    gold = FormJsonField(
        required=False,
        allow_null=True,
        help_text='{"<item position>": <answer>} or the name of a column of gold labels.',
    )
    auto_labeling = FormJsonField(required=False, allow_null=True)
    file = serializers.FileField(
        required=False, help_text="Images (repeat the field), a zip of images, or a JSON Lines file of prompts."
    )


class LabelingJobUpdateSerializer(serializers.Serializer):
    """The body of `PATCH /api/labeling-jobs/{id}/`: any of these."""

    name = serializers.CharField(required=False, max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    examples = serializers.JSONField(required=False)
    time_limit_s = serializers.IntegerField(required=False, min_value=30, max_value=86_400)
    review_required = serializers.BooleanField(required=False)
    hide_project = serializers.BooleanField(required=False)
    status = serializers.ChoiceField(required=False, choices=[JobStatus.ACTIVE, JobStatus.PAUSED, JobStatus.CANCELLED])


class LabelingJobStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[JobStatus.ACTIVE, JobStatus.PAUSED, JobStatus.CANCELLED])
