"""Canvas pages: the build list with the setup form and its checklist, and a build's page (live progress,
leaderboard, analysis charts, what-if prediction, batch prediction, register)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import project_follow, request_project, request_user, required_project, validation_messages
from apps.automl import charts, selectors, services
from apps.automl.engine import fair as engine_fair
from apps.automl.forms import BuildForm
from apps.automl.models import AutomlBuild
from apps.core.artifacts import ArtifactTampered
from apps.datasets import selectors as data_selectors
from apps.datasets.models import DatasetVersion
from apps.jobs.started import redirect_to_started_job, started_job

BUILDS_SHOWN = 50


def _messages(exc: ValidationError) -> list[str]:
    return validation_messages(exc, bare=("__all__", "dataset_version"))


def whatif_input(feature: dict[str, Any], value: Any) -> dict[str, Any]:
    """A what-if field: a select of the values seen in training (categorical and boolean features, as the user
    wrote them), else a number or text input; prefilled with the typical value."""
    choices = feature.get("choices") or []
    if choices and value is not None and value not in choices:
        choices = [value, *choices]
    options = [{"value": "" if c is None else str(c), "selected": c == value and value is not None} for c in choices]
    return {**feature, "value": value, "options": options}


def _summary(exc: ValidationError, field: str) -> list[str]:
    """The message of `field` alone when it has one: it already names every column at fault (a missing-columns
    error also lists each column with the word "missing", which the page need not repeat)."""
    if hasattr(exc, "error_dict") and field in exc.error_dict:
        return list(exc.message_dict[field])
    return _messages(exc)


def _initial(request: HttpRequest, versions: Any) -> dict[str, Any]:
    """`?dataset_version=<id>` (the dataset page's "Build a model") preselects that version when the user may see it."""
    raw = request.GET.get("dataset_version", "")
    if raw.isdigit() and versions.filter(pk=int(raw)).exists():
        return {"dataset_version": int(raw)}
    return {}


class BuildListView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def _render(
        self,
        request: HttpRequest,
        form: BuildForm | None = None,
        checks: list[dict[str, Any]] | None = None,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        project = request_project(request)
        versions = (
            selectors.versions_for_project(user=request_user(request), project=project)
            if project
            else DatasetVersion.objects.none()
        )
        builds = (
            selectors.build_list_for_user(user=request_user(request)).filter(project=project)[:BUILDS_SHOWN]
            if project
            else []
        )
        form = form or BuildForm(versions=versions, initial=_initial(request, versions))
        context = {
            "project": project,
            "has_versions": bool(form.version_list),
            "builds": builds,
            "form": form,
            "checks": checks,
            "blocked": bool(checks and any(c["severity"] == "error" for c in checks)),
            "errors": errors or [],
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
        }
        return render(request, "automl/build_list.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        raw = request.GET.get("dataset_version", "")
        if raw.isdigit() and not request.GET.get("action"):  # a dataset's "Build a model": open Canvas in its project
            version = data_selectors.version_list_for_user(user=request_user(request)).filter(pk=int(raw)).first()
            if version is not None:
                project_follow(request, version.project_id)
        project = request_project(request)
        if request.GET.get("action") == "check" and project is not None:
            # "Check the data" posts the form and lands here (Post/Redirect/Get), the form's values in the query.
            form = BuildForm(
                request.GET, versions=selectors.versions_for_project(user=request_user(request), project=project)
            )
            if not form.is_valid():
                return self._render(request, form=form, status=400)
            try:
                _, checks = services.automl_check(version=form.cleaned_data["dataset_version"], **_options(form))
            except ValidationError as exc:
                return self._render(request, form=form, errors=_messages(exc), status=400)
            return self._render(request, form=form, checks=checks)
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        versions = selectors.versions_for_project(user=request_user(request), project=project)
        form = BuildForm(request.POST, versions=versions)
        if not form.is_valid():
            return self._render(request, form=form, status=400)
        d = form.cleaned_data
        options = _options(form)
        if request.POST.get("action") == "check":
            query = {k: str(v) for k, v in request.POST.items() if k in form.fields and v not in ("", None)}
            return HttpResponseRedirect(f"{reverse('automl:list')}?{urlencode({**query, 'action': 'check'})}#checklist")
        try:
            build = services.automl_build_start(
                project=project,
                created_by=request_user(request),
                version=d["dataset_version"],
                seed=d["seed"] or 0,
                fairness=form.fairness(),
                **options,
            )
        except ValidationError as exc:
            return self._render(request, form=form, errors=_messages(exc), status=400)
        return HttpResponseRedirect(reverse("automl:detail", args=[build.pk]))


def _options(form: BuildForm) -> dict[str, Any]:
    d = form.cleaned_data
    return {k: d[k] for k in ("target", "problem_type", "objective", "mode", "time_budget_s")}


class BuildDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        build = selectors.build_get_for_user(user=request_user(request), pk=pk)
        report = build.report or {}
        history_fig = selectors.build_history_figure(build=build)
        # The analysis, what-if form and batch prediction describe the selected candidate's own fitted model.
        analysis_candidate, chosen_report = selectors.candidate_report(build=build)
        features = (chosen_report.get("schema") or {}).get("features", [])
        typical = chosen_report.get("typical_values") or {}
        kept = services.candidates_with_models(build)
        fits = {c.name: c.job for c in selectors.fitted_candidates(build=build) if c.job is not None}
        leaderboard = []
        for e in build.leaderboard:
            name = str(e.get("name"))
            fit = fits.get(name)  # the job refitting it on all rows (live progress), or its last failed one
            leaderboard.append(
                {
                    **e,
                    "fitted": name in kept,
                    "selectable": services.candidate_is_selectable(build=build, entry=e),
                    "fit_job": fit if fit is not None and not fit.is_final else None,
                    "fit_failed": fit if fit is not None and fit.is_final and name not in kept else None,
                }
            )
        context = {
            "build": build,
            "job": build.job,
            "report": report,
            "leaderboard": leaderboard,
            "chosen": build.chosen_candidate,
            "analysis_candidate": analysis_candidate,
            "figures": charts.analysis_figures(chosen_report),
            "history_figure": history_fig,
            "features": [whatif_input(f, typical.get(f["name"])) for f in features],
            "versions": (
                data_selectors.version_list_for_user(user=request_user(request))
                .filter(project_id=build.project_id)
                .order_by("dataset__name", "-number")
            ),
            "registered": selectors.model_versions_for_build(build=build),
            "warnings": [c for c in build.checks if c["severity"] == "warning"],
            "charts": True,
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
            **_batch_context(request, build),
            **_fairness_context(report),
        }
        return render(request, "automl/build_detail.html", context)


def _fairness_context(report: dict[str, Any]) -> dict[str, Any]:
    """A fairness-constrained build's card: the constraint's name and its groups before and after (report.fairness,
    written by apps/automl/engine/fair.py)."""
    f = report.get("fairness") or {}
    if not f:
        return {}
    before = (f.get("unmitigated") or {}).get("groups") or {}
    after = (f.get("mitigated") or {}).get("groups") or {}
    groups = [
        {
            "name": name,
            "n": (after.get(name) or before.get(name) or {}).get("n"),
            "before": before.get(name) or {},
            "after": after.get(name) or {},
        }
        for name in sorted(set(before) | set(after))
    ]
    label = engine_fair.CONSTRAINT_LABELS.get(str(f.get("constraint")), str(f.get("constraint") or ""))
    metric = str((f.get("comparison") or {}).get("constrained_metric") or "")
    return {
        "fairness_constraint_label": label,
        "fairness_metric_label": metric.replace("_", " ").capitalize(),
        "fairness_groups": groups,
    }


def _batch_context(request: HttpRequest, build: AutomlBuild) -> dict[str, Any]:
    """The batch card's jobs: the one just started (`?job=`, highlighted) and the build's other recent ones."""
    started = started_job(request, kinds=[selectors.BATCH_PREDICT_KIND], project_id=build.project_id)
    if started is not None and (started.params or {}).get("build") != build.pk:
        started = None
    recent = [j for j in selectors.batch_predictions_of_build(build=build) if started is None or j.pk != started.pk]
    result = started.result if started is not None and isinstance(started.result, dict) else {}
    output = (
        data_selectors.version_list_for_user(user=request_user(request)).filter(pk=result["dataset_version"]).first()
        if str(result.get("dataset_version", "")).isdigit()
        else None
    )
    return {
        "batch_started": started,
        "batch_recent": recent,
        "batch_result_url": (
            f"{reverse('datasets:detail', args=[output.dataset_id])}?v={output.pk}" if output is not None else ""
        ),
        "batch_result_label": f"Open {output.dataset.name} v{output.number}" if output is not None else "",
    }


class _BuildAction(StudioMixin, View):
    def build(self, request: HttpRequest, pk: int) -> AutomlBuild:
        return selectors.build_get_for_user(user=request_user(request), pk=pk)

    def back(self, build: AutomlBuild, anchor: str = "") -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("automl:detail", args=[build.pk]) + anchor)


class CandidateSelectView(_BuildAction):
    capabilities = {"post": personas.RUN_JOBS}  # selecting may start a job that refits the candidate

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        build = self.build(request, pk)
        try:
            selection = services.automl_candidate_select(
                build=build, candidate=request.POST.get("candidate"), created_by=request_user(request)
            )
        except ValidationError as exc:
            messages.error(request, " ".join(_messages(exc)))
        else:
            if selection.job is None:
                messages.success(request, f"{selection.candidate} is now the selected candidate.")
            else:
                messages.success(
                    request,
                    format_html(
                        'Job <a href="{}">#{}</a> started to refit {} on all rows; it becomes the selected candidate '
                        "when the job finishes.",
                        reverse("jobs:detail", args=[selection.job.pk]),
                        selection.job.pk,
                        selection.candidate,
                    ),
                )
        return self.back(build, "#leaderboard")


class BatchPredictView(_BuildAction):
    capabilities = {"post": personas.RUN_JOBS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        build = self.build(request, pk)
        raw = request.POST.get("dataset_version")
        try:
            if not raw:
                raise ValidationError({"dataset_version": "Choose a dataset version to predict."})
            version = data_selectors.version_get_for_user(user=request_user(request), pk=raw)
            job = services.automl_batch_predict_start(build=build, created_by=request_user(request), version=version)
        except ValidationError as exc:
            messages.error(request, " ".join(_summary(exc, "dataset_version")))
            return self.back(build, "#batch")
        return redirect_to_started_job(reverse("automl:detail", args=[build.pk]), job, "batch")


class RegisterView(_BuildAction):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        build = self.build(request, pk)
        try:
            version = services.automl_register(
                build=build, created_by=request_user(request), name=request.POST.get("name")
            )
            messages.success(
                request,
                f"Registered {version} in the Model Registry, pending approval "
                f"(artifact {version.artifact.sha256[:12]}…).",
            )
        except ValidationError as exc:
            messages.error(request, " ".join(_messages(exc)))
        except ArtifactTampered as exc:
            messages.error(request, str(exc))
        return self.back(build, "#register")
