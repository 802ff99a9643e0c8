"""A person downloads a dataset as CSV in a real browser: the file holds the upload's values with every spreadsheet
formula defused (a leading single quote on text cells), and exactly as many rows as were uploaded."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest

from apps.core.csvio import FORMULA_START, strip_neutralised
from tests.conftest import clean_project_storage
from tests.e2e.conftest import login, off_loop, wait_for_scripts
from tests.factories import ProjectFactory, UserFactory

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

NOTES = ["\r=1+1", '=HYPERLINK("http://x","y")', "+1-2", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "a\rb", "plain"]


def hostile_csv() -> tuple[bytes, list[str]]:
    notes = [NOTES[i % len(NOTES)] for i in range(60)]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(["note", "amount"])
    writer.writerows([note, -1.5 * i] for i, note in enumerate(notes))
    return buffer.getvalue().encode(), notes


@pytest.fixture
def project() -> Iterator[object]:
    project = ProjectFactory(name="Exports", slug="exports")
    UserFactory(username="dana", personas=["data_scientist"], projects=[project])

    clean_project_storage(project)
    yield project
    off_loop(clean_project_storage, project)


def test_download_csv_from_the_dataset_page(browser, studio_worker, project, tmp_path):
    content, notes = hostile_csv()
    page = browser.new_page()
    page.goto("/data/datasets/")
    login(page, "dana")
    wait_for_scripts(page)
    page.set_input_files("#id_file", files=[{"name": "notes.csv", "mimeType": "text/csv", "buffer": content}])
    page.locator("#upload-submit").click()
    expect(page).to_have_url(re.compile(r"/data/datasets/\?job=\d+#imports$"))
    studio_worker()
    row = page.locator("#datasets table tbody tr", has_text="notes")
    expect(row).to_contain_text("60", timeout=45_000)
    row.locator("a", has_text="notes").click()
    expect(page.locator("#dataset-name")).to_have_text("notes")
    with page.expect_download() as download_info:
        page.locator("#download-csv").click()
    download = download_info.value
    assert download.suggested_filename == "notes-v1.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8"), newline="")))
    assert rows[0] == ["note", "amount"] and len(rows) == 61
    cells = [r[0] for r in rows[1:]]
    assert not any(cell.startswith(FORMULA_START) for cell in cells)
    assert [strip_neutralised(cell) for cell in cells] == notes
    assert [float(r[1]) for r in rows[1:]] == [-1.5 * i for i in range(60)]
