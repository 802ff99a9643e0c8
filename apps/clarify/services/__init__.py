"""Clarify reports: validate and start one (a Job), the job's work (pre-training metrics on the dataset version,
post-training metrics, explanations and partial dependence from the model's predictions, the facet breakdown and the
measurement-bias check), flags against thresholds, before/after comparison and the mitigations.

The metrics and explanations come from the plain engine (apps/clarify/engine); the mitigations from
apps/clarify/mitigation_data.py (a new dataset version) and apps/clarify/mitigation_model.py (a Canvas build or
candidate). The parts: validation.py (the config against the version and the model), reports.py (start and the
job), results.py (flags, thresholds, comparison, downloads), mitigation.py."""

from apps.clarify.services.mitigation import (
    mitigation_run_execute,
    mitigation_start,
    report_build_finished,
)
from apps.clarify.services.reports import predicted_labels, report_compute, report_run_execute, report_start
from apps.clarify.services.results import (
    analysis_json,
    json_safe,
    metric_names,
    report_compare,
    report_flags,
    report_html,
    report_thresholds_set,
)
from apps.clarify.services.validation import (
    BUILD_KIND,
    MITIGATE_KIND,
    REPORT_KIND,
    data_max_rows,
    model_max_rows,
    report_config_clean,
    sync_check_rows,
    value_problems,
)

__all__ = [
    "BUILD_KIND",
    "MITIGATE_KIND",
    "REPORT_KIND",
    "analysis_json",
    "data_max_rows",
    "json_safe",
    "metric_names",
    "mitigation_run_execute",
    "mitigation_start",
    "model_max_rows",
    "predicted_labels",
    "report_build_finished",
    "report_compare",
    "report_compute",
    "report_config_clean",
    "report_flags",
    "report_html",
    "report_run_execute",
    "report_start",
    "report_thresholds_set",
    "sync_check_rows",
    "value_problems",
]
