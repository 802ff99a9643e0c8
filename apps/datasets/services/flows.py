"""Flows (Data Wrangler): sources, steps, analyses, and running a flow into new dataset versions."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Project, User
from apps.datasets import storage as files
from apps.datasets.choices import VersionKind
from apps.datasets.inference import infer_schema
from apps.datasets.models import DatasetVersion, Flow, FlowAnalysis
from apps.datasets.services.versions import (
    NAME_MAX,
    clean_dataset_name,
    store_frame_as_version,
    version_result,
)
from apps.datasets.tokens import carry_tokens
from apps.jobs.models import Job
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start

# --- flows -----------------------------------------------------------------------------------------------------------


def _flow_name_is_free(*, project: Project, name: str, exclude: int | None = None) -> None:
    qs = Flow.objects.filter(project=project, name__iexact=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise ValidationError({"name": f"A flow named {name!r} already exists in this project."})


def _source_entry(source_id: str, version: DatasetVersion) -> dict[str, Any]:
    return {"id": source_id, "name": f"{version.dataset.name} v{version.number}", "dataset_version": version.pk}


def _next_id(prefix: str, used: Iterable[str]) -> str:
    taken = set(used)
    n = 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def _flow_ids(definition: dict[str, Any]) -> list[str]:
    return [s["id"] for s in definition.get("sources") or []] + [s["id"] for s in definition.get("steps") or []]


def _check_versions(project: Project, versions: Iterable[DatasetVersion]) -> list[DatasetVersion]:
    versions = list(versions)
    if any(v.project_id != project.pk for v in versions):
        raise ValidationError({"sources": "A source belongs to another project."})
    return versions


def flow_create(
    *,
    project: Project,
    created_by: User,
    name: str,
    sources: Iterable[DatasetVersion],
    description: str = "",
    output_name: str = "",
) -> Flow:
    name = clean_dataset_name(name)
    versions = _check_versions(project, sources)
    if not versions:
        raise ValidationError({"sources": "Choose at least one dataset version to start from."})
    _flow_name_is_free(project=project, name=name)
    definition = {
        "format": 1,
        "sources": [_source_entry(f"src{i}", v) for i, v in enumerate(versions, start=1)],
        "steps": [],
    }
    with transaction.atomic():
        flow = Flow.objects.create(
            project=project,
            name=name,
            description=description,
            definition=definition,
            output_name=(output_name or "").strip()[:NAME_MAX] or f"{name} output"[:NAME_MAX],
            created_by=created_by,
        )
        flow.source_versions.set(versions)
    return flow


def step_validation_error(exc: Exception) -> ValidationError:
    from apps.datasets.transforms import TransformError

    if isinstance(exc, TransformError):
        field = exc.details.get("param") or getattr(exc, "param", None) or "parameters"
        return ValidationError({str(field): exc.message})
    return ValidationError({"parameters": str(exc)})


def _save_definition(flow: Flow, before: dict[str, Any], definition: dict[str, Any]) -> Flow:
    from apps.datasets.transforms import validate_flow

    try:
        validate_flow(definition)
    except Exception as exc:
        raise step_validation_error(exc) from exc
    with transaction.atomic():
        current = Flow.objects.select_for_update().get(pk=flow.pk)
        if current.definition != before:
            raise ValidationError({"flow": "The flow was changed meanwhile (in another tab?); reload and try again."})
        ids = [s.get("dataset_version") for s in definition.get("sources") or []]
        current.definition = definition
        current.save(update_fields=["definition", "updated_at"])
        current.source_versions.set(DatasetVersion.objects.filter(pk__in=[i for i in ids if i], project=flow.project))
    flow.definition = definition
    return flow


def _clear_trained(definition: dict[str, Any], from_index: int) -> None:
    for step in (definition.get("steps") or [])[from_index:]:
        step["trained_parameters"] = None


def _normalised_step(
    definition: dict[str, Any],
    *,
    step_id: str,
    op: str,
    parameters: dict[str, Any],
    inputs: list[str] | None,
    label: str,
) -> dict[str, Any]:
    from apps.datasets.transforms import UnknownOperatorError, get_operator

    try:
        operator = get_operator(op)
    except UnknownOperatorError as exc:
        raise ValidationError({"op": exc.message}) from exc
    known = _flow_ids(definition)
    if not inputs:
        steps = definition.get("steps") or []
        inputs = [steps[-1]["id"] if steps else definition["sources"][0]["id"]]
    bad = [i for i in inputs if i not in known or i == step_id]
    if bad:
        raise ValidationError(
            {"inputs": f"Unknown input(s) {', '.join(map(repr, bad))}. Choose among {', '.join(map(repr, known))}."}
        )
    if not isinstance(parameters, dict):
        raise ValidationError({"parameters": "Parameters must be a JSON object."})
    return {
        "id": step_id,
        "op": operator.name,
        "op_version": operator.version,
        "inputs": list(inputs),
        "parameters": parameters,
        "trained_parameters": None,
        "label": (label or "").strip()[:100] or None,
    }


def flow_step_draft(
    flow: Flow,
    *,
    op: str,
    parameters: dict[str, Any],
    inputs: list[str] | None = None,
    label: str = "",
    step_id: str | None = None,
) -> tuple[dict[str, Any], str]:
    """The flow's definition with a new (or replaced) step, not saved; returns (definition, step id)."""
    definition = copy.deepcopy(flow.definition)
    steps = definition.setdefault("steps", [])
    if step_id is None:
        step_id = _next_id("s", _flow_ids(definition))
        steps.append(
            _normalised_step(definition, step_id=step_id, op=op, parameters=parameters, inputs=inputs, label=label)
        )
        return definition, step_id
    index = next((i for i, s in enumerate(steps) if s["id"] == step_id), None)
    if index is None:
        raise ValidationError({"step": f"The flow has no step {step_id!r}."})
    earlier = {**definition, "steps": steps[:index]}
    steps[index] = _normalised_step(earlier, step_id=step_id, op=op, parameters=parameters, inputs=inputs, label=label)
    _clear_trained(definition, index)
    return definition, step_id


