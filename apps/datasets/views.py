"""Data Wrangler pages: datasets (upload, versions, lineage, table view), the quality report, the SQL editor and
the flow editor. Views parse input, call one service or selector, and render; scoping lives in the selectors."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from apps.accounts import personas
from apps.core.mixins import StudioMixin
from apps.core.requests import request_project, request_user, require_perm
from apps.core.uploads import install_capped_upload_handler, refusal_message, upload_refusal
from apps.datasets import forms as f
from apps.datasets import selectors, services
from apps.datasets import storage as files
from apps.datasets.analyses import PARAMS as ANALYSIS_PARAMS
from apps.datasets.api.views import attachment
from apps.datasets.charts import report_figures
from apps.datasets.models import Dataset, DatasetVersion, Flow

PAGE_ROWS = 50
JOB_KINDS_OF_VERSION = ("datasets.profile", "datasets.retype")



_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")


def _cell(value: Any) -> Any:
    """A table cell for people: timestamps without the ISO 'T' (and without a midnight time)."""
    if isinstance(value, str) and _ISO.match(value):
        return value[:10] if value[10:19] == "T00:00:00" and not value[19:].strip(".0") else value.replace("T", " ")
    return value


def _cells(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[_cell(row.get(c)) for c in columns] for row in rows]


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _errors(exc: ValidationError) -> dict[str, str]:
    if hasattr(exc, "error_dict"):
        return {k: " ".join(v) for k, v in exc.message_dict.items()}
    return {"__all__": " ".join(exc.messages)}


def _flash(request: HttpRequest, exc: ValidationError) -> None:
    """The error's messages as flash messages on the page the view redirects to."""
    for message in _errors(exc).values():
        messages.error(request, message)


