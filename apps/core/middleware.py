"""The Content-Security-Policy header of every response."""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase


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
