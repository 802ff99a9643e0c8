"""Sign-in throttling, on django-axes (settings: AXES_*, LOGIN_*_LIMIT, LOGIN_COOLOFF_MINUTES, CLIENT_IP_HEADER).

What counts as a failure: a wrong password on the sign-in form, the console's sign-in and the password change form,
a bad `Authorization: Token` key, an unknown invitation link. Failures are stored by axes (AccessAttempt rows,
shown in the console under Axes) and counted over the cool-off window:

* per account from one address (username + address): past LOGIN_FAILURE_LIMIT that account is refused from that
  address, even with the right password;
* per address (all usernames, bad tokens and invitation links together): past LOGIN_IP_FAILURE_LIMIT every sign-in
  and every token from that address is refused.

A refusal is a 429 with "Too many failed sign-in attempts; try again in N minutes or ask an admin." (JSON for the
API). It ends after the cool-off, or when an admin deletes the attempt in the console or runs `axes_reset`.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Sum
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.exceptions import APIException

log = logging.getLogger("apps.accounts.throttling")

# Credentials of a failure that names no account (a bad API token, an unknown invitation link): counted per address.
ANONYMOUS: dict[str, Any] = {"username": None}


# --- who is asking ------------------------------------------------------------------------------------------------


def _meta_key(header: str) -> str:
    key = header.strip().upper().replace("-", "_")
    return key if key.startswith("HTTP_") or key == "REMOTE_ADDR" else f"HTTP_{key}"


def _address(value: object) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client address: CLIENT_IP_HEADER when configured (the last address in it, the one the trusted proxy
    added), else the peer address (which uvicorn --proxy-headers takes from X-Forwarded-For only for trusted proxies).
    A header that holds no address falls back to the peer address; None when there is none (a unix socket)."""
    header = str(getattr(settings, "CLIENT_IP_HEADER", "") or "")
    if header:
        forwarded = _address(str(request.META.get(_meta_key(header), "")).split(",")[-1])
        if forwarded is not None:
            return forwarded
    return _address(request.META.get("REMOTE_ADDR") or "")


# --- counting ---------------------------------------------------------------------------------------------------


def ip_failure_limit() -> int:
    return int(settings.LOGIN_IP_FAILURE_LIMIT)


class SignInAttemptHandler(AxesDatabaseHandler):
    """axes' database handler with two limits instead of one: LOGIN_FAILURE_LIMIT per (username, address) and
    LOGIN_IP_FAILURE_LIMIT per address. axes compares get_failures() with AXES_FAILURE_LIMIT, so a locked address
    reports at least that limit."""

    def get_failures(self, request: Any, credentials: dict | None = None) -> int:
        account_limit = get_failure_limit(request, credentials)
        recent = AccessAttempt.objects.filter(ip_address=request.axes_ip_address)
        cool_off = get_cool_off(request)
        if cool_off is not None:
            recent = recent.filter(attempt_time__gte=request.axes_attempt_time - cool_off)
        per_address = recent.aggregate(n=Sum("failures_since_start"))["n"] or 0
        username = get_client_username(request, credentials)
        per_account = 0
        if username is not None:  # a failure naming no account counts only per address
            per_account = recent.filter(username=username).aggregate(n=Sum("failures_since_start"))["n"] or 0
        if per_address >= ip_failure_limit():
            return max(per_account, account_limit)
        return per_account

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        super().user_logged_in(sender, request, user, **kwargs)
        # A success forgives that account's own typos from this address, never the address's other failures.
        AccessAttempt.objects.filter(username=user.get_username(), ip_address=request.axes_ip_address).delete()


@receiver(user_locked_out)
def _log_lockout(
    sender: Any, request: Any = None, username: str | None = None, ip_address: str = "", **kwargs: Any
) -> None:
    path = getattr(request, "path", "")
    who = f"account {username!r} from {ip_address}" if username else f"address {ip_address}"
    log.warning("Sign-in locked out: %s (after failures on %s).", who, path)


# --- refusing --------------------------------------------------------------------------------------------------


def cool_off_seconds(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off is not None else 0


def lockout_message(request: HttpRequest | None = None) -> str:
    minutes = math.ceil(cool_off_seconds(request) / 60)
    if minutes <= 0:
        return "Too many failed sign-in attempts; ask an admin to unlock your account."
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts; try again in {minutes} {unit} or ask an admin."


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what a locked-out sign-in gets."""
    message = lockout_message(request)
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse({"detail": message, "errors": {}, "code": "locked_out"}, status=429)
    else:
        response = render(request, "accounts/locked_out.html", {"message": message}, status=429)
    if cool_off_seconds(request):
        response["Retry-After"] = str(cool_off_seconds(request))
    return response


class SignInLocked(APIException):
    status_code = 429
    default_code = "locked_out"

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(lockout_message(request))
        self.wait = cool_off_seconds(request) or None  # DRF sends it as Retry-After


# --- failures that are not a password (API tokens, invitation links) ---------------------------------------------


def _probe(request: HttpRequest) -> HttpRequest:
    """A body-less copy of the request for axes: it logs request.POST, which must not parse an upload here."""
    probe = HttpRequest()
    probe.method = request.method
    probe.path = probe.path_info = request.path
    probe.META = {
        k: v
        for k, v in request.META.items()
        if k in ("REMOTE_ADDR", "HTTP_USER_AGENT", "HTTP_ACCEPT") or k == _meta_key(settings.CLIENT_IP_HEADER or "-")
    }
    return probe


def address_is_locked(request: HttpRequest) -> bool:
    """Whether failures that name no account (tokens, invitation links) are refused from this address."""
    return not AxesProxyHandler.is_allowed(_probe(request), ANONYMOUS)


def record_anonymous_failure(request: HttpRequest, sender: Any) -> bool:
    """Count a failure that names no account; True when it locked the address."""
    probe = _probe(request)
    user_login_failed.send(sender=sender, credentials=ANONYMOUS, request=probe)
    return bool(getattr(probe, "axes_locked_out", False))
