"""UI forms. The flow editor's step forms are built generically from the operators' parameter specs
(`apps.datasets.transforms.operator_specs()`): each parameter type has one widget and one parser."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.http import QueryDict

from apps.datasets.analyses import AGGREGATIONS
from apps.datasets.choices import AnalysisKind, ColumnType, ImportFormat, SampleMethod
from apps.datasets.models import DataConnection, DatasetVersion
from apps.datasets.services import ImportOptions

HEADER_CHOICES = [("", "Detect"), ("true", "First row is the header"), ("false", "No header row")]


class ImportOptionsForm(forms.Form):
    format = forms.ChoiceField(choices=[("", "Detect from the file"), *ImportFormat.choices], required=False)
    delimiter = forms.CharField(
        required=False, max_length=4, strip=False, help_text="CSV only; detected when empty. Use \\t for tab."
    )
    encoding = forms.CharField(required=False, max_length=40, help_text="Detected when empty (UTF-8), e.g. cp1252.")
    header = forms.ChoiceField(choices=HEADER_CHOICES, required=False)
    sheet = forms.CharField(required=False, max_length=200, help_text="Excel only; the first sheet when empty.")
    sample_method = forms.ChoiceField(choices=SampleMethod.choices, required=False, initial="all")
    sample_size = forms.IntegerField(required=False, min_value=1)
    sample_column = forms.CharField(required=False, max_length=300, help_text="Stratified sampling only.")
    seed = forms.IntegerField(required=False, min_value=0, initial=0)

    def clean_delimiter(self) -> str:
        value = {"\\t": "\t", "tab": "\t"}.get(self.cleaned_data["delimiter"], self.cleaned_data["delimiter"])
        if value and len(value) != 1:
            raise forms.ValidationError(f"The delimiter must be one character, got {value!r}.")
        return value

    def options(self) -> ImportOptions:
        data = self.cleaned_data
        header = data.get("header") or ""
        return ImportOptions(
            format=data.get("format") or None,
            delimiter=data.get("delimiter") or None,
            encoding=data.get("encoding") or None,
            header=None if not header else header == "true",
            sheet=data.get("sheet") or None,
            sample_method=data.get("sample_method") or "all",
            sample_size=data.get("sample_size"),
            sample_column=data.get("sample_column") or None,
            seed=data.get("seed") or 0,
        )


class DatasetUploadForm(ImportOptionsForm):
    file = forms.FileField()
    name = forms.CharField(max_length=100, required=False, help_text="Defaults to the file name.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    field_order = ["file", "name", "description"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            if not data.get("name"):
                data["name"] = (upload.name or "dataset").rsplit(".", 1)[0]
        return data


class VersionUploadForm(ImportOptionsForm):
    file = forms.FileField()
    field_order = ["file"]


class SqlImportForm(forms.Form):
    connection = forms.ModelChoiceField(queryset=DataConnection.objects.none(), empty_label=None)
    name = forms.CharField(max_length=100)
    query = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono", "spellcheck": "false"}), max_length=20_000, strip=False
    )

    def __init__(self, *args: Any, connections: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = connections  # type: ignore[attr-defined]


class SqlForm(forms.Form):
    query = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "class": "mono sql", "spellcheck": "false"}),
        max_length=20_000,
        strip=False,
    )
    name = forms.CharField(
        max_length=100,
        required=False,
        label="Save as dataset",
        help_text="A new dataset, or a new version when a dataset of that name exists.",
    )


class FlowCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    sources = forms.ModelMultipleChoiceField(
        queryset=DatasetVersion.objects.none(), help_text="The dataset versions the flow starts from."
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, versions: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sources"].queryset = versions  # type: ignore[attr-defined]
        self.fields["sources"].label_from_instance = lambda v: f"{v.dataset.name} v{v.number}"  # type: ignore[attr-defined]


class FlowRunForm(forms.Form):
    output_name = forms.CharField(max_length=100, label="Output dataset")


class RetypeForm(forms.Form):
    """One type select per column (`col_<i>`); only the changed ones are submitted to the job."""

    def __init__(self, *args: Any, schema: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = schema
        for i, entry in enumerate(schema):
            self.fields[f"col_{i}"] = forms.ChoiceField(
                choices=ColumnType.choices, initial=entry.get("type"), label=entry["name"], required=False
            )

    def changes(self) -> dict[str, str]:
        out = {}
        for i, entry in enumerate(self.schema):
            value = self.cleaned_data.get(f"col_{i}")
            if value and value != entry.get("type"):
                out[entry["name"]] = value
        return out


class AnalysisForm(forms.Form):
    kind = forms.ChoiceField(choices=AnalysisKind.choices)
    step = forms.ChoiceField(choices=())
    column = forms.ChoiceField(choices=(), required=False, help_text="histogram, box plot")
    x = forms.ChoiceField(choices=(), required=False, help_text="scatter, line")
    y = forms.ChoiceField(choices=(), required=False, help_text="scatter, line")
    color = forms.ChoiceField(choices=(), required=False, label="Colour by", help_text="scatter (optional)")
    facet = forms.ChoiceField(choices=(), required=False, label="Facet by", help_text="scatter (optional)")
    by = forms.ChoiceField(choices=(), required=False, label="Group by", help_text="box plot (optional)")
    columns = forms.MultipleChoiceField(choices=(), required=False, help_text="correlation (default: all numeric)")
    bins = forms.IntegerField(required=False, min_value=2, max_value=200, help_text="histogram")
    agg = forms.ChoiceField(
        choices=[("", "mean"), *[(a, a) for a in AGGREGATIONS]], required=False, label="Aggregate", help_text="line"
    )

    def __init__(self, *args: Any, steps: list[tuple[str, str]], columns: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["step"].choices = steps  # type: ignore[attr-defined]
        options = [(c, c) for c in columns]
        for name in ("column", "x", "y", "color", "facet", "by"):
            self.fields[name].choices = [("", "—"), *options]  # type: ignore[attr-defined]
        self.fields["columns"].choices = options  # type: ignore[attr-defined]

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k not in ("kind", "step") and v not in (None, "", [])}


# --- generic step forms from operator specs ----------------------------------------------------------------------


def _choice_text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def step_fields(
    spec: dict[str, Any],
    *,
    columns: dict[int | str, list[str]],
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Widgets for an operator's parameters. `columns` maps an input index to its column names; `values` holds
    the current parameter values (a saved step's, or what was just posted)."""
    values = values or {}
    errors = errors or {}
    out = []
    for param in spec["parameters"]:
        name, kind = param["name"], param["type"]
        value = values.get(name, param["default"])
        cols = columns.get(param["input"], columns.get(0, [])) if param["input"] != "all" else columns.get(0, [])
        field: dict[str, Any] = {
            "name": name,
            "html_name": f"p_{name}",
            "label": param["label"],
            "type": kind,
            "required": param["required"],
            "help": param["description"],
            "error": errors.get(name),
            "kind": param.get("column_kind"),
        }
        if kind == "column":
            field.update(
                widget="select",
                options=[(c, c, c == value) for c in cols],
                blank=not param["required"] or value not in cols,
            )
        elif kind == "columns":
            chosen = set(value or [])
            field.update(
                widget="multiselect", options=[(c, c, c in chosen) for c in cols], size=min(8, max(3, len(cols)))
            )
        elif kind == "choice":
            choices = param["choices"] or []
            if param["multiple"]:
                chosen = {_choice_text(v) for v in (value or [])}
                field.update(
                    widget="multiselect",
                    size=min(8, max(3, len(choices))),
                    options=[(_choice_text(c), str(c), _choice_text(c) in chosen) for c in choices],
                )
            else:
                field.update(
                    widget="select",
                    blank=value is None,
                    options=[(_choice_text(c), str(c), value is not None and c == value) for c in choices],
                )
        elif kind == "boolean":
            field.update(widget="checkbox", checked=bool(value))
        elif kind in ("number", "integer"):
            field.update(
                widget="number",
                value="" if value is None else value,
                min=param["minimum"],
                max=param["maximum"],
                step="1" if kind == "integer" else "any",
            )
        elif kind == "json":
            field.update(widget="textarea", value="" if value is None else json.dumps(value), rows=3)
        elif name == "query":
            field.update(widget="textarea", value=value or "", rows=4)
        else:
            field.update(widget="text", value="" if value is None else value, mono=kind == "expression")
        out.append(field)
    return out


