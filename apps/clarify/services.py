"""Clarify reports: validate and start one (a Job), the job's work (pre-training metrics on the dataset version,
post-training metrics, explanations and partial dependence from the model's predictions, the facet breakdown and the
measurement-bias check), flags against thresholds, before/after comparison and the mitigations.

The metrics and explanations come from the plain engine (apps/clarify/engine); the mitigations from
apps/clarify/mitigation_data.py (a new dataset version) and apps/clarify/mitigation_model.py (a Canvas build or
candidate)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Project, User
from apps.automl import engine as automl_engine
from apps.automl import selectors as automl_selectors
from apps.automl import services as automl_services
from apps.automl.engine.columns import to_python
from apps.automl.models import AutomlBuild
from apps.clarify import analysis
from apps.clarify.choices import MitigationKind, ReportKind
from apps.clarify.engine import bias, explain
from apps.clarify.models import ClarifyReport
from apps.datasets import selectors as data_selectors
from apps.datasets.models import DatasetVersion
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start
from apps.registry.loading import AtelierPredictor, Predictor, load_version
from apps.registry.models import ModelVersion

logger = logging.getLogger(__name__)

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
    found, missing = [], []
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


def report_start(
    *,
    project: Project,
    created_by: User | None,
    dataset_version: DatasetVersion,
    config: Any,
    model_version: ModelVersion | None = None,
    automl_build: AutomlBuild | None = None,
    candidate: str = "",
    name: str = "",
    parent: ClarifyReport | None = None,
) -> ClarifyReport:
    """Validate, record the report and start its job (`clarify.report`)."""
    errors = _Errors()
    if dataset_version.project_id != project.pk:
        raise ValidationError({"dataset_version": "The dataset version belongs to another project."})
    candidate = str(candidate or "").strip()
    name = str(name or "").strip()
    if len(name) > NAME_MAX:
        errors.add("name", f"The name is {len(name)} characters long; at most {NAME_MAX}.")
    if dataset_version.row_count < 2:
        errors.add("dataset_version", f"{dataset_version} has {dataset_version.row_count} row(s); a report needs 2+.")
    info = _clean_model(
        project=project,
        model_version=model_version,
        automl_build=automl_build,
        candidate=candidate,
        version=dataset_version,
        errors=errors,
    )
    clean = report_config_clean(version=dataset_version, config=config, model=info, errors=errors)
    if dataset_version.row_count <= sync_check_rows():
        frame = data_selectors.version_frame(
            version=dataset_version, as_written=True, columns=[clean["label"], *(f["name"] for f in clean["facets"])]
        )
        problems, clean = value_problems(clean, frame)
        if problems:
            raise ValidationError(dict(problems))
    if automl_build is not None and not candidate:
        candidate = automl_build.chosen_candidate
    with transaction.atomic():
        report = ClarifyReport.objects.create(
            project=project,
            created_by=created_by,
            name=name,
            kind=ReportKind.MODEL if info is not None else ReportKind.DATA,
            dataset_version=dataset_version,
            model_version=model_version,
            automl_build=automl_build,
            candidate=candidate,
            config=clean,
            parent=parent,
        )
        report.job = _report_job(report, created_by)
        report.save(update_fields=["job", "updated_at"])
    return report


def _report_job(report: ClarifyReport, created_by: User | None) -> Any:
    return job_start(
        kind=REPORT_KIND,
        project=report.project,
        created_by=created_by,
        params={"report": report.pk},
        title=f"Clarify report: {report.dataset_version}"[:200],
    )


# --- the job -------------------------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    features: list[str]
    classes: list[Any]
    problem_type: str
    predict: Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray | None]]
    explainable: Any  # an AtelierModel, or an object with predict_fn for the kernel path
    description: str


class _ScoreModel:
    """A model the explainer sees as a function of rows: the positive class's probability (or the value)."""

    def __init__(self, predict: Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray | None]], column: int | None):
        self._predict, self._column = predict, column

    def predict_fn(self, X: pd.DataFrame) -> np.ndarray:
        labels, proba = self._predict(X)
        if proba is not None and self._column is not None:
            return np.asarray(proba)[:, self._column].astype(float)
        return np.asarray(labels, dtype=float)


