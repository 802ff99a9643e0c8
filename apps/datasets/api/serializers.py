from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import IdField
from apps.datasets.analyses import PARAMS as ANALYSIS_PARAMS
from apps.datasets.choices import ImportFormat, SampleMethod
from apps.datasets.models import DataConnection, Dataset, DatasetVersion, Flow
from apps.datasets.services import ImportOptions


class VersionSummarySerializer(serializers.ModelSerializer):
    schema = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = ["id", "number", "row_count", "column_count", "schema"]
        read_only_fields = fields

    def get_schema(self, obj: DatasetVersion) -> list[dict[str, Any]]:
        return [{"name": c["name"], "type": c["type"]} for c in obj.schema]


class DatasetSerializer(serializers.ModelSerializer):
    latest_version = VersionSummarySerializer(read_only=True, allow_null=True)
    importing = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "name", "project", "description", "latest_version", "importing", "created_at", "updated_at"]
        read_only_fields = fields

    def get_importing(self, obj: Dataset) -> bool:
        return obj.latest_version_id is None


class DatasetVersionSerializer(serializers.ModelSerializer):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    parents = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "dataset",
            "dataset_name",
            "project",
            "number",
            "kind",
            "row_count",
            "column_count",
            "bytes",
            "schema",
            "source",
            "parents",
            "job",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_parents(self, obj: DatasetVersion) -> list[int]:
        return sorted(p.pk for p in obj.parents.all())


class ImportOptionsSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=ImportFormat.choices, required=False, allow_blank=True)
    delimiter = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=4)
    encoding = serializers.CharField(required=False, allow_blank=True, max_length=40)
    header = serializers.ChoiceField(choices=["", "auto", "true", "false", "1", "0", "yes", "no"], required=False)
    sheet = serializers.CharField(required=False, allow_blank=True, max_length=200)
    sample_method = serializers.ChoiceField(choices=SampleMethod.choices, required=False, default="all")
    sample_size = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    sample_column = serializers.CharField(required=False, allow_blank=True, max_length=300)
    seed = serializers.IntegerField(required=False, default=0, min_value=0)
    filename = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        help_text="Name to record for the file (defaults to the uploaded name).",
    )

    def validate_delimiter(self, value: str) -> str:
        value = {"\\t": "\t", "tab": "\t"}.get(value, value)
        if value and len(value) != 1:
            raise serializers.ValidationError(f"The delimiter must be one character, got {value!r}.")
        return value

    def validate_filename(self, value: str) -> str:
        from apps.datasets.storage import check_filename

        try:
            return check_filename(value) if value else value
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def options(self) -> ImportOptions:
        data = self.validated_data
        header = data.get("header") or ""
        return ImportOptions(
            format=data.get("format") or None,
            delimiter=data.get("delimiter") or None,
            encoding=data.get("encoding") or None,
            header=None if header in ("", "auto") else header in ("true", "1", "yes"),
            sheet=data.get("sheet") or None,
            sample_method=data.get("sample_method") or "all",
            sample_size=data.get("sample_size"),
            sample_column=data.get("sample_column") or None,
            seed=data.get("seed") or 0,
        )


class DatasetImportSerializer(ImportOptionsSerializer):
    file = serializers.FileField()
    name = serializers.CharField(max_length=100)
    project = IdField()
    description = serializers.CharField(required=False, allow_blank=True, default="")


class VersionImportSerializer(ImportOptionsSerializer):
    file = serializers.FileField()


class SqlImportSerializer(serializers.Serializer):
    project = IdField()
    connection = IdField()
    name = serializers.CharField(max_length=100)
    query = serializers.CharField(max_length=20_000, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class AcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    job = serializers.IntegerField()


class JobStartedSerializer(serializers.Serializer):
    job = serializers.IntegerField()


class ProfileStartSerializer(serializers.Serializer):
    target = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=300)


class RetypeSerializer(serializers.Serializer):
    columns = serializers.DictField(child=serializers.CharField(max_length=20), allow_empty=False)


class RowsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.DictField())


class FlowSerializer(serializers.ModelSerializer):
    class Meta:
        model = Flow
        fields = ["id", "name", "project", "description", "output_name", "definition", "created_at", "updated_at"]
        read_only_fields = ["id", "project", "created_at", "updated_at"]


class FlowCreateSerializer(serializers.Serializer):
    project = IdField()
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    output_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    sources = serializers.ListField(
        child=IdField(), allow_empty=False, help_text="Dataset version ids the flow starts from."
    )


class StepSerializer(serializers.Serializer):
    op = serializers.CharField(max_length=100)
    parameters = serializers.DictField(required=False, default=dict)
    inputs = serializers.ListField(child=serializers.CharField(max_length=100), required=False, allow_empty=True)
    label = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)  # type: ignore[assignment]


class FlowPreviewSerializer(serializers.Serializer):
    step = serializers.CharField(required=False, allow_blank=True, max_length=100)
    draft = StepSerializer(required=False)


class FlowRunSerializer(serializers.Serializer):
    output_name = serializers.CharField(required=False, allow_blank=True, max_length=100)


class AnalysisSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(ANALYSIS_PARAMS))
    step = serializers.CharField(max_length=100)
    params = serializers.DictField(required=False, default=dict)


class SqlQuerySerializer(serializers.Serializer):
    project = IdField()
    query = serializers.CharField(max_length=20_000, trim_whitespace=False)


class SqlSaveSerializer(SqlQuerySerializer):
    name = serializers.CharField(max_length=100)


class DataConnectionSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="safe_url", read_only=True)

    class Meta:
        model = DataConnection
        fields = ["id", "name", "description", "url"]
        read_only_fields = fields
