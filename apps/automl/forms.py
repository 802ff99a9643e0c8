from __future__ import annotations

import json
from typing import Any

from django import forms

from apps.automl.choices import MAX_BUDGET_S, MIN_BUDGET_S, BuildMode, ProblemType, TuningStrategy
from apps.automl.engine import ALGORITHMS, metric_catalogue


def _objective_choices() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("", "Default for the problem type")]
    seen: set[str] = set()
    for problem_type, items in metric_catalogue().items():
        for m in items:
            if m["name"] not in seen:
                seen.add(m["name"])
                out.append((m["name"], f"{m['label']} ({problem_type}, {m['direction']})"))
    return out


class TargetFromVersionMixin:
    """The target is one column of the chosen dataset version: the page lists only that version's columns (and
    static/js/column_select.js swaps them when the version changes); `clean` refuses a column of another version."""

    fields: dict[str, Any]
    cleaned_data: dict[str, Any]

    def _setup_versions(self, versions: Any) -> None:
        field = self.fields["dataset_version"]
        field.queryset = versions
        field.label_from_instance = lambda v: f"{v.dataset.name} v{v.number} ({v.row_count} rows)"
        self.version_list = list(versions)

    def chosen_version(self) -> Any:
        """The version the form shows: the posted or initial one, else the first (what the select shows first)."""
        raw = self["dataset_version"].value()  # type: ignore[index]
        chosen = next((v for v in self.version_list if str(v.pk) == str(raw)), None)
        return chosen or (self.version_list[0] if self.version_list else None)

    def version_columns(self) -> dict[str, list[dict[str, str]]]:
        """{version id: [{name, type}]} for the script that refills the target select."""
        return {
            str(v.pk): [{"name": c["name"], "type": c.get("type", "")} for c in v.schema] for v in self.version_list
        }

    def target_columns(self) -> list[dict[str, str]]:
        version = self.chosen_version()
        return self.version_columns().get(str(version.pk), []) if version is not None else []

    def clean_target_of_version(self) -> None:
        version, target = self.cleaned_data.get("dataset_version"), self.cleaned_data.get("target")
        if version is not None and target and target not in version.column_names:
            self.add_error(  # type: ignore[attr-defined]
                "target",
                f"{target!r} is not a column of {version.dataset.name} v{version.number}; "
                "choose one of that version's columns.",
            )


class BuildForm(TargetFromVersionMixin, forms.Form):
    dataset_version = forms.ModelChoiceField(queryset=None, label="Dataset version", empty_label=None)  # type: ignore[arg-type,var-annotated]
    target = forms.CharField(max_length=300, label="Target column")
    problem_type = forms.ChoiceField(choices=[("", "Detect from the target"), *ProblemType.choices], required=False)
    objective = forms.ChoiceField(choices=(), required=False)
    mode = forms.ChoiceField(
        choices=[(m.value, m.label) for m in (BuildMode.QUICK, BuildMode.STANDARD)], initial=BuildMode.QUICK
    )
    time_budget_s = forms.FloatField(
        required=False,
        min_value=MIN_BUDGET_S,
        max_value=MAX_BUDGET_S,
        label="Time budget (s)",
        help_text="Empty: the mode's default.",
    )
    seed = forms.IntegerField(initial=0, required=False)

    def __init__(self, *args: Any, versions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_versions(versions)
        self.fields["objective"].choices = _objective_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        self.clean_target_of_version()
        return data


class TuningForm(TargetFromVersionMixin, forms.Form):
    """A tuning job from the browser; `ranges` is the JSON the API takes (empty: the algorithm's defaults)."""

    dataset_version = forms.ModelChoiceField(queryset=None, label="Dataset version", empty_label=None)  # type: ignore[arg-type,var-annotated]
    target = forms.CharField(max_length=300, label="Target column")
    algorithm = forms.ChoiceField(choices=())
    problem_type = forms.ChoiceField(choices=[("", "Detect from the target"), *ProblemType.choices], required=False)
    objective = forms.ChoiceField(choices=(), required=False)
    strategy = forms.ChoiceField(choices=TuningStrategy.choices, initial=TuningStrategy.BAYESIAN)
    max_trials = forms.IntegerField(min_value=1, initial=20, label="Max trials")
    max_parallel = forms.IntegerField(
        min_value=1, initial=2, label="Max parallel trials", help_text="Each runs as its own job on any free worker."
    )
    early_stopping = forms.BooleanField(required=False, label="Early stopping (median rule)")
    target_value = forms.FloatField(required=False, label="Stop at objective value")
    patience = forms.IntegerField(required=False, min_value=1, label="Stop after N trials without 1 % gain")
    max_runtime_s = forms.IntegerField(required=False, min_value=10, label="Max runtime (s)")
    seed = forms.IntegerField(initial=0, required=False)
    warm_start_from = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,  # type: ignore[arg-type,var-annotated]
        label="Warm start from",
        help_text="Earlier jobs, same algorithm.",
    )
    ranges = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "class": "mono"}),
        required=False,
        label="Hyperparameter ranges (JSON)",
        help_text="Empty: the algorithm's defaults. Types: continuous, integer (min, max, "
        "scale linear|log) or categorical (values).",
    )

    def __init__(self, *args: Any, versions: Any, earlier: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_versions(versions)
        self.fields["objective"].choices = _objective_choices()  # type: ignore[attr-defined]
        self.fields["algorithm"].choices = [(a, a.replace("_", " ")) for a in ALGORITHMS]  # type: ignore[attr-defined]
        warm = self.fields["warm_start_from"]
        warm.queryset = earlier  # type: ignore[attr-defined]
        warm.label_from_instance = lambda t: f"#{t.pk} {t.algorithm} → {t.target} ({t.trials_done} trials)"  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        self.clean_target_of_version()
        return data

    def clean_ranges(self) -> dict[str, Any] | None:
        text = (self.cleaned_data.get("ranges") or "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('The ranges must be a JSON object: {"name": {"type": …}, …}.')
        return value

    def spec(self) -> dict[str, Any]:
        d = self.cleaned_data
        spec: dict[str, Any] = {
            "algorithm": d["algorithm"],
            "strategy": d["strategy"],
            "max_trials": d["max_trials"],
            "max_parallel": d["max_parallel"],
            "seed": d.get("seed") or 0,
            "early_stopping": "auto" if d.get("early_stopping") else "off",
            "completion": {"target_value": d.get("target_value"), "patience": d.get("patience")},
        }
        for key in ("problem_type", "objective", "max_runtime_s"):
            if d.get(key) not in (None, ""):
                spec[key] = d[key]
        if d.get("ranges"):
            spec["ranges"] = d["ranges"]
        return spec
