"""The SQL editor: queries over a project's dataset versions, saved as new datasets."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import form_add_errors, request_project, request_user, required_project
from apps.datasets import forms as f
from apps.datasets import selectors, services
from apps.datasets.views.common import (
    table_cells,
)


class SqlEditorView(StudioMixin, View):
    capabilities = {"post:save": personas.RUN_JOBS}  # saving starts a job; a preview does not

    def _render(
        self, request: HttpRequest, form: Any, result: Any = None, job: Any = None, status: int = 200
    ) -> HttpResponse:
        project = request_project(request)
        tables = selectors.sql_table_listing(project=project) if project else []
        if job is None and request.GET.get("job") and project:
            job = selectors.recent_job(project=project, pk=request.GET["job"], kinds=("datasets.sql_save",))
        if result is not None:
            result["cells"] = table_cells(result["rows"], result["columns"])
        context = {
            "project": project,
            "form": form,
            "tables": tables,
            "result": result,
            "job": job,
            "save_jobs": [job] if job is not None else [],
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
        }
        return render(request, "datasets/sql.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        tables = selectors.sql_table_listing(project=project) if project else []
        example = f"SELECT *\nFROM {tables[0]['name']}\nLIMIT 100" if tables else ""
        if request.GET.get("run") and request.GET.get("q") and project is not None:
            # "Run" posts the query and lands here (Post/Redirect/Get): a refresh runs the read again, never a POST.
            form = f.SqlForm({"query": request.GET["q"]})
            if not form.is_valid():
                return self._render(request, form, status=400)
            try:
                result = selectors.sql_preview(project=project, query=form.cleaned_data["query"])
            except ValidationError as exc:
                form_add_errors(form, exc)
                return self._render(request, form, status=400)
            return self._render(request, form, result=result)
        return self._render(request, f.SqlForm(initial={"query": request.GET.get("q") or example}))

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        form = f.SqlForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        query = form.cleaned_data["query"]
        if request.POST.get("action") == "save":
            if not form.cleaned_data.get("name"):
                form.add_error("name", "Give the new dataset a name.")
                return self._render(request, form, status=400)
            try:
                job = services.sql_save_start(
                    project=project,
                    created_by=request_user(request),
                    query=query,
                    name=form.cleaned_data["name"],
                )
            except ValidationError as exc:
                form_add_errors(form, exc)
                return self._render(request, form, status=400)
            messages.info(request, f"Saving the query result as {form.cleaned_data['name']}.")
            return redirect(reverse("datasets:sql") + f"?{urlencode({'job': job.pk, 'q': query})}#save-job")
        try:
            selectors.sql_preview(project=project, query=query)
        except ValidationError as exc:
            form_add_errors(form, exc)
            return self._render(request, form, status=400)
        return redirect(reverse("datasets:sql") + f"?{urlencode({'q': query, 'run': 1})}#sql-result")