@method_decorator(csrf_exempt, name="dispatch")
class CappedUploadView(StudioMixin, View):
    """Uploads stream to disk under our own cap. The handler must be set before anything reads the body, so the
    CSRF check (which reads request.POST) runs here, after it, instead of in the middleware."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method == "POST":
            install_capped_upload_handler(request)
        return csrf_protect(super().dispatch)(request, *args, **kwargs)

    def refused(self, request: HttpRequest) -> int | None:
        request.POST  # noqa: B018 - parse the body now, through the capped handler
        return upload_refusal(request)


# --- datasets ---------------------------------------------------------------------------------------------------


class DatasetIndexView(StudioMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("datasets:list")


class DatasetListView(CappedUploadView):
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
            "can_run": request.user.has_perm(personas.RUN_JOBS),
            "upload_error": upload_error,
        }
        return render(request, "datasets/dataset_list.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        limit = self.refused(request)
        if limit is not None:
            return self._render(request, status=413, upload_error=refusal_message(limit))
        require_perm(request, personas.RUN_JOBS)
        project = request_project(request)
        if project is None:
            raise PermissionDenied("Choose a project first.")
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
                _form_errors(form, exc)
            else:
                messages.info(request, f"Importing {dataset.name}: the table appears here when the job is done.")
                return redirect(reverse("datasets:list") + f"?job={job.pk}")
        return self._render(request, form, status=400)


class DatasetSqlImportView(StudioMixin, View):
    capability = personas.RUN_JOBS

    def post(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        if project is None:
            raise PermissionDenied("Choose a project first.")
        connections = selectors.connection_list_for_project(project=project)
        form = f.SqlImportForm(request.POST, connections=connections)
        if form.is_valid():
            try:
                dataset, _job = services.dataset_sql_import_start(
                    project=project,
                    created_by=request_user(request),
                    connection=form.cleaned_data["connection"],
                    query=form.cleaned_data["query"],
                    name=form.cleaned_data["name"],
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.info(request, f"Importing {dataset.name} from {form.cleaned_data['connection'].name}.")
                return redirect("datasets:list")
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
            "can_run": request.user.has_perm(personas.RUN_JOBS),
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
                cells=_cells(page["rows"], page["columns"]),
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
        limit = self.refused(request)
        if limit is not None:
            return self._render(request, dataset, status=413, upload_error=refusal_message(limit))
        require_perm(request, personas.RUN_JOBS)
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
                _form_errors(form, exc)
            else:
                messages.info(request, "Importing a new version.")
                return redirect(reverse("datasets:detail", args=[dataset.pk]) + f"?job={job.pk}")
        return self._render(request, dataset, upload_form=form, status=400)


class DatasetDeleteView(StudioMixin, View):
    capability = personas.RUN_JOBS

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        dataset = selectors.dataset_get_for_user(user=request_user(request), pk=pk)
        services.dataset_delete(dataset=dataset)
        messages.success(request, f"Dataset {dataset.name} and its files were deleted.")
        return redirect("datasets:list")


class VersionRetypeView(StudioMixin, View):
    capability = personas.RUN_JOBS

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = selectors.version_get_for_user(user=request_user(request), pk=pk)
        form = f.RetypeForm(request.POST, schema=version.schema)
        if form.is_valid():
            changes = form.changes()
            if not changes:
                form.add_error(None, "No column type was changed.")
            else:
                try:
                    job = services.version_retype_start(version=version, created_by=request_user(request),
                                                        columns=changes)
                except ValidationError as exc:
                    form.add_error(None, [f"{k}: {v}" for k, v in _errors(exc).items()])
                else:
                    messages.info(request, f"Changing {len(changes)} column type(s): a new version is on its way.")
                    return redirect(
                        reverse("datasets:detail", args=[version.dataset_id])
                        + f"?{urlencode({'v': version.pk, 'job': job.pk})}"
                    )
        query = request.GET.copy()
        query["v"] = str(version.pk)
        return DatasetDetailView()._render(request, version.dataset, retype_form=form, status=400, query=query)


# --- report ---------------------------------------------------------------------------------------------------------


class ProfileStartView(StudioMixin, View):
    capability = personas.RUN_JOBS

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = selectors.version_get_for_user(user=request_user(request), pk=pk)
        try:
            job = services.profile_start(
                version=version,
                created_by=request_user(request),
                target=request.POST.get("target") or None,
            )
        except ValidationError as exc:
            _flash(request, exc)
            return redirect("datasets:report", pk=version.pk)
        return redirect(reverse("datasets:report", args=[version.pk]) + f"?job={job.pk}")


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
            "can_run": request.user.has_perm(personas.RUN_JOBS),
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
            examples = (data.get("anomalies") or {}).get("examples") or []
            context.update(
                data=data,
                charts=True,
                anomaly_columns=list(examples[0]["values"]) if examples else [],
                anomaly_rows=[
                    {
                        "row": ex["row"],
                        "score": ex["score"],
                        "cells": [_cell(ex["values"].get(c)) for c in (examples[0]["values"] if examples else [])],
                    }
                    for ex in examples[:5]
                ],
                overview_figures=[
                    {"id": f"fig-{i}", "key": key, "figure": figures[key]}
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

        from apps.datasets.report_html import report_to_html

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
            return attachment(HttpResponse(html, content_type="text/html; charset=utf-8"), f"{stem}.html")
        raise Http404("Unknown format; use json or html.")


# --- SQL editor ----------------------------------------------------------------------------------------------------


class SqlEditorView(StudioMixin, View):
    def _render(
        self, request: HttpRequest, form: Any, result: Any = None, job: Any = None, status: int = 200
    ) -> HttpResponse:
        project = request_project(request)
        tables = selectors.sql_table_listing(project=project) if project else []
        if job is None and request.GET.get("job") and project:
            job = selectors.recent_job(project=project, pk=request.GET["job"], kinds=("datasets.sql_save",))
        if result is not None:
            result["cells"] = _cells(result["rows"], result["columns"])
        context = {
            "project": project,
            "form": form,
            "tables": tables,
            "result": result,
            "job": job,
            "save_jobs": [job] if job is not None else [],
            "can_run": request.user.has_perm(personas.RUN_JOBS),
        }
        return render(request, "datasets/sql.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        tables = selectors.sql_table_listing(project=project) if project else []
        example = f"SELECT *\nFROM {tables[0]['name']}\nLIMIT 100" if tables else ""
        return self._render(request, f.SqlForm(initial={"query": request.GET.get("q") or example}))

    def post(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        if project is None:
            raise PermissionDenied("Choose a project first.")
        form = f.SqlForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        query = form.cleaned_data["query"]
        if request.POST.get("action") == "save":
            require_perm(request, personas.RUN_JOBS)
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
                _form_errors(form, exc)
                return self._render(request, form, status=400)
            messages.info(request, f"Saving the query result as {form.cleaned_data['name']}.")
            return redirect(reverse("datasets:sql") + f"?{urlencode({'job': job.pk, 'q': query})}")
        try:
            result = selectors.sql_preview(project=project, query=query)
        except ValidationError as exc:
            _form_errors(form, exc)
            return self._render(request, form, status=400)
        return self._render(request, form, result=result)


# --- flows ------------------------------------------------------------------------------------------------------------


class FlowListView(StudioMixin, View):
    def _render(self, request: HttpRequest, form: Any = None, status: int = 200) -> HttpResponse:
        project = request_project(request)
        flows = (
            selectors.flow_list_for_user(user=request_user(request)).filter(project=project)
            if project
            else Flow.objects.none()
        )
        versions = (
            selectors.version_list_for_user(user=request_user(request))
            .filter(project=project)
            .order_by("dataset__name", "-number")
            if project
            else DatasetVersion.objects.none()
        )
        initial = {"sources": [request.GET["source"]]} if request.GET.get("source", "").isdigit() else None
        return render(
            request,
            "datasets/flow_list.html",
            {
                "project": project,
                "flows": flows.order_by("name"),
                "form": form or f.FlowCreateForm(versions=versions, initial=initial),
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        if project is None:
            raise PermissionDenied("Choose a project first.")
        versions = selectors.version_list_for_user(user=request_user(request)).filter(project=project)
        form = f.FlowCreateForm(request.POST, versions=versions)
        if form.is_valid():
            try:
                flow = services.flow_create(
                    project=project,
                    created_by=request_user(request),
                    name=form.cleaned_data["name"],
                    sources=form.cleaned_data["sources"],
                    description=form.cleaned_data.get("description") or "",
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                return redirect("datasets:flow_detail", pk=flow.pk)
        return self._render(request, form, status=400)


def _operator_specs() -> dict[str, dict[str, Any]]:
    from apps.datasets.transforms import operator_specs

    return {spec["name"]: spec for spec in operator_specs()}


def _grouped_specs(specs: dict[str, dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for spec in specs.values():
        groups.setdefault(spec["group"], []).append(spec)
    return sorted(groups.items())


class FlowDetailView(StudioMixin, View):
    """The flow editor. GET parameters: `step` (preview), `op` + `input` + `extra` (new step form), `edit`."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        return self.render_editor(request, flow)

    def render_editor(
        self,
        request: HttpRequest,
        flow: Flow,
        *,
        draft: dict[str, Any] | None = None,
        preview: Any = None,
        preview_error: str = "",
        status: int = 200,
        analysis_form: Any = None,
        query: QueryDict | None = None,
    ) -> HttpResponse:
        get = query if query is not None else request.GET
        specs = _operator_specs()
        steps = flow.steps
        ids = [s["id"] for s in flow.sources] + [s["id"] for s in steps]
        default_input = steps[-1]["id"] if steps else (flow.sources[0]["id"] if flow.sources else "")
        edit_id = get.get("edit") if get.get("edit") in [s["id"] for s in steps] else None
        editing = next((s for s in steps if s["id"] == edit_id), None)
        draft = draft or {}
        op = draft.get("op") or get.get("op") or (editing["op"] if editing else "")
        spec = specs.get(op)
        if draft.get("inputs"):
            inputs = draft["inputs"]
        elif editing and not get.get("input"):
            inputs = editing["inputs"]
        else:
            inputs = [get.get("input") or default_input, *get.getlist("extra")]
        inputs = [i for i in dict.fromkeys(inputs) if i in ids and i != edit_id] or [default_input]
        values = (
            draft.get("parameters")
            if "parameters" in draft
            else (editing["parameters"] if editing and editing["op"] == op else None)
        )
        fields = []
        if spec is not None:
            columns_by_input = selectors.flow_input_columns(flow=flow, input_ids=inputs)
            columns: dict[int | str, list[str]] = {i: columns_by_input.get(x, []) for i, x in enumerate(inputs)}
            fields = f.step_fields(spec, columns=columns, values=values or {}, errors=draft.get("errors"))
        selected = get.get("step") if get.get("step") in ids else None
        if preview is None and not preview_error:
            target = selected or edit_id or default_input
            if target:
                try:
                    preview = selectors.flow_preview(flow=flow, step_id=target)
                except ValidationError as exc:
                    preview_error = " ".join(_errors(exc).values())
                except Exception as exc:  # noqa: BLE001 - a transform error names the step
                    preview_error = getattr(exc, "message", str(exc))
        versions = selectors.flow_source_versions(flow=flow)
        analysis_columns = preview.columns if preview is not None else []
        step_choices = [
            (s["id"], f"{s['id']}: {s.get('label') or specs.get(s['op'], {}).get('title', s['op'])}") for s in steps
        ] + [(s["id"], f"{s['id']}: {s['name']}") for s in flow.sources]
        job = None
        if get.get("job"):
            job = selectors.recent_job(project=flow.project, pk=get["job"], kinds=("datasets.flow_run",))
        run_versions = selectors.flow_outputs(flow=flow)
        context = {
            "flow": flow,
            "steps": [
                {**s, "title": specs.get(s["op"], {}).get("title", s["op"]), "inputs_text": ", ".join(s["inputs"])}
                for s in steps
            ],
            "sources": [{**s, "version": versions.get(s["id"])} for s in flow.sources],
            "groups": _grouped_specs(specs),
            "op": op,
            "spec": spec,
            "fields": fields,
            "inputs": inputs,
            "input_choices": ids,
            "editing": editing,
            "draft": draft,
            "label": draft.get("label", editing.get("label") or "" if editing else ""),
            "preview": preview,
            "preview_error": preview_error,
            "selected": (preview.step_id if preview is not None else selected),
            "analyses": list(flow.analyses.all()),
            "analysis_form": analysis_form
            or f.AnalysisForm(
                steps=step_choices, columns=analysis_columns, initial={"step": preview.step_id if preview else ""}
            ),
            "run_form": f.FlowRunForm(initial={"output_name": flow.output_name or flow.name}),
            "project_versions": selectors.version_list_for_user(user=request_user(request))
            .filter(project=flow.project)
            .order_by("dataset__name", "-number"),
            "job": job,
            "job_list": [job] if job is not None else [],
            "run_versions": run_versions,
            "charts": True,
            "preview_cells": _cells(preview.rows, preview.columns) if preview else [],
            "analysis_fields": {kind: list(names) for kind, names in ANALYSIS_PARAMS.items()},
            "can_run": request.user.has_perm(personas.RUN_JOBS),
        }
        return render(request, "datasets/flow_detail.html", context, status=status)


