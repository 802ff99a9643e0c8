"""Who may reach the workspace's routes: home, notifications, health, the API root and schema pages (rows for the
shared harness in tests/permissions.py)."""

from __future__ import annotations

from typing import Any

from tests.permissions import (
    DS,
    LABELER,
    OWNER,
    PUBLIC,
    SIGNED_IN,
    STUDIO,
    ListRow,
    Route,
    World,
    get,
    matrix_tests,
    post,
)


def notification_kw(w: World, user: Any, side: str) -> dict[str, Any]:
    """Side A: a notification of the requesting user; side B: one of the project-B outsider."""
    from apps.core.services import notification_create

    owner = w.outsider if side == "b" else (user or w.users[DS])
    return {"pk": notification_create(user_id=owner.pk, title=f"probe-{side}", url="/jobs/").pk}


ROUTES: dict[str, Route] = {
    # public
    "healthz": Route((get(PUBLIC),)),
    "readyz": Route((get(PUBLIC, ok=503),)),  # no worker heartbeat in unit tests
    "workspace:home": Route((get(SIGNED_IN, ok_for={LABELER: 302}),)),  # a labeler is sent to "My work"
    "workspace:notifications": Route((get(SIGNED_IN), post(SIGNED_IN, 302))),
    "workspace:notification_open": Route((get(SIGNED_IN, ok=302),), kwargs=notification_kw, foreign=OWNER),
    "api:schema": Route((get(SIGNED_IN),)),
    "api:docs": Route((get(SIGNED_IN),)),
    "api:root": Route((get(SIGNED_IN),)),
    # studio
    "workspace:storage_report_start": Route((post(STUDIO, 302),)),
}

LISTS: list[ListRow] = []

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests
