"""Every view says what it needs, in the one permission layer (accounts/permissions.py), and nothing goes around it.

Walks the URL resolver (the Django admin aside: it has its own staff check, tests/core/test_permissions.py) and the
WebSocket routes. A view fails here when it declares nothing; declares a capability the table does not know; keys
`capabilities` by a method or action it does not answer; puts an action's capability in place of its part of Atelier
(`capability = USE_STUDIO` with `capabilities = {"post": RUN_JOBS}`, so a page asks what its API asks); or checks
personas its own way (DRF permission_classes of its own, a UI view outside the mixins, `has_perm` outside
personas.user_can, `perms.` in a template)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from rest_framework.views import APIView

from apps.accounts import personas
from apps.accounts.mixins import CapabilityRequiredMixin
from apps.accounts.permissions import Declared
from studio.routing import websocket_urlpatterns
from tests.permissions import handled_methods, resolver_routes

# The routes anyone may reach without signing in; a view joins this list only on purpose.
PUBLIC_ROUTES = {"healthz", "readyz", "accounts:login", "accounts:logout", "accounts:invitation_accept"}

MARKERS = {personas.PUBLIC, personas.SIGNED_IN, personas.ADMIN}
TABLE = {v for k, v in vars(personas).items() if k.isupper() and isinstance(v, str) and re.fullmatch(r"\w+\.\w+", v)}
AREAS = {personas.USE_STUDIO, personas.USE_LABELING} | MARKERS  # what `capability` may say
ROOT = Path(__file__).resolve().parents[2]


def view_target(view: Callable[..., Any]) -> Any:
    return getattr(view, "cls", None) or getattr(view, "view_class", None) or view


def declaration_problems(name: str, view: Callable[..., Any], keys: set[str]) -> list[str]:
    """What is wrong with one route's declaration (`keys`: the request kinds its view answers)."""
    target = view_target(view)
    problems = []
    if isinstance(target, type) and issubclass(target, APIView):
        if list(target.permission_classes) != [Declared]:
            problems.append(f"{name}: permission_classes {target.permission_classes} go around the layer")
    elif isinstance(target, type):
        if not issubclass(target, CapabilityRequiredMixin):
            problems.append(f"{name}: {target.__name__} does not use the mixins of apps/accounts/mixins.py")
    capability = getattr(target, "capability", None)
    if not capability:
        problems.append(f"{name}: {getattr(target, '__name__', target)} declares no `capability`")
    elif capability not in AREAS:
        problems.append(
            f"{name}: `capability` {capability!r} is not a part of Atelier {sorted(AREAS)}: the part goes in"
        )
        problems[-1] += " `capability`, what one action needs beyond it in `capabilities` (as its API does)"
    for key, value in (getattr(target, "capabilities", None) or {}).items():
        if value not in TABLE:
            problems.append(f"{name}: capabilities[{key!r}] = {value!r} is not a capability of the table")
        if key not in keys and not any(key.startswith(f"{k}:") for k in keys if ":" not in k and k in HTTP):
            problems.append(f"{name}: capabilities key {key!r} matches none of {sorted(keys)}")
    return problems


HTTP = {"get", "post", "put", "patch", "delete"}


def route_keys() -> dict[type | Callable[..., Any], set[str]]:
    """For each view, the request kinds it answers across its routes: methods, and for viewsets actions and
    `action:method`."""
    named, _ = resolver_routes()
    out: dict[Any, set[str]] = {}
    for view in named.values():
        keys = out.setdefault(view_target(view), set())
        actions = getattr(view, "actions", None) or {}
        for method, action in actions.items():
            keys |= {method, action, f"{action}:{method}"}
        keys |= handled_methods(view) or set()
    return out


def test_every_view_declares_what_it_needs() -> None:
    named, unnamed = resolver_routes()
    assert not unnamed
    keys = route_keys()
    problems = [
        p for name, view in sorted(named.items()) for p in declaration_problems(name, view, keys[view_target(view)])
    ]
    assert not problems, "\n".join(problems)


def test_public_views_are_the_listed_ones() -> None:
    named, _ = resolver_routes()
    public = {name for name, view in named.items() if getattr(view_target(view), "capability", None) == personas.PUBLIC}
    assert public == PUBLIC_ROUTES


def test_every_websocket_consumer_declares_what_it_needs() -> None:
    assert websocket_urlpatterns
    for route in websocket_urlpatterns:
        consumer = route.callback.consumer_class  # type: ignore[union-attr]
        assert getattr(consumer, "capability", None) in TABLE | {personas.SIGNED_IN, personas.ADMIN}, consumer


def test_no_persona_check_outside_the_layer() -> None:
    """`has_perm` is asked in one place (personas.user_can); templates never check permissions."""
    calls = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "apps").rglob("*.py"))
        if path != ROOT / "apps/accounts/personas.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ".has_perm(" in line or "has_perms(" in line
    ]
    assert not calls, f"persona checks outside personas.user_can: {calls}"
    in_templates = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bperms\.", line)
    ]
    assert not in_templates, f"permission checks in templates (pass a can_* flag from the view): {in_templates}"


@pytest.mark.django_db
def test_every_capability_of_the_table_is_a_permission() -> None:
    for dotted in TABLE:
        app_label, codename = dotted.split(".")
        assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), dotted


def test_the_walker_catches_an_undeclared_view_and_a_bypass() -> None:
    """The checks above can fail: a view with no declaration, and one with its own permission classes."""
    from django.views import View
    from rest_framework.permissions import AllowAny

    class Bare(View):
        pass

    class Bypass(APIView):
        capability = personas.USE_STUDIO
        permission_classes = [AllowAny]

    class Typo(CapabilityRequiredMixin, View):
        capability = personas.USE_STUDIO
        capabilities = {"psot": personas.RUN_JOBS}

    assert declaration_problems("bare", Bare.as_view(), {"get"})
    assert declaration_problems("bypass", Bypass.as_view(), {"get"})
    assert declaration_problems("typo", Typo.as_view(), {"post"})
    assert not declaration_problems("fine", Typo.as_view(), {"psot"})
