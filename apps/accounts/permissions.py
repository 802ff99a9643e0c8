"""The one permission layer: what a UI view, an API view or a WebSocket consumer needs, declared on it.

Every view declares, as class attributes, the capabilities of the table in apps/accounts/personas.py it needs:

    capability = personas.USE_STUDIO            # the part of Atelier: every request needs it
    capabilities = {"post": personas.RUN_JOBS}  # and, for one kind of request, one more

`capability` names the part of Atelier the view belongs to (USE_STUDIO, USE_LABELING, or personas.PUBLIC,
SIGNED_IN, ADMIN); what one action needs beyond it goes in `capabilities`, so that a page and its API ask the same.

One function reads the declaration (`missing_capability`) and asks `personas.user_can`, which reads the roles'
permissions: a role added or changed as data is honoured by every view, API view and socket alike.

Keys of `capabilities`, the most specific first:
- UI views (apps/accounts/mixins.py: StudioMixin, SignedInMixin, AdminMixin, PublicMixin set `capability`):
  "<method>:<form action>" for a page whose one form does two things (the POSTed `action` field, e.g. "post:save"),
  then "<method>" ("post"). Function views: `@requires(capability)` (apps/accounts/mixins.py).
- API views and viewsets (`Declared`, the only DRF permission class: REST_FRAMEWORK's default, never overridden):
  "<action>:<method>" for an @action answering several methods ("keys:post"), then "<action>" ("create",
  "cancel"), then "<method>" (APIViews: "post").
- WebSocket consumers (apps/jobs/consumers.py): `capability`, on connect and again while the socket is open.

Refusals: anonymous → the login page (UI), 401 (API), close 4403 (socket); signed in without the capability → 403
naming what is refused (personas.REFUSALS). Project membership is the other half, in the scoped selectors: another
project's object is a 404 there, never a check here.

tests/core/test_view_declarations.py walks the URL resolver and the WebSocket routes, and fails for a view that does
not declare, declares an unknown capability, or goes around this layer.

Outside the declarations, `personas.user_can` is asked directly only by: the pages' `can_*` flags (which buttons a
page shows; templates never check), the navigation (apps/workspace/modules.py), the home page sending labelers to their
work, and three services that keep a defensive check whoever calls them: registry.services.version_approval_update
(APPROVE_MODELS); endpoints.services._need_deploy (DEPLOY_MODELS, endpoints and keys) and batch_transform_start
(RUN_JOBS).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.accounts import personas

UNDECLARED = "undeclared"  # a view without a declaration is refused to everyone (the walker test names it first)
PAGE_REFUSED = "Your persona does not give access to this page."
API_REFUSED = "Your persona does not give access to this part of Atelier."


def missing_capability(user: Any, view: Any, keys: Iterable[str] = ()) -> str | None:
    """The first capability `view` (a class or an instance) declares for this request that `user` lacks, or None.
    `keys`: the request's kinds, most specific first (see the module docstring); the first declared one counts."""
    capability = getattr(view, "capability", None)
    if not capability:
        return UNDECLARED
    needed = [capability]
    extra: dict[str, str] = getattr(view, "capabilities", None) or {}
    for key in keys:
        if key in extra:
            needed.append(extra[key])
            break
    for one in needed:
        if not personas.user_can(user, one):
            return one
    return None


def refusal_text(view: Any, missing: str, *, page: bool) -> str:
    """What a signed-in user refused `missing` is told (a page or an API answer)."""
    if missing == UNDECLARED:
        return "This view declares no capability, so nobody may use it."
    if missing == personas.ADMIN:
        return "Only admins may open this page." if page else personas.refusal_message(missing)
    if missing == getattr(view, "capability", None) and (page or missing == personas.USE_STUDIO):
        return PAGE_REFUSED if page else API_REFUSED
    return personas.refusal_message(missing)


def page_keys(request: Any, view: Any) -> list[str]:
    method = (request.method or "get").lower()
    extra = getattr(view, "capabilities", None) or {}
    if any(key.startswith(f"{method}:") for key in extra):  # only then is the form's `action` field read
        return [f"{method}:{request.POST.get('action', '')}", method]
    return [method]


def api_keys(request: Request, view: Any) -> list[str]:
    method = (request.method or "get").lower()
    action = getattr(view, "action", None)
    return [f"{action}:{method}", action, method] if action else [method]


class Declared(BasePermission):
    """The API's side of the layer: the view's declaration, per action and method (REST_FRAMEWORK's default)."""

    message = API_REFUSED

    def has_permission(self, request: Request, view: Any) -> bool:
        missing = missing_capability(request.user, view, api_keys(request, view))
        if missing is None:
            return True
        self.message = refusal_text(view, missing, page=False)  # read by DRF for the 403 (anonymous: 401)
        return False
