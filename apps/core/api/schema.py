"""The OpenAPI schema class: every operation documents the error answers it can give, in the one error shape of
apps/core/api/errors.py (`{"detail", "errors", "code"}`), beside what its view declares."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERROR_ANSWERS = {
    400: "The request is invalid: `errors` names each field, parameter or column at fault.",
    401: "No valid credentials (`Authorization: Token <key>` or a session).",
    403: "Signed in, but the persona or project membership does not allow this.",
    404: "No such object (or one in a project the caller is not a member of).",
    429: "Too many requests: retry later.",
}
BODY_ERROR_ANSWERS = {
    413: "The request body (an upload) is larger than the configured cap.",
}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A message a person can act on.")
    errors = serializers.DictField(help_text="Messages by field, parameter or column (may be empty).")  # type: ignore[assignment]
    code = serializers.CharField(help_text="A stable machine-readable code: invalid, not_found, ...")

    class Meta:
        ref_name = "Error"


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        answers = dict(ERROR_ANSWERS)
        if self.method in ("POST", "PUT", "PATCH"):
            answers.update(BODY_ERROR_ANSWERS)
        for status, description in answers.items():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), str(status), direction=direction
                )
        return responses


class AcceptedSerializer(serializers.Serializer):
    """202: the object was created and its job queued."""

    id = serializers.IntegerField()
    job = serializers.IntegerField()

    class Meta:
        ref_name = "Started"


class QueuedSerializer(serializers.Serializer):
    """202: a job was queued."""

    job = serializers.IntegerField()

    class Meta:
        ref_name = "Queued"


# A refusal answered by the view itself (409: a stored artifact failed its integrity check or is not allowed).
CONFLICT = OpenApiResponse(ErrorSerializer, description="The stored artifact cannot be used; nothing was loaded.")
