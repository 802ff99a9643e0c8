from __future__ import annotations

import json
import math
from typing import Any

from django import forms

from apps.automl.choices import MAX_BUDGET_S, MIN_BUDGET_S, BuildMode, ProblemType, TuningStrategy
from apps.automl.engine import ALGORITHMS, fair, metric_catalogue
from apps.automl.engine.algorithms import get_algorithm
from apps.automl.engine.space import CATEGORICAL, CONTINUOUS, INTEGER, RANGE_TYPES, SpecError, parse_range


def _objective_choices() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("", "Default for the problem type")]
    seen: set[str] = set()
    for problem_type, items in metric_catalogue().items():
        for m in items:
            if m["name"] not in seen:
                seen.add(m["name"])
                out.append((m["name"], f"{m['label']} ({problem_type}, {m['direction']})"))
    return out


RANGE_TYPE_LABELS = [(INTEGER, "int"), (CONTINUOUS, "float"), (CATEGORICAL, "categorical")]
RANGE_FIELDS = ("name", "type", "low", "high", "scale", "choices")


def _choice_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _choice_value(token: str) -> Any:
    """A typed choice: numbers, true/false and null as such (the API's JSON values), anything else as text."""
    try:
        value = json.loads(token)
    except ValueError:
        return token
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and math.isfinite(value):
        return value
    return token


def _number_text(value: Any) -> str:
    return "" if value is None else json.dumps(value)


def ranges_to_rows(ranges: dict[str, Any]) -> list[dict[str, str]]:
    """The API's ranges ({name: {type, min, max, scale} | {type: categorical, values}}) as table rows."""
    rows = []
    for name, r in (ranges or {}).items():
        r = r if isinstance(r, dict) else {}
        rows.append(
            {
                "name": str(name),
                "type": str(r.get("type") or CONTINUOUS),
                "low": _number_text(r.get("min")),
                "high": _number_text(r.get("max")),
                "scale": str(r.get("scale") or "linear"),
                "choices": ", ".join(_choice_text(v) for v in r.get("values") or []),
            }
        )
    return rows


def tunable_names(algorithm: Any, problem_type: Any) -> list[str]:
    """The hyperparameters `algorithm` can tune for the chosen problem type (any of them when it is detected)."""
    if str(algorithm) not in ALGORITHMS:
        return []
    problems = [str(problem_type)] if problem_type in ProblemType.values else list(ProblemType.values)
    names: dict[str, None] = {}
    for problem in problems:
        names.update(dict.fromkeys(get_algorithm(str(algorithm)).range_map(problem, 10_000)))
    return list(names)


def _row_range(row: dict[str, str], known: list[str], algorithm: str) -> tuple[dict[str, Any], dict[str, str] | None]:
    """One row as the API's range, or the error naming the row's field at fault."""
    name, kind = row["name"], row["type"]

    def bad(field: str, message: str) -> tuple[dict[str, Any], dict[str, str]]:
        return {}, {"field": field, "message": f"{name or 'unnamed'}: {message}" if name else message}

    if not name:
        return bad("name", "give the hyperparameter's name.")
    if known and name not in known:
        return bad("name", f"{algorithm} has no tunable hyperparameter {name!r}; tunable: {', '.join(known)}.")
    if kind not in RANGE_TYPES:
        return bad("type", "choose int, float or categorical.")
    if kind == CATEGORICAL:
        values = [_choice_value(t.strip()) for t in row["choices"].split(",") if t.strip()]
        if not values:
            return bad("choices", "give the choices, separated by commas.")
        seen: set[str] = set()
        for v in values:
            if repr(v) in seen:
                return bad("choices", f"the choice {_choice_text(v)} is listed twice.")
            seen.add(repr(v))
        return {"type": CATEGORICAL, "values": values}, None
    bounds: dict[str, float | int] = {}
    for field, label in (("low", "Low"), ("high", "High")):
        text = row[field]
        try:
            number = float(text)
        except ValueError:
            return bad(field, f"{label} must be a number, not {text!r}." if text else f"give {label}.")
        if not math.isfinite(number):
            return bad(field, f"{label} must be a finite number.")
        if kind == INTEGER and number != int(number):
            return bad(field, f"{label} must be a whole number for an int range, not {text}.")
        bounds[field] = int(number) if kind == INTEGER else number
    if bounds["low"] > bounds["high"]:
        return bad("high", f"High ({row['high']}) is below Low ({row['low']}).")
    scale = row["scale"] if row["scale"] in ("linear", "log") else "linear"
    if scale == "log" and bounds["low"] <= 0:
        return bad("low", "a log scale needs Low above 0.")
    return {"type": kind, "min": bounds["low"], "max": bounds["high"], "scale": scale}, None


