"""Persona checks for API views. Project membership is enforced by the scoped selectors."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.accounts import personas


class IsStudioUser(BasePermission):
    """Signed in, and a persona that may use the studio modules (not a Labeler-only account)."""

    message = "Your persona does not give access to this part of Atelier."

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(personas.USE_STUDIO))


class IsSignedIn(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user and request.user.is_authenticated)


class IsAdmin(BasePermission):
    message = "Only admins may do this."

    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


def has_capability(perm: str) -> type[BasePermission]:
    """A permission class requiring one persona capability, e.g. has_capability(personas.RUN_JOBS)."""

    class _HasCapability(BasePermission):
        message = "Your persona does not allow this action."

        def has_permission(self, request: Request, view: object) -> bool:
            return bool(request.user and request.user.is_authenticated and request.user.has_perm(perm))

    _HasCapability.__name__ = f"HasCapability[{perm}]"
    return _HasCapability
