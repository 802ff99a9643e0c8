"""The start form. Option fields are text so that the service, not the form, checks types and ranges: the UI
and the API then give the same messages, which `add_service_errors` puts next to the field they name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from apps.unsupervised.choices import DEFAULT_K_MAX, DEFAULT_K_MIN, OPTION_NAMES, Algorithm, KMethod


class ColumnListField(forms.Field):
    """Column names from a multi-select: a list of non-empty strings (checked against the version by the service)."""

    widget = forms.SelectMultiple

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        values = [value] if isinstance(value, str) else list(value)
        return list(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))


class RunForm(forms.Form):
    dataset_version = forms.IntegerField(label="Dataset version", widget=forms.Select)
    algorithm = forms.ChoiceField(choices=Algorithm.choices, initial=Algorithm.KMEANS)
    columns = ColumnListField(
        required=False,
        label="Input columns",
        help_text="None selected: every usable numeric, categorical, boolean or date column.",
    )
    n_components = forms.CharField(
        required=False,
        max_length=20,
        label="Components",
        help_text="A number of components, or leave empty and give a variance.",
    )
    variance = forms.CharField(
        required=False,
        max_length=20,
        label="Variance to keep",
        widget=forms.TextInput(attrs={"placeholder": "0.9"}),
        help_text="0 < v < 1: as many components as explain this share. Empty: 0.9.",
    )
    k = forms.CharField(
        required=False,
        max_length=20,
        initial="auto",
        label="Clusters (k)",
        help_text="A whole number ≥ 2, or auto to suggest one.",
    )
    k_min = forms.CharField(required=False, max_length=20, initial=DEFAULT_K_MIN, label="Smallest k tried")
    k_max = forms.CharField(required=False, max_length=20, initial=DEFAULT_K_MAX, label="Largest k tried")
    method = forms.ChoiceField(
        choices=KMethod.choices, initial=KMethod.SILHOUETTE, required=False, label="How to pick k"
    )
    contamination = forms.CharField(
        required=False,
        max_length=20,
        initial="auto",
        label="Contamination",
        help_text="auto, or the expected share of anomalies (0 < c ≤ 0.5).",
    )
    seed = forms.CharField(required=False, max_length=20, initial=0, label="Seed")

    def __init__(self, *args: Any, versions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset_version"].widget.choices = [  # type: ignore[attr-defined]
            (v.pk, f"{v.dataset.name} v{v.number} ({v.row_count:,} rows)") for v in versions
        ]

    def options(self) -> dict[str, Any]:
        """The chosen algorithm's options that were filled in (the others' fields are ignored)."""
        d = self.cleaned_data
        names = OPTION_NAMES.get(d.get("algorithm") or "", ())
        return {name: d[name] for name in names if d.get(name) not in (None, "")}

    def add_service_errors(self, exc: ValidationError) -> None:
        """The service's errors next to the fields they name; the others (e.g. `options`) above the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, messages in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)

    def option_fields(self, algorithm: str) -> list[forms.BoundField]:
        return [self[name] for name in OPTION_NAMES[algorithm] if name != "seed"]
