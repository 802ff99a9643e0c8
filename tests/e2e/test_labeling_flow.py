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
from django.urls import NoReverseMatch, reverse

from tests.conftest import clean_project_storage, job_final
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
    page.locator("#id_instructions").fill("# Urgency\n\nPick **urgent** when the customer *cannot work*.")
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


def _work_url() -> str | None:
    try:
        return reverse("labeling:my_work")
    except NoReverseMatch:
        return None


def test_create_label_review_export(browser, studio_worker, studio, tmp_path):
    """The issue's path, all through the pages, with a real worker running prepare / consolidate / export."""
    for module in ("apps.labeling.services.jobs", "apps.labeling.services.review", "apps.labeling.services.export"):
        pytest.importorskip(module)
    if _work_url() is None:
        pytest.skip("the labeling form (workui) is not in this tree")
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

    # 3. the labeler: three items of each, keyboard only (digits pick, Enter submits)
    lena_page = browser.new_page()
    lena_page.goto(_work_url() or "/")
    login(lena_page, "lena")
    for job_id, keys in ((text_id, ["1", "2", "1"]), (pref_id, ["1", "1", "2"])):
        lena_page.goto(reverse("labeling:work", args=[job_id]))
        wait_for_scripts(lena_page)
        for n, key in enumerate(keys, start=1):
            wait_until(
                lena_page,
                "document.querySelector('[data-task-id]') && document.querySelector('[data-task-id]').dataset.taskId",
            )
            task = lena_page.evaluate("document.querySelector('[data-task-id]').dataset.taskId")
            lena_page.keyboard.press(key)
            lena_page.keyboard.press("Enter")
            wait_until(
                lena_page,
                f"!document.querySelector('[data-task-id]') || document.querySelector('[data-task-id]').dataset.taskId !== '{task}'",
            )
        answered = off_loop(
            lambda jid=job_id: LabelingItem.objects.filter(job_id=jid).exclude(label_source="none").count()
        )
        assert answered == 3, (job_id, answered)

    # 4. the reviewer adjusts one label (the first text item, labeled "pos" by lena, is really... "neg" here)
    dana_page.goto(f"/labeling/{text_id}/review/")
    wait_for_scripts(dana_page)
    card = dana_page.locator(".review-card").first
    item_id = int(card.get_attribute("data-item"))
    current = card.locator(".consolidated").inner_text()
    other = "neg" if current == "pos" else "pos"
    dana_page.select_option(f"#label-{item_id}", other)
    dana_page.locator(f"#adjust-{item_id}").click()
    expect(dana_page.locator(".messages")).to_contain_text("label adjusted")
    item = off_loop(LabelingItem.objects.get, pk=item_id)
    assert item.consolidated == {"label": other} and item.label_source == "reviewed"

    # 5. the downloads: the augmented manifest of the text job, the preference JSON Lines of the other
    dana_page.goto(f"/labeling/{text_id}/")
    with dana_page.expect_download() as info:
        dana_page.locator("#export-manifest").click()
    lines = [json.loads(x) for x in open(info.value.path()).read().splitlines() if x.strip()]
    job = off_loop(LabelingJob.objects.get, pk=text_id)
    attr = job.attribute_name
    labeled = [x for x in lines if attr in x]
    assert len(labeled) == 3
    adjusted = [x for x in labeled if x[attr] == other and x.get("source") == item.data.get("text")]
    assert adjusted or any(x[attr] == other for x in labeled)
    assert all(f"{attr}-metadata" in x for x in labeled)

    dana_page.goto(f"/labeling/{pref_id}/")
    with dana_page.expect_download() as info:
        dana_page.locator("#export-preference").click()
    rows = [json.loads(x) for x in open(info.value.path()).read().splitlines() if x.strip()]
    assert len(rows) == 3
    by_prompt = {r["prompt"]: r for r in rows}
    assert by_prompt["Say hello politely."]["chosen"] in (
        "Hello, nice to meet you.",
        [{"content": "Hello, nice to meet you.", "role": "assistant"}],
    ) or "Hello" in json.dumps(by_prompt["Say hello politely."]["chosen"])
    assert "Seven." in json.dumps(by_prompt["Name a colour."]["chosen"])  # lena preferred response 2 there
    off_loop(job_final, off_loop(lambda: LabelingJob.objects.get(pk=text_id).prepare_job_id), 5)