def flow_preview_or_error(flow: Flow, definition: dict[str, Any] | None, step_id: str) -> Any:
    from apps.datasets.selectors import flow_preview

    try:
        return flow_preview(flow=flow, definition=definition, step_id=step_id)
    except ValidationError:
        raise
    except Exception as exc:
        raise step_validation_error(exc) from exc


def flow_step_add(
    *,
    flow: Flow,
    op: str,
    parameters: dict[str, Any],
    inputs: list[str] | None = None,
    label: str = "",
    preview: bool = True,
) -> tuple[Flow, str, Any]:
    """Add a step after checking it runs on a preview sample; returns (flow, step id, preview). `preview=False`
    (a job that checked the step on the full data itself) checks only what needs no data and returns no preview."""
    before = copy.deepcopy(flow.definition)
    definition, step_id = flow_step_draft(flow, op=op, parameters=parameters, inputs=inputs, label=label)
    shown = flow_preview_or_error(flow, definition, step_id) if preview else None
    return _save_definition(flow, before, definition), step_id, shown


def flow_step_update(
    *, flow: Flow, step_id: str, op: str, parameters: dict[str, Any], inputs: list[str] | None = None, label: str = ""
) -> tuple[Flow, Any]:
    before = copy.deepcopy(flow.definition)
    definition, _ = flow_step_draft(flow, op=op, parameters=parameters, inputs=inputs, label=label, step_id=step_id)
    preview = flow_preview_or_error(flow, definition, step_id)
    return _save_definition(flow, before, definition), preview


def flow_step_delete(*, flow: Flow, step_id: str) -> Flow:
    """Remove a step; steps that read it read its first input instead."""
    before = copy.deepcopy(flow.definition)
    definition = copy.deepcopy(flow.definition)
    steps = definition.get("steps") or []
    index = next((i for i, s in enumerate(steps) if s["id"] == step_id), None)
    if index is None:
        raise ValidationError({"step": f"The flow has no step {step_id!r}."})
    removed = steps.pop(index)
    for step in steps[index:]:
        step["inputs"] = list(dict.fromkeys(removed["inputs"][0] if i == step_id else i for i in step["inputs"]))
    _clear_trained(definition, index)
    return _save_definition(flow, before, definition)


def flow_source_add(*, flow: Flow, version: DatasetVersion) -> Flow:
    _check_versions(flow.project, [version])
    before = copy.deepcopy(flow.definition)
    definition = copy.deepcopy(flow.definition)
    definition.setdefault("sources", []).append(_source_entry(_next_id("src", _flow_ids(definition)), version))
    return _save_definition(flow, before, definition)


def flow_source_remove(*, flow: Flow, source_id: str) -> Flow:
    before = copy.deepcopy(flow.definition)
    definition = copy.deepcopy(flow.definition)
    sources = definition.get("sources") or []
    if source_id not in [s["id"] for s in sources]:
        raise ValidationError({"source": f"The flow has no source {source_id!r}."})
    users = [s["id"] for s in definition.get("steps") or [] if source_id in s["inputs"]]
    if users:
        raise ValidationError(
            {"source": f"Source {source_id!r} is read by step(s) {', '.join(users)}; delete or change them first."}
        )
    if len(sources) == 1:
        raise ValidationError({"source": "A flow needs at least one source."})
    definition["sources"] = [s for s in sources if s["id"] != source_id]
    return _save_definition(flow, before, definition)


def flow_delete(*, flow: Flow) -> None:
    flow.delete()


def flow_run_start(*, flow: Flow, created_by: User, output_name: str | None = None) -> Job:
    from apps.datasets.transforms import validate_flow

    if not flow.steps:
        raise ValidationError({"flow": "Add at least one step before running the flow."})
    try:
        validate_flow(flow.definition)
    except Exception as exc:
        raise step_validation_error(exc) from exc
    output = clean_dataset_name(output_name or flow.output_name or flow.name, "output_name")
    if output != flow.output_name:
        flow.output_name = output
        flow.save(update_fields=["output_name", "updated_at"])
    return job_start(
        kind="datasets.flow_run",
        project=flow.project,
        created_by=created_by,
        title=f"Run flow {flow.name}"[:200],
        params={"flow": flow.pk, "definition": flow.definition, "output_name": output},
    )


