"""`request.project`: the project the user is working in (chosen with the project switcher); the
Content-Security-Policy header of every response."""

from __future__ import annotations

from collections.abc import Callable

from csp.middleware import CSPMiddleware, PolicyParts
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase
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


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (the policy is CONTENT_SECURITY_POLICY in settings), with this host's WebSocket
    origin added to connect-src for the live job updates: CSP Level 3 lets 'self' cover ws(s) of the same host,
    older browsers do not, and a bare `ws:`/`wss:` would let a page open sockets to any host."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request=request, response=response, report_only=report_only)
        try:
            host = request.get_host()  # validated against ALLOWED_HOSTS
        except DisallowedHost:
            return parts
        update = dict(parts.update or {})
        update["connect-src"] = [*update.get("connect-src", ()), f"{'wss' if request.is_secure() else 'ws'}://{host}"]
        parts.update = update
        return parts