def _load_model(report: ClarifyReport) -> LoadedModel | None:
    if report.model_version is not None:
        version = report.model_version
        try:
            predictor: Predictor = load_version(version, native_code=False)
        except Exception as exc:
            raise JobError(f"The model {version} could not be loaded: {exc}") from exc
        explainable: Any = predictor.model if isinstance(predictor, AtelierPredictor) else None
        return LoadedModel(
            list(predictor.feature_names),
            list(predictor.classes),
            version.problem_type or ("classification" if predictor.classes else "regression"),
            predictor.predict,
            explainable,
            f"registry version {version}",
        )
    if report.automl_build is not None:
        build = report.automl_build
        try:
            model = automl_services.load_build_model(build=build, candidate=report.candidate or None)
        except ValidationError as exc:
            raise JobError(" ".join(exc.messages)) from exc

        def predict(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
            X = automl_engine.check_rows(model, frame, allow_extra=True)
            raw = model.raw(X)
            if model.problem_type == "regression":
                return np.asarray(raw, dtype=float), None
            return np.asarray(model.classes, dtype=object)[raw.argmax(axis=1)], raw

        return LoadedModel(
            list(model.feature_names),
            list(model.classes),
            model.problem_type,
            predict,
            model,
            f"candidate {report.candidate or build.chosen_candidate} of {build}",
        )
    return None


def _positive_column(classes: list[Any], config: dict[str, Any]) -> int | None:
    """The index of the class whose probability is thresholded: the positive label value among the classes."""
    if config.get("label_threshold") is not None:
        return None
    wanted = {analysis.as_text(v) for v in config["positive_label_values"]}
    hits = [i for i, c in enumerate(classes) if analysis.as_text(c) in wanted]
    return hits[0] if len(hits) == 1 else None


def predicted_labels(
    labels: np.ndarray, proba: np.ndarray | None, classes: list[Any], config: dict[str, Any]
) -> tuple[np.ndarray, str]:
    """The predicted label per row, in the label's own values, and how it was read: for two classes, the positive
    class when its probability is above the probability threshold; otherwise the model's own prediction."""
    column = _positive_column(classes, config)
    p = float(config.get("probability_threshold") or 0.5)
    if proba is not None and column is not None and len(classes) == 2:
        other = classes[1 - column]
        out = np.where(np.asarray(proba)[:, column] > p, classes[column], other).astype(object)
        return out, f"{classes[column]!r} when its probability is above {p:g}, else {other!r}"
    return np.asarray(labels), "the model's predicted label"


def _label_spec(config: dict[str, Any], column: str | None = None) -> bias.LabelSpec:
    return bias.LabelSpec(
        column=column or config["label"],
        positive_values=tuple(config["positive_label_values"]),
        threshold=config.get("label_threshold"),
    )


def _facet_specs(config: dict[str, Any]) -> list[bias.FacetSpec]:
    return [
        bias.FacetSpec(column=f["name"], values=tuple(f["values"]), threshold=f.get("threshold"))
        for f in config["facets"]
    ]


def _read_data(report: ClarifyReport, ctx: JobContext) -> tuple[pd.DataFrame, dict[str, Any]]:
    version, config = report.dataset_version, report.config
    columns = _data_columns(config)
    total, cap = int(version.row_count), data_max_rows()
    ctx.progress(0.03, f"Reading {min(total, cap):,} rows of {len(columns)} column(s) of {version}", force=True)
    if total > cap:
        frame = data_selectors.version_sample(version=version, size=cap, seed=SEED, columns=columns, as_written=True)
    else:
        frame = data_selectors.version_frame(version=version, columns=columns, as_written=True)
    return frame, {"rows_total": total, "rows": len(frame), "sampled": total > cap, "cap": cap, "seed": SEED}


def _metric_error(exc: Exception) -> JobError:
    field, message = getattr(exc, "field", ""), getattr(exc, "message", str(exc))
    return JobError(f"{field + ': ' if field else ''}{message}")


def report_compute(report: ClarifyReport, ctx: JobContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """(analysis.json, details) of a report; JobError with a message a person can act on."""
    config = report.config
    frame, data_sample = _read_data(report, ctx)
    problems, config = value_problems(config, frame)
    if problems:
        raise JobError(" ".join(m for messages in problems.values() for m in messages))
    label, facets, group = _label_spec(config), _facet_specs(config), config.get("group")
    ctx.progress(0.15, f"Pre-training metrics on {len(frame):,} rows", force=True)
    try:
        pre = bias.pre_training_bias(frame, label=label, facets=facets, group=group)
        breakdown = bias.facet_breakdown(frame, label=label, facets=facets)
    except bias.BiasInputError as exc:
        raise _metric_error(exc) from exc
    label_positive = analysis.positive_mask(
        frame[config["label"]], values=config["positive_label_values"], threshold=config.get("label_threshold")
    )
    details: dict[str, Any] = {
        "sample": {"data": data_sample},
        "breakdown": breakdown,
        "config": config,
        "label_positive_rate": float(label_positive.mean()),
    }
    result: dict[str, Any] = bias.analysis_document(pre=pre)
    reference = config.get("reference")
    if reference:
        try:
            details["measurement"] = bias.label_disagreement(
                frame, label=label, reference=_label_spec(config, column=reference), facets=facets
            )
        except bias.BiasInputError as exc:
            raise _metric_error(exc) from exc
    model = _load_model(report)
    if model is not None:
        result_post, model_details = _model_part(report, config, model, ctx)
        result.update(result_post)
        details["sample"].update(model_details.pop("sample"))
        details.update(model_details)
    elif report.parent_id and report.parent and report.parent.kind == ReportKind.MODEL:
        details["note"] = (
            "The report this one started from had a model; this one is on the mitigated data alone (pre-training "
            "metrics). Retrain on the new dataset version and run a report with that model for post-training metrics."
        )
    del frame
    return result, details


def _model_part(
    report: ClarifyReport, config: dict[str, Any], model: LoadedModel, ctx: JobContext
) -> tuple[dict[str, Any], dict[str, Any]]:
    version = report.dataset_version
    total, cap = int(version.row_count), model_max_rows()
    columns = list(dict.fromkeys([*_data_columns(config), *model.features]))
    ctx.progress(0.3, f"Reading {min(total, cap):,} rows for the model ({model.description})", force=True)
    sample = data_selectors.version_sample(version=version, size=cap, seed=SEED, columns=columns, as_written=True)
    ctx.progress(0.4, f"Predicting {len(sample):,} rows", force=True)
    try:
        labels, proba = model.predict(sample)
    except automl_engine.SchemaError as exc:
        raise JobError(f"The rows do not fit the model: {exc.message}") from exc
    predicted, rule = predicted_labels(labels, proba, model.classes, config)
    predicted_series = pd.Series(predicted, index=sample.index, name="predicted_label")
    label, facets, group = _label_spec(config), _facet_specs(config), config.get("group")
    ctx.progress(0.5, "Post-training metrics", force=True)
    try:
        post = bias.post_training_bias(
            sample,
            label=label,
            predicted=predicted_series,
            predicted_label=_label_spec(config, column="predicted_label"),
            facets=facets,
            group=group,
            features=sample[model.features],
        )
        breakdown = bias.facet_breakdown(sample, label=label, facets=facets, predicted=predicted_series)
    except bias.BiasInputError as exc:
        raise _metric_error(exc) from exc
    label_positive = analysis.positive_mask(
        sample[config["label"]], values=config["positive_label_values"], threshold=config.get("label_threshold")
    )
    predicted_positive = analysis.positive_mask(
        predicted_series, values=config["positive_label_values"], threshold=config.get("label_threshold")
    )
    details: dict[str, Any] = {
        "sample": {
            "model": {"rows_total": total, "rows": len(sample), "sampled": total > cap, "cap": cap, "seed": SEED}
        },
        "model": {
            "description": model.description,
            "classes": [to_python(c) for c in model.classes],
            "problem_type": model.problem_type,
            "predicted_label_rule": rule,
            "probability_threshold": config.get("probability_threshold"),
            "accuracy": analysis.accuracy(label_positive, predicted_positive),
            "predicted_positive_rate": float(predicted_positive.mean()) if len(predicted_positive) else None,
        },
        "breakdown_predicted": breakdown,
    }
    if config.get("reference"):
        reference_positive = analysis.positive_mask(
            sample[config["reference"]], values=config["positive_label_values"], threshold=config.get("label_threshold")
        )
        details["measurement_model"] = analysis.measurement_bias(
            sample,
            label_positive=label_positive,
            reference_positive=reference_positive,
            facets=config["facets"],
            predicted_positive=predicted_positive,
        )
    result: dict[str, Any] = {"post_training_bias_metrics": post}
    options = config.get("explain") or {}
    if options.get("shap", True) and model.features:
        ctx.progress(0.6, "Explaining the model (SHAP)", force=True)
        target = model.explainable or _ScoreModel(model.predict, _positive_column(model.classes, config))
        X = sample[model.features]
        try:
            positive = _positive_column(model.classes, config)
            target_class = model.classes[positive] if positive is not None and model.explainable is not None else None
            global_result = explain.explain_global(target, X, target_class=target_class, seed=SEED)
            ranked = sorted(global_result["mean_abs"], key=lambda f: -float(global_result["mean_abs"][f]))
            ctx.progress(0.85, "Partial dependence", force=True)
            pdp = explain.partial_dependence(
                target,
                X,
                features=ranked[: int(options.get("pdp_features", DEFAULT_PDP_FEATURES))],
                pairs=[tuple(p) for p in options.get("pdp_pairs") or []],
                target_class=target_class,
            )
        except ValueError as exc:  # explain.ExplainError names the input at fault
            raise JobError(f"Explaining the model failed: {getattr(exc, 'message', exc)}") from exc
        result["explanations"] = explain.sagemaker_explanations(global_result, pdp, label=config["label"])
        details["shap"] = global_result
        details["pdp"] = pdp
    return result, details


def report_run_execute(ctx: JobContext) -> dict[str, Any]:
    report = ClarifyReport.objects.select_related(
        "dataset_version__dataset", "model_version__group", "automl_build", "parent"
    ).get(pk=ctx.params["report"], project_id=ctx.project_id)
    if report.analysis is not None:  # a redelivery after success: nothing to do
        return {"report": report.pk}
    result, details = report_compute(report, ctx)
    _store(report, result, details)
    ctx.final_message = _summary(report, result)
    return {"report": report.pk}


def _store(report: ClarifyReport, result: dict[str, Any], details: dict[str, Any]) -> None:
    """The analysis and its details, in one write: a failed job leaves neither."""
    # As SageMaker writes them: a metric's ±inf as "Infinity" / "-Infinity" (strict JSON for the column).
    stored = bias.to_jsonable(result)
    ClarifyReport.objects.filter(pk=report.pk).update(
        analysis=stored, details=json_safe(details), updated_at=timezone.now()
    )


def analysis_json(report: ClarifyReport) -> str:
    """The report's analysis.json text as SageMaker Clarify writes it (±inf as Infinity)."""
    return bias.dumps_analysis(_numbers(report.analysis) or {})


def json_safe(value: Any) -> Any:
    """Details as strict JSON: ±inf and NaN as strings, numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return value


def _summary(report: ClarifyReport, result: dict[str, Any]) -> str:
    rows = report_flags(ClarifyReport(analysis=result, thresholds=report.thresholds))
    flagged = sum(r["flagged"] for r in rows)
    return f"{len(rows)} metric value(s) computed, {flagged} flagged."


# --- flags, thresholds, comparison ---------------------------------------------------------------------------


def metric_info() -> dict[str, dict[str, Any]]:
    """Each metric's ideal, range, default threshold, meaning and bias kinds from the engine, as plain dicts."""
    out = {}
    for name, info in bias.METRICS.items():
        data = info if isinstance(info, dict) else vars(info)
        out[name] = {
            "ideal": data.get("ideal", 0.0),
            "range": data.get("range"),
            "threshold": data.get("threshold", data.get("default_threshold")),
            "meaning": data.get("meaning", ""),
            "description": data.get("description", ""),
            "bias_kinds": data.get("bias_kinds", ()),
            "stage": data.get("stage", ""),
        }
    return out


def _number(value: Any) -> float | None:
    """The engine's analysis may hold ±inf written as strings ("Infinity"): read them back as numbers."""
    if isinstance(value, str) and value in ("Infinity", "-Infinity", "NaN"):
        return float(value.replace("Infinity", "inf").replace("NaN", "nan"))
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _numbers(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if not result:
        return result
    out = dict(result)
    for key in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        part = result.get(key)
        if not part:
            continue
        facets = {
            facet: [
                {**g, "metrics": [{**m, "value": _number(m.get("value"))} for m in g.get("metrics") or []]}
                for g in groups
            ]
            for facet, groups in (part.get("facets") or {}).items()
        }
        out[key] = {**part, "facets": facets}
    return out


def report_flags(report: ClarifyReport) -> list[dict[str, Any]]:
    """[{facet, value_or_threshold, stage, name, value, ideal, threshold, flagged, meaning, bias_kinds}]."""
    return analysis.flags(_numbers(report.analysis), thresholds=report.thresholds or {}, info=metric_info())


def report_thresholds_set(*, report: ClarifyReport, thresholds: Any) -> ClarifyReport:
    """Set flag thresholds per metric name ({"DPL": 0.1}); null puts a metric back to its default."""
    if not isinstance(thresholds, dict):
        raise ValidationError({"thresholds": "Send thresholds as an object of {metric name: number}."})
    info = metric_info()
    errors = _Errors()
    merged = dict(report.thresholds or {})
    for name, raw in thresholds.items():
        if name not in info:
            errors.add("thresholds", f"Unknown metric {name!r}; the metrics are {', '.join(info)}.")
            continue
        if raw is None or raw == "":
            merged.pop(name, None)
            continue
        value = _float(raw)
        if value is None or value < 0:
            errors.add("thresholds", f"{name}: the threshold must be a number of 0 or more, not {raw!r}.")
            continue
        merged[name] = value
    if errors:
        raise ValidationError(dict(errors))
    ClarifyReport.objects.filter(pk=report.pk).update(thresholds=merged, updated_at=timezone.now())
    report.thresholds = merged
    return report


def _accuracy(report: ClarifyReport) -> float | None:
    value = ((report.details or {}).get("model") or {}).get("accuracy")
    return float(value) if isinstance(value, int | float) else None


def report_compare(*, before: ClarifyReport, after: ClarifyReport) -> dict[str, Any]:
    """Accuracy and the flagged metrics, side by side (the before report's thresholds apply to both)."""
    out = analysis.compare(
        before=_numbers(before.analysis),
        after=_numbers(after.analysis),
        before_accuracy=_accuracy(before),
        after_accuracy=_accuracy(after),
        thresholds=before.thresholds or {},
        info=metric_info(),
    )
    if out["accuracy"]["before"] is not None and out["accuracy"]["after"] is None:
        out["note"] = (
            "The report before had a model and this one is on the mitigated data alone: the accuracy cost shows once "
            "a model is trained on the new dataset version."
        )
    return out


# --- mitigation ----------------------------------------------------------------------------------------------


DATA_KINDS = (MitigationKind.REWEIGH, MitigationKind.RESAMPLE)
MODEL_KINDS = (MitigationKind.EXPONENTIATED_GRADIENT, MitigationKind.THRESHOLD_OPTIMIZER)


def _clean_mitigation(report: ClarifyReport, kind: Any, params: Any) -> tuple[str, dict[str, Any]]:
    errors = _Errors()
    kind = str(kind or "").strip()
    if kind not in MitigationKind.values:
        raise ValidationError({"kind": f"Unknown mitigation {kind!r}; choose {', '.join(MitigationKind.values)}."})
    params = params if isinstance(params, dict) else {}
    if report.analysis is None:
        errors.add("report", "The report has not finished; mitigate from a finished report.")
    facets = [f["name"] for f in report.config.get("facets") or []]
    facet = str(params.get("facet") or (facets[0] if facets else "")).strip()
    if facet not in facets:
        errors.add("facet", f"Facet {facet!r} is not a facet of this report; its facets are: {', '.join(facets)}.")
    clean: dict[str, Any] = {"facet": facet}
    if kind in MODEL_KINDS:
        if report.automl_build_id is None:
            errors.add(
                "kind",
                "Retraining under a constraint and per-group thresholds need a report on a Canvas build's model; "
                "this report has " + ("a registry version." if report.model_version_id else "no model."),
            )
        constraint = str(params.get("constraint") or "demographic_parity").strip()
        if constraint not in CONSTRAINTS:
            errors.add("constraint", f"Unknown constraint {constraint!r}; choose {' or '.join(CONSTRAINTS)}.")
        clean["constraint"] = constraint
    else:
        seed = params.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**31 - 1:
            errors.add("seed", f"seed must be a whole number from 0 to {2**31 - 1}, not {seed!r}.")
        clean["seed"] = seed if isinstance(seed, int) else 0
    if errors:
        raise ValidationError(dict(errors))
    return kind, clean


def mitigation_start(*, report: ClarifyReport, kind: Any, params: Any, created_by: User | None) -> ClarifyReport:
    """Start a mitigation from a finished report: the new "after" report (parent=report), computed by a
    `clarify.mitigate` job once the mitigated data or model exists."""
    kind, clean = _clean_mitigation(report, kind, params)
    with transaction.atomic():
        after = ClarifyReport.objects.create(
            project=report.project,
            created_by=created_by,
            name=f"{report} · {MitigationKind(kind).label.split(' (')[0].lower()}"[:NAME_MAX],
            kind=report.kind if kind in MODEL_KINDS else ReportKind.DATA,
            dataset_version=report.dataset_version,
            automl_build=report.automl_build if kind in MODEL_KINDS else None,
            candidate=report.candidate if kind in MODEL_KINDS else "",
            config=report.config,
            thresholds=report.thresholds,
            parent=report,
            mitigation=kind,
            mitigation_info={"params": clean},
        )
        after.job = job_start(
            kind=MITIGATE_KIND,
            project=report.project,
            created_by=created_by,
            params={"report": after.pk},
            title=f"Clarify mitigation ({kind}): {report}"[:200],
        )
        after.save(update_fields=["job", "updated_at"])
    return after


def mitigation_run_execute(ctx: JobContext) -> dict[str, Any]:
    after = ClarifyReport.objects.select_related("parent", "dataset_version__dataset", "automl_build").get(
        pk=ctx.params["report"], project_id=ctx.project_id
    )
    if after.analysis is not None:
        return {"report": after.pk}
    before = after.parent
    if before is None:
        raise JobError("The report this mitigation started from was deleted.")
    params = (after.mitigation_info or {}).get("params") or {}
    config = after.config
    facet = next(f for f in config["facets"] if f["name"] == params["facet"])
    user = User.objects.filter(pk=ctx.created_by_id).first()
    info = dict(after.mitigation_info or {})
    if after.mitigation in DATA_KINDS:
        from apps.clarify import mitigation_data

        if not info.get("dataset_version"):
            ctx.progress(0.05, f"Writing the {after.mitigation}d dataset version", force=True)
            try:
                new = mitigation_data.mitigated_version_create(
                    version=before.dataset_version,
                    method=after.mitigation,
                    label_column=config["label"],
                    positive_values=config["positive_label_values"] or None,
                    label_threshold=config.get("label_threshold"),
                    facet_column=facet["name"],
                    facet_values=facet["values"] or None,
                    facet_threshold=facet.get("threshold"),
                    created_by=user,
                    seed=int(params.get("seed") or 0),
                    ctx=ctx,
                )
            except ValidationError as exc:
                raise JobError(" ".join(exc.messages)) from exc
            info["dataset_version"] = new.pk
            ClarifyReport.objects.filter(pk=after.pk).update(dataset_version=new, mitigation_info=info)
            after.dataset_version, after.mitigation_info = new, info
        result, details = report_compute(after, ctx)
        _store(after, result, details)
        ctx.final_message = f"Mitigated data in {after.dataset_version}; " + _summary(after, result)
        return {"report": after.pk, "dataset_version": after.dataset_version_id}
    from apps.clarify import mitigation_model

    build = before.automl_build
    if build is None:
        raise JobError("This mitigation needs the Canvas build of the report it started from.")
    if after.mitigation == MitigationKind.THRESHOLD_OPTIMIZER:
        if not info.get("candidate"):
            ctx.progress(0.05, "Fitting per-group thresholds", force=True)
            try:
                name = mitigation_model.threshold_candidate_fit(
                    build=build,
                    candidate=before.candidate or build.chosen_candidate,
                    facet=facet["name"],
                    constraint=params.get("constraint", "demographic_parity"),
                    created_by=user,
                )
            except ValidationError as exc:
                raise JobError(" ".join(exc.messages)) from exc
            info["candidate"] = name
            ClarifyReport.objects.filter(pk=after.pk).update(candidate=name, mitigation_info=info)
            after.candidate, after.mitigation_info = name, info
        result, details = report_compute(after, ctx)
        _store(after, result, details)
        ctx.final_message = f"Per-group thresholds as candidate {after.candidate}; " + _summary(after, result)
        return {"report": after.pk, "candidate": after.candidate}
    # Exponentiated gradient: a new Canvas build with its own job; the after report runs when it ends.
    if not info.get("automl_build"):
        try:
            new_build = mitigation_model.fair_build_start(
                build=build,
                facet=facet["name"],
                constraint=params.get("constraint", "demographic_parity"),
                created_by=user,
            )
        except ValidationError as exc:
            raise JobError(" ".join(exc.messages)) from exc
        info["automl_build"] = new_build.pk
        # Until the build ends, the report follows the build's job (its progress, or its failure).
        ClarifyReport.objects.filter(pk=after.pk).update(
            automl_build=new_build, candidate="", mitigation_info=info, job=new_build.job
        )
    ctx.final_message = f"Started a Canvas build under a {params.get('constraint')} constraint; the report follows."
    return {"report": after.pk, "automl_build": info["automl_build"]}


def report_build_finished(*, job_id: int) -> list[int]:
    """A Canvas build's job ended: start the reports that wait on it (after an exponentiated-gradient mitigation).
    A failed build fails them with its error. Returns the reports started."""
    waiting = ClarifyReport.objects.filter(
        automl_build__job_id=job_id, analysis__isnull=True, mitigation=MitigationKind.EXPONENTIATED_GRADIENT
    ).select_related("automl_build__job", "project", "created_by", "dataset_version__dataset")
    started = []
    for report in waiting:
        info = dict(report.mitigation_info or {})
        if info.get("report_job"):
            continue
        build = report.automl_build
        assert build is not None
        if build.job is None or build.job.status != "succeeded":
            info["error"] = f"The Canvas build {build} did not succeed: {build.job.message if build.job else ''}"
            ClarifyReport.objects.filter(pk=report.pk).update(job=build.job, mitigation_info=info)
            continue
        report.candidate = build.chosen_candidate
        job = _report_job(report, report.created_by)
        info["report_job"] = job.pk
        ClarifyReport.objects.filter(pk=report.pk).update(
            job=job, candidate=build.chosen_candidate, mitigation_info=info
        )
        started.append(report.pk)
    return started


# --- downloads -----------------------------------------------------------------------------------------------


def report_html(report: ClarifyReport) -> str:
    """The report as one self-contained HTML page (apps/clarify/report_html.py)."""
    from apps.clarify.report_html import report_to_html

    version = report.dataset_version
    model = ""
    if report.model_version_id and report.model_version is not None:
        model = f"registry version {report.model_version}"
    elif report.automl_build_id and report.automl_build is not None:
        model = f"candidate {report.candidate or report.automl_build.chosen_candidate} of {report.automl_build}"
    compare = None
    if report.parent is not None and report.parent.analysis and report.analysis:
        compare = report_compare(before=report.parent, after=report)
    return report_to_html(
        title=str(report),
        dataset=str(version),
        model=model,
        created_at=report.created_at.isoformat(timespec="seconds"),
        config=report.config,
        analysis=_numbers(report.analysis) or {},
        details=report.details or {},
        flags=report_flags(report),
        compare=compare,
        mitigation=report.get_mitigation_display() if report.mitigation else "",
    )
