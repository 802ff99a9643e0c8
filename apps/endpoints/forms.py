from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from apps.accounts.requests import form_add_errors
from apps.core.webhooks import webhook_url_clean
from apps.endpoints.choices import EndpointType


class ServiceErrorsMixin:
    """`add_service_errors(exc)`: the service's errors onto the form through the shared `form_add_errors`. When the
    service gives a summary (`non_field_errors`), the per-column reasons it adds for API clients ({"x2": ["missing"]})
    are not repeated above the form."""

    fields: dict[str, Any]

    def add_service_errors(self, exc: Any) -> None:
        if not isinstance(exc, ValidationError):
            self.add_error(None, str(exc))  # type: ignore[attr-defined]
            return
        errors = exc.message_dict if hasattr(exc, "error_dict") else {}
        summary = ("non_field_errors", "__all__")
        skip = (
            tuple(f for f in errors if f not in self.fields and f not in summary) if set(errors) & set(summary) else ()
        )
        form_add_errors(self, exc, skip=skip)


class EndpointForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=63, help_text="Letters, digits and hyphens; it becomes /endpoints/<name>/.")
    type = forms.ChoiceField(choices=EndpointType.choices, initial=EndpointType.REALTIME)
    model_version = forms.TypedChoiceField(coerce=int, label="Approved model version")
    second_version = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Second variant (optional, A/B)"
    )
    weight = forms.FloatField(initial=1.0, min_value=0, label="Weight of the first")
    second_weight = forms.FloatField(initial=0.0, min_value=0, required=False, label="Weight of the second")
    capture_percent = forms.FloatField(initial=0, min_value=0, max_value=100, label="Data capture (% of requests)")
    idle_timeout_s = forms.IntegerField(initial=300, min_value=1, label="Serverless: unload after idle (s)")
    max_concurrency = forms.IntegerField(initial=5, min_value=1, label="Serverless: max concurrency")
    timeout_s = forms.FloatField(required=False, min_value=0.01, label="Timeout (s, empty: default)")
    webhook_url = forms.CharField(required=False, max_length=500, label="Async: webhook URL (optional)")

    # The settings that mean something for one endpoint type only; the page shows them for that type
    # (static/js/endpoint_form.js) and `clean` drops what was sent for another type.
    TYPE_FIELDS: dict[str, tuple[str, ...]] = {
        "idle_timeout_s": (EndpointType.SERVERLESS,),
        "max_concurrency": (EndpointType.SERVERLESS,),
        "webhook_url": (EndpointType.ASYNC,),
    }

    def __init__(self, *args: Any, versions: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(v.pk, f"{v.group.name} v{v.version}") for v in versions]
        cast(forms.ChoiceField, self.fields["model_version"]).choices = choices
        cast(forms.ChoiceField, self.fields["second_version"]).choices = [("", "—"), *choices]
        for name, types in self.TYPE_FIELDS.items():
            # Another type's setting is not required: whatever it holds is ignored (see `clean`).
            self.fields[name].required = False
            self.fields[name].widget.attrs["data-endpoint-types"] = " ".join(types)
        if self.is_bound:
            # A field of another type than the chosen one is neither validated nor kept: what a hidden input still
            # carries (e.g. the default idle timeout when deploying real-time) must not refuse the form.
            chosen = self.data.get(self.add_prefix("type"), "")
            dropped = {self.add_prefix(n) for n, types in self.TYPE_FIELDS.items() if chosen not in types}
            data = self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
            for key in dropped:
                data.pop(key, None)
            self.data = data

    def rows(self) -> list[tuple[Any, str]]:
        """(bound field, the types it belongs to, space-separated; "" for every type) in form order."""
        return [(field, " ".join(self.TYPE_FIELDS.get(field.name, ()))) for field in self]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, types in self.TYPE_FIELDS.items():
            if data.get("type") not in types:
                data[name] = None
        return data

    def clean_webhook_url(self) -> str:
        """Refused now, with the SSRF guard's reason, rather than at the first delivery."""
        try:
            return webhook_url_clean(self.cleaned_data.get("webhook_url"))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["webhook_url"], code="unsafe_url") from exc

    def variants(self) -> list[tuple[int, float]]:
        d = self.cleaned_data
        out = [(d["model_version"], d["weight"])]
        if d.get("second_version"):
            out.append((d["second_version"], d.get("second_weight") or 0.0))
        return out


class BatchTransformForm(ServiceErrorsMixin, forms.Form):
    model_version = forms.TypedChoiceField(coerce=int, label="Approved model version")
    dataset_version = forms.TypedChoiceField(coerce=int, label="Dataset version")
    join_input_columns = forms.BooleanField(required=False, label="Copy the input columns into the output")
    probabilities = forms.BooleanField(required=False, initial=True, label="Add class probabilities")

    def __init__(self, *args: Any, versions: list[Any], datasets: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["model_version"]).choices = [
            (v.pk, f"{v.group.name} v{v.version}") for v in versions
        ]
        cast(forms.ChoiceField, self.fields["dataset_version"]).choices = [
            (d.pk, f"{d.dataset.name} v{d.number} ({d.row_count:,} rows)") for d in datasets
        ]
