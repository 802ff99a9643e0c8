"""Who sent an ASGI request, decided from its headers alone, before its body is read (studio/asgi.py).

Used by the body cap (apps/core/uploads.py, BodySizeLimitMiddleware) only for requests whose body is larger than what
anyone may send: such a body is read only for a signed-in session or a valid `Authorization: Token`. The same checks
as Django's and DRF's own (session hash, active user, token not revoked or expired); a bad token counts against the
address like any other (apps/accounts/throttling.py), so that a large body cannot be used to test keys unthrottled.
"""

from __future__ import annotations

import io
import logging
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import auth
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http.cookie import parse_cookie

from apps.accounts import throttling
from apps.accounts.services import api_token_authenticate

log = logging.getLogger(__name__)


def _header(scope: Any, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _request(scope: Any) -> ASGIRequest:
    return ASGIRequest(dict(scope), io.BytesIO())  # headers only: the body is never read here


def _outside_a_request(check: Any) -> Any:
    """Like a request's own database work: the connection is closed when the settings say so (CONN_MAX_AGE)."""

    def run(*args: Any) -> bool:
        close_old_connections()
        try:
            return bool(check(*args))
        finally:
            close_old_connections()

    return run


@_outside_a_request
def _token_user_ok(scope: Any, key: str) -> bool:
    request = _request(scope)
    if throttling.address_is_locked(request):
        return False
    if api_token_authenticate(key=key) is not None:
        return True
    throttling.record_anonymous_failure(request, sender=BodySenderCheck)
    return False


@_outside_a_request
def _session_user_ok(scope: Any, session_key: str) -> bool:
    request = _request(scope)
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return bool(auth.get_user(request).is_authenticated)


class BodySenderCheck:
    """Signal sender for failures found here (a bad API token on a large body)."""


async def signed_in(scope: Any) -> bool:
    """True when the request carries a valid API token (`Authorization: Token <key>`) or a signed-in session."""
    scheme, _, key = _header(scope, b"authorization").strip().partition(" ")
    if scheme.lower() == "token":
        # DRF decides by the token alone when one is sent (a bad one is refused, the session is not consulted)
        key = key.strip()
        return bool(key) and await sync_to_async(_token_user_ok)(scope, key)
    session_key = parse_cookie(_header(scope, b"cookie")).get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return False
    return await sync_to_async(_session_user_ok)(scope, session_key)
