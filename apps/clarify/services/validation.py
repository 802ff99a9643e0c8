"""Checks of a report's config against the dataset version, its values and the model (errors keyed by field)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError

from apps.accounts.models import Project
from apps.automl import selectors as automl_selectors
from apps.automl import services as automl_services
from apps.automl.engine.columns import to_python
from apps.automl.models import AutomlBuild
from apps.clarify import analysis
from apps.datasets.models import DatasetVersion
from apps.registry.models import ModelVersion

REPORT_KIND = "clarify.report"
MITIGATE_KIND = "clarify.mitigate"
BUILD_KIND = "automl.build"
NAME_MAX = 200
MAX_FACETS = 10
MAX_PDP_FEATURES = 10
MAX_PDP_PAIRS = 3
DEFAULT_PDP_FEATURES = 3
NUMERIC_TYPES = ("numeric", "integer")
CONSTRAINTS = ("demographic_parity", "equalized_odds")
SEED = 0


def model_max_rows() -> int:
    """Rows the model part (predictions, post-training metrics, explanations) reads at most: a seeded uniform
    sample above it."""
    return int(getattr(settings, "CLARIFY_MODEL_MAX_ROWS", 100_000))


def data_max_rows() -> int:
    """Rows the pre-training metrics read at most (only the label, facet, group and reference columns)."""
    return int(getattr(settings, "CLARIFY_DATA_MAX_ROWS", 20_000_000))


def ft_max_rows() -> int:
    """FlipTest (a k-NN search, the slowest metric) runs on a seeded sample of at most this many of the model rows;
    its entry in analysis.json says so."""
    return int(getattr(settings, "CLARIFY_FT_MAX_ROWS", 20_000))


def sync_check_rows() -> int:
    """Versions up to this many rows have their label and facet values checked when the report is started (a read
    of those columns); longer ones in the job, before anything is computed."""
    return int(getattr(settings, "CLARIFY_SYNC_CHECK_ROWS", 1_000_000))


# --- validation ----------------------------------------------------------------------------------------------


class _Errors(dict[str, list[str]]):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _float(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _listing(names: list[str], limit: int = 30) -> str:
    return ", ".join(names[:limit]) + ("…" if len(names) > limit else "")


def _column(raw: Any, field: str, version: DatasetVersion, errors: _Errors, *, required: bool = False) -> str | None:
    if _blank(raw):
        if required:
            errors.add(field, f"Choose the {field} column.")
        return None
    if not isinstance(raw, str):
        errors.add(field, f"Send the {field} column as a column name, not {raw!r}.")
        return None
    name = raw.strip()
    if name not in version.column_names:
        errors.add(field, f"Column {name!r} is not in {version}; its columns are: {_listing(version.column_names)}.")
        return None
    return name


def _values(raw: Any) -> list[Any] | None:
    """A list of values (one value, or a comma-separated string from a form, is a list of one or more)."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [v.strip() for v in raw.split(",") if v.strip()]
    if isinstance(raw, bool | int | float):
        return [raw]
    if isinstance(raw, list | tuple) and all(isinstance(v, str | int | float | bool) for v in raw):
        return list(raw)
    return None


@dataclass
class ModelInfo:
    """What validation needs of the model: its input columns, classes and problem type."""

    features: list[str]
    classes: list[Any]
    problem_type: str
    field: str  # "model_version" or "automl_build"


def _model_info(model_version: ModelVersion | None, automl_build: AutomlBuild | None, candidate: str) -> ModelInfo:
    if model_version is not None:
        inputs = (model_version.signature or {}).get("inputs") or []
        return ModelInfo(
            [str(i["name"]) for i in inputs],
            list(model_version.classes or []),
            model_version.problem_type or ("classification" if model_version.classes else ""),
            "model_version",
        )
    assert automl_build is not None
    _, report = automl_selectors.candidate_report(build=automl_build, name=candidate or None)
    schema = report.get("schema") or {}
    return ModelInfo(
        [str(f["name"]) for f in schema.get("features") or []],
        list(schema.get("classes") or []),
        str(report.get("problem_type") or automl_build.problem_type or ""),
        "automl_build",
    )


