"""Times in the user's time zone (issue 13, item 10: they were UTC, "3 a.m."): the profile's choice, else the
browser's (the `tz` cookie atelier.js sets), else settings.TIME_ZONE; absolute times carry their zone abbreviation
and relative ones ("3 minutes ago") the absolute time as their title."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from apps.jobs.models import Job

WHEN = datetime(2026, 1, 15, 2, 5, tzinfo=UTC)


def _job(project, user):  # type: ignore[no-untyped-def]
    return Job.objects.create(
        kind="tests.steps", project=project, created_by=user, status="succeeded", created_at=WHEN, finished_at=WHEN
    )


def test_the_profile_zone_the_browser_zone_and_the_default(client_for, project_a, ds_user, settings):
    job = _job(project_a, ds_user)
    client = client_for(ds_user)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "<dt>Created</dt><dd>2026-01-15 02:05 UTC</dd>" in page  # settings.TIME_ZONE

    client.cookies["tz"] = "America/New_York"  # what atelier.js sets from the browser
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "<dt>Created</dt><dd>2026-01-14 21:05 EST</dd>" in page

    saved = client.post("/accounts/profile/", {"time_zone": "Asia/Tokyo"})
    assert (saved.status_code, saved["Location"]) == (302, "/accounts/profile/")
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "<dt>Created</dt><dd>2026-01-15 11:05 JST</dd>" in page  # the profile wins over the browser
    assert '<option value="Asia/Tokyo" selected>' in client.get("/accounts/profile/").content.decode()

    bad = client.post("/accounts/profile/", {"time_zone": "Mars/Olympus"})
    assert bad.status_code == 400 and "&#x27;Mars/Olympus&#x27; is not a time zone name" in bad.content.decode()
    client.cookies["tz"] = "Not/A_Zone"
    client.post("/accounts/profile/", {"time_zone": ""})
    assert "<dt>Created</dt><dd>2026-01-15 02:05 UTC</dd>" in client.get(f"/jobs/{job.pk}/").content.decode()


def test_relative_times_carry_the_absolute_time_as_title(client_for, project_a, ds_user):
    job = _job(project_a, ds_user)
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    client = client_for(ds_user)
    client.cookies["tz"] = "Europe/Paris"
    page = client.get("/jobs/").content.decode()
    local = timezone.localtime(Job.objects.get(pk=job.pk).created_at, timezone=zoneinfo.ZoneInfo("Europe/Paris"))
    assert f'title="{local:%Y-%m-%d %H:%M} CET">3\xa0minutes ago</time>' in page
