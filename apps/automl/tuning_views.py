"""Tuning job pages: the list with the setup form (ranges pre-filled per algorithm), and a job's page with its
live trial chart, the trials table, the best setting and the candidate it was exported as."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import request_project, request_user, required_project, validation_messages
from apps.automl import charts, selectors, tuning
from apps.automl.engine import ALGORITHMS
from apps.automl.forms import TuningForm, tunable_names
from apps.automl.models import TuningJob
from apps.automl.tuning import STOP_LABELS
from apps.datasets.models import DatasetVersion

JOBS_SHOWN = 50


class TuningListView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def _form(self, request: HttpRequest, data: Any = None) -> TuningForm:
        project = request_project(request)
        versions = (
            selectors.versions_for_project(user=request_user(request), project=project)
            if project
            else DatasetVersion.objects.none()
        )
        earlier = (
            selectors.tuning_list_for_user(user=request_user(request)).filter(project=project, trials_done__gt=0)
            if project
            else TuningJob.objects.none()
        )
        initial = {}
        warm = request.GET.get("warm")
        if data is None and warm and warm.isdigit():
            parent = earlier.filter(pk=int(warm)).first()
            if parent is not None:
                initial = {
                    "dataset_version": parent.dataset_version_id,
                    "target": parent.target,
                    "algorithm": parent.algorithm,
                    "warm_start_from": [parent.pk],
                    "ranges": parent.spec.get("ranges") or {},
                }
        return TuningForm(data, versions=versions, earlier=earlier, initial=initial)

    def _render(
        self, request: HttpRequest, form: TuningForm, errors: list[str] | None = None, status: int = 200
    ) -> HttpResponse:
        project = request_project(request)
        jobs = (
            selectors.tuning_list_for_user(user=request_user(request)).filter(project=project)[:JOBS_SHOWN]
            if project
            else []
        )
        context = {
            "project": project,
            "form": form,
            "jobs": jobs,
            "errors": errors or [],
            "has_versions": bool(form.version_list),
            "tunable": tunable_names(form["algorithm"].value() or ALGORITHMS[0], form["problem_type"].value()),
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
        }
        return render(request, "automl/tuning_list.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, self._form(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        form = self._form(request, request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        d = form.cleaned_data
        try:
            job = tuning.tuning_start(
                project=project,
                created_by=request_user(request),
                version=d["dataset_version"],
                target=d["target"],
                spec=form.spec(),
                warm_start_from=[t.pk for t in d["warm_start_from"]],
            )
        except ValidationError as exc:
            errors = validation_messages(exc, bare=("__all__", "dataset_version"))
            for key, messages in getattr(exc, "message_dict", {}).items():
                if key.startswith("spec.ranges."):  # shown on the row of that hyperparameter too
                    form.add_range_error(key.split(".")[2], " ".join(messages))
            return self._render(request, form, errors=errors, status=400)
        return HttpResponseRedirect(reverse("automl:tuning_detail", args=[job.pk]))


class TuningDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = selectors.tuning_get_for_user(user=request_user(request), pk=pk)
        summary = tuning.tuning_trials(tuning=job)
        trials = summary.get("trials") or []
        context = {
            "tuning": job,
            "job": job.job,
            "summary": summary,
            "trials": list(reversed(trials)),
            "best": summary.get("best"),
            "candidate": job.candidate,
            "stop_label": STOP_LABELS.get(job.stop_reason, job.stop_reason),
            "counts": {s: sum(1 for t in trials if t["state"] == s) for s in ("complete", "pruned", "fail", "running")},
            "figure": charts.trials_figure(summary, job.objective),
            "parents": job.warm_start_from.all(),
            "charts": True,
        }
        return render(request, "automl/tuning_detail.html", context)
