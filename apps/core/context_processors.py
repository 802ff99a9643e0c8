from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.core.modules import nav_for_user


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from apps.accounts.selectors import project_list_for_user
    from apps.core.selectors import notification_list_for_user

    notifications = list(notification_list_for_user(user_id=user.pk).filter(read_at__isnull=True)[:8])
    return {
        "nav_sections": nav_for_user(user),
        "shell_projects": list(project_list_for_user(user=user).only("id", "name")[:200]),
        "current_project": request.project if hasattr(request, "project") else None,
        "shell_notifications": notifications,
    }
