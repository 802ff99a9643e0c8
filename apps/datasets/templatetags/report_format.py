"""Formatting for the data quality report page: shares that agree with the counts beside them."""

from __future__ import annotations

from django import template

from apps.datasets.report_html import percent

register = template.Library()


@register.filter(name="share")
def share(ratio: float | None) -> str:
    """``0.003`` → ``0.3 %`` (never ``0 %`` for a non-zero count); see :func:`apps.datasets.report_html.percent`."""
    return percent(ratio)
