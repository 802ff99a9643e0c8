"""The labeler's path in a real browser, against the real queue API: from My work into a job, label items with the
keyboard (digits pick, Enter submits, S skips, Z undoes) and with the mouse where the task is drawn or selected
(named-entity spans, bounding boxes), until the job has nothing left; the answers stored are the ones given, with the
time spent on each. Item text that looks like HTML stays text.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/labeling_work_<type>_{768,1440}.png.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from tests.conftest import clean_project_storage
from tests.e2e.conftest import login, off_loop, screenshot, wait_until
from tests.factories import ProjectFactory, UserFactory, labeling_job

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> great product'


@pytest.fixture
def team() -> Iterator[Any]:
    """Project "Reviews" with labeler lena in its work team "Annotators"."""
    from apps.accounts.models import WorkTeam

    project = ProjectFactory(name="Reviews", slug="reviews")
    lena = UserFactory(username="lena", personas=["labeler"], projects=[project])
    team = WorkTeam.objects.create(project=project, name="Annotators")
    team.members.add(lena)
    clean_project_storage(project)
    yield team
    off_loop(clean_project_storage, project)


def stored_image(project: Any, name: str, width: int = 400, height: int = 300) -> dict[str, Any]:
    """A PNG stored where the jobs part stores uploaded images (an item's `data`): a street with a car and a sign."""
    from django.core.files.base import ContentFile
    from PIL import Image, ImageDraw

    from apps.core.storage import project_path, storage

    image = Image.new("RGB", (width, height), (200, 215, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 220, width, height), fill=(90, 90, 90))
    draw.rectangle((20, 30, 120, 110), fill=(220, 40, 40))  # the sign
    draw.rectangle((200, 150, 380, 280), fill=(40, 90, 200))  # the car
    out = io.BytesIO()
    image.save(out, format="PNG")
    key = storage().save(project_path(project.pk, "labeling/uploads/e2e", name), ContentFile(out.getvalue()))
    return {"image": key, "name": name, "width": width, "height": height}


def job_of(team: Any, task_type: str, items: list[dict[str, Any]], **fields: Any) -> Any:
    return labeling_job(team.project, team=team, task_type=task_type, items=items, **fields)


def answers(job: Any, worker: str = "lena") -> list[tuple[int, str, Any, int | None]]:
    """(item position, task status, answer, time spent) of the worker's tasks of the job, in item order."""

    def read() -> list[tuple[int, str, Any, int | None]]:
        tasks = job.tasks.filter(worker__username=worker).order_by("item__position")
        rows = tasks.values_list("item__position", "status", "answer", "time_spent_ms")
        return list(rows)

    return off_loop(read)


# Recorded in every document before its own scripts run: the Content-Security-Policy refusals (tests/e2e/test_csp.py).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (ev) => {
  window.__cspViolations.push(ev.violatedDirective + " blocked " + (ev.blockedURI || "inline"));
});
"""


def signed_in(browser: Any) -> Any:
    """Lena's page, signed in; console errors and policy refusals are collected (check_clean)."""
    page = browser.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/accounts/login/")
    login(page, "lena")
    expect(page.locator("main h1")).to_have_text("My work")
    return page


def check_clean(page: Any) -> None:
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


def open_job(browser: Any, job: Any, shot: bool = False) -> Any:
    page = signed_in(browser)
    card = page.locator(f'.work-job[data-job="{job.pk}"]')
    expect(card).to_contain_text(job.name)
    if shot:
        shots(page, "my_work")
    card.get_by_role("link", name="Start working").click()
    wait_task(page)
    return page


def wait_task(page: Any, previous: str | None = None) -> str:
    """Wait until a task other than `previous` is on screen (its id) or the job is done ("done")."""
    expr = (
        "(() => { const f = document.getElementById('work-task');"
        " if (!document.getElementById('work-done').hidden) return 'done';"
        f" return !f.hidden && f.dataset.task && f.dataset.task !== {previous!r} ? f.dataset.task : null; }})()"
        if previous
        else "(() => { const f = document.getElementById('work-task');"
        " if (!document.getElementById('work-done').hidden) return 'done';"
        " return !f.hidden && f.dataset.task ? f.dataset.task : null; })()"
    )
    return str(wait_until(page, expr))


def submit(page: Any, task: str) -> str:
    page.keyboard.press("Enter")
    return wait_task(page, task)


