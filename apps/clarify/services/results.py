"""Reading a finished report: flags against thresholds, thresholds set by the user, before/after comparison, and the
downloads (analysis.json as SageMaker writes it, the self-contained HTML report)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.clarify import analysis
from apps.clarify.engine import bias
from apps.clarify.models import ClarifyReport
from apps.clarify.services.validation import _Errors, _float


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


# --- flags, thresholds, comparison ---------------------------------------------------------------------------


def metric_names() -> list[str]:
    """The metric names a threshold may be set for (the engine's, and SageMaker's alias DCAcc for DCA)."""
    return [*bias.METRICS, *bias.ALIASES]


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
    """[{facet, value_or_threshold, stage, name, description, value, ideal, range, threshold, flagged, meaning,
    bias_kinds, error}] from the engine's flag rule (|value - ideal| > threshold; ±inf always, null never); values as
    numbers (±inf as floats)."""
    rows = bias.flag_rows(report.analysis or {}, report.thresholds or {})
    return [
        {
            **row,
            "value": _number(row["value"]),
            "range": list(bias.METRICS[row["name"]].range),
            "error": row.get("error") or "",
        }
        for row in rows
    ]


def report_thresholds_set(*, report: ClarifyReport, thresholds: Any) -> ClarifyReport:
    """Set flag thresholds per metric name ({"DPL": 0.1}); null puts a metric back to its default."""
    if not isinstance(thresholds, dict):
        raise ValidationError({"thresholds": "Send thresholds as an object of {metric name: number}."})
    names = metric_names()
    errors = _Errors()
    merged = dict(report.thresholds or {})
    for name, raw in thresholds.items():
        if name not in names:
            errors.add("thresholds", f"Unknown metric {name!r}; the metrics are {', '.join(names)}.")
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
    thresholds = before.thresholds or {}
    out = analysis.compare(
        before=report_flags(before),
        after=report_flags(ClarifyReport(analysis=after.analysis, thresholds=thresholds)),
        before_accuracy=_accuracy(before),
        after_accuracy=_accuracy(after),
    )
    if out["accuracy"]["before"] is not None and out["accuracy"]["after"] is None:
        out["note"] = (
            "The report before had a model and this one is on the mitigated data alone: the accuracy cost shows once "
            "a model is trained on the new dataset version."
        )
    return out


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