def _store_trained(flow_id: int, ran: dict[str, Any]) -> None:
    """Keep the full-data fit of every step that is unchanged since the run started (for the export)."""
    by_id = {s["id"]: s for s in ran.get("steps") or []}
    keys = ("op", "op_version", "inputs", "parameters")
    with transaction.atomic():
        flow = Flow.objects.select_for_update().filter(pk=flow_id).first()
        if flow is None:
            return
        definition = copy.deepcopy(flow.definition)
        for step in definition.get("steps") or []:
            other = by_id.get(step["id"])
            if other is not None and all(step.get(k) == other.get(k) for k in keys):
                step["trained_parameters"] = other.get("trained_parameters")
            else:
                break  # this step and everything after it changed since the run started
        flow.definition = definition
        flow.save(update_fields=["definition", "updated_at"])


def flow_run_execute(ctx: JobContext) -> dict[str, Any]:
    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if done is not None:
        return version_result(done)
    definition = ctx.params["definition"]
    flow = Flow.objects.filter(pk=ctx.params["flow"], project_id=ctx.project_id).first()
    if flow is None:
        raise JobError("The flow was deleted before it ran.")
    version = flow_execute(ctx, flow=flow, definition=definition, output_name=ctx.params["output_name"])
    ctx.final_message = (
        f"Flow {flow.name} wrote {version.row_count:,} rows × {version.column_count} columns as "
        f"{version.dataset.name} v{version.number}."
    )
    return version_result(version)


def flow_execute(
    ctx: JobContext,
    *,
    flow: Flow,
    definition: dict[str, Any],
    output_name: str,
    lineage: dict[str, Any] | None = None,
) -> DatasetVersion:
    """Run `definition` (of `flow`) on the full data, in this process, and store its output as the next version of
    dataset `output_name`, its lineage naming the flow (plus the `lineage` entries given). The body of a flow run
    job; another app's job calls it to write a version through a flow without starting a second job."""
    from apps.datasets.transforms import TransformError, run_flow

    wanted = {s["id"]: s.get("dataset_version") for s in definition.get("sources") or []}
    versions = {
        v.pk: v
        for v in DatasetVersion.objects.filter(pk__in=[v for v in wanted.values() if v], project_id=ctx.project_id)
    }
    used = {i for step in definition.get("steps") or [] for i in step.get("inputs") or []}
    frames = {}
    for n, (source_id, version_id) in enumerate(wanted.items()):
        if source_id not in used:
            continue
        if version_id not in versions:
            raise JobError(f"Source {source_id!r}: dataset version {version_id} no longer exists.")
        ctx.progress(0.05 + 0.25 * n / max(len(wanted), 1), f"Reading {versions[version_id]}")
        frames[source_id] = files.read_frame(versions[version_id].file)
    steps = definition.get("steps") or []
    ctx.progress(0.3, f"Running {len(steps)} step(s) on the full data", force=True)
    try:
        result = run_flow(definition, frames, refit=True, keep="final")
    except TransformError as exc:
        raise JobError(exc.message) from exc
    output = result.output
    del frames
    for name, timing in result.timings.items():
        ctx.log(f"step {name}: {timing:.2f} s")
    schema = infer_schema(output)
    for entry in schema:
        entry["pandas_dtype"] = str(output[entry["name"]].dtype)
    parents = [versions[wanted[s]] for s in wanted if s in used and wanted[s] in versions]
    carry_tokens(schema, *(parent.schema for parent in parents))
    version = store_frame_as_version(
        ctx,
        frame=output,
        schema=schema,
        kind=VersionKind.FLOW,
        dataset_name=output_name,
        parents=parents,
        source={
            "kind": VersionKind.FLOW,
            "flow": flow.pk,
            "flow_name": flow.name,
            "steps": len(steps),
            "sources": {s: wanted[s] for s in wanted if s in used},
            "definition": result.flow,
            **(lineage or {}),
        },
    )
    _store_trained(flow.pk, result.flow)
    return version


def flow_analysis_add(*, flow: Flow, created_by: User, kind: str, step_id: str, params: dict[str, Any]) -> FlowAnalysis:
    from apps.datasets.analyses import PARAMS, AnalysisError, build
    from apps.datasets.selectors import flow_step_sample

    if kind not in PARAMS:
        raise ValidationError({"kind": f"Unknown analysis {kind!r}; choose one of {', '.join(PARAMS)}."})
    clean = {k: params.get(k) for k in PARAMS[kind] if params.get(k) not in (None, "", [])}
    sample = flow_step_sample(flow=flow, step_id=step_id)
    try:
        title, figure = build(sample, kind, clean)
    except AnalysisError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    return FlowAnalysis.objects.create(
        flow=flow,
        kind=kind,
        title=title[:300],
        step_id=step_id,
        params=clean,
        figure=figure,
        sample_rows=len(sample),
        created_by=created_by,
    )


def flow_analysis_delete(*, analysis: FlowAnalysis) -> None:
    analysis.delete()
