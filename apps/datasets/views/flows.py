"""The flow editor (Data Wrangler): sources, steps with live previews, analyses, runs and export."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import form_add_errors, request_project, request_user, required_project
from apps.core.attachments import attachment
from apps.datasets import forms as f
from apps.datasets import selectors, services
from apps.datasets.analyses import PARAMS as ANALYSIS_PARAMS
from apps.datasets.models import DatasetVersion, Flow
from apps.datasets.views.common import (
    error_texts,
    flash_errors,
    table_cells,
)


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
        project = required_project(request)
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
                form_add_errors(form, exc)
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
                    preview_error = " ".join(error_texts(exc).values())
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
                steps=step_choices,
                columns=analysis_columns,
                initial={"step": preview.step_id if preview else "", "kind": get.get("analysis_kind") or None},
            ),
            "run_form": f.FlowRunForm(initial={"output_name": flow.output_name or flow.name}),
            "project_versions": selectors.version_list_for_user(user=request_user(request))
            .filter(project=flow.project)
            .order_by("dataset__name", "-number"),
            "job": job,
            "job_list": [job] if job is not None else [],
            "run_versions": run_versions,
            "charts": True,
            "preview_cells": table_cells(preview.rows, preview.columns) if preview else [],
            "analysis_fields": {kind: list(names) for kind, names in ANALYSIS_PARAMS.items()},
            "can_run": personas.user_can(request.user, personas.RUN_JOBS),
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
                preview = services.flow_preview_or_error(flow, definition, draft_id)
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
            names = {p["name"] for p in spec["parameters"]}
            draft["errors"] = {k: v for k, v in error_texts(exc).items() if k in names}
            return view.render_editor(
                request, flow, draft=draft, preview_error=" ".join(error_texts(exc).values()), status=400
            )
        messages.success(request, f"Step {new_id} ({spec['title']}) {'added' if step_id is None else 'saved'}.")
        return redirect(reverse("datasets:flow_detail", args=[flow.pk]) + f"?step={new_id}")


class FlowStepDeleteView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int, step_id: str) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        try:
            services.flow_step_delete(flow=flow, step_id=step_id)
        except ValidationError as exc:
            flash_errors(request, exc)
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
            flash_errors(request, exc)
        return redirect("datasets:flow_detail", pk=flow.pk)


class FlowSourceDeleteView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int, source_id: str) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        try:
            services.flow_source_remove(flow=flow, source_id=source_id)
        except ValidationError as exc:
            flash_errors(request, exc)
        return redirect("datasets:flow_detail", pk=flow.pk)


class FlowRunView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        try:
            job = services.flow_run_start(
                flow=flow,
                created_by=request_user(request),
                output_name=request.POST.get("output_name") or None,
            )
        except ValidationError as exc:
            flash_errors(request, exc)
            return redirect("datasets:flow_detail", pk=flow.pk)
        messages.info(request, f"Running {flow.name} on the full data.")
        return redirect(reverse("datasets:flow_detail", args=[flow.pk]) + f"?job={job.pk}#run")


class FlowExportView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        flow = selectors.flow_get_for_user(user=request_user(request), pk=pk)
        try:
            name, script = selectors.flow_script(flow=flow)
        except ValidationError as exc:
            flash_errors(request, exc)
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
                form_add_errors(form, exc)
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