def _clean_model(
    *,
    project: Project,
    model_version: ModelVersion | None,
    automl_build: AutomlBuild | None,
    candidate: str,
    version: DatasetVersion,
    errors: _Errors,
) -> ModelInfo | None:
    if model_version is not None and automl_build is not None:
        errors.add("model_version", "Give either a model version or a Canvas build, not both.")
        return None
    if model_version is None and automl_build is None:
        if candidate:
            errors.add("candidate", "A candidate needs its Canvas build (automl_build).")
        return None
    owner = model_version if model_version is not None else automl_build
    field = "model_version" if model_version is not None else "automl_build"
    if owner is not None and owner.project_id != project.pk:
        errors.add(field, "The model belongs to another project.")
        return None
    if automl_build is not None:
        if not automl_build.artifact_id or not automl_build.report:
            errors.add("automl_build", f"{automl_build} has no fitted model: it has not succeeded.")
            return None
        name = candidate or automl_build.chosen_candidate
        if name not in automl_services.candidates_with_models(automl_build):
            errors.add(
                "candidate",
                f"Candidate {name!r} has no fitted model in {automl_build}; select it on the build page first "
                "(it is refitted on all rows).",
            )
            return None
    info = _model_info(model_version, automl_build, candidate)
    if info.problem_type == "regression" and not info.classes:
        pass  # numeric predictions: compared with the label's threshold
    missing = [c for c in info.features if c not in version.column_names]
    if missing:
        errors.add(
            info.field,
            f"The model's inputs do not match {version}: missing column(s) {', '.join(missing)}. "
            f"The model reads: {_listing(info.features)}.",
        )
    if not info.features:
        errors.add(info.field, "The model has no input signature, so its predictions cannot be computed.")
    return info


def _match(given: list[Any], present: list[Any]) -> tuple[list[Any], list[Any]]:
    """(the column's own values that the given ones name, given values that name none): 1 names 1.0, "1" names 1,
    "Yes" names "Yes" (the user's tokens are kept)."""
    by_text = {analysis.as_text(v): v for v in present}
    found: list[Any] = []
    missing: list[Any] = []
    for value in given:
        if value in present:
            found.append(value)
        elif analysis.as_text(value) in by_text:
            found.append(by_text[analysis.as_text(value)])
        else:
            number = _float(value)
            hit = next((v for v in present if number is not None and _float(v) == number), None)
            (found if hit is not None else missing).append(value if hit is None else hit)
    return [to_python(v) for v in dict.fromkeys(found)], missing


def _is_numeric(version: DatasetVersion, name: str, frame: pd.DataFrame | None) -> bool:
    if frame is not None and name in frame.columns:
        s = frame[name]
        return bool(pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype))
    column = version.column(name) or {}
    return str(column.get("type")) in NUMERIC_TYPES


def _distinct(series: pd.Series, limit: int = 10_000) -> list[Any]:
    return list(pd.unique(series.dropna()))[:limit]


