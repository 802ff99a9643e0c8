"""The labeler's pages: My work (the jobs of their teams, what is left for them) and the labeling page's shell."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.services import work_team_save
from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def make_job(project: Any, team: Any, name: str, *, status: str = "active", items: int = 4, **kw: Any) -> LabelingJob:
    job = LabelingJob.objects.create(
        project=project,
        name=name,
        task_type=kw.pop("task_type", "text_classification"),
        status=status,
        labels=kw.pop("labels", ["pos", "neg"]),
        team=team,
        attribute_name="sentiment",
        item_count=items,
        **kw,
    )
    LabelingItem.objects.bulk_create(
        [LabelingItem(job=job, position=i, data={"text": f"{name} text {i}"}) for i in range(items)]
    )
    return job


@pytest.fixture
def setup() -> dict[str, Any]:
    alpha = ProjectFactory(name="Alpha")
    bravo = ProjectFactory(name="Bravo hidden project")
    lena = UserFactory(username="lena", personas=["labeler"], projects=[alpha])
    other = UserFactory(username="otto", personas=["labeler"], projects=[alpha, bravo])
    mine = work_team_save(project=alpha, name="Alpha annotators", members=[lena])
    theirs = work_team_save(project=alpha, name="Alpha reviewers", members=[other])
    vendor = work_team_save(project=bravo, name="Bravo vendors")  # a vendor team: lena is no member of Bravo
    vendor.members.add(lena)
    bravo_other = work_team_save(project=bravo, name="Bravo secret team", members=[other])
    jobs = {
        "mine": make_job(alpha, mine, "Sentiment of reviews"),
        "vendor": make_job(bravo, vendor, "Street signs", hide_project=True),
        "theirs": make_job(alpha, theirs, "Other team's job"),
        "secret": make_job(bravo, bravo_other, "bravo-secret-job"),
        "preparing": make_job(alpha, mine, "Still preparing", status="preparing"),
        "paused": make_job(alpha, mine, "Paused job", status="paused"),
    }
    return {"lena": lena, "other": other, "jobs": jobs, "alpha": alpha, "mine": mine}


def client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def job_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-job="(\d+)"', html)}


def test_my_work_lists_only_the_jobs_of_the_users_teams(setup: dict[str, Any]) -> None:
    jobs = setup["jobs"]
    response = client(setup["lena"]).get(reverse("labeling:my_work"))
    assert response.status_code == 200
    html = response.content.decode()
    # Her teams' jobs open for work or paused; not another team's, not one still preparing.
    assert job_ids(html) == {jobs["mine"].pk, jobs["vendor"].pk, jobs["paused"].pk}
    for absent in ("Other team's job", "bravo-secret-job", "Bravo secret team", "Still preparing"):
        assert absent not in html
    # A vendor job that hides its project does not name it.
    assert "Bravo hidden project" not in html
    assert "Alpha" in html
    assert html.count('href="' + reverse("labeling:work", kwargs={"pk": jobs["mine"].pk}) + '"') == 1
    # A paused job has no way in.
    assert 'href="' + reverse("labeling:work", kwargs={"pk": jobs["paused"].pk}) + '"' not in html
    assert "Paused by the job's owner" in html
    paused = html.split(f'data-job="{jobs["paused"].pk}"')[1].split("</section>")[0]
    assert 'data-field="available">–<' in paused  # nothing to claim while paused


def test_my_work_counts_what_is_left_for_the_worker(setup: dict[str, Any]) -> None:
    job, lena, other = setup["jobs"]["mine"], setup["lena"], setup["other"]
    items = list(job.items.order_by("position"))
    now = timezone.now()
    # lena answered item 0 and holds a claim on item 1; item 2 is full (closed) through other workers' seats.
    LabelingTask.objects.create(
        job=job, item=items[0], worker=lena, status="answered", answer={"label": "pos"}, expires_at=now, answered_at=now
    )
    LabelingTask.objects.create(job=job, item=items[1], worker=lena, expires_at=now + timedelta(minutes=10))
    LabelingTask.objects.create(
        job=job,
        item=items[3],
        worker=other,
        status="answered",
        answer={"label": "neg"},
        expires_at=now,
        answered_at=now,
    )
    LabelingItem.objects.filter(pk=items[2].pk).update(is_open=False, seats_taken=3)
    html = client(lena).get(reverse("labeling:my_work")).content.decode()
    card = html.split(f'data-job="{job.pk}"')[1].split("</section>")[0]
    assert re.search(r'data-field="available">1<', card), card  # item 3 only
    assert re.search(r'data-field="answered">1<', card), card


def test_my_work_takes_a_fixed_number_of_queries(setup: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    c = client(setup["lena"])
    c.get(reverse("labeling:my_work"))  # warm the session
    for i in range(5):
        make_job(setup["alpha"], setup["mine"], f"More work {i}", items=2)
    with django_assert_max_num_queries(12):
        response = c.get(reverse("labeling:my_work"))
    assert len(job_ids(response.content.decode())) == 8


def test_my_work_empty_states() -> None:
    project = ProjectFactory(name="Alpha")
    loner = UserFactory(username="nina", personas=["labeler"], projects=[project])
    html = client(loner).get(reverse("labeling:my_work")).content.decode()
    assert "You are not in a work team yet" in html
    assert 'id="work-empty"' in html

    work_team_save(project=project, name="Night shift", members=[loner])
    html = client(loner).get(reverse("labeling:my_work")).content.decode()
    assert "No labeling work for you right now" in html
    assert "Night shift" in html


def test_job_names_and_teams_are_escaped(setup: dict[str, Any]) -> None:
    make_job(setup["alpha"], setup["mine"], "<script>alert(1)</script> job")
    html = client(setup["lena"]).get(reverse("labeling:my_work")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; job" in html


def test_the_work_page_of_the_users_job(setup: dict[str, Any]) -> None:
    job = setup["jobs"]["mine"]
    response = client(setup["lena"]).get(reverse("labeling:work", kwargs={"pk": job.pk}))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sentiment of reviews" in html
    assert 'data-active="1"' in html
    assert f"/api/labeling-jobs/{job.pk}/next-task/" in html
    assert "labeling_work" in html and ".js" in html  # the form's script, a static file (no inline script)
    assert "<script>" not in html.replace('<script src="', "")
    vendor = setup["jobs"]["vendor"]
    html = client(setup["lena"]).get(reverse("labeling:work", kwargs={"pk": vendor.pk})).content.decode()
    assert "Bravo hidden project" not in html


@pytest.mark.parametrize("key", ["theirs", "secret", "preparing"])
def test_the_work_page_is_a_404_for_other_teams_jobs(setup: dict[str, Any], key: str) -> None:
    job = setup["jobs"][key]
    response = client(setup["lena"]).get(reverse("labeling:work", kwargs={"pk": job.pk}))
    assert response.status_code == 404
    assert job.name not in response.content.decode()


def test_a_paused_job_shows_no_form(setup: dict[str, Any]) -> None:
    job = setup["jobs"]["paused"]
    html = client(setup["lena"]).get(reverse("labeling:work", kwargs={"pk": job.pk})).content.decode()
    assert 'data-active="0"' in html
    assert "This job is not open for work" in html
    assert 'id="work-loading"' not in html


def test_the_old_my_work_address_redirects(setup: dict[str, Any]) -> None:
    response = client(setup["lena"]).get(reverse("accounts:my_work"))
    assert response.status_code == 302
    assert response["Location"] == reverse("labeling:my_work")


def test_a_labeler_lands_on_my_work(setup: dict[str, Any]) -> None:
    response = client(setup["lena"]).get(reverse("workspace:home"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("labeling:my_work")
    nav = response.content.decode().split('class="sidebar"')[1].split("</nav>")[0]
    assert f'href="{reverse("labeling:my_work")}"' in nav