def shots(page: Any, kind: str) -> None:
    """The form at tablet and laptop widths (fits without sideways scrolling; PNGs with ATELIER_SCREENSHOTS=1)."""
    for width in (768, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"labeling_work_{kind}_{width}")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_text_classification_with_the_keyboard(browser, team) -> None:  # type: ignore[no-untyped-def]
    job = job_of(
        team,
        "text_classification",
        [{"text": "The battery died after a day."}, {"text": HOSTILE}, {"text": "It arrived."}],
        name="Review sentiment",
        labels=["positive", "negative", "neutral"],
        instructions="Read the **whole** review before you choose.",
        examples=[{"text": "<b>Love it</b>", "label": "positive", "note": "praise"}],
    )
    first = job.items.get(position=0)
    first.suggestion = {"label": "negative", "confidence": 0.91}
    first.save()

    labeling_job(team.project, team=team, task_type="pairwise_preference", name="Chatbot answers", status="paused")
    page = open_job(browser, job, shot=True)
    task = wait_task(page)
    # The instructions (sanitised on the server) in a panel; the model's suggestion preselected and marked as such.
    expect(page.locator("#instructions")).to_contain_text("whole")
    expect(page.locator("#instructions strong").first).to_have_text("whole")  # Markdown, rendered on the server
    expect(page.locator("#work-examples li")).to_contain_text("<b>Love it</b> → positive")  # an example stays text
    expect(page.locator("#work-suggestion")).to_contain_text("Suggested by a model")
    expect(page.locator("#work-suggestion")).to_contain_text("91 %")
    chosen = page.locator(".label-choice.on")
    expect(chosen).to_have_attribute("data-label", "negative")
    expect(chosen.locator(".badge.suggested")).to_be_visible()
    shots(page, "text_classification")
    task = submit(page, task)  # accepts the suggestion

    # Item 2: HTML in the text stays text; 1 then 3 then Z (back to 1), Enter.
    expect(page.locator("#work-item .work-text")).to_have_text(HOSTILE)
    assert page.evaluate("window.__pwned === undefined")
    page.keyboard.press("1")
    page.keyboard.press("3")
    expect(page.locator(".label-choice.on")).to_have_attribute("data-label", "neutral")
    page.keyboard.press("z")
    expect(page.locator(".label-choice.on")).to_have_attribute("data-label", "positive")
    task = submit(page, task)

    # Item 3: Enter without a label is refused in words; S skips it.
    page.keyboard.press("Enter")
    expect(page.locator("#work-error")).to_contain_text("Pick a label")
    page.keyboard.press("s")
    assert wait_task(page, task) == "done"
    expect(page.locator("#work-done")).to_contain_text("All done here")
    expect(page.locator("#work-counter")).to_have_text("2 answered in this session")

    got = answers(job)
    assert [(pos, status, answer) for pos, status, answer, _ in got] == [
        (0, "answered", {"label": "negative"}),
        (1, "answered", {"label": "positive"}),
        (2, "skipped", None),
    ]
    assert all(ms is not None and ms > 0 for _, status, _, ms in got if status == "answered")

    # Back on My work: nothing left for lena, two answers.
    page.get_by_role("link", name="Back to My work").click()
    card = page.locator(f'.work-job[data-job="{job.pk}"]')
    expect(card.locator('[data-field="available"]')).to_have_text("0")
    expect(card.locator('[data-field="answered"]')).to_have_text("2")
    check_clean(page)


def select_text(page: Any, start: int, end: int) -> None:
    """Drag the mouse over characters start..end (UTF-16 offsets) of the named-entity text."""
    box = page.evaluate(
        """([start, end]) => {
          const root = document.getElementById('ner-text');
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          let at = 0, node, first = null, last = null;
          while ((node = walker.nextNode())) {
            const n = node.textContent.length;
            if (!first && start < at + n) first = [node, start - at];
            if (!last && end <= at + n) last = [node, end - at];
            at += n;
          }
          const r1 = document.createRange(); r1.setStart(first[0], first[1]); r1.setEnd(first[0], first[1] + 1);
          const r2 = document.createRange(); r2.setStart(last[0], last[1] - 1); r2.setEnd(last[0], last[1]);
          const a = r1.getBoundingClientRect(), b = r2.getBoundingClientRect();
          return {x1: a.left + 1, y1: a.top + a.height / 2, x2: b.right - 1, y2: b.top + b.height / 2};
        }""",
        [start, end],
    )
    page.mouse.move(box["x1"], box["y1"])
    page.mouse.down()
    page.mouse.move((box["x1"] + box["x2"]) / 2, box["y2"], steps=3)
    page.mouse.move(box["x2"], box["y2"], steps=3)
    page.mouse.up()