def value_problems(config: dict[str, Any], frame: pd.DataFrame) -> tuple[_Errors, dict[str, Any]]:
    """Checks that need the values (the label's classes, facet values that occur), on the label/facet/reference
    columns of `frame`; also returns the config with given values matched to the column's own (1 → 1.0)."""
    errors = _Errors()
    config = {**config, "facets": [dict(f) for f in config["facets"]]}
    label = config["label"]
    series = frame[label]
    distinct = _distinct(series)
    if len(distinct) < 2:
        shown = ", ".join(repr(to_python(v)) for v in distinct) or "no value"
        errors.add("label", f"Label column {label!r} has one class ({shown}); bias metrics need two or more.")
    elif config.get("label_threshold") is None:
        found, missing = _match(list(config["positive_label_values"]), distinct)
        if missing:
            errors.add(
                "positive_label_values",
                f"Value(s) {', '.join(repr(v) for v in missing)} never occur in {label!r}; its values are: "
                + _listing(sorted(analysis.as_text(v) for v in distinct)[:30])
                + ".",
            )
        config["positive_label_values"] = found
    if not errors:
        positive = analysis.positive_mask(
            series, values=config["positive_label_values"], threshold=config.get("label_threshold")
        )
        if positive.all() or not positive.any():
            which = "positive" if positive.all() else "negative"
            errors.add(
                "positive_label_values" if config.get("label_threshold") is None else "label_threshold",
                f"Every row of {label!r} is {which} with this rule: the label has one class; bias metrics need both "
                "positive and negative rows.",
            )
    for facet in config["facets"]:
        if not facet.get("values"):
            continue
        present = _distinct(frame[facet["name"]])
        found, missing = _match(list(facet["values"]), present)
        if missing:
            errors.add(
                "facets",
                f"Facet {facet['name']!r}: value(s) {', '.join(repr(v) for v in missing)} never occur; its values "
                "are: " + _listing(sorted(analysis.as_text(v) for v in present)[:30]) + ".",
            )
        facet["values"] = found
    return errors, config


def _clean_facets(raw: Any, version: DatasetVersion, label: str | None, errors: _Errors) -> list[dict[str, Any]]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        errors.add("facets", "Choose at least one facet: [{name, values?, threshold?}].")
        return []
    if len(raw) > MAX_FACETS:
        errors.add("facets", f"At most {MAX_FACETS} facets per report.")
        return []
    out, seen = [], set()
    for entry in raw:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict):
            errors.add("facets", f"Send each facet as {{name, values?, threshold?}}, not {entry!r}.")
            continue
        field_errors = _Errors()
        name = _column(entry.get("name"), "facets", version, field_errors, required=True)
        for messages in field_errors.values():
            for message in messages:
                errors.add("facets", message.replace("the facets column", "each facet's column"))
        if name is None:
            continue
        if name == label:
            errors.add("facets", f"Facet {name!r} is the label column; choose another column.")
            continue
        if name in seen:
            errors.add("facets", f"Facet {name!r} is given twice.")
            continue
        seen.add(name)
        values = _values(entry.get("values"))
        threshold = None if _blank(entry.get("threshold")) else _float(entry.get("threshold"))
        if values is None:
            errors.add("facets", f"Facet {name!r}: send values as a list of values.")
            continue
        if not _blank(entry.get("threshold")) and threshold is None:
            errors.add("facets", f"Facet {name!r}: the threshold must be a number, not {entry.get('threshold')!r}.")
            continue
        if values and threshold is not None:
            errors.add("facets", f"Facet {name!r}: give either sensitive values or a threshold, not both.")
            continue
        if threshold is not None and not _is_numeric(version, name, None):
            errors.add("facets", f"Facet {name!r} is not numeric; a threshold needs numbers. Give its values instead.")
            continue
        out.append({"name": name, "values": values, "threshold": threshold})
    return out


