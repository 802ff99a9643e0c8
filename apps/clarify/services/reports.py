"""Start a report (a `clarify.report` job) and the job's work: read the columns it needs (a seeded sample above the
caps), pre- and post-training metrics, explanations, PDPs, facet breakdown and measurement bias, stored in one write."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Project, User
from apps.automl import engine as automl_engine
from apps.automl import services as automl_services
from apps.automl.engine.columns import to_python
from apps.automl.models import AutomlBuild
from apps.clarify import analysis
from apps.clarify.choices import ReportKind
from apps.clarify.engine import bias, explain
from apps.clarify.models import ClarifyReport
from apps.clarify.services.results import json_safe, report_flags
from apps.clarify.services.validation import (
    DEFAULT_PDP_FEATURES,
    NAME_MAX,
    REPORT_KIND,
    SEED,
    _clean_model,
    _data_columns,
    _Errors,
    data_max_rows,
    ft_max_rows,
    model_max_rows,
    report_config_clean,
    sync_check_rows,
    value_problems,
)
from apps.datasets import selectors as data_selectors
from apps.datasets.models import DatasetVersion
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start
from apps.registry.loading import AtelierPredictor, Predictor, load_version
from apps.registry.models import ModelVersion

logger = logging.getLogger(__name__)


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
            ft_max_rows=ft_max_rows(),
            ft_seed=SEED,
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
        # The predictions against the trusted reference, per facet group (the engine's grouping): the model's error
        # rate on the truth in d and in a.
        try:
            details["measurement_predictions"] = bias.label_disagreement(
                sample.assign(predicted_label=predicted_series),
                label=_label_spec(config, column="predicted_label"),
                reference=_label_spec(config, column=config["reference"]),
                facets=facets,
            )
        except bias.BiasInputError as exc:
            raise _metric_error(exc) from exc
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


def _summary(report: ClarifyReport, result: dict[str, Any]) -> str:
    rows = report_flags(ClarifyReport(analysis=result, thresholds=report.thresholds))
    flagged = sum(r["flagged"] for r in rows)
    return f"{len(rows)} metric value(s) computed, {flagged} flagged."