def test_named_entities_selected_with_the_mouse(browser, team) -> None:  # type: ignore[no-untyped-def]
    # An emoji first: the server counts characters, the browser UTF-16 units; the answer must use characters.
    text = "🙂 Ada Lovelace lived in London."
    job = job_of(team, "named_entity", [{"text": text}], name="People and places", labels=["PER", "LOC"])
    page = open_job(browser, job)
    task = wait_task(page)
    units = text.encode("utf-16-le")

    def unit(i: int) -> int:  # the UTF-16 offset of character i
        return len(text[:i].encode("utf-16-le")) // 2

    assert len(units) // 2 == len(text) + 1
    ada, london = text.index("Ada Lovelace"), text.index("London")
    select_text(page, unit(ada), unit(ada + len("Ada Lovelace")))
    expect(page.locator("#ner-pending")).to_contain_text("Ada Lovelace")
    page.keyboard.press("1")
    expect(page.locator("mark.ner-span")).to_have_count(1)
    select_text(page, unit(london), unit(london + len("London")))
    page.keyboard.press("2")
    expect(page.locator("mark.ner-span")).to_have_count(2)
    expect(page.locator('mark.ner-span[data-label="LOC"]')).to_have_text("London")
    shots(page, "named_entity")
    # A click on a span removes it; Z brings it back.
    page.locator('mark.ner-span[data-label="PER"]').click()
    expect(page.locator("mark.ner-span")).to_have_count(1)
    page.keyboard.press("z")
    expect(page.locator("mark.ner-span")).to_have_count(2)
    assert submit(page, task) == "done"

    [(_, status, answer, _)] = answers(job)
    assert status == "answered"
    assert answer == {
        "spans": [
            {"start": ada, "end": ada + 12, "label": "PER"},
            {"start": london, "end": london + 6, "label": "LOC"},
        ]
    }
    assert text[answer["spans"][0]["start"] : answer["spans"][0]["end"]] == "Ada Lovelace"
    check_clean(page)


def test_pairwise_preference_with_the_keyboard(browser, team) -> None:  # type: ignore[no-untyped-def]
    pair = {
        "prompt": "Explain recursion to a child.",
        "responses": [
            {"text": "Recursion is when a function calls itself until a base case stops it.", "model": "m-a"},
            {"text": "Imagine Russian dolls: you open each one until you reach the smallest.", "model": "m-b"},
        ],
    }
    job = job_of(team, "pairwise_preference", [pair, pair], name="Which answer is kinder")
    # Another worker of the team answered both items already: nothing of it reaches lena's page.
    from apps.labeling.models import LabelingTask

    otto = UserFactory(username="otto", personas=["labeler"], projects=[team.project])
    team.members.add(otto)
    for item in job.items.all():
        LabelingTask.objects.create(
            job=job,
            item=item,
            worker=otto,
            status="answered",
            expires_at=timezone.now(),
            answered_at=timezone.now(),
            answer={"preferred": 0, "reason": "otto-secret-reason"},
        )
    page = open_job(browser, job)
    task = wait_task(page)
    assert "otto" not in page.content()
    expect(page.locator(".pref-card")).to_have_count(2)
    expect(page.locator("#work-item")).not_to_contain_text("m-a")  # the models are not named to workers
    page.keyboard.press("2")
    expect(page.locator('.pref-card[data-choice="1"]')).to_have_class("pref-card on")
    shots(page, "pairwise_preference")
    task = submit(page, task)

    # Item 2: 2, Z (undone), 1; a reason typed in the text box: digits there are text, Ctrl+Enter submits.
    page.keyboard.press("2")
    page.keyboard.press("z")
    expect(page.locator(".pref-card.on")).to_have_count(0)
    page.keyboard.press("1")
    page.focus("#pref-reason")
    page.keyboard.type("2 is vague; S and Z here are text")
    expect(page.locator('.pref-card[data-choice="0"]')).to_have_class("pref-card on")
    assert "otto" not in page.content()
    page.keyboard.press("Control+Enter")
    assert wait_task(page, task) == "done"

    got = [(status, answer) for _, status, answer, _ in answers(job, worker="lena")]
    assert got == [
        ("answered", {"preferred": 1, "reason": ""}),
        ("answered", {"preferred": 0, "reason": "2 is vague; S and Z here are text"}),
    ]
    check_clean(page)


