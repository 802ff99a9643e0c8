"""The data quality report of a dataset version: start it, show it (charts, alerts), download it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import request_user
from apps.core.attachments import attachment
from apps.core.figures import is_wide
from apps.datasets import selectors, services
from apps.datasets import storage as files
from apps.datasets.charts import report_figures
from apps.datasets.report_html import anomaly_table
from apps.datasets.views.common import (
    flash_errors,
    table_cell,
)

ANOMALY_ROWS_SHOWN = 5


class ProfileStartView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = selectors.version_get_for_user(user=request_user(request), pk=pk)
        try:
            job = services.profile_start(
                version=version,
                created_by=request_user(request),
                target=request.POST.get("target") or None,
            )
        except ValidationError as exc:
            flash_errors(request, exc)
            return redirect("datasets:report", pk=version.pk)
        return redirect(reverse("datasets:report", args=[version.pk]) + f"?job={job.pk}#jobs")


class ReportView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = selectors.version_get_for_user(user=request_user(request), pk=pk)
        reports = list(selectors.report_list_for_version(version=version))
        wanted = request.GET.get("report")
        report = next((r for r in reports if str(r.pk) == wanted), None) or (reports[0] if reports else None)
        jobs = selectors.active_jobs_for_version(version=version, kinds=("datasets.profile",))
        if request.GET.get("job"):
            job = selectors.recent_job(project=version.project, pk=request.GET["job"], kinds=("datasets.profile",))
            if job is not None and job not in jobs and job.status != "succeeded":
                jobs.append(job)
        context: dict[str, Any] = {
            "version": version,
            "dataset": version.dataset,
            "reports": reports,
            "report": report,
            "jobs": jobs,
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
        }
        if report is not None:
            data = selectors.report_data(report=report)
            figures = report_figures(data)
            keys = (
                "overview.missing",
                "target.distribution",
                "leakage.scores",
                "quick_model.importance",
                "correlations.pearson",
                "correlations.spearman",
                "correlations.cramers_v",
                "correlations.correlation_ratio",
                "multicollinearity.vif",
            )
            anomalies = anomaly_table(data.get("anomalies"), limit=ANOMALY_ROWS_SHOWN)
            if anomalies is not None:
                for row in anomalies["rows"]:
                    row["cells"] = [table_cell(row["values"].get(c)) for c in anomalies["columns"]]
            context.update(
                data=data,
                charts=True,
                anomalies=anomalies,
                overview_figures=[
                    {"id": f"fig-{i}", "key": key, "figure": figures[key], "wide": is_wide(figures[key])}
                    for i, key in enumerate(keys)
                    if key in figures
                ],
                columns=[
                    {
                        "col": col,
                        "index": i,
                        "histogram": figures.get(f"column.{i}.histogram"),
                        "top": figures.get(f"column.{i}.top_values"),
                        "hist_id": f"col-{i}-h",
                        "top_id": f"col-{i}-t",
                    }
                    for i, col in enumerate(data.get("columns") or [])
                ],
            )
        return render(request, "datasets/report.html", context)


class ReportDownloadView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        from django.utils.text import slugify

        from apps.datasets.report_html import REPORT_CSP, report_to_html

        report = selectors.report_get_for_user(user=request_user(request), pk=pk)
        version = report.version
        stem = f"{slugify(version.dataset.name) or 'dataset'}-v{version.number}-report"
        fmt = request.GET.get("format", "json")
        if fmt == "json":
            with files.storage().open(report.file, "rb") as handle:
                body = handle.read()
            return attachment(HttpResponse(body, content_type="application/json"), f"{stem}.json")
        if fmt == "html":
            html = report_to_html(selectors.report_data(report=report), f"{version.dataset.name} v{version.number}")
            response = HttpResponse(html, content_type="text/html; charset=utf-8")
            # The self-contained report keeps its own policy (inline plotly, no network), not the app's.
            response["Content-Security-Policy"] = REPORT_CSP
            return attachment(response, f"{stem}.html")
        raise Http404("Unknown format; use json or html.")
