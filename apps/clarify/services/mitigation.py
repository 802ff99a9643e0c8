"""Mitigation from a finished report: the "after" report computed by a `clarify.mitigate` job once the mitigated
dataset version, candidate or Canvas build exists."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import User
from apps.clarify.choices import MitigationKind, ReportKind
from apps.clarify.models import ClarifyReport
from apps.clarify.services.reports import _report_job, _store, _summary, report_compute
from apps.clarify.services.validation import CONSTRAINTS, MITIGATE_KIND, NAME_MAX, _Errors
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start

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
    user = User.objects.filter(pk=ctx.created_by_id).first() if ctx.created_by_id else None
    if user is None:
        raise JobError("The person who started this mitigation no longer has an account; start it again.")
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
        done = dict((after.dataset_version.source or {}).get("mitigation") or {})
        details["mitigation"] = done
        if after.mitigation == MitigationKind.REWEIGH:
            details["reweigh_note"] = (
                f"Reweighing keeps every row and adds the weight column {done.get('weight_column', '')!r}; the "
                "metrics above count rows unweighted (as SageMaker Clarify does), so they are those of the data "
                "before. A model trained with the weights sees the reweighted label distribution (label DPL "
                f"{done.get('dpl_before', '?')} before, {done.get('dpl_after', '?')} weighted)."
            )
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
                    progress=lambda fraction, message: ctx.progress(0.05 + 0.4 * fraction, message),
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
