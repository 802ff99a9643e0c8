"""Ground Truth in a real browser, with a real Celery worker (issue 15's browser test): a data scientist creates a
text classification job and a pairwise preference job through the studio pages; a labeler labels three items of each
with the keyboard only (digits pick, Enter submits); a reviewer adjusts one label; the augmented manifest and the
preference JSON Lines are downloaded from the job pages. And the studio pages at tablet and desktop widths.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/labeling_{list,create,detail,review}_{768,1440}.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from django.urls import reverse

from tests.conftest import clean_project_storage
from tests.e2e.conftest import login, off_loop, screenshot, wait_for_scripts, wait_until
from tests.factories import DatasetVersionFactory, ProjectFactory, UserFactory

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

JOB_TIMEOUT_MS = 90_000
REVIEWS = [
    ("A wonderful, moving film.", "pos"),
    ("Dull and far too long.", "neg"),
    ("The best thing I saw this year.", "pos"),
    ("I walked out after twenty minutes.", "neg"),
]
PROMPTS = [
    {
        "prompt": "Say hello politely.",
        "responses": [{"text": "Hello, nice to meet you.", "model": "m-large"}, {"text": "yo", "model": "m-small"}],
    },
    {"prompt": "What is 2 + 2?", "responses": [{"text": "4", "model": "m-large"}, {"text": "5", "model": "m-small"}]},
    {
        "prompt": "Name a colour.",
        "responses": [{"text": "Blue.", "model": "m-large"}, {"text": "Seven.", "model": "m-small"}],
    },
]


@pytest.fixture
def studio() -> Iterator[dict[str, Any]]:
    """Project "Reviews": data scientist dana, labeler lena in work team "Raters", dataset "film reviews"."""
    from apps.accounts.services import work_team_save

    project = ProjectFactory(name="Reviews", slug="reviews", description="Film review sentiment.")
    dana = UserFactory(username="dana", personas=["data_scientist"], projects=[project])
    lena = UserFactory(username="lena", personas=["labeler"], projects=[project])
    clean_project_storage(project)
    team = work_team_save(project=project, name="Raters", members=[lena])
    frame = pd.DataFrame({"review": [r for r, _ in REVIEWS], "stars": [5, 1, 5, 1]})
    version = DatasetVersionFactory(project=project, created_by=dana, frame=frame, name="film reviews")
    yield {"project": project, "dana": dana, "lena": lena, "team": team, "version": version}
    off_loop(clean_project_storage, project)


def _shots(page: Any, name: str) -> None:
    page.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    for width in (1440, 768):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)  # charts resize
        screenshot(page, f"{name}_{width}")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_studio_pages_at_tablet_and_desktop(browser, studio):
    """The four studio pages on a job with work done (consolidated by the engine's Job): no sideways scrolling, the
    charts drawn, the review list pending first."""
    from tests.labeling.studio_data import demo_jobs

    jobs = demo_jobs(studio["project"], studio["dana"], studio["team"])
    job = jobs["text"]
    page = browser.new_page()
    page.goto("/labeling/")
    login(page, "dana")
    expect(page.locator("#labeling-jobs")).to_contain_text("Support tickets")
    wait_for_scripts(page)
    _shots(page, "labeling_list")

    page.goto("/labeling/new/")
    wait_for_scripts(page)
    # the form follows the task type: a preference job reads prompts, has no label set
    page.select_option("#id_task_type", "pairwise_preference")
    expect(page.locator("#id_source_kind_2")).to_be_checked()
    expect(page.locator("#field-labels_text")).to_be_hidden()
    expect(page.locator("#field-upload")).to_be_visible()
    page.select_option("#id_task_type", "text_classification")
    expect(page.locator("#id_source_kind_0")).to_be_checked()
    expect(page.locator("#field-labels_text")).to_be_visible()
    expect(page.locator("#field-upload")).to_be_hidden()
    page.locator("#id_name").fill("Ticket urgency")
    page.locator("#id_labels_text").fill("urgent\nnormal")
    # the labels as rows: one box each, Enter adds one; the one-per-line box (what is sent) follows
    page.locator("#labels-as-rows").click()
    expect(page.locator("#label-rows input")).to_have_count(2)
    page.locator("#label-rows input").nth(1).press("Enter")
    page.keyboard.type("can wait")
    assert page.locator("#id_labels_text").input_value() == "urgent\nnormal\ncan wait"
    page.locator("#id_instructions").fill("# Urgency\n\nPick **urgent** when the customer *cannot work*. <b>x</b>")
    page.locator("#preview-instructions").click()
    expect(page.locator("#instructions-preview-body h1")).to_have_text("Urgency")
    expect(page.locator("#instructions-preview-body strong")).to_have_text("urgent")
    expect(page.locator("#instructions-preview-body b")).to_have_count(0)  # raw HTML is shown as text
    _shots(page, "labeling_create")

    page.goto(f"/labeling/{job.pk}/")
    wait_for_scripts(page)
    expect(page.locator("#chart-labels .main-svg").first).to_be_attached()
    expect(page.locator("#chart-workers-quality .main-svg").first).to_be_attached()
    expect(page.locator("#workers")).to_contain_text("ines")
    _shots(page, "labeling_detail")

    page.goto(f"/labeling/{job.pk}/review/?show=all")
    wait_for_scripts(page)
    expect(page.locator(".review-card").first).to_contain_text("waiting for review")
    _shots(page, "labeling_review")


def test_create_label_review_export(browser, studio_worker, studio, tmp_path):
    """The issue's path, all through the pages, with a real worker running prepare / consolidate / export."""
    from apps.labeling.models import LabelingItem, LabelingJob

    studio_worker()
    dana_page = browser.new_page()
    dana_page.goto("/labeling/")
    login(dana_page, "dana")
    expect(dana_page.locator("#no-jobs")).to_contain_text("No labeling job yet")

    # 1. a text classification job on the dataset's "review" column, one worker per item, a review step
    dana_page.locator("#new-job").click()
    wait_for_scripts(dana_page)
    dana_page.locator("#id_name").fill("Film sentiment")
    dana_page.select_option("#id_task_type", "text_classification")
    dana_page.select_option("#id_dataset_version", str(studio["version"].pk))
    dana_page.select_option("#id_text_column", "review")
    dana_page.locator("#id_labels_text").fill("pos\nneg")
    dana_page.locator("#id_instructions").fill("Is the review **positive** or **negative**?")
    dana_page.locator("#preview-instructions").click()
    expect(dana_page.locator("#instructions-preview-body strong").first).to_have_text("positive")
    dana_page.select_option("#id_team", str(studio["team"].pk))
    dana_page.locator("#id_workers_per_item").fill("1")
    dana_page.locator("#id_review_required").check()
    dana_page.locator("#create-job").click()
    expect(dana_page).to_have_url(re.compile(r"/labeling/\d+/$"))
    text_id = int(dana_page.url.rstrip("/").split("/")[-1])
    expect(dana_page.locator("#job-status")).to_have_text("Open for work", timeout=JOB_TIMEOUT_MS)
    expect(dana_page.locator("#count-items")).to_have_text("4")

    # 2. a pairwise preference job from a JSON Lines file of prompts with two responses each
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    dana_page.goto("/labeling/new/")
    wait_for_scripts(dana_page)
    dana_page.locator("#id_name").fill("Polite answers")
    dana_page.select_option("#id_task_type", "pairwise_preference")
    expect(dana_page.locator("#id_source_kind_2")).to_be_checked()
    dana_page.locator("#id_upload").set_input_files(str(prompts))
    dana_page.select_option("#id_team", str(studio["team"].pk))
    dana_page.locator("#id_workers_per_item").fill("1")
    dana_page.locator("#create-job").click()
    expect(dana_page).to_have_url(re.compile(r"/labeling/\d+/$"))
    pref_id = int(dana_page.url.rstrip("/").split("/")[-1])
    expect(dana_page.locator("#job-status")).to_have_text("Open for work", timeout=JOB_TIMEOUT_MS)

    # 3. the labeler: three items of each, keyboard only (digits pick, Enter submits); the data scientist watches
    # the text job's page, whose counts follow the answers without a reload
    dana_page.goto(f"/labeling/{text_id}/")
    wait_for_scripts(dana_page)
    expect(dana_page.locator("#count-answers")).to_have_text("0")
    dana_page.evaluate("document.body.dataset.noReload = '1'")
    lena_page = browser.new_page()
    lena_page.goto(reverse("labeling:my_work"))
    login(lena_page, "lena")
    expect(lena_page.locator("main h1")).to_have_text("My work")
    for job_id, keys in ((text_id, ["1", "2", "1"]), (pref_id, ["1", "1", "2"])):
        lena_page.goto(reverse("labeling:work", args=[job_id]))
        wait_for_scripts(lena_page)
        task = _wait_task(lena_page)
        for key in keys:
            lena_page.keyboard.press(key)
            lena_page.keyboard.press("Enter")
            task = _wait_task(lena_page, task)
        count = off_loop(_labeled, job_id)
        assert count == 3, (job_id, count)
    expect(dana_page.locator("#count-answers")).to_have_text("3")
    expect(dana_page.locator("#count-pending")).to_have_text("3")
    assert dana_page.evaluate("document.body.dataset.noReload") == "1"  # updated in place
    text_items = off_loop(_consolidated, text_id)
    assert text_items == {0: {"label": "pos"}, 1: {"label": "neg"}, 2: {"label": "pos"}}, text_items
    assert off_loop(_consolidated, pref_id) == {
        0: {"preferred": 0, "scores": ANY_SCORES},
        1: {"preferred": 0, "scores": ANY_SCORES},
        2: {"preferred": 1, "scores": ANY_SCORES},
    }

    # 4. the reviewer adjusts one label: item 0 (labeled pos by the one worker) becomes neg
    dana_page.goto(f"/labeling/{text_id}/review/")
    wait_for_scripts(dana_page)
    expect(dana_page.locator(".review-card")).to_have_count(3)  # the review step: all three wait
    card = dana_page.locator('.review-card[data-position="0"]')
    expect(card.locator(".answers-list")).to_contain_text("lena: pos")
    item_id = int(card.get_attribute("data-item") or 0)
    dana_page.select_option(f"#label-{item_id}", "neg")
    dana_page.locator(f"#adjust-{item_id}").click()
    expect(dana_page.locator(".messages")).to_contain_text("Item 0: label adjusted")
    expect(dana_page.locator(".review-card")).to_have_count(2)
    item = off_loop(LabelingItem.objects.get, pk=item_id)
    assert item.consolidated == {"label": "neg"} and item.label_source == "reviewed"
    assert item.review_status == "adjusted"
    # the two others are accepted as they are (the manifest holds only reviewed items when a job has a review step)
    for position in ("1", "2"):
        card = dana_page.locator(f'.review-card[data-position="{position}"]')
        card.locator("button[value=accept]").click()
        expect(dana_page.locator(".messages")).to_contain_text(f"Item {position}: label accepted")
    expect(dana_page.locator("#review-items")).to_contain_text("Nothing waiting for review")

    # 5. the downloads from the job pages: the augmented manifest and the preference JSON Lines
    dana_page.goto(f"/labeling/{text_id}/")
    expect(dana_page.locator("#count-reviewed")).to_have_text("1")
    with dana_page.expect_download() as info:
        dana_page.locator("#export-manifest").click()
    lines = [json.loads(x) for x in open(info.value.path()).read().splitlines() if x.strip()]
    job = off_loop(LabelingJob.objects.get, pk=text_id)
    attr = job.attribute_name
    labeled = {x["source"]: x for x in lines if x.get(f"{attr}-metadata")}
    assert set(labeled) == {r for r, _ in REVIEWS[:3]}, lines
    adjusted = labeled[REVIEWS[0][0]]
    assert adjusted[attr] == 1 and adjusted[f"{attr}-metadata"]["class-name"] == "neg"  # class-map {0: pos, 1: neg}
    assert adjusted[f"{attr}-metadata"]["class-map"] == {"0": "pos", "1": "neg"}
    assert labeled[REVIEWS[1][0]][f"{attr}-metadata"]["class-name"] == "neg"
    assert labeled[REVIEWS[2][0]][f"{attr}-metadata"]["job-name"] == "Film sentiment"

    dana_page.goto(f"/labeling/{pref_id}/")
    with dana_page.expect_download() as info:
        dana_page.locator("#export-preference").click()
    rows = [json.loads(x) for x in open(info.value.path()).read().splitlines() if x.strip()]
    assert rows == [
        {"prompt": "Say hello politely.", "chosen": "Hello, nice to meet you.", "rejected": "yo"},
        {"prompt": "What is 2 + 2?", "chosen": "4", "rejected": "5"},
        {"prompt": "Name a colour.", "chosen": "Seven.", "rejected": "Blue."},
    ]


class _AnyScores:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, list) and len(other) == 2


ANY_SCORES = _AnyScores()


def _labeled(job_id: int) -> int:
    from apps.labeling.models import LabelingItem

    return LabelingItem.objects.filter(job_id=job_id).exclude(label_source="none").count()


def _consolidated(job_id: int) -> dict[int, Any]:
    from apps.labeling.models import LabelingItem

    rows = LabelingItem.objects.filter(job_id=job_id).exclude(label_source="none")
    return {i.position: i.consolidated for i in rows.order_by("position")}


def _wait_task(page: Any, previous: str | None = None) -> str:
    """The id of the task on screen once it is not `previous`, or "done" (the labeling page's work-task form)."""
    other = f" && f.dataset.task !== {previous!r}" if previous else ""
    return str(
        wait_until(
            page,
            "(() => { const f = document.getElementById('work-task');"
            " if (!document.getElementById('work-done').hidden) return 'done';"
            f" return !f.hidden && f.dataset.task{other} ? f.dataset.task : null; }})()",
        )
    )
