"""Built-in algorithm pages: the run list with the start form, and a run's page (live progress, then its charts,
what it found and a link to the output dataset version)."""

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
from apps.datasets import selectors as data_selectors
from apps.unsupervised import charts, selectors, services
from apps.unsupervised.choices import Algorithm
from apps.unsupervised.forms import RunForm
from apps.unsupervised.models import UnsupervisedRun

RUNS_SHOWN = 50


class RunListView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def _render(self, request: HttpRequest, form: RunForm | None = None, status: int = 200) -> HttpResponse:
        project = request_project(request)
        versions = list(selectors.versions_for_project(user=request_user(request), project=project)) if project else []
        runs = (
            list(selectors.run_list_for_user(user=request_user(request)).filter(project=project)[:RUNS_SHOWN])
            if project
            else []
        )
        form = form or RunForm(versions=versions)
        chosen = str(form["dataset_version"].value() or (versions[0].pk if versions else ""))
        picked = set(form["columns"].value() or []) if form.is_bound else set()
        context = {
            "project": project,
            "versions": versions,
            "runs": runs,
            "form": form,
            # (version, its columns, selected?) for the column multi-select, one group per version
            "version_columns": [(v, v.column_names, str(v.pk) == chosen) for v in versions],
            "picked_columns": picked,
            "option_groups": [(a.value, a.label, form.option_fields(a.value)) for a in Algorithm],
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
        }
        return render(request, "unsupervised/run_list.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        versions = list(selectors.versions_for_project(user=request_user(request), project=project))
        form = RunForm(request.POST, versions=versions)
        if not form.is_valid():
            return self._render(request, form=form, status=400)
        d = form.cleaned_data
        # A version of a project the user is not a member of is a 404, as everywhere.
        version = data_selectors.version_get_for_user(user=request_user(request), pk=d["dataset_version"])
        try:
            run = services.unsupervised_run_start(
                project=project,
                created_by=request_user(request),
                version=version,
                algorithm=d["algorithm"],
                options=form.options(),
                columns=d["columns"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
            return self._render(request, form=form, status=400)
        return HttpResponseRedirect(reverse("unsupervised:detail", args=[run.pk]))


def _top_rows(run: UnsupervisedRun) -> list[dict[str, Any]]:
    """The isolation forest's most anomalous rows: 1-based row number (as the dataset page counts), score, values."""
    threshold = run.chart.get("threshold")
    return [
        {
            "number": int(r["row"]) + 1,
            "score": r["score"],
            "values": r.get("values") or [],
            "flagged": threshold is not None and r["score"] > threshold,
        }
        for r in run.chart.get("top_rows") or []
    ]


class RunDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = selectors.run_get_for_user(user=request_user(request), pk=pk)
        info = run.info or {}
        rows = info.get("rows")
        context = {
            "run": run,
            "job": run.job,
            "info": info,
            "figures": charts.run_figures(run.algorithm, run.chart, info),
            "top_rows": _top_rows(run) if run.algorithm == Algorithm.ISOLATION_FOREST else [],
            "top_columns": run.chart.get("top_columns") or [],
            "flagged_pct": 100 * (info.get("n_flagged") or 0) / rows if rows else None,
            "variance_pct": 100 * float(info.get("variance_explained") or 0),
            "charts": True,
        }
        return render(request, "unsupervised/run_detail.html", context)
