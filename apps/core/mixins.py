"""View mixins for the UI: persona checks. Project scoping is done by the selectors views call."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from apps.accounts import personas


class CapabilityRequiredMixin(LoginRequiredMixin):
    """Signed in (else redirect to login) and holding `capability` (else 403)."""

    capability: str | None = personas.USE_STUDIO
    admin_only = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.admin_only and not request.user.is_admin:  # type: ignore[union-attr]
            raise PermissionDenied("Only admins may open this page.")
        if self.capability and not request.user.has_perm(self.capability):
            raise PermissionDenied("Your persona does not give access to this page.")
        return super().dispatch(request, *args, **kwargs)


class StudioMixin(CapabilityRequiredMixin):
    capability = personas.USE_STUDIO


class SignedInMixin(CapabilityRequiredMixin):
    capability: str | None = None


class AdminMixin(CapabilityRequiredMixin):
    capability = None
    admin_only = True
