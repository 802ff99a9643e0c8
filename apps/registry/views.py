"""Model Registry pages: groups, a group's versions, a version (approval, aliases, lineage, export), side-by-side
comparison and the import form. Views parse input, call one service or selector and render; scoping and the
approval rule live in the selectors and services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import form_add_errors, request_project, request_user, required_project, validation_messages
from apps.core.artifacts import ArtifactTampered
from apps.core.attachments import file_attachment
from apps.core.uploads import CappedUploadMixin
from apps.registry import charts, forms, importing, selectors, services
from apps.registry.choices import ApprovalStatus
from apps.registry.export import export_name, version_export_mlflow
from apps.registry.loading import UnsafeModel
from apps.registry.models import ModelGroup, ModelVersion

SHOWN_APART = ("untrusted_types",)  # an unsafe import's type names get their own list on the page


def _messages(exc: ValidationError) -> list[str]:
    return validation_messages(exc, bare=("__all__", "file"), skip=SHOWN_APART)


# --- groups -------------------------------------------------------------------------------------------------


class GroupListView(StudioMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        groups = (
            selectors.group_list_for_user(user=request_user(request)).filter(project=project).order_by("name")
            if project
            else ModelGroup.objects.none()
        )
        return render(request, "registry/group_list.html", {"project": project, "groups": groups})


class GroupDetailView(StudioMixin, View):
    def _render(
        self, request: HttpRequest, group: ModelGroup, form: forms.GroupEditForm | None = None, status: int = 200
    ) -> HttpResponse:
        versions = list(selectors.versions_of_group(group=group))
        context = {
            "group": group,
            "versions": versions,
            "aliases": selectors.aliases_of_group(group=group),
            "form": form
            or forms.GroupEditForm(initial={"description": group.description, "tags": forms.tag_lines(group.tags)}),
            "compare_all": ",".join(str(v.pk) for v in versions[: selectors.MAX_COMPARED]),
        }
        return render(request, "registry/group_detail.html", context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, selectors.group_get_for_user(user=request_user(request), pk=pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        group = selectors.group_get_for_user(user=request_user(request), pk=pk)
        form = forms.GroupEditForm(request.POST)
        if not form.is_valid():
            return self._render(request, group, form=form, status=400)
        try:
            services.group_update(
                group=group, description=form.cleaned_data["description"], tags=form.cleaned_data["tags"]
            )
        except ValidationError as exc:
            form_add_errors(form, exc, skip=SHOWN_APART)
            return self._render(request, group, form=form, status=400)
        messages.success(request, "Saved the group's description and tags.")
        return HttpResponseRedirect(reverse("registry:group", args=[group.pk]))


# --- versions -----------------------------------------------------------------------------------------------


def version_context(request: HttpRequest, version: ModelVersion, **extra: Any) -> dict[str, Any]:
    can_approve = personas.user_can(request.user, personas.APPROVE_MODELS)
    signature = version.signature or {}
    return {
        "version": version,
        "group": version.group,
        "inputs": signature.get("inputs") or [],
        "outputs": signature.get("outputs") or [],
        "history": list(version.approval_events.all()),
        "aliases": list(version.aliases.all()),
        "group_aliases": selectors.aliases_of_group(group=version.group),
        "can_approve": can_approve,
        "can_deploy": personas.user_can(request.user, personas.DEPLOY_MODELS),
        "statuses": ApprovalStatus.choices,
        "approval_form": extra.pop("approval_form", None)
        or forms.ApprovalForm(initial={"status": version.approval_status}),
        "edit_form": extra.pop("edit_form", None)
        or forms.VersionEditForm(
            initial={
                "description": version.description,
                "tags": forms.tag_lines(version.tags),
                "metadata": _json(version.metadata),
            }
        ),
        "siblings": selectors.versions_of_group(group=version.group).exclude(pk=version.pk)[:5],
        "metadata_json": _json(version.metadata),
        **extra,
    }


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False) if value else ""


def _version(request: HttpRequest, pk: int) -> ModelVersion:
    return selectors.version_get_for_user(user=request_user(request), pk=pk)


def _back(version: ModelVersion, anchor: str = "") -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("registry:version", args=[version.pk]) + anchor)


class VersionDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = _version(request, pk)
        return render(request, "registry/version_detail.html", version_context(request, version))


class VersionApprovalView(StudioMixin, View):
    capabilities = {"post": personas.APPROVE_MODELS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = _version(request, pk)
        form = forms.ApprovalForm(request.POST)
        if not form.is_valid():
            context = version_context(request, version, approval_form=form)
            return render(request, "registry/version_detail.html", context, status=400)
        updated = services.version_approval_update(
            version=version,
            user=request_user(request),
            status=form.cleaned_data["status"],
            description=form.cleaned_data["description"],
        )
        messages.success(request, f"{updated} is now {updated.get_approval_status_display().lower()}.")
        return _back(updated, "#approval")


class VersionAliasView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = _version(request, pk)
        name = request.POST.get("alias", "")
        try:
            if request.POST.get("action") == "remove":
                services.alias_delete(version=version, name=name)
                messages.success(request, f"Removed the alias {name!r}.")
            else:
                alias = services.alias_set(version=version, name=name)
                messages.success(request, f"{version.group.name}@{alias.name} now points to version {version.version}.")
        except ValidationError as exc:
            messages.error(request, " ".join(_messages(exc)))
        return _back(version, "#aliases")


class VersionEditView(StudioMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = _version(request, pk)
        form = forms.VersionEditForm(request.POST)
        if form.is_valid():
            try:
                services.version_update(
                    version=version,
                    description=form.cleaned_data["description"],
                    tags=form.cleaned_data["tags"],
                    metadata=form.cleaned_data["metadata"],
                )
            except ValidationError as exc:
                form_add_errors(form, exc, skip=SHOWN_APART)
            else:
                messages.success(request, "Saved the description, tags and metadata.")
                return _back(version, "#details")
        context = version_context(request, version, edit_form=form)
        return render(request, "registry/version_detail.html", context, status=400)


class VersionExportView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
        version = _version(request, pk)
        try:
            archive = version_export_mlflow(version=version)
        except (ArtifactTampered, UnsafeModel) as exc:
            messages.error(request, f"The model could not be exported: {exc}")
            return render(request, "registry/version_detail.html", version_context(request, version), status=409)
        return file_attachment(archive, f"{export_name(version)}-mlflow.zip", "application/zip")


class VersionCompareView(StudioMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            versions = selectors.compared_versions(user=request_user(request), raw=request.GET.get("versions"))
        except ValidationError as exc:
            return render(
                request, "registry/version_compare.html", {"errors": _messages(exc), "versions": []}, status=400
            )
        table = selectors.comparison(versions=versions)
        names = [str(v) for v in versions]
        return render(
            request,
            "registry/version_compare.html",
            {
                "versions": versions,
                "table": table,
                "figure": charts.metrics_figure(names, table["metrics"]),
                "charts": True,
                "inputs_differ": len({repr((v.signature or {}).get("inputs")) for v in versions}) > 1,
            },
        )


# --- import -------------------------------------------------------------------------------------------------


class VersionImportView(CappedUploadMixin, StudioMixin, View):
    """The upload streams to disk under REGISTRY_MAX_IMPORT_BYTES (apps/core/uploads.py)."""

    def upload_max_bytes(self) -> int:
        return importing.max_import_bytes()

    def _render(
        self,
        request: HttpRequest,
        form: forms.ModelImportForm | None = None,
        status: int = 200,
        untrusted: list[str] | None = None,
        error: str = "",
    ) -> HttpResponse:
        project = request_project(request)
        groups = (
            selectors.group_list_for_user(user=request_user(request)).filter(project=project).order_by("name")
            if project
            else ModelGroup.objects.none()
        )
        initial = {"group": request.GET.get("group", "")}
        return render(
            request,
            "registry/version_import.html",
            {
                "project": project,
                "form": form or forms.ModelImportForm(initial=initial),
                "groups": groups,
                "untrusted": untrusted or [],
                "max_bytes": importing.max_import_bytes(),
                "error": error,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.upload_refused(request) is not None:
            return self._render(request, status=413, error=importing.too_large_message(importing.max_import_bytes()))
        project = required_project(request)
        form = forms.ModelImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form=form, status=400)
        d = form.cleaned_data
        try:
            version = importing.version_import(
                project=project,
                created_by=request_user(request),
                group_name=d["group"],
                uploaded_file=d["file"],
                signature=d["signature"],
                classes=d["classes"],
                problem_type=d["problem_type"],
                description=d["description"],
                tags=d["tags"],
            )
        except importing.ImportTooLarge as exc:
            return self._render(request, form=form, status=413, error=" ".join(_messages(exc)))
        except ValidationError as exc:
            form_add_errors(form, exc, skip=SHOWN_APART)
            untrusted = exc.message_dict.get("untrusted_types") if hasattr(exc, "error_dict") else None
            return self._render(request, form=form, status=400, untrusted=untrusted)
        messages.success(request, f"Imported {version} ({version.get_format_display()}); it is pending approval.")
        return HttpResponseRedirect(reverse("registry:version", args=[version.pk]))
