"""Job notifications that need no worker: a queued job cancelled from the web tells its starter once; jobs the
system starts, and the helper jobs a tuning job starts, tell no one; the top bar counts every unread one."""

from __future__ import annotations

from apps.core.models import Notification
from apps.core.services import notification_create
from apps.jobs.services import job_start


def test_cancelling_a_queued_job_tells_its_starter_once(
    api_for, project_a, ds_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        job = job_start(kind="tests.steps", project=project_a, created_by=ds_user)
    client = api_for(ds_user)
    assert client.post(f"/api/jobs/{job.pk}/cancel/").status_code == 200
    assert client.post(f"/api/jobs/{job.pk}/cancel/").status_code == 200  # twice: still one event
    [note] = Notification.objects.all()
    assert (note.user_id, note.level, note.title, note.url) == (
        ds_user.pk,
        "warning",
        "Test steps cancelled",
        f"/jobs/{job.pk}/",
    )


def test_jobs_the_system_or_another_job_starts_tell_no_one(
    run_job, project_a, ds_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        system = job_start(kind="tests.steps", project=project_a, created_by=None, params={"steps": 1, "step_s": 0})
        helper = job_start(kind="automl.tune_worker", project=project_a, created_by=ds_user, params={"tuning": 0})
        mine = job_start(kind="tests.fail", project=project_a, created_by=ds_user)
    assert run_job(system).status == "succeeded"
    assert run_job(helper).status == "failed"  # no such tuning job; what matters is that it tells no one
    assert run_job(mine).status == "failed"
    assert list(Notification.objects.values_list("user_id", "level", "title")) == [
        (ds_user.pk, "error", "Test failure failed")
    ]


def test_the_top_bar_counts_every_unread_notification(client_for, ds_user):
    for i in range(11):
        notification_create(user_id=ds_user.pk, title=f"Job {i} finished")
    page = client_for(ds_user).get("/").content.decode()
    assert 'aria-label="11 unread">11</span>' in page
    assert page.count('href="/notifications/') == 8 + 1  # the latest eight in the panel, and "All notifications"
