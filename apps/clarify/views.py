"""Clarify pages: the report list with the start form (prefilled from a dataset version, a registry version or a
Canvas build), and a report's page (live progress, then the metrics per facet with their meaning and flags, what
kind of bias each can reveal, the charts, downloads, per-metric thresholds, a mitigation, and before/after on a
mitigated report). The views call only apps.clarify.services; every POST answers with a redirect."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import request_project, request_user, required_project
from apps.automl import selectors as automl_selectors
from apps.clarify import charts, selectors, services
from apps.clarify.choices import MitigationKind
from apps.clarify.engine.bias import BIAS_KIND_TITLES, BIAS_KINDS
from apps.clarify.forms import ColumnInfo, MitigationForm, ReportForm, ThresholdsForm, version_columns
from apps.clarify.models import ClarifyReport
from apps.datasets import selectors as data_selectors
from apps.registry import selectors as registry_selectors

REPORTS_SHOWN = 50
MODELS_SHOWN = 50


# --- the list and the start form -------------------------------------------------------------------------------


def _model_choices(*, user: Any, project: Any, version: Any) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Optgroups of the model picker: the project's registry versions, and the candidates of the Canvas builds
    trained on the chosen dataset version ("build:<id>:<candidate>")."""
    groups: list[tuple[str, str, list[tuple[str, str]]]] = []
    mvs = registry_selectors.version_list_for_user(user=user).filter(project=project).order_by("-created_at")
    options = [(f"mv:{mv.pk}", f"{mv.group.name} v{mv.version}") for mv in mvs[:MODELS_SHOWN]]
    if options:
        groups.append(("Model Registry", "registry", options))
    if version is not None:
        builds = automl_selectors.build_list_for_user(user=user).filter(dataset_version=version)
        options = []
        for build in builds[:MODELS_SHOWN]:
            if not build.best_candidate:  # not finished: no model yet
                continue
            names = [str(e.get("name")) for e in build.leaderboard if e.get("name")]
            for name in names or [build.chosen_candidate]:
                best = " (chosen)" if name == build.chosen_candidate else ""
                options.append((f"build:{build.pk}:{name}", f"{build} · {name}{best}"))
        if options:
            groups.append(("Canvas candidates", "canvas", options))
    return groups


def _model_from_choice(user: Any, value: str) -> dict[str, Any]:
    """The service kwargs for the model picker's value (a foreign object is a 404)."""
    if not value:
        return {}
    kind, _, rest = value.partition(":")
    if kind == "mv" and rest.isdigit():
        return {"model_version": registry_selectors.version_get_for_user(user=user, pk=int(rest))}
    pk, _, candidate = rest.partition(":")
    if kind == "build" and pk.isdigit():
        return {"automl_build": automl_selectors.build_get_for_user(user=user, pk=int(pk)), "candidate": candidate}
    raise ValidationError({"model": "Choose a model from the list."})


