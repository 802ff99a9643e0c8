"""The user's own spellings of boolean values come back as written (apps/datasets/tokens.py): a file with one column
per token family is uploaded through the API and imported by its job; the schema types the columns as boolean for
analysis, and the rows API, the dataset page and both CSV downloads give the uploaded tokens back."""

from __future__ import annotations

import pandas as pd
import pytest
from django.urls import reverse

from apps.datasets.inference import infer_schema
from apps.datasets.models import DatasetVersion
from apps.jobs.choices import JobStatus
from tests.datasets.conftest import upload

# column -> (true token, false token), as a user would write them
FAMILIES = {
    "yes_no": ("yes", "no"),
    "y_n": ("Y", "N"),
    "true_false": ("true", "false"),
    "title": ("True", "False"),
    "shout": ("YES", "NO"),
    "one_zero": ("1", "0"),
    "t_f": ("T", "F"),
}
ROWS = 6
PATTERN = [True, False, False, True, None, True]  # None: an empty field


def family_csv() -> str:
    lines = [",".join([*FAMILIES, "mixed", "n"])]
    for i, flag in enumerate(PATTERN):
        cells = ["" if flag is None else pair[0] if flag else pair[1] for pair in FAMILIES.values()]
        lines.append(",".join([*cells, ["yes", "Yes", "no"][i % 3], str(i)]))
    return "\n".join(lines) + "\n"


def written(column: str) -> list[str | None]:
    true, false = FAMILIES[column]
    return [None if flag is None else true if flag else false for flag in PATTERN]


def test_inference_records_the_tokens_of_each_family() -> None:
    frame = pd.DataFrame({name: written(name) for name in FAMILIES if name != "one_zero"})
    frame["one_zero"] = pd.array([None if f is None else int(f) for f in PATTERN], dtype="Int64")
    schema = {e["name"]: e for e in infer_schema(frame)}
    for name, (true, false) in FAMILIES.items():
        assert schema[name]["type"] == "boolean", name
        expected = {"true": 1, "false": 0} if name == "one_zero" else {"true": true, "false": false}
        assert schema[name]["tokens"] == expected, name


def test_a_value_spelled_two_ways_keeps_the_column_as_text() -> None:
    frame = pd.DataFrame({"answer": ["yes", "Yes", "no", "no"], "padded": ["yes", " yes", "no", "no"]})
    schema = {e["name"]: e for e in infer_schema(frame)}
    assert schema["answer"]["type"] == "categorical" and "tokens" not in schema["answer"]
    assert schema["padded"]["type"] == "categorical"


def test_a_one_sided_column_knows_its_other_token() -> None:
    schema = infer_schema(pd.DataFrame({"a": ["Yes"] * 3, "b": ["N"] * 3, "c": ["TRUE", "TRUE", None]}))
    assert [e.get("tokens") for e in schema] == [
        {"true": "Yes", "false": "No"},
        {"true": "Y", "false": "N"},
        {"true": "TRUE", "false": "FALSE"},
    ]


