from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.core.api.fields import IdField
from apps.core.models import WebhookDelivery
from apps.core.webhooks import webhook_url_clean
from apps.endpoints.models import BatchTransform, Endpoint, EndpointKey


class VariantSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    model_version = serializers.IntegerField(source="model_version_id", read_only=True)
    model_version_label = serializers.SerializerMethodField()
    weight = serializers.FloatField(read_only=True)

    def get_model_version_label(self, obj: Any) -> str:
        return str(obj.model_version)


class EndpointSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    variants = VariantSerializer(many=True, read_only=True)
    invocation_url = serializers.SerializerMethodField()
    ping_url = serializers.SerializerMethodField()
    webhook_url = serializers.CharField(read_only=True, help_text="Empty: no webhook.")

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "name",
            "project",
            "type",
            "status",
            "description",
            "variants",
            "timeout_s",
            "idle_timeout_s",
            "max_concurrency",
            "capture_percent",
            "webhook_url",
            "config_version",
            "invocation_url",
            "ping_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_invocation_url(self, obj: Endpoint) -> str:
        suffix = "async-invocations" if obj.type == "async" else "invocations"
        return f"/endpoints/{obj.name}/{suffix}"

    def get_ping_url(self, obj: Endpoint) -> str:
        return f"/endpoints/{obj.name}/ping"


class VariantInputSerializer(serializers.Serializer):
    model_version = IdField()
    weight = serializers.FloatField(required=False, default=1.0)
    name = serializers.CharField(required=False, allow_blank=True, max_length=63)


class EndpointSettingsSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    timeout_s = serializers.FloatField(required=False, allow_null=True)
    idle_timeout_s = serializers.IntegerField(required=False, allow_null=True)
    max_concurrency = serializers.IntegerField(required=False, allow_null=True)
    capture_percent = serializers.FloatField(required=False, allow_null=True)
    webhook_url = serializers.CharField(required=False, allow_blank=True, max_length=500)

    def validate_webhook_url(self, value: str) -> str:
        """Refused now, with the SSRF guard's reason, rather than at the first delivery."""
        try:
            return webhook_url_clean(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["webhook_url"], code="unsafe_url") from exc


class EndpointCreateSerializer(EndpointSettingsSerializer):
    """`model_version` for one variant, or `variants: [{model_version, weight, name?}]` for several."""

    project = IdField()
    name = serializers.CharField(max_length=100)
    type = serializers.CharField(required=False, default="realtime")
    model_version = IdField(required=False)
    variants = VariantInputSerializer(many=True, required=False)

    def validate_webhook_url(self, value: str) -> str:
        """Only asynchronous endpoints call a webhook: said before the URL itself is checked."""
        from apps.endpoints.services import refuse_other_types_settings

        try:
            refuse_other_types_settings(str(self.initial_data.get("type") or "realtime"), webhook_url=value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["webhook_url"]) from exc
        return super().validate_webhook_url(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("model_version")) == bool(attrs.get("variants")):
            raise serializers.ValidationError({"model_version": "Give either model_version or variants."})
        return attrs


class EndpointUpdateSerializer(EndpointSettingsSerializer):
    model_version = IdField(required=False)
    variants = VariantInputSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("model_version") and attrs.get("variants"):
            raise serializers.ValidationError({"model_version": "Give either model_version or variants."})
        if not attrs:
            raise serializers.ValidationError(
                {"variants": "Nothing to update: give model_version, variants or a setting."}
            )
        return attrs


class EndpointKeySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = EndpointKey
        fields = ["id", "endpoint", "name", "prefix", "created_at", "revoked_at", "active"]
        read_only_fields = fields


class EndpointKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)


class BatchTransformSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    model_version = serializers.IntegerField(source="model_version_id", read_only=True)
    dataset_version = serializers.IntegerField(source="dataset_version_id", read_only=True)
    output_version = serializers.IntegerField(source="output_version_id", read_only=True, allow_null=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = BatchTransform
        fields = [
            "id",
            "project",
            "model_version",
            "dataset_version",
            "join_input_columns",
            "probabilities",
            "status",
            "job",
            "output_version",
            "rows",
            "created_at",
        ]
        read_only_fields = fields


class BatchTransformStartSerializer(serializers.Serializer):
    model_version = IdField()
    dataset_version = IdField()
    join_input_columns = serializers.BooleanField(required=False, default=False)
    probabilities = serializers.BooleanField(required=False, default=True)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One attempt to deliver one webhook message (the attempts of a message share `delivery_id`)."""

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "reference",
            "url",
            "attempt",
            "outcome",
            "status_code",
            "latency_ms",
            "error",
            "payload_sha256",
            "created_at",
            "scheduled_at",
            "attempted_at",
            "next_attempt_at",
        ]
        read_only_fields = fields


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True)
    previous_valid_until = serializers.DateTimeField(read_only=True, allow_null=True)
