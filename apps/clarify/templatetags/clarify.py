"""Clarify's template helpers: metric values as a person reads them, and the "Check bias" box that the dataset
version, Canvas build and registry version pages include (the reports of that object and a link to the start form,
prefilled)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from apps.accounts import personas
from apps.clarify import selectors

register = template.Library()
SHOWN = 10


@register.filter
def metric(value: Any) -> str:
    """A metric value: 4 significant digits, ±∞ as the symbol, none as a dash."""
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    return f"{number:.4g}".replace("-", "−")


@register.inclusion_tag("clarify/_check_bias.html", takes_context=True)
def clarify_reports_for(
    context: dict[str, Any], *, version: Any = None, build: Any = None, model_version: Any = None
) -> dict[str, Any]:
    """The reports of one dataset version, Canvas build or registry version, newest first, and the start link."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not personas.user_can(user, personas.USE_STUDIO):
        return {"show": False}
    reports = selectors.report_list_for_user(user=user)
    if build is not None:
        reports, query = reports.filter(automl_build=build), {"build": build.pk}
    elif model_version is not None:
        reports, query = reports.filter(model_version=model_version), {"model_version": model_version.pk}
    else:
        reports, query = reports.filter(dataset_version=version), {"version": getattr(version, "pk", "")}
    return {
        "show": True,
        "reports": list(reports[:SHOWN]),
        "start_url": f"{reverse('clarify:list')}?{urlencode(query)}#report-setup",
        "can_run": personas.user_can(user, personas.RUN_JOBS),
    }
