"""Receivers (connected in ClarifyConfig.ready; no business logic here): a Canvas build started by a mitigation
ending starts the Clarify report waiting on it (apps.clarify.services.report_build_finished)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def on_job_finished(sender: Any, *, job_id: int, kind: str, status: str, **kwargs: Any) -> None:
    from apps.clarify.services import BUILD_KIND, report_build_finished

    if kind != BUILD_KIND:
        return
    with transaction.atomic():  # a savepoint: a failure here never undoes the job's own final state
        report_build_finished(job_id=job_id)
