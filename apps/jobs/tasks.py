"""Celery entry points. Thin: they call one service with an id."""

from __future__ import annotations

from celery import shared_task


@shared_task(bind=True, name="jobs.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(self, job_id: int) -> str | None:  # type: ignore[no-untyped-def]
    from apps.jobs.services import job_run

    return job_run(job_id=job_id)


@shared_task(name="jobs.reap", ignore_result=True)
def reap_jobs() -> dict[str, int]:
    from apps.jobs.services import jobs_reap

    return jobs_reap()
