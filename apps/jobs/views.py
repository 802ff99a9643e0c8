from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import request_project
from apps.jobs import charts
from apps.jobs.filtersets import JobFilterSet
from apps.jobs.selectors import job_get_for_user, job_list_for_user
from apps.jobs.services import job_cancel


class JobListView(StudioMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        jobs = job_list_for_user(user=request.user)  # type: ignore[arg-type]
        if project is not None and "project" not in request.GET:
            jobs = jobs.filter(project=project)
        filterset = JobFilterSet(request.GET, queryset=jobs)
        valid = filterset.is_valid()  # an out-of-range ?project= is a 400 naming it, not a query that overflows
        page = Paginator(filterset.qs if valid else jobs.none(), 50).get_page(request.GET.get("page"))
        errors = [f"{name}: {m}" for name, messages in filterset.errors.items() for m in messages]
        context = {"page": page, "filter": filterset, "project": project, "errors": errors}
        return render(request, "jobs/job_list.html", context, status=200 if valid else 400)


class JobDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = job_get_for_user(user=request.user, pk=pk)  # type: ignore[arg-type]
        context = {"job": job, "can_cancel": personas.user_can(request.user, personas.CANCEL_JOBS) and not job.is_final}
        if job.kind == "core.storage_report" and job.result:
            context["storage_chart"] = charts.storage_report_figure(job.result)
            context["charts"] = True
        return render(request, "jobs/job_detail.html", context)


class JobCancelView(StudioMixin, View):
    capabilities = {"post": personas.CANCEL_JOBS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = job_get_for_user(user=request.user, pk=pk)  # type: ignore[arg-type]
        job = job_cancel(job=job)
        messages.info(request, f"{job}: {job.get_status_display() if job.is_final else 'cancelling'}.")
        return redirect("jobs:detail", pk=job.pk)
