"""Clarify's forms: the start form (a bias report on a dataset version, optionally with a model), the per-metric
flag thresholds, and the mitigation form. Column and value pickers are fed from the version's schema; values go to
the service exactly as the user picked or wrote them (a label value "Yes" stays "Yes"). The forms check only the
shape of what was sent; the service checks it against the data, and `form_add_errors` puts its messages next to the
field they name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from apps.accounts.requests import form_add_errors
from apps.clarify.choices import MitigationKind

FACET_SLOTS = 3  # facets one report can hold from the page (the API takes any number)
PAIR_SLOTS = 2  # 2-feature partial dependence pairs
CONSTRAINTS = [
    ("demographic_parity", "Demographic parity (equal positive prediction rates)"),
    ("equalized_odds", "Equalized odds (equal true and false positive rates)"),
]


@dataclass
class ColumnInfo:
    """One column of a version as the pickers show it: its values when the whole list is known (few distinct
    values), else the commonest ones as suggestions, and whether it is numeric (a threshold makes sense)."""

    name: str
    type: str
    numeric: bool
    values: list[str] = field(default_factory=list)
    complete: bool = False


def version_columns(version: Any) -> list[ColumnInfo]:
    """The pickers' data from the version's schema and its stored per-column top values (no data read)."""
    out = []
    for entry in version.schema or []:
        name = entry["name"]
        hist = (version.histograms or {}).get(name) or {}
        labels = [str(v) for v in hist.get("labels") or []] if hist.get("kind") == "top" else []
        complete = bool(labels) and int(hist.get("distinct") or 0) == len(labels)
        ctype = str(entry.get("type") or "")
        out.append(
            ColumnInfo(
                name=name,
                type=ctype,
                numeric=hist.get("kind") == "bins" or ctype in ("numeric", "integer", "float"),
                values=labels,
                complete=complete,
            )
        )
    return out


class ValueListField(forms.Field):
    """Values from a multi-select plus an optional comma-separated text box (for a column whose values are not all
    known): a list of strings as written, duplicates dropped, order kept."""

    widget = forms.SelectMultiple

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        values = [value] if isinstance(value, str) else list(value)
        return list(dict.fromkeys(str(v) for v in values if str(v).strip()))


def _split(text: str) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _number(form: forms.Form, name: str) -> float | None:
    raw = (form.cleaned_data.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        form.add_error(name, f"'{raw}' is not a number.")
        return None


class ReportForm(forms.Form):
    dataset_version = forms.IntegerField(widget=forms.HiddenInput)
    name = forms.CharField(required=False, max_length=200, label="Report name", help_text="Optional.")
    label = forms.CharField(max_length=300, label="Label column", widget=forms.Select)
    label_values = ValueListField(required=False, label="Positive label value(s)")
    label_values_text = forms.CharField(required=False, max_length=2000, label="Other positive values")
    label_threshold = forms.CharField(
        required=False, max_length=40, label="or a threshold", help_text="Numeric label: positive when above it."
    )
    group = forms.CharField(required=False, max_length=300, label="Group column", widget=forms.Select)
    reference = forms.CharField(required=False, max_length=300, label="Trusted reference column", widget=forms.Select)
    model = forms.CharField(required=False, max_length=200, label="Model", widget=forms.Select)
    probability_threshold = forms.CharField(
        required=False,
        max_length=40,
        initial="0.5",
        label="Probability cut-off",
        help_text="A predicted probability above it counts as a positive prediction.",
    )
    explain = forms.BooleanField(required=False, initial=True, label="Explanations (SHAP and partial dependence)")
    pdp_features = forms.IntegerField(
        required=False, min_value=0, max_value=20, initial=5, label="Partial dependence: top features"
    )

    def __init__(
        self, *args: Any, columns: list[ColumnInfo], models: list[tuple[str, str, list[tuple[str, str]]]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.columns = columns
        names = [(c.name, c.name) for c in columns]
        optional = [("", "—"), *names]
        self.fields["label"].widget.choices = [("", "Choose a column"), *names]  # type: ignore[attr-defined]
        self.fields["group"].widget.choices = optional  # type: ignore[attr-defined]
        self.fields["reference"].widget.choices = optional  # type: ignore[attr-defined]
        # models: (group label, [(value, label)]) -> optgroups: registry versions, Canvas candidates
        self.fields["model"].widget.choices = [  # type: ignore[attr-defined]
            ("", "None: data only (pre-training)"),
            *[(group, options) for group, _, options in models],
        ]
        for i in range(1, FACET_SLOTS + 1):
            self.fields[f"facet_{i}"] = forms.CharField(
                required=i == 1, max_length=300, label=f"Facet {i}", widget=forms.Select(choices=optional)
            )
            self.fields[f"facet_{i}_values"] = ValueListField(required=False, label="Sensitive value(s)")
            self.fields[f"facet_{i}_values_text"] = forms.CharField(
                required=False, max_length=2000, label="Other sensitive values"
            )
            self.fields[f"facet_{i}_threshold"] = forms.CharField(required=False, max_length=40, label="or a threshold")
        for i in range(1, PAIR_SLOTS + 1):
            for side in ("a", "b"):
                self.fields[f"pair_{i}_{side}"] = forms.CharField(
                    required=False, max_length=300, label="", widget=forms.Select(choices=optional)
                )
        self.fields["facet_1"].error_messages["required"] = "Choose at least one facet column."
        self.fields["label"].error_messages["required"] = "Choose the label column."

    # -- what the template iterates over ----------------------------------------------------------------------
    def facet_slots(self) -> list[dict[str, Any]]:
        return [
            {
                "n": i,
                "prefix": f"facet_{i}",
                "column": self[f"facet_{i}"],
                "values": self[f"facet_{i}_values"],
                "values_text": self[f"facet_{i}_values_text"],
                "threshold": self[f"facet_{i}_threshold"],
                "picked": self._picked(f"facet_{i}"),
            }
            for i in range(1, FACET_SLOTS + 1)
        ]

    def pair_slots(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"pair_{i}_a"], self[f"pair_{i}_b"]) for i in range(1, PAIR_SLOTS + 1)]

    def _picked(self, name: str) -> set[str]:
        value = self[f"{name}_values"].value() if self.is_bound else self.initial.get(f"{name}_values")
        return set(value or [])

    def label_picked(self) -> set[str]:
        return self._picked("label")

    # -- cleaning ------------------------------------------------------------------------------------------------
    def _values(self, name: str) -> list[str]:
        picked = list(self.cleaned_data.get(f"{name}_values") or [])
        return list(dict.fromkeys([*picked, *_split(self.cleaned_data.get(f"{name}_values_text") or "")]))

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        if not d.get("label"):
            return d
        values, threshold = self._values("label"), _number(self, "label_threshold")
        if not values and threshold is None:
            self.add_error("label_values", "Pick the positive label value(s) or give a threshold.")
        elif values and threshold is not None:
            self.add_error("label_threshold", "Give positive values or a threshold, not both.")
        facets, seen = [], set()
        for i in range(1, FACET_SLOTS + 1):
            column = d.get(f"facet_{i}") or ""
            facet_values, facet_threshold = self._values(f"facet_{i}"), _number(self, f"facet_{i}_threshold")
            if not column:
                if facet_values or facet_threshold is not None:
                    self.add_error(f"facet_{i}", "Choose the facet column these values belong to.")
                continue
            if column in seen:
                self.add_error(f"facet_{i}", f"'{column}' is already a facet of this report.")
                continue
            if facet_values and facet_threshold is not None:
                self.add_error(f"facet_{i}_threshold", "Give sensitive values or a threshold, not both.")
            seen.add(column)
            facets.append({"name": column, "values": facet_values, "threshold": facet_threshold})
        d["facets"] = facets
        d["label_values_all"], d["label_threshold_value"] = values, threshold
        d["probability_threshold_value"] = _number(self, "probability_threshold")
        pairs = []
        for i in range(1, PAIR_SLOTS + 1):
            a, b = d.get(f"pair_{i}_a") or "", d.get(f"pair_{i}_b") or ""
            if bool(a) != bool(b):
                self.add_error(f"pair_{i}_a", "Choose both features of the pair, or neither.")
            elif a and a == b:
                self.add_error(f"pair_{i}_a", "A pair needs two different features.")
            elif a:
                pairs.append([a, b])
        d["pairs"] = pairs
        return d

    def config(self) -> dict[str, Any]:
        """The service's config dict (CLARIFY.md), from the cleaned data."""
        d = self.cleaned_data
        threshold = d.get("probability_threshold_value")
        return {
            "label": d["label"],
            "positive_label_values": d["label_values_all"],
            "label_threshold": d["label_threshold_value"],
            "facets": d["facets"],
            "group": d.get("group") or None,
            "reference": d.get("reference") or None,
            "probability_threshold": 0.5 if threshold is None else threshold,
            "explain": {
                "shap": bool(d.get("explain")),
                "pdp_features": d.get("pdp_features") if d.get("pdp_features") is not None else 5,
                # partial dependence is of a model's predictions: pairs only with a model
                "pdp_pairs": d["pairs"] if d.get("explain") and d.get("model") else [],
            },
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        """The service names config keys; map them onto this form's fields."""
        aliases = {
            "positive_label_values": "label_values",
            "label_threshold": "label_values",
            "facets": "facet_1",
            "model_version": "model",
            "automl_build": "model",
            "candidate": "model",
            "explain": "pdp_features",
            "pdp_pairs": "pair_1_a",
        }
        if hasattr(exc, "error_dict"):
            renamed: dict[str, list[str]] = {}
            for key, messages in exc.message_dict.items():
                target = aliases.get(key, key)
                if key.startswith("facets"):  # e.g. "facets.0.values" or "facets[1]": the slot it names
                    digits = "".join(ch for ch in key if ch.isdigit())
                    index = int(digits) + 1 if digits else 1
                    target = f"facet_{index}_values" if "value" in key else f"facet_{index}"
                    target = target if target in self.fields else "facet_1"
                renamed.setdefault(target, []).extend(messages)
            exc = ValidationError(renamed)  # type: ignore[arg-type]
        form_add_errors(self, exc)


class ThresholdsForm(forms.Form):
    """One number per metric name; an empty box puts the metric back to its default threshold."""

    def __init__(self, *args: Any, metrics: list[str], current: dict[str, float] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metric_names = metrics
        self.current = current or {}
        for name in metrics:
            self.fields[f"t_{name}"] = forms.CharField(required=False, max_length=40, label=name)

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        thresholds: dict[str, float | None] = {}
        for name in self.metric_names:
            raw = (d.get(f"t_{name}") or "").strip()
            if not raw:
                if name in self.current:
                    thresholds[name] = None  # emptied: back to the default
                continue
            try:
                value = float(raw)
            except ValueError:
                self.add_error(f"t_{name}", f"'{raw}' is not a number.")
                continue
            if value != value or value in (float("inf"), float("-inf")):
                self.add_error(f"t_{name}", "The threshold must be a finite number.")
                continue
            thresholds[name] = value
        d["thresholds"] = thresholds
        return d

    def add_service_errors(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            exc = ValidationError(
                {(f"t_{k}" if f"t_{k}" in self.fields else k): v for k, v in exc.message_dict.items()}  # type: ignore[arg-type]
            )
        form_add_errors(self, exc)


class MitigationForm(forms.Form):
    kind = forms.ChoiceField(choices=MitigationKind.choices, label="Mitigation")
    facet = forms.ChoiceField(label="Facet")
    constraint = forms.ChoiceField(
        choices=CONSTRAINTS,
        required=False,
        label="Fairness constraint",
        help_text="For a retrained model or per-group thresholds.",
    )

    def __init__(self, *args: Any, facets: list[str], model_kinds: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["facet"].choices = [(f, f) for f in facets]  # type: ignore[attr-defined]
        if not model_kinds:  # without a Canvas build's model only the data can be changed: no constraint to choose
            self.fields["kind"].choices = [  # type: ignore[attr-defined]
                (k.value, k.label) for k in (MitigationKind.REWEIGH, MitigationKind.RESAMPLE)
            ]
            del self.fields["constraint"]

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        model_kind = d.get("kind") in (MitigationKind.EXPONENTIATED_GRADIENT, MitigationKind.THRESHOLD_OPTIMIZER)
        if model_kind and "constraint" in self.fields and not d.get("constraint"):
            self.add_error("constraint", "Choose the fairness constraint the model must meet.")
        return d

    def params(self) -> dict[str, Any]:
        d = self.cleaned_data
        params: dict[str, Any] = {"facet": d["facet"]}
        if d["kind"] in (MitigationKind.EXPONENTIATED_GRADIENT, MitigationKind.THRESHOLD_OPTIMIZER):
            params["constraint"] = d["constraint"]
        return params

    def add_service_errors(self, exc: ValidationError) -> None:
        form_add_errors(self, exc)
