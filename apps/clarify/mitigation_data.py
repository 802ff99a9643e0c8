"""Mitigation in the data: a reweighted or resampled dataset version, written through a Data Wrangler flow step.

Called by Clarify's mitigation job (inside a worker): it makes a Flow on the version with one "Reweigh for
fairness" or "Resample for fairness" step and runs it here, synchronously, through the Data Wrangler's flow
execution (no second job). The new version's lineage names the flow and its parent; its ``source["mitigation"]``
says what was done (method, label and facet as the user wrote them, the weight column, the four (facet group,
label) cells with their sizes, expected sizes and weights, and the label DPL before and after).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError

from apps.accounts.models import User
from apps.clarify.engine import mitigate
from apps.datasets import selectors as data_selectors
from apps.datasets import services as data_services
from apps.datasets.models import DatasetVersion, Flow
from apps.jobs.runtime import JobContext

METHODS = {"reweigh": "fairness_reweigh", "resample": "fairness_resample"}
DONE = {"reweigh": "reweighted", "resample": "resampled"}
FIELDS = {  # engine field -> argument of mitigated_version_create
    "label": "label_column",
    "facet": "facet_column",
    "positive_values": "positive_values",
    "label_threshold": "label_threshold",
    "facet_values": "facet_values",
    "facet_threshold": "facet_threshold",
}


class _Inline(JobContext):
    """Progress and log go nowhere: a caller outside any job (a shell, a test). The version records no job."""

    def __init__(self, *, project_id: int, created_by_id: int | None) -> None:
        self.job_id = None  # type: ignore[assignment]
        self.project_id = project_id
        self.created_by_id = created_by_id
        self.params = {}
        self.final_message = ""

    def progress(self, fraction: float, message: str | None = None, *, force: bool = False) -> None:
        return None

    def log(self, line: str) -> None:
        return None

    def check_cancelled(self) -> None:
        return None


def _as_stored(version: DatasetVersion, frame: pd.DataFrame, column: str, values: Sequence[Any]) -> list[Any]:
    """The user's values as the stored column holds them: a yes/no column stored as booleans, the user writes its
    tokens ("Yes" -> True); anything else is compared as written."""
    entry = version.column(column) or {}
    tokens = entry.get("tokens") if entry.get("type") == "boolean" else None
    stored_as_booleans = column in frame.columns and pd.api.types.is_bool_dtype(frame[column].dtype)
    if not isinstance(tokens, dict) or not stored_as_booleans:
        return list(values)
    spelled = {str(tokens.get("true")).lower(): True, str(tokens.get("false")).lower(): False}
    return [spelled.get(str(v).lower(), v) for v in values]


def _free_flow_name(version: DatasetVersion, method: str) -> str:
    base = f"Fairness {method}: {version.dataset.name} v{version.number}"[:90]
    taken = {n.lower() for n in Flow.objects.filter(project_id=version.project_id).values_list("name", flat=True)}
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base} ({n})", n + 1
    return name


def _free_column(columns: Sequence[str], base: str) -> str:
    name, n = base, 2
    while name in columns:
        name, n = f"{base}_{n}", n + 1
    return name


def _dpl(counts: Sequence[float] | np.ndarray) -> float:
    """q_a - q_d from the four cell sizes (or weights): sensitive +, sensitive -, other +, other -."""
    c = [float(x) for x in counts]
    return c[2] / (c[2] + c[3]) - c[0] / (c[0] + c[1])


def mitigated_version_create(
    *,
    version: DatasetVersion,
    method: str,
    label_column: str,
    positive_values: Sequence[Any] | None = None,
    label_threshold: float | None = None,
    facet_column: str,
    facet_values: Sequence[Any] | None = None,
    facet_threshold: float | None = None,
    created_by: User,
    seed: int = 0,
    ctx: JobContext | None = None,
) -> DatasetVersion:
    """A new dataset version with the facet's label bias mitigated, written through a Data Wrangler flow step.

    - ``reweigh``: the rows unchanged plus a weight column (``source["mitigation"]["weight_column"]``, normally
      ``fairness_weight``) holding AIF360's reweighing weight P(S=s) P(Y=y) / P(S=s, Y=y) of the row's cell.
    - ``resample``: every (facet group, label) cell resampled to its expected size P(S) P(Y) N (seeded).

    The label is positive when it is one of ``positive_values`` (or above ``label_threshold``); the sensitive group
    (facet d) has one of ``facet_values`` (or a facet above ``facet_threshold``). Values are as the user wrote them
    (a yes/no column's tokens too). ``ctx``: the calling job (progress, and the job the version is recorded under);
    a retry of that job returns the version its earlier attempt stored. Raises ValidationError keyed by the argument
    at fault (method, label_column, positive_values, facet_column, facet_values, ...) before writing anything.
    """
    if method not in METHODS:
        raise ValidationError({"method": f"Unknown data mitigation {method!r}; choose 'reweigh' or 'resample'."})
    if ctx is not None and ctx.job_id is not None:
        done = DatasetVersion.objects.filter(job_id=ctx.job_id, source__has_key="mitigation").first()
        if done is not None:
            return done
    ctx = ctx or _Inline(project_id=version.project_id, created_by_id=created_by.pk)
    ctx.progress(0.02, f"Reading {version.dataset.name} v{version.number}")
    frame = data_selectors.version_frame(version=version)
    stored_positive = _as_stored(version, frame, label_column, positive_values or []) or None
    stored_facet = _as_stored(version, frame, facet_column, facet_values or []) or None
    try:
        counts = mitigate.check_inputs(
            frame,
            label=label_column,
            positive_values=stored_positive,
            label_threshold=label_threshold,
            facet=facet_column,
            facet_values=stored_facet,
            facet_threshold=facet_threshold,
            method="reweighing" if method == "reweigh" else "resampling",
        )
    except mitigate.MitigationInputError as exc:
        raise ValidationError({FIELDS.get(exc.field, exc.field): exc.message}) from exc
    cells = mitigate.cell_summary(counts)
    parameters: dict[str, Any] = {
        "label": label_column,
        "positive_values": stored_positive,
        "label_threshold": label_threshold,
        "facet": facet_column,
        "facet_values": stored_facet,
        "facet_threshold": facet_threshold,
    }
    note: dict[str, Any] = {
        "method": method,
        "label": label_column,
        "positive_values": list(positive_values or []) or None,
        "label_threshold": label_threshold,
        "facet": facet_column,
        "facet_values": list(facet_values or []) or None,
        "facet_threshold": facet_threshold,
        "rows_before": len(frame),
        "cells": [c.as_dict() for c in cells],
        "dpl_before": _dpl(counts),
    }
    if method == "reweigh":
        weight_column = _free_column([str(c) for c in frame.columns], mitigate.DEFAULT_WEIGHT_COLUMN)
        parameters["weight_column"] = weight_column
        note["weight_column"] = weight_column
        note["dpl_after"] = _dpl([c.count * (c.weight or 0.0) for c in cells])
        note["rows_after"] = len(frame)
    else:
        parameters["seed"] = int(seed)
        note["seed"] = int(seed)
        goals = [int(np.floor(c.expected + 0.5)) for c in cells]
        note["dpl_after"] = _dpl(goals)
        note["rows_after"] = len(frame) - int(sum(counts)) + sum(goals)
    del frame
    title = "Reweigh for fairness" if method == "reweigh" else "Resample for fairness"
    flow = data_services.flow_create(
        project=version.project,
        created_by=created_by,
        name=_free_flow_name(version, method),
        sources=[version],
        description=f"{title} by facet {facet_column!r} and label {label_column!r} (Clarify mitigation).",
        output_name=f"{version.dataset.name} {DONE[method]}",
    )
    try:
        flow, _step, _ = data_services.flow_step_add(
            flow=flow, op=METHODS[method], parameters=parameters, label=f"{title} ({facet_column})", preview=False
        )
    except ValidationError:
        data_services.flow_delete(flow=flow)
        raise
    ctx.progress(0.1, f"Running flow {flow.name}", force=True)
    return data_services.flow_execute(
        ctx, flow=flow, definition=flow.definition, output_name=flow.output_name, lineage={"mitigation": note}
    )
