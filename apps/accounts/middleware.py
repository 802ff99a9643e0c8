"""`request.project`: the project the user is working in (chosen with the project switcher)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

SESSION_KEY = "project_id"


def current_project(request: HttpRequest):  # type: ignore[no-untyped-def]
    from apps.accounts.selectors import project_list_for_user

    user = request.user
    if not user.is_authenticated:
        return None
    projects = project_list_for_user(user=user)  # type: ignore[arg-type]
    wanted = request.session.get(SESSION_KEY)
    project = projects.filter(pk=wanted).first() if wanted else None
    return project or projects.order_by("name").first()


class CurrentProjectMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.project = SimpleLazyObject(lambda: current_project(request))  # type: ignore[attr-defined]
        return self.get_response(request)
