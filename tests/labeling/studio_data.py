"""A labeling job with work done, for the studio pages' screenshots and the responsive sweep: support tickets
classified by three workers (one careless), answered over a few hours, consolidated by the engine's real Job, with a
review step (items wait for review) and a preference job whose responses come from two models."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from django.utils import timezone

TICKETS = [
    ("I was charged twice for my subscription this month.", "billing"),
    ("The export button does nothing when I click it.", "bug"),
    ("Could you add a dark mode to the dashboard?", "feature"),
    ("My invoice shows the wrong company address.", "billing"),
    ("The app crashes when I upload a photo larger than 10 MB.", "bug"),
    ("It would be great to schedule reports weekly.", "feature"),
    ("Refund for the annual plan has not arrived yet.", "billing"),
    ("Search results ignore the date filter.", "bug"),
    ("Please support single sign-on with our identity provider.", "feature"),
    ("Why did my card get declined at renewal?", "billing"),
]


def _run(job: Any) -> None:
    from apps.jobs.models import Job
    from apps.jobs.services import job_run

    job_run(job_id=job.pk)
    done = Job.objects.get(pk=job.pk)
    assert done.status == "succeeded", f"{done.kind}: {done.status} {done.message} {done.error}"


def demo_jobs(project: Any, ds: Any, team: Any, n: int = 30) -> dict[str, Any]:
    """{"text": a consolidated text job with 2/3 of its items answered, "preference": a pairwise job}."""
    from apps.jobs.services import job_start
    from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask
    from tests.factories import UserFactory, labeling_job

    rng = np.random.default_rng(3)
    workers = list(team.members.all())
    for name in ("maya", "noah", "ines"):
        user = UserFactory(username=name, personas=["labeler"], projects=[project])
        team.members.add(user)
        workers.append(user)
    workers = workers[-3:]
    labels = ["billing", "bug", "feature"]
    items = [{"text": TICKETS[i % len(TICKETS)][0]} for i in range(n)]
    job = labeling_job(
        project,
        created_by=ds,
        team=team,
        items=items,
        name="Support tickets",
        labels=labels,
        review_required=True,
        instructions="Pick the **one** category that fits the ticket best.",
        attribute_name="ticket-category",
    )
    start = timezone.now() - timedelta(hours=5)
    tasks = []
    answered = job.items.order_by("position")[: (2 * n) // 3]
    for k, item in enumerate(answered):
        truth = TICKETS[item.position % len(TICKETS)][1]
        for w, worker in enumerate(workers):
            careless = w == 2 and rng.random() < 0.4
            label = labels[int(rng.integers(0, 3))] if careless else truth
            when = start + timedelta(minutes=int(k * 12 + w * 3))
            tasks.append(
                LabelingTask(
                    job=job,
                    item=item,
                    worker=worker,
                    status="answered",
                    answer={"label": label},
                    answered_at=when,
                    claimed_at=when - timedelta(seconds=40),
                    expires_at=when + timedelta(minutes=10),
                    time_spent_ms=int(rng.integers(4000, 30000)),
                )
            )
    LabelingTask.objects.bulk_create(tasks)
    LabelingItem.objects.filter(job=job, pk__in=[i.pk for i in answered]).update(
        seats_taken=3, is_open=False, answer_count=3
    )
    run = job_start(
        kind="labeling.consolidate",
        project=project,
        created_by=ds,
        params={"labeling_job": job.pk},
        title=f"Consolidate labels: {job.name}",
    )
    LabelingJob.objects.filter(pk=job.pk).update(consolidate_job=run)
    _run(run)
    job.refresh_from_db()
    # a reviewer already went through the first items
    first = list(job.items.filter(review_status="pending").order_by("position")[:4])
    for item in first:
        LabelingItem.objects.filter(pk=item.pk).update(
            review_status="accepted", reviewed_by=ds, reviewed_at=timezone.now()
        )

    prompts = [
        {
            "prompt": "Summarise our refund policy in one sentence.",
            "responses": [
                {"text": "Refunds are issued within 14 days of purchase.", "model": "support-small"},
                {"text": "You can get your money back within 14 days, no questions asked.", "model": "support-large"},
            ],
        },
        {
            "prompt": "How do I reset my password?",
            "responses": [
                {"text": "Click 'Forgot password' on the sign-in page.", "model": "support-small"},
                {"text": "Open Settings, then Security, then Reset password.", "model": "support-large"},
            ],
        },
    ]
    preference = labeling_job(
        project,
        created_by=ds,
        team=team,
        task_type="pairwise_preference",
        items=prompts * 3,
        name="Support answers: which is better",
        attribute_name="preference",
    )
    return {"text": job, "preference": preference}
