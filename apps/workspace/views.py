from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.accounts import personas
from apps.accounts.mixins import SignedInMixin, StudioMixin, requires
from apps.accounts.requests import request_project, required_project
from apps.core.health import readiness
from apps.core.selectors import notification_list_for_user
from apps.core.services import notifications_mark_read


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/endpoints/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: the API error shape under /api/, the HTML page elsewhere."""
    if _wants_json(request):
        return JsonResponse({"detail": "Not found.", "errors": {}, "code": "not_found"}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"detail": "Internal server error; it was logged.", "errors": {}, "code": "server_error"}, status=500
        )
    return render(request, "500.html", status=500)


@requires(personas.PUBLIC)
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive (no dependency checked)."""
    return JsonResponse({"status": "ok"})


@requires(personas.PUBLIC)
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: DB, broker, a live worker seen recently, storage writable. 503 when any fails."""
    checks = readiness()
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


class HomeView(SignedInMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        if not personas.user_can(request.user, personas.USE_STUDIO):
            return redirect("labeling:my_work")
        from apps.jobs.selectors import job_list_for_user

        project = request_project(request)
        jobs = job_list_for_user(user=request.user).filter(project=project)[:8] if project else []  # type: ignore[arg-type]
        can_run = personas.user_can(request.user, personas.RUN_JOBS)
        return render(request, "workspace/home.html", {"project": project, "recent_jobs": jobs, "can_run": can_run})


class StorageReportStartView(StudioMixin, View):
    capabilities = {"post": personas.RUN_JOBS}

    def post(self, request: HttpRequest) -> HttpResponse:
        from apps.jobs.services import job_start

        project = required_project(request)
        job = job_start(kind="core.storage_report", project=project, created_by=request.user)  # type: ignore[arg-type]
        messages.info(request, f"Storage report for {project.name} started.")
        return redirect("jobs:detail", pk=job.pk)


class NotificationListView(SignedInMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        notifications = notification_list_for_user(user_id=int(request.user.pk or 0))[:100]
        return render(request, "workspace/notification_list.html", {"notifications": notifications})

    def post(self, request: HttpRequest) -> HttpResponse:
        notifications_mark_read(user_id=int(request.user.pk or 0))
        return redirect("workspace:notifications")


class NotificationOpenView(SignedInMixin, View):
    """A notification's link: marks it read, then goes to what it is about (a job, a model version)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        user_id = int(request.user.pk or 0)
        notification = get_object_or_404(notification_list_for_user(user_id=user_id), pk=pk)
        notifications_mark_read(user_id=user_id, ids=[notification.pk])
        target = notification.url
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("workspace:notifications")
        return redirect(target)
