"""The UI's side of the permission layer (apps/accounts/permissions.py): the view's declaration, checked before any
handler runs. Project scoping is done by the selectors views call."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ClassVar

from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from apps.accounts import personas
from apps.accounts.permissions import missing_capability, page_keys, refusal_text


class CapabilityRequiredMixin(AccessMixin):
    """Holding `capability` and the `capabilities` entry for this request (else 403), signed in unless the view is
    public (else a redirect to the login page)."""

    capability: str | None = None  # undeclared: refused to everyone
    capabilities: ClassVar[dict[str, str]] = {}

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        missing = missing_capability(request.user, self, page_keys(request, self))
        if missing is not None:
            if not request.user.is_authenticated:
                return self.handle_no_permission()
            raise PermissionDenied(refusal_text(self, missing, page=True))
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class StudioMixin(CapabilityRequiredMixin):
    capability: str | None = personas.USE_STUDIO


class SignedInMixin(CapabilityRequiredMixin):
    capability: str | None = personas.SIGNED_IN


class AdminMixin(CapabilityRequiredMixin):
    capability: str | None = personas.ADMIN


class PublicMixin(CapabilityRequiredMixin):
    capability: str | None = personas.PUBLIC


def requires(capability: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The declaration of a function view: `@requires(personas.PUBLIC)`, `@requires(personas.USE_STUDIO)`."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            missing = missing_capability(request.user, checked)
            if missing is not None:
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                raise PermissionDenied(refusal_text(checked, missing, page=True))
            return view(request, *args, **kwargs)

        checked.capability = capability  # type: ignore[attr-defined]
        return checked

    return decorate