def test_rating_with_the_keyboard(browser, team) -> None:  # type: ignore[no-untyped-def]
    item = {"prompt": "Tell me a joke about cats.", "responses": [{"text": "Cats have nine lives.", "model": "m"}]}
    criteria = [
        {"name": "helpfulness", "description": "Does it do what was asked?"},
        {"name": "humour", "description": "Is it funny?"},
    ]
    job = job_of(team, "rating", [item], name="Joke quality", criteria=criteria, scale=5)
    page = open_job(browser, job)
    task = wait_task(page)
    expect(page.locator(".criterion")).to_have_count(2)
    expect(page.locator('.criterion[data-criterion="humour"]')).to_contain_text("Is it funny?")
    page.keyboard.press("4")  # helpfulness, then on to humour
    page.keyboard.press("Enter")
    expect(page.locator("#work-error")).to_contain_text("humour")
    page.keyboard.press("9")  # beyond the scale: nothing
    page.keyboard.press("2")
    expect(page.locator('.criterion[data-criterion="humour"] .likert-point.on')).to_have_text("2")
    shots(page, "rating")
    assert submit(page, task) == "done"
    [(_, status, answer, ms)] = answers(job)
    assert (status, answer) == ("answered", {"ratings": {"helpfulness": 4, "humour": 2}})
    assert ms is not None and ms > 0
    check_clean(page)


def test_the_other_forms_with_the_keyboard(browser, team) -> None:  # type: ignore[no-untyped-def]
    """Multi-label text, a tabular row, label verification, images (one label, several), ranking and rewrite: one
    item each."""
    prompt = {
        "prompt": "Greet a customer.",
        "responses": [
            {"text": "Hello! How can I help you today?", "model": "m1"},
            {"text": "Hi.", "model": "m2"},
            {"text": "What do you want?", "model": "m3"},
        ],
    }
    jobs = {
        "text_classification_multi": job_of(
            team,
            "text_classification_multi",
            [{"text": "Quick delivery, fair price."}],
            labels=["fast", "cheap", "reliable"],
        ),
        "tabular_classification": job_of(
            team,
            "tabular_classification",
            [{"row": {"age": 41, "plan": "gold", "monthly_fee": 79.5}}],
            labels=["stays", "churns"],
        ),
        "label_verification": job_of(
            team, "label_verification", [{"text": "What a fine day", "label": {"label": "positive"}, "source_item": 1}]
        ),
        "image_classification": job_of(
            team, "image_classification", [stored_image(team.project, "a.png")], labels=["street", "park"]
        ),
        "image_classification_multi": job_of(
            team, "image_classification_multi", [stored_image(team.project, "b.png")], labels=["car", "sign", "tree"]
        ),
        "ranking": job_of(team, "ranking", [prompt]),
        "rewrite": job_of(
            team, "rewrite", [{"prompt": "Greet a customer.", "responses": [{"text": "What?", "model": "m"}]}]
        ),
    }
    page = signed_in(browser)

    def start(kind: str) -> str:
        page.goto(f"/labeling/work/{jobs[kind].pk}/")
        task = wait_task(page)
        shots(page, kind)
        return task

    task = start("text_classification_multi")
    for key in ("1", "3", "z"):
        page.keyboard.press(key)
    expect(page.locator(".label-choice.on")).to_have_count(1)
    assert submit(page, task) == "done"

    task = start("tabular_classification")
    expect(page.locator("table.work-row")).to_contain_text("monthly_fee")
    expect(page.locator("table.work-row")).to_contain_text("79.5")
    page.keyboard.press("2")
    assert submit(page, task) == "done"

    task = start("label_verification")
    expect(page.locator("#earlier-label")).to_have_text("positive")
    page.keyboard.press("2")
    assert submit(page, task) == "done"

    task = start("image_classification")
    assert page.evaluate("document.querySelector('#work-item img').naturalWidth") == 400
    page.keyboard.press("1")
    assert submit(page, task) == "done"

    task = start("image_classification_multi")
    for key in ("2", "1", "3", "z"):
        page.keyboard.press(key)
    assert submit(page, task) == "done"

    task = start("ranking")
    page.keyboard.press("3")  # the first response (selected) to rank 3
    page.keyboard.press("ArrowUp")  # select the one now at rank 2
    page.keyboard.press("1")  # ... to rank 1
    expect(page.locator(".rank-item").first).to_contain_text("What do you want?")
    assert submit(page, task) == "done"

    task = start("rewrite")
    expect(page.locator("#rewrite-text")).to_have_value("What?")
    page.focus("#rewrite-text")
    page.keyboard.press("Control+a")
    page.keyboard.type("Hello! Sorry to keep you waiting.\nHow can I help?")
    page.keyboard.press("Control+Enter")
    assert wait_task(page, task) == "done"

    got = {kind: answers(job)[0][1:3] for kind, job in jobs.items()}
    assert got == {
        "text_classification_multi": ("answered", {"labels": ["fast"]}),
        "tabular_classification": ("answered", {"label": "churns"}),
        "label_verification": ("answered", {"label": "Incorrect"}),
        "image_classification": ("answered", {"label": "street"}),
        "image_classification_multi": ("answered", {"labels": ["car", "sign"]}),
        "ranking": ("answered", {"ranking": [2, 1, 0]}),
        "rewrite": ("answered", {"text": "Hello! Sorry to keep you waiting.\nHow can I help?"}),
    }
    check_clean(page)


