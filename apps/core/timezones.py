"""Each request runs in its user's time zone: the one chosen on the profile page, else the browser's (the `tz`
cookie that static/js/atelier.js sets from Intl), else settings.TIME_ZONE. Templates then show local times with
their zone (apps/core/templatetags/when.py)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "tz"


@cache
def zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_for(name: str | None) -> zoneinfo.ZoneInfo | None:
    if name and name in zone_names():
        return zoneinfo.ZoneInfo(name)
    return None


class TimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        zone = zone_for(chosen) or zone_for(request.COOKIES.get(COOKIE))
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