class FlowStepView(StudioMixin, View):
    """POST a step form: `action=preview` shows the step's output on a sample without saving it; `action=save`
    adds it (or, with a step id in the URL, replaces that step)."""

    def post(self, request: HttpRequest, pk: int, step_id: str | None = None) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        specs = _operator_specs()
        op = request.POST.get("op", "")
        spec = specs.get(op)
        inputs = [i for i in request.POST.getlist("inputs") if i]
        label = request.POST.get("label", "")
        if spec is None:
            messages.error(request, f"Choose an operator (unknown operator {op!r}).")
            return redirect("datasets:flow_detail", pk=flow.pk)
        params, errors = f.parse_step_params(spec, request.POST)
        draft: dict[str, Any] = {"op": op, "parameters": params, "inputs": inputs, "label": label, "errors": errors}
        view = FlowDetailView()
        query = request.GET.copy()
        if step_id is not None:
            query["edit"] = step_id
        if errors:
            return view.render_editor(
                request, flow, query=query, draft=draft, preview_error="Fix the parameters below.", status=400
            )
        try:
            if request.POST.get("action") == "preview":
                definition, draft_id = services.flow_step_draft(
                    flow, op=op, parameters=params, inputs=inputs, label=label, step_id=step_id
                )
                preview = services._preview_or_error(flow, definition, draft_id)
                return view.render_editor(request, flow, query=query, draft=draft, preview=preview)
            if step_id is None:
                flow, new_id, _preview = services.flow_step_add(
                    flow=flow, op=op, parameters=params, inputs=inputs, label=label
                )
            else:
                flow, _preview = services.flow_step_update(
                    flow=flow, step_id=step_id, op=op, parameters=params, inputs=inputs, label=label
                )
                new_id = step_id
        except ValidationError as exc:
            draft["errors"] = {k: v for k, v in _errors(exc).items() if k in {p["name"] for p in spec["parameters"]}}
            return view.render_editor(
                request, flow, draft=draft, preview_error=" ".join(_errors(exc).values()), status=400
            )
        messages.success(request, f"Step {new_id} ({spec['title']}) {'added' if step_id is None else 'saved'}.")
        return redirect(reverse("datasets:flow_detail", args=[flow.pk]) + f"?step={new_id}")