@pytest.fixture
def version(api_for, ds_user, project_a, run_job, media) -> DatasetVersion:
    response = api_for(ds_user).post(
        "/api/datasets/",
        {"file": upload("answers.csv", family_csv()), "name": "answers", "project": project_a.pk},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    assert run_job(response.json()["job"]).status == JobStatus.SUCCEEDED
    return DatasetVersion.objects.get(dataset_id=response.json()["id"])


def test_the_schema_types_each_family_as_boolean_with_its_tokens(version: DatasetVersion) -> None:
    schema = {e["name"]: e for e in version.schema}
    for name, (true, false) in FAMILIES.items():
        assert schema[name]["type"] == "boolean", name
        tokens = {"true": int(true), "false": int(false)} if name == "one_zero" else {"true": true, "false": false}
        assert schema[name]["tokens"] == tokens, name
    assert schema["mixed"]["type"] == "categorical"


def test_the_rows_api_gives_the_tokens_back(version: DatasetVersion, api_for, ds_user) -> None:
    rows = api_for(ds_user).get(f"/api/dataset-versions/{version.pk}/rows/").json()["rows"]
    for name in FAMILIES:
        expected = [None if v is None else int(v) for v in written(name)] if name == "one_zero" else written(name)
        assert [row[name] for row in rows] == expected, name
    assert [row["mixed"] for row in rows] == ["yes", "Yes", "no", "yes", "Yes", "no"]


@pytest.mark.parametrize("escape", ["none", "formulas"])
def test_a_csv_download_round_trips_the_uploaded_file(version: DatasetVersion, api_for, ds_user, escape) -> None:
    response = api_for(ds_user).get(
        f"/api/dataset-versions/{version.pk}/download/", {"format": "csv", "escape": escape}
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode() == family_csv()


def test_the_dataset_page_shows_the_tokens(version: DatasetVersion, client_for, ds_user) -> None:
    page = client_for(ds_user).get(reverse("datasets:detail", args=[version.dataset_id])).content.decode()
    table = page[page.index("<tbody") :]
    for token in ("yes", "no", "YES", "NO", "Y", "N", "T", "F", "true", "false"):
        assert f">{token}<" in table, token
    assert table.count(">True<") == PATTERN.count(True)  # only the column where the user wrote True


def test_a_flow_keeps_the_tokens_in_its_preview_and_its_output(
    version: DatasetVersion, api_for, ds_user, run_job
) -> None:
    api = api_for(ds_user)
    flow = api.post(
        "/api/flows/", {"project": version.project_id, "name": "answers", "sources": [version.pk]}, format="json"
    ).json()
    url = f"/api/flows/{flow['id']}/"
    step = api.post(url + "steps/", {"op": "drop_columns", "parameters": {"columns": ["mixed"]}}, format="json")
    assert step.status_code == 201, step.content
    assert [row["y_n"] for row in step.json()["preview"]["rows"]] == written("y_n")
    run = api.post(url + "run/", {"output_name": "answers kept"}, format="json")
    assert run_job(run.json()["job"]).status == JobStatus.SUCCEEDED
    output = DatasetVersion.objects.get(dataset__name="answers kept")
    assert {e["name"]: e.get("tokens") for e in output.schema}["shout"] == {"true": "YES", "false": "NO"}
    rows = api.get(f"/api/dataset-versions/{output.pk}/rows/").json()["rows"]
    assert [row["t_f"] for row in rows] == written("t_f")


def test_retyping_a_yes_no_column_to_text_keeps_yes_no(version: DatasetVersion, api_for, ds_user, run_job) -> None:
    api = api_for(ds_user)
    started = api.post(f"/api/dataset-versions/{version.pk}/retype/", {"columns": {"yes_no": "text"}}, format="json")
    assert started.status_code == 202, started.content
    assert run_job(started.json()["job"]).status == JobStatus.SUCCEEDED
    retyped = DatasetVersion.objects.get(dataset_id=version.dataset_id, number=2)
    rows = api.get(f"/api/dataset-versions/{retyped.pk}/rows/").json()["rows"]
    assert [row["yes_no"] for row in rows] == written("yes_no") and [row["y_n"] for row in rows] == written("y_n")


# --- the quality report ---------------------------------------------------------------------------------------------


def answers_for_report() -> str:
    """60 rows: a yes/no feature, a Y/N target, a number with one far outlier, and 3 rows repeated."""
    lines = ["x,answer,churn"]
    for i in range(60):
        x = 1000 if i == 7 else i % 11
        lines.append(f"{x},{'yes' if i % 3 else 'no'},{'Y' if i % 4 == 0 else 'N'}")
    return "\n".join(lines + lines[1:4]) + "\n"


def test_the_quality_report_shows_the_tokens(api_for, client_for, ds_user, project_a, run_job, media) -> None:
    api = api_for(ds_user)
    created = api.post(
        "/api/datasets/",
        {"file": upload("churn.csv", answers_for_report()), "name": "churn", "project": project_a.pk},
        format="multipart",
    ).json()
    assert run_job(created["job"]).status == JobStatus.SUCCEEDED
    version = DatasetVersion.objects.get(dataset_id=created["id"])
    url = f"/api/dataset-versions/{version.pk}/profile/"
    assert run_job(api.post(url, {"target": "churn"}, format="json").json()["job"]).status == JobStatus.SUCCEEDED
    report = api.get(url).json()

    columns = {c["name"]: c for c in report["columns"]}
    assert {t["value"] for t in columns["answer"]["top_values"]} == {"yes", "no"}
    assert {t["value"] for t in columns["churn"]["top_values"]} == {"Y", "N"}
    assert columns["answer"]["tokens"] == {"true": "yes", "false": "no"}
    assert [(c["value"], c["count"]) for c in report["target"]["classes"]] == [("N", 47), ("Y", 16)]
    examples = report["summary"]["duplicate_examples"] + report["anomalies"]["examples"]
    assert report["summary"]["duplicate_examples"] and report["anomalies"]["examples"]
    for example in examples:
        assert example["values"]["answer"] in ("yes", "no") and example["values"]["churn"] in ("Y", "N"), example

    page = client_for(ds_user).get(reverse("datasets:report", args=[version.pk])).content.decode()
    assert "yes (42)" in page and "N (47)" in page  # the columns table's most frequent values
    anomalies = page[page.index('id="anomalies"') : page.index('id="columns"')]
    assert "<td>yes</td>" in anomalies or "<td>no</td>" in anomalies
    assert "True" not in anomalies and "False" not in anomalies
    assert '"x": ["N", "Y"]' in page  # the class balance chart


# --- the SQL page -----------------------------------------------------------------------------------------------------

# plain references (also renamed or table-qualified) keep the tokens; computed booleans, even under a yes/no
# column's name, are true/false
QUERY = "SELECT yes_no, a.y_n AS short, one_zero, n > 2 AS big, NOT t_f AS t_f FROM answers a ORDER BY n"


def test_a_sql_preview_gives_the_tokens_of_plain_references(version: DatasetVersion, api_for, ds_user) -> None:
    result = (
        api_for(ds_user).post("/api/sql/query/", {"project": version.project_id, "query": QUERY}, format="json").json()
    )
    rows = result["rows"]
    assert [row["yes_no"] for row in rows] == written("yes_no")
    assert [row["short"] for row in rows] == written("y_n")
    assert [row["one_zero"] for row in rows] == [None if v is None else int(v) for v in written("one_zero")]
    assert [row["big"] for row in rows] == [i > 2 for i in range(ROWS)]
    assert [row["t_f"] for row in rows] == [None if f is None else not f for f in PATTERN]


def test_the_sql_page_shows_the_tokens(version: DatasetVersion, client_for, ds_user) -> None:
    response = client_for(ds_user).get(reverse("datasets:sql"), {"q": "SELECT * FROM answers", "run": "1"})  # PRG
    table = response.content.decode()
    table = table[table.index("<tbody") :]
    for token in ("yes", "no", "YES", "NO", "Y", "N", "T", "F", "true", "false"):
        assert f"<td>{token}</td>" in table, token
    assert table.count("<td>True</td>") == PATTERN.count(True)  # only the column where the user wrote True


def test_a_saved_sql_result_keeps_the_tokens(version: DatasetVersion, api_for, ds_user, run_job) -> None:
    api = api_for(ds_user)
    saved = api.post("/api/sql/save/", {"project": version.project_id, "query": QUERY, "name": "kept"}, format="json")
    assert run_job(saved.json()["job"]).status == JobStatus.SUCCEEDED
    output = DatasetVersion.objects.get(dataset__name="kept")
    assert {e["name"]: e.get("tokens") for e in output.schema} == {
        "yes_no": {"true": "yes", "false": "no"},
        "short": {"true": "Y", "false": "N"},
        "one_zero": {"true": 1, "false": 0},
        "big": None,
        "t_f": None,
    }
    rows = api.get(f"/api/dataset-versions/{output.pk}/rows/").json()["rows"]
    assert [row["short"] for row in rows] == written("y_n") and [row["yes_no"] for row in rows] == written("yes_no")
