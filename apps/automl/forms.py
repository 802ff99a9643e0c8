from __future__ import annotations

from typing import Any

from django import forms

from apps.automl.choices import MAX_BUDGET_S, MIN_BUDGET_S, BuildMode, ProblemType
from apps.automl.engine import metric_catalogue


def _objective_choices() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("", "Default for the problem type")]
    seen: set[str] = set()
    for problem_type, items in metric_catalogue().items():
        for m in items:
            if m["name"] not in seen:
                seen.add(m["name"])
                out.append((m["name"], f"{m['label']} ({problem_type}, {m['direction']})"))
    return out


class BuildForm(forms.Form):
    dataset_version = forms.ModelChoiceField(queryset=None, label="Dataset version", empty_label=None)  # type: ignore[arg-type]
    target = forms.CharField(max_length=300, label="Target column")
    problem_type = forms.ChoiceField(choices=[("", "Detect from the target"), *ProblemType.choices], required=False)
    objective = forms.ChoiceField(choices=(), required=False)
    mode = forms.ChoiceField(choices=BuildMode.choices, initial=BuildMode.QUICK)
    time_budget_s = forms.FloatField(required=False, min_value=MIN_BUDGET_S, max_value=MAX_BUDGET_S,
                                     label="Time budget (s)", help_text="Empty: the mode's default.")
    seed = forms.IntegerField(initial=0, required=False)

    def __init__(self, *args: Any, versions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["dataset_version"]
        field.queryset = versions  # type: ignore[attr-defined]
        field.label_from_instance = lambda v: f"{v.dataset.name} v{v.number} ({v.row_count} rows)"  # type: ignore[attr-defined]
        self.fields["objective"].choices = _objective_choices()  # type: ignore[attr-defined]