class FlowStepDeleteView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int, step_id: str) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        try:
            services.flow_step_delete(flow=flow, step_id=step_id)
        except ValidationError as exc:
            _flash(request, exc)
        else:
            messages.success(request, f"Step {step_id} deleted.")
        return redirect("datasets:flow_detail", pk=flow.pk)


class FlowSourceAddView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        try:
            version = selectors.version_list_for_user(user=request_user(request)).get(
                pk=int(request.POST.get("version", "")), project=flow.project
            )
            services.flow_source_add(flow=flow, version=version)
        except (ValueError, DatasetVersion.DoesNotExist):
            messages.error(request, "Choose a dataset version of this project.")
        except ValidationError as exc:
            _flash(request, exc)
        return redirect("datasets:flow_detail", pk=flow.pk)


class FlowSourceDeleteView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int, source_id: str) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        try:
            services.flow_source_remove(flow=flow, source_id=source_id)
        except ValidationError as exc:
            _flash(request, exc)
        return redirect("datasets:flow_detail", pk=flow.pk)


class FlowRunView(StudioMixin, View):
    capability = personas.RUN_JOBS

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        try:
            job = services.flow_run_start(
                flow=flow,
                created_by=request_user(request),
                output_name=request.POST.get("output_name") or None,
            )
        except ValidationError as exc:
            _flash(request, exc)
            return redirect("datasets:flow_detail", pk=flow.pk)
        messages.info(request, f"Running {flow.name} on the full data.")
        return redirect(reverse("datasets:flow_detail", args=[flow.pk]) + f"?job={job.pk}")


