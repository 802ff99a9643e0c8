from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.automl import selectors
from apps.automl.models import AutomlBuild
from apps.core.api.fields import IdField
from apps.registry.models import ModelVersion


class LeaderboardEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    algorithm = serializers.CharField()
    metrics = serializers.DictField()
    fit_time_s = serializers.FloatField()


class BuildSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)
    dataset_version = serializers.IntegerField(source="dataset_version_id", read_only=True)
    project = serializers.IntegerField(source="project_id", read_only=True)
    leaderboard = serializers.SerializerMethodField()
    best = serializers.CharField(source="best_candidate", read_only=True)
    selected = serializers.CharField(source="chosen_candidate", read_only=True)

    class Meta:
        model = AutomlBuild
        fields = [
            "id",
            "project",
            "name",
            "dataset_version",
            "target",
            "status",
            "job",
            "problem_type",
            "objective",
            "mode",
            "time_budget_s",
            "seed",
            "trials_done",
            "best_score",
            "leaderboard",
            "best",
            "selected",
            "checks",
            "created_at",
        ]
        read_only_fields = fields

    def get_leaderboard(self, obj: AutomlBuild) -> list[dict[str, Any]]:
        keys = (
            "name",
            "algorithm",
            "metrics",
            "fit_time_s",
            "score",
            "rank",
            "best",
            "predict_ms_per_row",
            "model_size_bytes",
            "params",
        )
        return [{k: e.get(k) for k in keys} for e in obj.leaderboard]


class BuildDetailSerializer(BuildSerializer):
    """One build, with the candidates that have a fitted model (selectable at once) and those being refitted."""

    fitted = serializers.SerializerMethodField()
    fitting = serializers.SerializerMethodField()

    class Meta(BuildSerializer.Meta):
        fields = [*BuildSerializer.Meta.fields, "fitted", "fitting", "fairness"]
        read_only_fields = fields

    def get_fitted(self, obj: AutomlBuild) -> list[str]:
        names = [obj.best_candidate] if obj.artifact_id and obj.best_candidate else []
        rows = selectors.fitted_candidates(build=obj).filter(artifact__isnull=False)
        return names + [c.name for c in rows if c.name not in names]

    def get_fitting(self, obj: AutomlBuild) -> dict[str, int]:
        """{candidate: job id} for candidates being refitted on all rows now."""
        rows = selectors.fitted_candidates(build=obj).filter(artifact__isnull=True)
        return {c.name: c.job.pk for c in rows if c.job is not None and not c.job.is_final}


class BuildStartSerializer(serializers.Serializer):
    project = IdField()
    dataset_version = IdField()
    target = serializers.CharField()
    problem_type = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    objective = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    mode = serializers.CharField(required=False, default="quick")
    time_budget_s = serializers.FloatField(required=False, allow_null=True)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)
    name = serializers.CharField(required=False, allow_blank=True, default="")
    fairness = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='Optional: {"mitigator": "exponentiated_gradient", "constraint": "demographic_parity" or '
        '"equalized_odds", "sensitive": <column>, "base": "lightgbm" or "linear"}: the build\'s model is trained '
        "under that Fairlearn constraint (binary targets).",
    )


class CheckSerializer(serializers.Serializer):
    dataset_version = IdField()
    target = serializers.CharField()
    problem_type = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    objective = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class RegisteredVersionSerializer(serializers.ModelSerializer):
    """The Model Registry version a Canvas candidate became (the registry's own API has every detail)."""

    group = serializers.IntegerField(source="group_id", read_only=True)
    name = serializers.CharField(source="group.name", read_only=True)
    artifact_sha256 = serializers.CharField(source="artifact.sha256", read_only=True)
    build = serializers.IntegerField(source="automl_build_id", read_only=True)
    training_dataset_version = serializers.IntegerField(source="dataset_version_id", read_only=True)
    parameters = serializers.JSONField(source="hyperparameters", read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "group",
            "name",
            "version",
            "build",
            "candidate",
            "artifact_sha256",
            "problem_type",
            "target",
            "metrics",
            "parameters",
            "signature",
            "training_dataset_version",
            "library_versions",
            "approval_status",
            "created_at",
        ]
        read_only_fields = fields
