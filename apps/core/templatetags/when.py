"""Times as people read them, in their own time zone (activated per request by apps/core/timezones.py):
`{{ t|at }}` is "2026-12-07 09:14 CET"; `{{ t|ago }}` is "3 minutes ago" with that absolute time as its title."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def at(value: datetime | None) -> str:
    if not isinstance(value, datetime):
        return "—" if value is None else str(value)
    return date_format(timezone.localtime(value) if timezone.is_aware(value) else value, "Y-m-d H:i T")


@register.filter
def ago(value: datetime | None) -> SafeString | str:
    if not isinstance(value, datetime):
        return "—" if value is None else str(value)
    return format_html('<time datetime="{}" title="{}">{} ago</time>', value.isoformat(), at(value), timesince(value))