class FlowExportView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        try:
            name, script = selectors.flow_script(flow=flow)
        except ValidationError as exc:
            _flash(request, exc)
            return redirect("datasets:flow_detail", pk=flow.pk)
        return attachment(HttpResponse(script, content_type="text/x-python; charset=utf-8"), name)


class FlowDeleteView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        services.flow_delete(flow=flow)
        messages.success(request, f"Flow {flow.name} deleted.")
        return redirect("datasets:flow_list")


class FlowAnalysisAddView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        step = request.POST.get("step", "")
        try:
            columns = selectors.flow_step_sample(flow=flow, step_id=step).columns
        except ValidationError:
            columns = []
        ids = [(s["id"], s["id"]) for s in flow.steps] + [(s["id"], s["id"]) for s in flow.sources]
        form = f.AnalysisForm(request.POST, steps=ids, columns=[str(c) for c in columns])
        if form.is_valid():
            try:
                analysis = services.flow_analysis_add(
                    flow=flow,
                    created_by=request_user(request),
                    kind=form.cleaned_data["kind"],
                    step_id=form.cleaned_data["step"],
                    params=form.params(),
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, f"Analysis saved: {analysis.title}.")
                return redirect(reverse("datasets:flow_detail", args=[flow.pk]) + f"?step={step}#analyses")
        query = request.GET.copy()
        query["step"] = step
        return FlowDetailView().render_editor(request, flow, analysis_form=form, status=400, query=query)


class FlowAnalysisDeleteView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        analysis = selectors.analysis_get_for_user(user=request_user(request), pk=pk)
        flow_id = analysis.flow_id
        services.flow_analysis_delete(analysis=analysis)
        return redirect(reverse("datasets:flow_detail", args=[flow_id]) + "#analyses")
