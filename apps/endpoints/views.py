"""Endpoint pages (under /deployments/, so they never clash with the /endpoints/ serving path): the list, the
create form (approved versions only), an endpoint's page (status, variants and weights, metrics charts, keys,
"try it", curl and Python snippets), and batch transforms."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import project_follow, request_project, request_user, required_project
from apps.core.once import show_once, take_once
from apps.core.selectors import webhook_deliveries_for
from apps.datasets import selectors as data_selectors
from apps.endpoints import charts, selectors, services, snippets
from apps.endpoints.choices import EndpointType
from apps.endpoints.forms import BatchTransformForm, EndpointForm
from apps.endpoints.models import Endpoint

TRY_KEY_TTL = timedelta(hours=1)


class EndpointListView(StudioMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        endpoints = (
            list(selectors.endpoint_list_for_user(user=request_user(request)).filter(project=project))
            if project
            else []
        )
        return render(
            request,
            "endpoints/endpoint_list.html",
            {
                "project": project,
                "endpoints": endpoints,
                "can_deploy": personas.user_can(request.user, personas.DEPLOY_MODELS),
            },
        )


class EndpointCreateView(StudioMixin, View):
    capabilities = {"get": personas.DEPLOY_MODELS, "post": personas.DEPLOY_MODELS}

    def _render(self, request: HttpRequest, form: EndpointForm | None = None, status: int = 200) -> HttpResponse:
        project = request_project(request)
        versions = (
            list(selectors.approved_versions_for_user(user=request_user(request), project=project)) if project else []
        )
        form = form or EndpointForm(versions=versions, initial=_prefill(request, versions))
        return render(
            request,
            "endpoints/endpoint_form.html",
            {"project": project, "versions": versions, "form": form},
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        raw = request.GET.get("version", "")
        if raw.isdigit():  # the registry's Deploy button: open the form in that version's project
            version = selectors.approved_versions_for_user(user=request_user(request)).filter(pk=int(raw)).first()
            if version is not None:
                project_follow(request, version.project_id)
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        versions = list(selectors.approved_versions_for_user(user=request_user(request), project=project))
        form = EndpointForm(request.POST, versions=versions)
        if not form.is_valid():
            return self._render(request, form=form, status=400)
        d = form.cleaned_data
        variants = [
            {"model_version": selectors.model_version_get_for_user(user=request_user(request), pk=pk), "weight": weight}
            for pk, weight in form.variants()
        ]
        try:
            endpoint, key = services.endpoint_create(
                project=project,
                user=request_user(request),
                name=d["name"],
                endpoint_type=d["type"],
                variants=variants,
                capture_percent=d["capture_percent"],
                idle_timeout_s=d["idle_timeout_s"],
                max_concurrency=d["max_concurrency"],
                timeout_s=d.get("timeout_s"),
                webhook_url=d.get("webhook_url"),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
            return self._render(request, form=form, status=400)
        show_once(request, _key_slot(endpoint), key)
        messages.success(request, f"Endpoint {endpoint.name} deployed.")
        return HttpResponseRedirect(reverse("endpoints:detail", args=[endpoint.pk]) + "#new-key")


def _prefill(request: HttpRequest, versions: list[Any]) -> dict[str, Any]:
    """`?version=<id>` (the registry's Deploy button): that approved version chosen, a name made from its group."""
    raw = request.GET.get("version", "")
    version = next((v for v in versions if str(v.pk) == raw), None)
    if version is None:
        return {}
    return {
        "model_version": version.pk,
        "name": slugify(f"{version.group.name}-v{version.version}").replace("_", "-")[:63],
    }


def _key_slot(endpoint: Endpoint) -> str:
    return f"endpoint-key:{endpoint.pk}"


def _secret_slot(endpoint: Endpoint) -> str:
    return f"webhook-secret-rotated:{endpoint.pk}"


def _snippets(request: HttpRequest, endpoint: Endpoint, example: dict[str, Any]) -> dict[str, str]:
    is_async = endpoint.type == EndpointType.ASYNC
    host = request.build_absolute_uri("/").rstrip("/")
    url = f"{host}/endpoints/{endpoint.name}/{'async-invocations' if is_async else 'invocations'}"
    spec = snippets.SnippetRequest("POST", url, example)
    python = snippets.python_async(spec, host) if is_async else snippets.python_invoke(spec)
    return {"url": url, "curl": snippets.curl(spec), "python": python}


def _detail(
    request: HttpRequest,
    endpoint: Endpoint,
    *,
    new_key: str = "",
    status: int = 200,
    form_errors: list[str] | None = None,
    secret_rotated: bool = False,
) -> HttpResponse:
    user = request_user(request)
    variants = list(endpoint.variants.select_related("model_version__group").order_by("position", "id"))
    metrics = selectors.endpoint_metrics(endpoint=endpoint, minutes=60)
    first = variants[0].model_version if variants else None
    example = {"dataframe_records": selectors.example_records(version=first)}
    can_deploy = personas.user_can(user, personas.DEPLOY_MODELS)
    context = {
        "endpoint": endpoint,
        "variants": variants,
        "total_weight": sum(v.weight for v in variants) or 1,
        "keys": list(selectors.endpoint_keys(endpoint=endpoint)),
        "metrics": metrics,
        "figures": charts.endpoint_figures(metrics),
        "example_json": json.dumps(example, indent=2),
        "snippets": _snippets(request, endpoint, example),
        "can_deploy": can_deploy,
        "new_key": new_key,
        "versions": list(selectors.approved_versions_for_user(user=user, project=endpoint.project))
        if can_deploy
        else [],
        "async_invocations": selectors.async_invocation_list(endpoint=endpoint)
        if endpoint.type == EndpointType.ASYNC
        else [],
        "form_errors": form_errors or [],
        "webhook_deliveries": list(webhook_deliveries_for(subscriber=endpoint, limit=20)),
        # The signing secret only for those who may rotate it (members who deploy).
        "webhook_secret": selectors.endpoint_webhook_secret(endpoint=endpoint) if can_deploy else None,
        "secret_rotated": secret_rotated,
        "charts": True,
    }
    return render(request, "endpoints/endpoint_detail.html", context, status=status)


class EndpointDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = selectors.endpoint_get_for_user(user=request_user(request), pk=pk)
        return _detail(
            request,
            endpoint,
            new_key=take_once(request, _key_slot(endpoint)),
            secret_rotated=bool(take_once(request, _secret_slot(endpoint), False)),
        )


class EndpointUpdateView(StudioMixin, View):
    """New variants and weights from the page's form: rows of (version, weight, name)."""

    capabilities = {"post": personas.DEPLOY_MODELS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = selectors.endpoint_get_for_user(user=request_user(request), pk=pk)
        rows = zip(
            request.POST.getlist("variant_version"),
            request.POST.getlist("variant_weight"),
            request.POST.getlist("variant_name"),
            strict=False,
        )
        variants = []
        try:
            for version_id, weight, name in rows:
                if not version_id:
                    continue
                variants.append(
                    {
                        "model_version": selectors.model_version_get_for_user(
                            user=request_user(request), pk=version_id
                        ),
                        "weight": weight or 0,
                        "name": name,
                    }
                )
            extra = {"webhook_url": request.POST["webhook_url"]} if "webhook_url" in request.POST else {}
            services.endpoint_update(
                endpoint=endpoint,
                user=request_user(request),
                variants=variants,
                capture_percent=request.POST.get("capture_percent") or None,
                **extra,
            )
        except ValidationError as exc:
            return _detail(request, endpoint, status=400, form_errors=list(exc.messages))
        return HttpResponseRedirect(reverse("endpoints:detail", args=[endpoint.pk]))


class EndpointWebhookSecretRotateView(StudioMixin, View):
    """A new webhook signing secret, highlighted on the page this POST redirects to; the previous one still signs for a
    while."""

    capabilities = {"post": personas.DEPLOY_MODELS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = selectors.endpoint_get_for_user(user=request_user(request), pk=pk)
        services.endpoint_webhook_secret_rotate(endpoint=endpoint, user=request_user(request))
        show_once(request, _secret_slot(endpoint), True)
        return HttpResponseRedirect(reverse("endpoints:detail", args=[endpoint.pk]) + "#webhook-secret")


class EndpointDeleteView(StudioMixin, View):
    capabilities = {"post": personas.DEPLOY_MODELS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = selectors.endpoint_get_for_user(user=request_user(request), pk=pk)
        services.endpoint_delete(endpoint=endpoint, user=request_user(request))
        return HttpResponseRedirect(reverse("endpoints:list"))


class EndpointKeyCreateView(StudioMixin, View):
    """Creates a key and shows it once, on the page this POST redirects to (apps/core/once.py: never in a URL)."""

    capabilities = {"post": personas.DEPLOY_MODELS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = selectors.endpoint_get_for_user(user=request_user(request), pk=pk)
        _, key = services.endpoint_key_create(
            endpoint=endpoint, user=request_user(request), name=request.POST.get("name")
        )
        show_once(request, _key_slot(endpoint), key)
        return HttpResponseRedirect(reverse("endpoints:detail", args=[endpoint.pk]) + "#new-key")


class EndpointTryKeyView(StudioMixin, View):
    """A key for the "try it" box that expires after an hour: JSON `{key, expires_at}`."""

    capabilities = {"post": personas.DEPLOY_MODELS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = selectors.endpoint_get_for_user(user=request_user(request), pk=pk)
        row, key = services.endpoint_key_create(
            endpoint=endpoint, user=request_user(request), name=f"try it ({request.user.get_username()})"
        )
        row.expires_at = timezone.now() + TRY_KEY_TTL
        row.save(update_fields=["expires_at"])
        # Serving processes see the key at their next configuration refresh.
        active_within_s = float(settings.SERVING_CONFIG_REFRESH_S) + 0.5
        return JsonResponse(
            {
                "key": key,
                "expires_at": row.expires_at.isoformat(),
                "name": row.name,
                "active_within_s": active_within_s,
            },
            status=201,
        )


class EndpointKeyRevokeView(StudioMixin, View):
    capabilities = {"post": personas.DEPLOY_MODELS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        key = selectors.endpoint_key_get_for_user(user=request_user(request), pk=pk)
        services.endpoint_key_revoke(key=key, user=request_user(request))
        return HttpResponseRedirect(reverse("endpoints:detail", args=[key.endpoint_id]) + "#keys")


# --- batch transform ----------------------------------------------------------------------------------------------


class BatchTransformListView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def _render(self, request: HttpRequest, form: BatchTransformForm | None = None, status: int = 200) -> HttpResponse:
        project = request_project(request)
        user = request_user(request)
        versions = list(selectors.approved_versions_for_user(user=user, project=project)) if project else []
        datasets = (
            list(
                data_selectors.version_list_for_user(user=user)
                .filter(project=project)
                .order_by("dataset__name", "-number")[:200]
            )
            if project
            else []
        )
        transforms = (
            list(selectors.batch_transform_list_for_user(user=user).filter(project=project)[:50]) if project else []
        )
        return render(
            request,
            "endpoints/batch_list.html",
            {
                "project": project,
                "form": form or BatchTransformForm(versions=versions, datasets=datasets),
                "versions": versions,
                "datasets": datasets,
                "transforms": transforms,
                "can_run": personas.user_can(request.user, personas.RUN_JOBS),
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        user = request_user(request)
        versions = list(selectors.approved_versions_for_user(user=user, project=project))
        datasets = list(data_selectors.version_list_for_user(user=user).filter(project=project))
        form = BatchTransformForm(request.POST, versions=versions, datasets=datasets)
        if not form.is_valid():
            return self._render(request, form=form, status=400)
        d = form.cleaned_data
        try:
            transform = services.batch_transform_start(
                user=user,
                model_version=selectors.model_version_get_for_user(user=user, pk=d["model_version"]),
                dataset_version=data_selectors.version_get_for_user(user=user, pk=d["dataset_version"]),
                join_input_columns=d["join_input_columns"],
                probabilities=d["probabilities"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
            return self._render(request, form=form, status=400)
        return HttpResponseRedirect(reverse("endpoints:batch_detail", args=[transform.pk]))


class BatchTransformDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        transform = selectors.batch_transform_get_for_user(user=request_user(request), pk=pk)
        return render(request, "endpoints/batch_detail.html", {"transform": transform, "job": transform.job})
