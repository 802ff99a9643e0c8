"""Two helpers every view and API view uses: the signed-in user, typed, and the persona check."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import PermissionDenied

from apps.accounts.models import User

PERSONA_REFUSED = "Your persona does not allow this action."


def request_user(request: Any) -> User:
    """The signed-in user (the studio mixins and API permissions rule out anonymous requests first)."""
    return cast(User, request.user)


def require_perm(request: Any, perm: str, message: str = PERSONA_REFUSED) -> None:
    """403 (PermissionDenied, also for the API: apps/core/api/errors.py) unless the user's persona has `perm`."""
    if not request.user.has_perm(perm):
        raise PermissionDenied(message)