class ReportListView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def _context_objects(self, request: HttpRequest) -> dict[str, Any]:
        """What the query string names (?version=, ?model_version=, ?build=&candidate=), read for the user."""
        user = request_user(request)
        out: dict[str, Any] = {"version": None, "model_version": None, "build": None, "model_value": ""}
        q = request.GET

        def pk(name: str) -> int | None:
            raw = q.get(name, "")
            return int(raw) if raw.isdigit() else None

        if pk("model_version") is not None:
            mv = registry_selectors.version_get_for_user(user=user, pk=pk("model_version"))
            out["model_version"], out["model_value"] = mv, f"mv:{mv.pk}"
            out["version"] = mv.dataset_version
        if pk("build") is not None:
            build = automl_selectors.build_get_for_user(user=user, pk=pk("build"))
            out["build"], out["version"] = build, build.dataset_version
            out["model_value"] = f"build:{build.pk}:{q.get('candidate') or build.chosen_candidate}"
        if pk("version") is not None:
            out["version"] = data_selectors.version_get_for_user(user=user, pk=pk("version"))
        return out

    def _render(
        self,
        request: HttpRequest,
        form: ReportForm | None = None,
        version: Any = None,
        status: int = 200,
        picked: dict[str, Any] | None = None,
    ) -> HttpResponse:
        project = request_project(request)
        user = request_user(request)
        picked = picked if picked is not None else self._context_objects(request)
        versions = (
            list(
                data_selectors.version_list_for_user(user=user)
                .filter(project=project)
                .select_related("dataset")
                .order_by("dataset__name", "-number")
            )
            if project
            else []
        )
        version = version or picked.get("version") or (versions[0] if versions else None)
        if version is not None and project is not None and version.project_id != project.pk:
            version = None  # a version of another of the user's projects: pick from this project's
        reports = (
            list(selectors.report_list_for_user(user=user).filter(project=project)[:REPORTS_SHOWN]) if project else []
        )
        columns: list[ColumnInfo] = version_columns(version) if version is not None else []
        models = _model_choices(user=user, project=project, version=version) if project else []
        if form is None:
            initial: dict[str, Any] = {"dataset_version": version.pk if version else None, "explain": True}
            initial["model"] = picked.get("model_value") or ""
            mv = picked.get("model_version")
            build = picked.get("build")
            target = (build.target if build else "") or (mv.target if mv else "")
            if target and any(c.name == target for c in columns):
                initial["label"] = target
            form = ReportForm(initial=initial, columns=columns, models=models)
        context = {
            "project": project,
            "versions": versions,
            "version": version,
            "reports": reports,
            "form": form,
            "columns": columns,
            # for clarify.js: which pickers a column gets (its whole value list, free values, a threshold)
            "column_kinds": {c.name: {"complete": c.complete, "numeric": c.numeric} for c in columns},
            "model_picked": picked,
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
        }
        return render(request, "clarify/report_list.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        user = request_user(request)
        raw = str(request.POST.get("dataset_version") or "")
        if not raw.isdigit():  # nothing to read the columns from: the form says so, as for any missing field
            form = ReportForm(request.POST, columns=[], models=[])
            if form.is_valid() or "dataset_version" not in form.errors:
                form.add_error("dataset_version", "Choose a dataset version.")
            return self._render(request, form=form, status=400, picked={"version": None})
        version = data_selectors.version_get_for_user(user=user, pk=int(raw))
        models = _model_choices(user=user, project=project, version=version)
        form = ReportForm(request.POST, columns=version_columns(version), models=models)
        empty: dict[str, Any] = {"version": version}
        if not form.is_valid():
            return self._render(request, form=form, version=version, status=400, picked=empty)
        try:
            model = _model_from_choice(user, form.cleaned_data.get("model") or "")
            report = services.report_start(
                project=project,
                created_by=user,
                dataset_version=version,
                config=form.config(),
                name=form.cleaned_data.get("name") or "",
                **model,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
            return self._render(request, form=form, version=version, status=400, picked=empty)
        return HttpResponseRedirect(reverse("clarify:detail", args=[report.pk]))


# --- a report --------------------------------------------------------------------------------------------------

STAGES = {"pre_training": "pre-training", "post_training": "post-training"}


def _facet_tables(report: ClarifyReport) -> list[dict[str, Any]]:
    """The flags (value, meaning, ideal, range, threshold in force, flagged) grouped per facet and value."""
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    for flag in services.report_flags(report):
        key = (str(flag.get("facet")), str(flag.get("value_or_threshold")))
        table = tables.setdefault(key, {"facet": key[0], "value": key[1], "rows": [], "flagged": 0})
        rng = flag.get("range")
        row = {
            **flag,
            "range": tuple(rng) if rng else None,
            "stage_label": STAGES.get(str(flag.get("stage")), flag.get("stage") or ""),
            "bias_kinds": list(flag.get("bias_kinds") or ()),
        }
        table["rows"].append(row)
        table["flagged"] += 1 if flag.get("flagged") else 0
    return list(tables.values())


def _metric_names(tables: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(row["name"] for t in tables for row in t["rows"]))


def _defaults(tables: list[dict[str, Any]], report: ClarifyReport) -> dict[str, Any]:
    """Per metric name: the threshold in force (the user's, else the default from the flags)."""
    out: dict[str, Any] = {}
    for t in tables:
        for row in t["rows"]:
            out.setdefault(row["name"], row.get("threshold"))
    return out


def _kinds_used(tables: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per bias kind: the metrics in this report that can reveal it."""
    out: dict[str, list[str]] = {}
    for t in tables:
        for row in t["rows"]:
            for kind in row["bias_kinds"]:
                names = out.setdefault(kind, [])
                if row["name"] not in names:
                    names.append(row["name"])
    return out


def _measurement(details: dict[str, Any]) -> list[dict[str, Any]]:
    """Per facet group: how often the label disagrees with the trusted reference in the group (d) and in the rest
    (a), and the gap; with a model, how often its predictions disagree with the reference (the engine's
    label_disagreement, run on the labels and on the predictions)."""
    predicted = {
        (facet, g.get("value_or_threshold")): g
        for facet, groups in ((details.get("measurement_predictions") or {}).get("facets") or {}).items()
        for g in groups or []
    }
    rows = []
    for facet, groups in ((details.get("measurement") or {}).get("facets") or {}).items():
        for g in groups or []:
            p = predicted.get((facet, g.get("value_or_threshold")))
            rows.append(
                {
                    "facet": facet,
                    "value_or_threshold": g.get("value_or_threshold"),
                    "label_d": g.get("disagreement_d"),
                    "label_a": g.get("disagreement_a"),
                    "gap": g.get("difference"),
                    "predicted": p is not None,
                    "pred_d": p.get("disagreement_d") if p else None,
                    "pred_a": p.get("disagreement_a") if p else None,
                }
            )
    return rows


def _model_kinds(report: ClarifyReport) -> bool:
    """Retraining under a constraint and per-group thresholds act on a Canvas build's model (the service refuses
    them otherwise): a report on a registry version or on data alone offers the data mitigations only."""
    return bool(report.automl_build_id)


def _detail(
    request: HttpRequest,
    report: ClarifyReport,
    *,
    thresholds_form: ThresholdsForm | None = None,
    mitigation_form: MitigationForm | None = None,
    status: int = 200,
) -> HttpResponse:
    job = report.job
    done = report.analysis is not None and (job is None or job.status == "succeeded")
    tables = _facet_tables(report) if done else []
    names = _metric_names(tables)
    in_force = _defaults(tables, report)
    if thresholds_form is None:
        thresholds_form = ThresholdsForm(
            initial={f"t_{k}": v for k, v in (report.thresholds or {}).items()}, metrics=names
        )
    threshold_rows = [
        {
            "name": n,
            "field": thresholds_form[f"t_{n}"],
            "in_force": in_force.get(n),
            "user": n in (report.thresholds or {}),
        }
        for n in names
    ]
    facets = [str(f.get("name")) for f in (report.config or {}).get("facets") or []]
    if mitigation_form is None:
        mitigation_form = MitigationForm(facets=facets, model_kinds=_model_kinds(report))
    compare = None
    parent = report.parent
    if parent is not None and done and parent.analysis is not None:
        compare = services.report_compare(before=parent, after=report)
    flagged = sum(t["flagged"] for t in tables)
    context = {
        "report": report,
        "job": job,
        "done": done,
        "config": report.config or {},
        "tables": tables,
        "flagged": flagged,
        "threshold_rows": threshold_rows,
        "thresholds_form": thresholds_form,
        "mitigation_form": mitigation_form,
        "bias_kinds": [
            {"key": key, "title": title, "text": text, "metrics": _kinds_used(tables).get(key, [])}
            for key, title in BIAS_KIND_TITLES.items()
            for text in [BIAS_KINDS[key]]
        ],
        "has_reference": bool((report.config or {}).get("reference")),
        "figures": charts.report_figures(report.analysis, report.details) if done else [],
        "details": report.details or {},
        "measurement": _measurement(report.details or {}) if done else [],
        "explanation_notes": charts.explanation_notes(report.details) if done else {},
        "compare": compare,
        "children": list(report.mitigated_reports.select_related("job").order_by("-created_at")),
        "can_run": personas.user_can(request.user, personas.RUN_JOBS),
        "mitigation_kinds": MitigationKind,
        "charts": True,
    }
    return render(request, "clarify/report_detail.html", context, status=status)


class ReportDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _detail(request, selectors.report_get_for_user(user=request_user(request), pk=pk))


class ReportThresholdsView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        report = selectors.report_get_for_user(user=request_user(request), pk=pk)
        names = _metric_names(_facet_tables(report)) if report.analysis is not None else []
        form = ThresholdsForm(request.POST, metrics=names, current=report.thresholds or {})
        if not form.is_valid():
            return _detail(request, report, thresholds_form=form, status=400)
        try:
            services.report_thresholds_set(report=report, thresholds=form.cleaned_data["thresholds"])
        except ValidationError as exc:
            form.add_service_errors(exc)
            return _detail(request, report, thresholds_form=form, status=400)
        return HttpResponseRedirect(reverse("clarify:detail", args=[report.pk]) + "#thresholds")


class ReportMitigateView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        report = selectors.report_get_for_user(user=request_user(request), pk=pk)
        facets = [str(f.get("name")) for f in (report.config or {}).get("facets") or []]
        form = MitigationForm(request.POST, facets=facets, model_kinds=_model_kinds(report))
        if not form.is_valid():
            return _detail(request, report, mitigation_form=form, status=400)
        try:
            after = services.mitigation_start(
                report=report,
                kind=MitigationKind(form.cleaned_data["kind"]),
                params=form.params(),
                created_by=request_user(request),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
            return _detail(request, report, mitigation_form=form, status=400)
        return HttpResponseRedirect(reverse("clarify:detail", args=[after.pk]))
