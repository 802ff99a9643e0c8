"""Registry forms: import a model file, edit a version or group, change approval. Tags are typed as `key=value`
lines here (the API takes a JSON object)."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from apps.registry.choices import ApprovalStatus
from apps.registry.models import NAME_HELP


def parse_tag_lines(text: str) -> dict[str, str]:
    """`key=value` per line (a line without `=` is a key with an empty value); blank lines are skipped."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def tag_lines(tags: dict[str, Any] | None) -> str:
    return "\n".join(f"{k}={v}" for k, v in (tags or {}).items())


class TagsField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3, "class": "mono", "placeholder": "team=risk\nstage=pilot"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "One key=value per line.")
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        return parse_tag_lines(super().to_python(value) or "")


class ModelImportForm(forms.Form):
    file = forms.FileField(help_text="A skops file (skops.io.dump) or an ONNX model. Pickles are refused.")
    group = forms.CharField(max_length=63, label="Model group", help_text=NAME_HELP)
    signature = forms.CharField(
        required=False,
        label="Input columns (JSON)",
        widget=forms.Textarea(
            attrs={"rows": 3, "class": "mono", "placeholder": '{"inputs": [{"name": "age", "type": "double"}]}'}
        ),
        help_text="Needed only when the file does not name its columns (no feature_names_in_, one ONNX tensor).",
    )
    classes = forms.CharField(required=False, help_text="Optional: class labels, comma-separated, in model order.")
    problem_type = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Detect from the model"),
            ("binary", "Binary"),
            ("multiclass", "Multiclass"),
            ("regression", "Regression"),
        ],
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    tags = TagsField()


class VersionEditForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    tags = TagsField()
    metadata = forms.CharField(
        required=False, label="Metadata (JSON object)", widget=forms.Textarea(attrs={"rows": 4, "class": "mono"})
    )

    def clean_metadata(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("metadata") or ""
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Metadata must be a JSON object ({...}).")
        return value


class GroupEditForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    tags = TagsField()


class ApprovalForm(forms.Form):
    status = forms.ChoiceField(choices=ApprovalStatus.choices)
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