def _clean_explain(raw: Any, info: ModelInfo | None, errors: _Errors) -> dict[str, Any]:
    raw = raw if isinstance(raw, dict) else {}
    shap = raw.get("shap", True)
    n = raw.get("pdp_features", DEFAULT_PDP_FEATURES)
    out: dict[str, Any] = {"shap": bool(shap), "pdp_features": DEFAULT_PDP_FEATURES, "pdp_pairs": []}
    if isinstance(n, bool) or not isinstance(n, int | float | str) or _float(n) is None:
        errors.add("explain", f"pdp_features must be a whole number from 0 to {MAX_PDP_FEATURES}, not {n!r}.")
    else:
        count = int(_float(n) or 0)
        if not 0 <= count <= MAX_PDP_FEATURES:
            errors.add("explain", f"pdp_features must be from 0 to {MAX_PDP_FEATURES}, not {count}.")
        out["pdp_features"] = count
    pairs = raw.get("pdp_pairs") or []
    if not isinstance(pairs, list) or len(pairs) > MAX_PDP_PAIRS:
        errors.add("explain", f"pdp_pairs must be a list of at most {MAX_PDP_PAIRS} [feature, feature] pairs.")
        return out
    features = set(info.features) if info else set()
    for pair in pairs:
        if not (isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            errors.add("explain", f"Each PDP pair is two feature names, not {pair!r}.")
            continue
        unknown = [p for p in pair if p not in features]
        if unknown:
            errors.add("explain", f"PDP pair {list(pair)}: {', '.join(unknown)} not an input of the model.")
            continue
        out["pdp_pairs"].append(list(pair))
    return out


def report_config_clean(
    *, version: DatasetVersion, config: Any, model: ModelInfo | None, errors: _Errors | None = None
) -> dict[str, Any]:
    """The config checked against the version's schema (and the model), normalised; a ValidationError keyed by
    field names every problem. Value checks that need the rows: `value_problems`."""
    errors = errors if errors is not None else _Errors()
    if not isinstance(config, dict):
        errors.add("config", "Send the analysis config as an object.")
        raise ValidationError(dict(errors))
    label = _column(config.get("label"), "label", version, errors, required=True)
    values = _values(config.get("positive_label_values"))
    threshold_raw = config.get("label_threshold")
    threshold = None if _blank(threshold_raw) else _float(threshold_raw)
    if values is None:
        errors.add("positive_label_values", "Send the positive label values as a list.")
        values = []
    if not _blank(threshold_raw) and threshold is None:
        errors.add("label_threshold", f"The label threshold must be a number, not {threshold_raw!r}.")
    if values and threshold is not None:
        errors.add("label_threshold", "Give either positive label values or a label threshold, not both.")
    if label and not values and threshold is None and _blank(threshold_raw):
        errors.add(
            "positive_label_values",
            "Give the positive label value(s) (e.g. the outcome that favours a person), or a threshold for a "
            "numeric label.",
        )
    if label and threshold is not None and not _is_numeric(version, label, None):
        errors.add("label_threshold", f"Label {label!r} is not numeric; give its positive values instead.")
    facets = _clean_facets(config.get("facets"), version, label, errors)
    group = _column(config.get("group"), "group", version, errors)
    reference = _column(config.get("reference"), "reference", version, errors)
    if reference is not None and reference == label:
        errors.add("reference", "The reference column must be another column than the label (a trusted label).")
    raw_p = config.get("probability_threshold")
    p = 0.5 if _blank(raw_p) else _float(raw_p)
    if p is None or not 0 < p < 1:
        errors.add(
            "probability_threshold", f"The probability threshold must be a number between 0 and 1, not {raw_p!r}."
        )
        p = 0.5
    if model is not None and model.classes and values:
        _, missing = _match(values, model.classes)
        if len(missing) == len(values):
            errors.add(
                model.field,
                f"The model predicts {', '.join(repr(c) for c in model.classes)}; none of them is a positive label "
                f"value ({', '.join(repr(v) for v in values)}): its predictions cannot be read with this label.",
            )
    clean = {
        "label": label,
        "positive_label_values": [to_python(v) for v in values],
        "label_threshold": threshold,
        "facets": facets,
        "group": group,
        "reference": reference,
        "probability_threshold": p,
        "explain": _clean_explain(config.get("explain"), model, errors),
    }
    if errors:
        raise ValidationError(dict(errors))
    return clean


def _data_columns(config: dict[str, Any]) -> list[str]:
    names = [config["label"], *(f["name"] for f in config["facets"]), config.get("group"), config.get("reference")]
    return list(dict.fromkeys(n for n in names if n))
