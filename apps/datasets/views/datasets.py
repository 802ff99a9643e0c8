"""Dataset pages: the list with upload and SQL import, a dataset's versions, lineage and table view, retyping and
deletion."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import form_add_errors, request_project, request_user, required_project
from apps.core.uploads import refusal_message
from apps.datasets import forms as f
from apps.datasets import selectors, services
from apps.datasets.models import Dataset
from apps.datasets.views.common import (
    JOB_KINDS_OF_VERSION,
    PAGE_ROWS,
    CappedUploadView,
    error_texts,
    table_cells,
)


class DatasetIndexView(StudioMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("datasets:list")


class DatasetListView(CappedUploadView):
    capabilities = {"post": personas.RUN_JOBS}

    def _render(
        self, request: HttpRequest, form: Any = None, sql_form: Any = None, status: int = 200, upload_error: str = ""
    ) -> HttpResponse:
        project = request_project(request)
        datasets = (
            selectors.dataset_list_for_user(user=request_user(request)).filter(project=project)
            if project
            else Dataset.objects.none()
        )
        connections = selectors.connection_list_for_project(project=project)
        imports = selectors.dataset_import_jobs(project=project) if project else []
        if project and request.GET.get("job"):  # the import this page was opened for, also once it succeeded
            job = selectors.recent_job(project=project, pk=request.GET["job"], kinds=selectors.IMPORT_KINDS)
            if job is not None and job not in imports:
                imports.insert(0, job)
        context = {
            "project": project,
            "datasets": datasets.order_by("name"),
            "form": form or f.DatasetUploadForm(),
            "imports": imports,
            "connections": connections,
            "sql_form": sql_form or (f.SqlImportForm(connections=connections) if connections else None),
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
            "upload_error": upload_error,
        }
        return render(request, "datasets/dataset_list.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        limit = self.upload_refused(request)
        if limit is not None:
            return self._render(request, status=413, upload_error=refusal_message(limit))
        project = required_project(request)
        form = f.DatasetUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                dataset, job = services.dataset_import_start(
                    project=project,
                    created_by=request_user(request),
                    upload=form.cleaned_data["file"],
                    name=form.cleaned_data["name"],
                    options=form.options(),
                    description=form.cleaned_data.get("description") or "",
                )
            except ValidationError as exc:
                form_add_errors(form, exc)
            else:
                messages.info(request, f"Importing {dataset.name}: the table appears here when the job is done.")
                return redirect(reverse("datasets:list") + f"?job={job.pk}#imports")
        return self._render(request, form, status=400)


class DatasetSqlImportView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        connections = selectors.connection_list_for_project(project=project)
        form = f.SqlImportForm(request.POST, connections=connections)
        if form.is_valid():
            try:
                dataset, job = services.dataset_sql_import_start(
                    project=project,
                    created_by=request_user(request),
                    connection=form.cleaned_data["connection"],
                    query=form.cleaned_data["query"],
                    name=form.cleaned_data["name"],
                )
            except ValidationError as exc:
                form_add_errors(form, exc)
            else:
                messages.info(request, f"Importing {dataset.name} from {form.cleaned_data['connection'].name}.")
                return redirect(reverse("datasets:list") + f"?job={job.pk}#imports")
        return DatasetListView()._render(request, sql_form=form, status=400)


def _page_offset(raw: Any, count: int, row: Any = None) -> int:
    try:
        offset = max(0, int(raw or 0))
        if row not in (None, ""):
            offset = (max(1, int(row)) - 1) // PAGE_ROWS * PAGE_ROWS
    except (TypeError, ValueError):
        offset = 0
    return min(offset, max(0, (count - 1) // PAGE_ROWS * PAGE_ROWS)) if count else 0


class DatasetDetailView(CappedUploadView):
    capabilities = {"post": personas.RUN_JOBS}

    def _render(
        self,
        request: HttpRequest,
        dataset: Dataset,
        upload_form: Any = None,
        retype_form: Any = None,
        status: int = 200,
        upload_error: str = "",
        query: QueryDict | None = None,
    ) -> HttpResponse:
        get = query if query is not None else request.GET
        versions = list(selectors.version_list_for_dataset(dataset=dataset))
        wanted = get.get("v")
        version = next((v for v in versions if str(v.pk) == wanted), None) or (versions[0] if versions else None)
        context: dict[str, Any] = {
            "dataset": dataset,
            "versions": versions,
            "version": version,
            "upload_form": upload_form or f.VersionUploadForm(),
            "upload_error": upload_error,
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
        }
        jobs = []
        if dataset.import_job_id and dataset.latest_version_id is None and dataset.import_job:
            jobs.append(dataset.import_job)
        if version is not None:
            offset = _page_offset(get.get("offset"), version.row_count, get.get("row"))
            page = selectors.version_rows(version=version, offset=offset, limit=PAGE_ROWS)
            retype_form = retype_form or f.RetypeForm(schema=version.schema)
            context.update(
                header=selectors.table_header(version=version),
                page=page,
                offset=offset,
                cells=table_cells(page["rows"], page["columns"]),
                retype_rows=list(zip(retype_form, version.schema, strict=False)),
                first_row=offset + 1 if page["rows"] else 0,
                last_row=offset + len(page["rows"]),
                prev_offset=max(0, offset - PAGE_ROWS) if offset else None,
                next_offset=offset + PAGE_ROWS if offset + PAGE_ROWS < version.row_count else None,
                last_offset=max(0, (version.row_count - 1) // PAGE_ROWS * PAGE_ROWS),
                children=list(selectors.version_children(version=version)),
                retype_form=retype_form,
                reports=list(selectors.report_list_for_version(version=version)[:5]),
                invalid=[c for c in version.schema if c.get("invalid")],
            )
            jobs += selectors.active_jobs_for_version(version=version, kinds=JOB_KINDS_OF_VERSION)
        if get.get("job"):
            job = selectors.recent_job(
                project=dataset.project, pk=get["job"], kinds=(*selectors.IMPORT_KINDS, *JOB_KINDS_OF_VERSION)
            )
            if job is not None and job not in jobs:
                jobs.append(job)
        context["jobs"] = jobs
        return render(request, "datasets/dataset_detail.html", context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        dataset = selectors.dataset_get_for_user(user=request_user(request), pk=pk)
        return self._render(request, dataset)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Upload a new version of this dataset."""
        dataset = selectors.dataset_get_for_user(user=request_user(request), pk=pk)
        limit = self.upload_refused(request)
        if limit is not None:
            return self._render(request, dataset, status=413, upload_error=refusal_message(limit))
        form = f.VersionUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = services.dataset_version_import_start(
                    dataset=dataset,
                    created_by=request_user(request),
                    upload=form.cleaned_data["file"],
                    options=form.options(),
                )
            except ValidationError as exc:
                form_add_errors(form, exc)
            else:
                messages.info(request, "Importing a new version.")
                return redirect(reverse("datasets:detail", args=[dataset.pk]) + f"?job={job.pk}#jobs")
        return self._render(request, dataset, upload_form=form, status=400)


