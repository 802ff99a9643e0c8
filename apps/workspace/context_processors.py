from __future__ import annotations

from typing import Any

from django.db.models import Count, Window
from django.http import HttpRequest

from apps.accounts import personas
from apps.workspace.modules import nav_for_user


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from apps.accounts.selectors import project_list_for_user
    from apps.core.selectors import notification_list_for_user

    # The latest eight unread for the panel, each carrying the count of all unread (a window over the whole set,
    # computed before the limit): one query for the top bar's badge and panel.
    unread = notification_list_for_user(user_id=user.pk).filter(read_at__isnull=True)
    notifications = list(unread.annotate(unread_total=Window(Count("pk")))[:8])
    sections = nav_for_user(user)
    # The project switcher is the studio's: a worker (Labeler persona only, perhaps a vendor's, in no project) reaches
    # labeling work through their teams, and must not be shown project names (a job may hide its project's).
    projects = project_list_for_user(user=user) if personas.user_can(user, personas.USE_STUDIO) else None
    # The active module is the one whose URL is the longest prefix of this path (/canvas/tuning/ is not Canvas).
    urls = [item.url for _, items in sections for item in items]
    matching = [u for u in urls if request.path == u or (u != "/" and request.path.startswith(u))]
    return {
        "nav_sections": sections,
        "nav_active": max(matching, key=len) if matching else None,
        "shell_projects": list(projects.only("id", "name")[:200]) if projects is not None else [],
        "current_project": request.project if projects is not None and hasattr(request, "project") else None,
        "shell_notifications": notifications,
        "shell_unread": notifications[0].unread_total if notifications else 0,
    }