def rows_to_ranges(
    rows: list[dict[str, str]], *, known: list[str], algorithm: str
) -> tuple[dict[str, Any], dict[int, dict[str, str]]]:
    """(the API's ranges, {row index: {field, message}}) from the posted rows; every bad row is named."""
    ranges: dict[str, Any] = {}
    errors: dict[int, dict[str, str]] = {}
    for i, row in enumerate(rows):
        spec, error = _row_range(row, known, algorithm)
        if error is None and row["name"] in ranges:
            error = {"field": "name", "message": f"{row['name']}: another row already sets this hyperparameter."}
        if error is None:
            try:
                parse_range(row["name"], spec)  # the engine's own check, the last word
            except SpecError as exc:
                error = {"field": "name", "message": exc.message}
        if error is not None:
            errors[i] = error
        else:
            ranges[row["name"]] = spec
    return ranges, errors


class RangeRowsWidget(forms.Widget):
    """Reads the rows of the ranges table: parallel lists `<name>_name`, `<name>_type`, … (one entry per row; the
    table never disables an input, so the lists stay aligned). Rows left wholly empty are dropped."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[dict[str, str]]:
        lists = {f: [str(v).strip() for v in data.getlist(f"{name}_{f}")] for f in RANGE_FIELDS}
        count = max((len(v) for v in lists.values()), default=0)
        rows = []
        for i in range(count):
            row = {f: (lists[f][i] if i < len(lists[f]) else "") for f in RANGE_FIELDS}
            if any(row[f] for f in ("name", "low", "high", "choices")):
                rows.append(row)
        return rows

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}_name" not in data


class RangeRowsField(forms.Field):
    widget = RangeRowsWidget

    def to_python(self, value: Any) -> list[dict[str, str]]:
        return list(value or [])


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
    # Clarify's mitigation (b): a build trained under a fairness constraint (binary targets; Fairlearn).
    fairness_constraint = forms.ChoiceField(
        choices=[("", "None"), *((c, fair.CONSTRAINT_LABELS[c].capitalize()) for c in fair.CONSTRAINTS)],
        required=False,
        label="Fairness constraint",
        help_text="Trains one model under the constraint (binary targets), beside the unconstrained one.",
    )
    fairness_sensitive = forms.CharField(max_length=300, required=False, label="Sensitive column")
    fairness_base = forms.ChoiceField(
        choices=[(fair.LIGHTGBM, "LightGBM"), (fair.LINEAR, "Linear")],
        required=False,
        initial=fair.LIGHTGBM,
        label="Constrained model's algorithm",
    )

    def __init__(self, *args: Any, versions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_versions(versions)
        self.fields["objective"].choices = _objective_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        self.clean_target_of_version()
        version, sensitive = self.cleaned_data.get("dataset_version"), self.cleaned_data.get("fairness_sensitive")
        if self.cleaned_data.get("fairness_constraint"):
            if not sensitive:
                self.add_error("fairness_sensitive", "Choose the sensitive column the constraint compares groups of.")
            elif version is not None and sensitive not in version.column_names:
                self.add_error(
                    "fairness_sensitive",
                    f"{sensitive!r} is not a column of {version.dataset.name} v{version.number}; "
                    "choose one of that version's columns.",
                )
        return data

    def fairness(self) -> dict[str, Any] | None:
        """The service's fairness option, or None for an unconstrained build."""
        d = self.cleaned_data
        if not d.get("fairness_constraint"):
            return None
        return {
            "mitigator": fair.EXPONENTIATED_GRADIENT,
            "constraint": d["fairness_constraint"],
            "sensitive": d["fairness_sensitive"],
            "base": d.get("fairness_base") or fair.LIGHTGBM,
        }


class TuningForm(TargetFromVersionMixin, forms.Form):
    """A tuning job from the browser. `ranges` comes as table rows and leaves as the JSON the API takes (no rows:
    the algorithm's defaults); a bad row is named with its field."""

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
    ranges = RangeRowsField(
        required=False,
        label="Hyperparameter ranges",
        help_text="One row per hyperparameter: int or float between Low and High (log: a log scale), or "
        "categorical choices separated by commas. No rows: the algorithm's default ranges.",
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
        rows = self.cleaned_data.get("ranges") or []
        data = self.data if self.is_bound else {}
        known = tunable_names(data.get("algorithm"), data.get("problem_type"))
        ranges, errors = rows_to_ranges(rows, known=known, algorithm=str(data.get("algorithm") or ""))
        self.range_rows = [{**row, "error": errors.get(i)} for i, row in enumerate(rows)]
        if errors:
            raise forms.ValidationError(
                [f"Row {i + 1}: {e['message']}" for i, e in sorted(errors.items())], code="bad_range_row"
            )
        return ranges or None

    def rows(self) -> list[dict[str, Any]]:
        """The rows the table shows: the posted ones (with their errors), else the initial ranges'."""
        if hasattr(self, "range_rows"):
            return self.range_rows
        if self.is_bound:
            return list(self["ranges"].value() or [])
        return ranges_to_rows(self.initial.get("ranges") or {})

    def add_range_error(self, name: str, message: str) -> None:
        """A service error about one hyperparameter (`spec.ranges.<name>…`), shown on its row."""
        for row in self.rows():
            if row.get("name") == name and not row.get("error"):
                row["error"] = {"field": "name", "message": message}

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
