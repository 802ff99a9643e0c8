"""CSV downloads of a dataset version, end to end: a file with hostile cells is uploaded through the API and imported
by its job, then downloaded through the real routes: the dataset page's "Download CSV" link (a person: spreadsheet
formulas defused) and the API with `escape=none` (a pipeline: the exact values). Both read back to the stored version
(apps/core/csvio.py holds the rules)."""

from __future__ import annotations

import csv
import html
import io
import re

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from django.urls import reverse

from apps.core.csvio import FORMULA_START, strip_neutralised
from apps.datasets.models import DatasetVersion
from apps.jobs.choices import JobStatus
from tests.datasets.conftest import upload

pytestmark = pytest.mark.usefixtures("media")

HOSTILE = [
    "\r=1+1",
    '=HYPERLINK("http://x","y")',
    "+1-2",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A2)",
    "\tx",
    "a\rb",
    "c\nd",
    "e\r\nf",
    'say "hi", twice',
    "  padded  ",
    "'quoted",
    "naïve 数据 🙂",
    "plain",
]
ROWS = 60


def hostile_upload() -> tuple[bytes, list[str], list[float]]:
    """60 rows written with the csv module (every field quoted, CRLF rows), as a spreadsheet would export them."""
    notes = [HOSTILE[i % len(HOSTILE)] for i in range(ROWS)]
    amounts = [(-1.5 if i % 2 else 2.25) * (i + 1) for i in range(ROWS)]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(["=cmd|' /C calc'!A0", "amount", "id"])
    writer.writerows([note, amount, i] for i, (note, amount) in enumerate(zip(notes, amounts, strict=True)))
    return buffer.getvalue().encode(), notes, amounts


def read_exact(raw: bytes) -> pa.Table:
    return pa_csv.read_csv(
        io.BytesIO(raw),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={"=cmd|' /C calc'!A0": pa.string()},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        ),
    )


@pytest.fixture
def version(api_for, ds_user, project_a, run_job) -> DatasetVersion:
    content, _notes, _amounts = hostile_upload()
    response = api_for(ds_user).post(
        "/api/datasets/",
        {"file": upload("hostile.csv", content), "name": "hostile", "project": project_a.pk},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    assert run_job(response.json()["job"]).status == JobStatus.SUCCEEDED
    return DatasetVersion.objects.get(dataset_id=response.json()["id"])


def test_the_stored_version_holds_the_uploaded_values(version: DatasetVersion, api_for, ds_user) -> None:
    _, notes, amounts = hostile_upload()
    parquet = api_for(ds_user).get(f"/api/dataset-versions/{version.pk}/download/", {"format": "parquet"})
    stored = pd.read_parquet(io.BytesIO(b"".join(parquet.streaming_content)))
    assert list(stored.columns) == ["=cmd|' /C calc'!A0", "amount", "id"]
    assert stored.iloc[:, 0].tolist() == notes and stored["amount"].tolist() == amounts
    assert stored["id"].tolist() == list(range(ROWS))


def test_api_raw_csv_reads_back_to_the_exact_version(version: DatasetVersion, api_for, ds_user) -> None:
    _, notes, amounts = hostile_upload()
    response = api_for(ds_user).get(
        f"/api/dataset-versions/{version.pk}/download/", {"format": "csv", "escape": "none"}
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    raw = b"".join(response.streaming_content)
    back = pd.read_csv(io.BytesIO(raw), dtype={0: object}, keep_default_na=False)
    assert len(back) == ROWS  # a bare carriage return used to end the row: 60 rows read back as more
    assert list(back.columns) == ["=cmd|' /C calc'!A0", "amount", "id"]
    assert back.iloc[:, 0].tolist() == notes
    assert back["amount"].tolist() == amounts and back["id"].tolist() == list(range(ROWS))
    exact = read_exact(raw)
    assert exact.column(0).to_pylist() == notes and exact.column("amount").to_pylist() == amounts
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert [row[0] for row in rows] == ["=cmd|' /C calc'!A0", *notes]


def test_the_pages_csv_link_defuses_formulas_and_gives_the_values_back(
    version: DatasetVersion, client_for, ds_user
) -> None:
    _, notes, amounts = hostile_upload()
    client = client_for(ds_user)
    page = client.get(reverse("datasets:detail", args=[version.dataset_id])).content.decode()
    link = html.unescape(re.search(r'href="([^"]+)" id="download-csv"', page).group(1))  # type: ignore[union-attr]
    response = client.get(link)
    assert response.status_code == 200 and response["Content-Disposition"] == 'attachment; filename="hostile-v1.csv"'
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == ROWS + 1
    header, cells = rows[0], [row[0] for row in rows[1:]]
    assert header == ["'=cmd|' /C calc'!A0", "amount", "id"]
    assert not any(cell.startswith(FORMULA_START) for cell in cells)
    assert cells[:6] == ["'\r=1+1", "'=HYPERLINK(\"http://x\",\"y\")", "'+1-2", "'-2+3+cmd|' /C calc'!A0",
                         "'@SUM(A1:A2)", "'\tx"]  # fmt: skip
    assert [strip_neutralised(cell) for cell in cells] == notes
    assert [strip_neutralised(name) for name in header] == ["=cmd|' /C calc'!A0", "amount", "id"]
    # numbers are data, never formulas: negative amounts are written as numbers
    assert [float(row[1]) for row in rows[1:]] == amounts and rows[2][1] == "-3.0"
    assert '"\'\r=1+1",2.25,0\n' in text


def test_the_api_defaults_to_the_people_form_and_refuses_an_unknown_escape(
    version: DatasetVersion, api_for, ds_user
) -> None:
    api = api_for(ds_user)
    url = f"/api/dataset-versions/{version.pk}/download/"
    people = b"".join(api.get(url, {"format": "csv"}).streaming_content)
    assert people == b"".join(api.get(url, {"format": "csv", "escape": "formulas"}).streaming_content)
    assert people.startswith(b"\"'=cmd|' /C calc'!A0\",amount,id\n")
    response = api.get(url, {"format": "csv", "escape": "maybe"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"escape": ["Unknown CSV escape 'maybe'; use formulas (the default) or none."]}


def test_the_openapi_schema_documents_the_escape_parameter(api_for, admin_user) -> None:
    schema = api_for(admin_user).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/dataset-versions/{id}/download/"]["get"]
    escape = next(p for p in operation["parameters"] if p["name"] == "escape")
    assert escape["schema"]["enum"] == ["formulas", "none"] and "OWASP" in escape["description"]