def parse_step_params(spec: dict[str, Any], data: QueryDict) -> tuple[dict[str, Any], dict[str, str]]:
    """Posted form values -> operator parameters (missing optional values left to their defaults)."""
    params: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for param in spec["parameters"]:
        name, kind, key = param["name"], param["type"], f"p_{param['name']}"
        if kind == "columns":
            values = [v for v in data.getlist(key) if v]
            if values:
                params[name] = values
            continue
        if kind == "choice" and param["multiple"]:
            choices = {_choice_text(c): c for c in param["choices"] or []}
            picked = [choices[v] for v in data.getlist(key) if v in choices]
            if picked:
                params[name] = picked
            continue
        if kind == "boolean":
            params[name] = key in data
            continue
        raw = data.get(key, "")
        if raw == "" or raw is None:
            continue
        if kind == "choice":
            choices = {_choice_text(c): c for c in param["choices"] or []}
            if raw not in choices:
                errors[name] = f"Choose one of {', '.join(map(str, choices))}."
            else:
                params[name] = choices[raw]
        elif kind == "integer":
            try:
                params[name] = int(raw)
            except ValueError:
                errors[name] = f"{param['label']} must be a whole number, got {raw!r}."
        elif kind == "number":
            try:
                number = float(raw)
                params[name] = (
                    int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number
                )
            except ValueError:
                errors[name] = f"{param['label']} must be a number, got {raw!r}."
        elif kind == "json":
            try:
                params[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                errors[name] = f"{param['label']} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        else:
            params[name] = raw
    return params, errors