class DatasetDeleteView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        dataset = selectors.dataset_get_for_user(user=request_user(request), pk=pk)
        try:
            services.dataset_delete(dataset=dataset)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("datasets:detail", pk=dataset.pk)
        messages.success(request, f"Dataset {dataset.name} and its files were deleted.")
        return redirect("datasets:list")


class VersionRetypeView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = selectors.version_get_for_user(user=request_user(request), pk=pk)
        form = f.RetypeForm(request.POST, schema=version.schema)
        if form.is_valid():
            changes = form.changes()
            if not changes:
                form.add_error(None, "No column type was changed.")
            else:
                try:
                    job = services.version_retype_start(
                        version=version, created_by=request_user(request), columns=changes
                    )
                except ValidationError as exc:
                    form.add_error(None, [f"{k}: {v}" for k, v in error_texts(exc).items()])
                else:
                    messages.info(request, f"Changing {len(changes)} column type(s): a new version is on its way.")
                    return redirect(
                        reverse("datasets:detail", args=[version.dataset_id])
                        + f"?{urlencode({'v': version.pk, 'job': job.pk})}#jobs"
                    )
        query = request.GET.copy()
        query["v"] = str(version.pk)
        return DatasetDetailView()._render(request, version.dataset, retype_form=form, status=400, query=query)