def drag(page: Any, x1: float, y1: float, x2: float, y2: float) -> None:
    """Drag the mouse over the image from (x1, y1) to (x2, y2), in the stage's own pixels."""
    stage = page.locator("#box-stage").bounding_box()
    page.mouse.move(stage["x"] + x1, stage["y"] + y1)
    page.mouse.down()
    page.mouse.move(stage["x"] + (x1 + x2) / 2, stage["y"] + (y1 + y2) / 2, steps=4)
    page.mouse.move(stage["x"] + x2, stage["y"] + y2, steps=4)
    page.mouse.up()


def touch_drag(page: Any, x1: float, y1: float, x2: float, y2: float) -> None:
    """A one-finger drag over the stage, sent as touch events by Chromium's DevTools protocol."""
    stage = page.locator("#box-stage").bounding_box()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
    points = [(x1 + (x2 - x1) * t / 4, y1 + (y2 - y1) * t / 4) for t in range(5)]
    for kind, (x, y) in zip(["touchStart", "touchMove", "touchMove", "touchMove", "touchMove"], points, strict=True):
        cdp.send(
            "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": stage["x"] + x, "y": stage["y"] + y}]}
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": False})


def test_bounding_boxes_drawn_with_the_mouse(browser, team) -> None:  # type: ignore[no-untyped-def]
    job = job_of(
        team, "bounding_box", [stored_image(team.project, "street.png")], name="Street objects", labels=["sign", "car"]
    )
    page = open_job(browser, job)
    task = wait_task(page)
    assert page.evaluate("document.querySelector('#box-stage img').naturalWidth") == 400
    stage = page.locator("#box-stage").bounding_box()
    scale = stage["width"] / 400  # screen pixels per image pixel
    # Label 1 (sign) is the first label; a drag draws a box; 2 switches to car.
    drag(page, 20 * scale, 30 * scale, 120 * scale, 110 * scale)
    page.keyboard.press("2")
    drag(page, 200 * scale, 150 * scale, 380 * scale, 280 * scale)
    page.mouse.click(stage["x"] + 5, stage["y"] + 5)  # a click is no box
    # A finger on a tablet draws too (touch events through the browser's input layer, as a touch screen sends them).
    touch_drag(page, 300 * scale, 20 * scale, 380 * scale, 100 * scale)
    expect(page.locator(".bbox")).to_have_count(3)
    page.locator(".bbox").nth(2).locator(".bbox-remove").click()
    expect(page.locator(".bbox")).to_have_count(2)
    expect(page.locator('.bbox[data-label="car"] .bbox-tag')).to_have_text("car")
    shots(page, "bounding_box")
    page.locator('.bbox[data-label="sign"] .bbox-remove').click()
    expect(page.locator(".bbox")).to_have_count(1)
    page.keyboard.press("z")
    expect(page.locator(".bbox")).to_have_count(2)
    assert submit(page, task) == "done"

    [(_, status, answer, _)] = answers(job)
    assert status == "answered"
    boxes = {b["label"]: b for b in answer["boxes"]}
    for label, want in (("sign", (20, 30, 100, 80)), ("car", (200, 150, 180, 130))):
        got = boxes[label]
        assert abs(got["left"] - want[0]) <= 2 and abs(got["top"] - want[1]) <= 2, got
        assert abs(got["width"] - want[2]) <= 2 and abs(got["height"] - want[3]) <= 2, got
    check_clean(page)
