"""SQL: the DuckDB sandbox over dataset versions refuses every way out (COPY, ATTACH, reading files, INSTALL/LOAD,
PRAGMA, SET, several statements, writes) with a clear message and touches nothing; table names; the preview
limit and time limit. External databases: only one read-only SELECT, on a connection opened read-only (SQLite
`mode=ro`, PostgreSQL `default_transaction_read_only`), imported as a job."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings as django_settings
from django.db import connection as django_connection
from django.urls import reverse

from apps.datasets import sql
from apps.datasets.models import DataConnection, Dataset, DatasetVersion
from apps.jobs.choices import JobStatus
from tests.datasets.conftest import frame_sales, make_version, stored_files

pytestmark = pytest.mark.usefixtures("media")


def error_of(response) -> dict:
    assert response.status_code == 400, response.content[:400]
    data = response.json()
    assert set(data) == {"detail", "errors", "code"} and list(data["errors"]) == ["query"], data
    return data


ESCAPES = {
    "COPY to a file": ("COPY sales TO '{tmp}/out.csv'", "not COPY statements"),
    "COPY from a file": ("COPY sales FROM '/etc/passwd'", "not COPY statements"),
    "ATTACH a database": ("ATTACH '{tmp}/x.duckdb' AS x", "not ATTACH statements"),
    "read a system file": ("SELECT * FROM read_csv('/etc/passwd')", "not allowed here: Permission Error"),
    "read a file with a table function": ("SELECT * FROM read_text('/etc/hostname')", "not allowed here"),
    "read the dataset file itself": ("SELECT * FROM read_parquet('{media}/**/*.parquet')", "not allowed here"),
    "list files": ("SELECT * FROM glob('/etc/*')", "not allowed here"),
    "INSTALL an extension": ("INSTALL httpfs", "not LOAD statements"),
    "LOAD an extension": ("LOAD httpfs", "not LOAD statements"),
    "PRAGMA": ("PRAGMA database_list", "not PRAGMA statements"),
    "SET a setting": ("SET enable_external_access = true", "not SET statements"),
    "two statements": ("SELECT 1; SELECT 2", "Only one statement is allowed (a SELECT query); found 2."),
    "a write hidden after a select": ("SELECT * FROM sales; DROP TABLE sales", "found 2"),
    "CREATE TABLE": ("CREATE TABLE t AS SELECT * FROM sales", "not CREATE statements"),
    "EXPORT DATABASE": ("EXPORT DATABASE '{tmp}/dump'", "not EXPORT statements"),
    "a URL": ("SELECT * FROM read_csv('https://example.com/x.csv')", "not allowed here"),
    "a COPY smuggled through query()": ("SELECT * FROM query('COPY (SELECT 1) TO ''{tmp}/x.csv'' ')", "single SELECT"),
    "read a file as a blob": ("SELECT * FROM read_blob('/etc/hostname')", "not allowed here"),
    "the environment": ("SELECT getenv('SECRET_KEY')", "getenv does not exist"),
    "secrets": ("SELECT * FROM duckdb_secrets()", "not allowed here"),
    "an empty query": ("   ", "Write a SELECT query."),
}


@pytest.mark.parametrize("case", ESCAPES, ids=list(ESCAPES))
def test_the_sandbox_refuses_every_way_out(api_for, ds_user, project_a, media, tmp_path, case: str):
    make_version(project_a, frame_sales(5), name="sales")
    before = stored_files(project_a)
    query, message = ESCAPES[case]
    target = tmp_path / "target"
    target.mkdir()
    query = query.format(tmp=target, media=media)
    api = api_for(ds_user)
    for url in ("/api/sql/query/", "/api/sql/save/"):
        data = error_of(api.post(url, {"project": project_a.pk, "query": query, "name": "x"}, format="json"))
        if url.endswith("query/"):  # saving refuses them too, some before running (no dataset table read)
            assert message in data["detail"], data
    assert list(target.iterdir()) == [], "nothing was written"
    assert stored_files(project_a) == before
    assert Dataset.objects.count() == 1


def test_the_ui_shows_the_refusal_too(client_for, ds_user, project_a):
    make_version(project_a, frame_sales(5), name="sales")
    response = client_for(ds_user).post(
        reverse("datasets:sql"), {"query": "SELECT * FROM read_csv('/etc/passwd')", "action": "run"}
    )
    assert response.status_code == 400
    assert "file system operations are disabled by configuration" in response.content.decode()


def test_table_names_follow_dataset_names_and_versions(api_for, ds_user, project_a):
    make_version(project_a, pd.DataFrame({"x": [1, 2]}), name="Q1 Sales (EU)")
    make_version(project_a, pd.DataFrame({"x": [1, 2, 3]}), name="Q1 Sales (EU)")
    make_version(project_a, pd.DataFrame({"y": ["a"]}), name="2024 data")
    assert sql.table_identifier("Q1 Sales (EU)") == "q1_sales_eu" and sql.table_identifier("2024 data") == "t_2024_data"
    api = api_for(ds_user)

    def rows(query: str) -> list[dict]:
        response = api.post("/api/sql/query/", {"project": project_a.pk, "query": query}, format="json")
        assert response.status_code == 200, response.content
        return response.json()["rows"]

    assert rows("SELECT count(*) AS n FROM q1_sales_eu") == [{"n": 3}]
    assert rows("SELECT count(*) AS n FROM q1_sales_eu_v1") == [{"n": 2}]
    assert rows('SELECT * FROM "t_2024_data"') == [{"y": "a"}]
    assert rows("SELECT 'sales' AS q1_sales_eu_v9") == [{"q1_sales_eu_v9": "sales"}]
    data = error_of(
        api.post("/api/sql/query/", {"project": project_a.pk, "query": "SELECT * FROM other_table"}, format="json")
    )
    assert "Table with name other_table does not exist" in data["detail"]


def test_a_runaway_query_is_stopped(media):
    with pytest.raises(sql.SqlError) as exc:
        sql.sandbox_preview("SELECT count(*) FROM range(100000000) a, range(100000000) b", {}, timeout_s=0.3)
    assert "took longer than" in exc.value.message


# --- external databases -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM shop",
        "  with t as (select 1 as a) select * from t;",
        "SELECT 'delete me; drop it' AS note",
        'SELECT "update" FROM shop',
        "select count(*) from shop -- insert here\n",
    ],
)
def test_external_queries_that_are_one_select_pass(query: str):
    assert sql.check_external_query(query).lower().lstrip().startswith(("select", "with"))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DELETE FROM shop", "not DELETE statements"),
        ("INSERT INTO shop VALUES (1)", "not INSERT statements"),
        ("SELECT 1; DROP TABLE shop", "Only one statement is allowed"),
        ("WITH gone AS (DELETE FROM shop RETURNING *) SELECT * FROM gone", "uses DELETE"),
        ("SELECT * INTO backup FROM shop", "uses INTO"),
        ("ATTACH 'x.db' AS x", "not ATTACH statements"),
        ("PRAGMA writable_schema = 1", "not PRAGMA statements"),
        ("SELECT pg_read_file('/etc/passwd')", "uses PG_READ_FILE"),
        ("SELECT load_extension('x')", "uses LOAD_EXTENSION"),
        ("", "Write a SELECT query."),
    ],
)
def test_external_queries_that_could_write_or_escape_are_refused(query: str, message: str):
    with pytest.raises(sql.SqlError) as exc:
        sql.check_external_query(query)
    assert message in exc.value.message


@pytest.fixture
def shop_db(tmp_path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE shop (id INTEGER PRIMARY KEY, item TEXT, price REAL)")
        conn.executemany("INSERT INTO shop (item, price) VALUES (?, ?)", [("pen", 1.5), ("ink", 7.0), ("pad", 3.25)])
    return path


def test_sqlite_connections_are_opened_read_only(shop_db):
    engine = sql.read_only_engine(f"sqlite:///{shop_db}")
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shop")).scalar() == 3
        with pytest.raises(OperationalError, match=r"readonly database|attempt to write"):
            conn.execute(text("DELETE FROM shop"))
    with sqlite3.connect(shop_db) as conn:
        assert conn.execute("SELECT count(*) FROM shop").fetchone() == (3,)


@pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (CI's second run)",
)
def test_postgresql_connections_are_read_only(db):
    params = django_connection.get_connection_params()
    url = (
        f"postgresql+psycopg://{params.get('user', '')}:{params.get('password', '') or ''}@"
        f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params['dbname']}"
    )
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    engine = sql.read_only_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
        with pytest.raises(SQLAlchemyError, match="read-only transaction"):
            conn.execute(text("CREATE TABLE atelier_should_not_exist (a int)"))


def test_import_from_a_connection_is_a_job_and_refuses_writes(
    api_for, ds_user, admin_user, project_a, project_b, shop_db, run_job, client_for
):
    # Only admins create connections (the console); the URL's password never shows.
    admin = client_for(admin_user)
    response = admin.post(
        reverse("admin:datasets_dataconnection_add"),
        {"name": "shop", "url": f"sqlite:///{shop_db}", "description": "", "projects": [project_a.pk]},
    )
    assert response.status_code == 302, response.content[:2000]
    conn = DataConnection.objects.get(name="shop")
    assert conn.created_by == admin_user
    assert client_for(ds_user).get(reverse("admin:datasets_dataconnection_changelist")).status_code == 302
    api = api_for(ds_user)
    assert [c["name"] for c in api.get("/api/data-connections/").json()["results"]] == ["shop"]

    url = "/api/datasets/import-sql/"
    refused = error_of(
        api.post(
            url,
            {"project": project_a.pk, "connection": conn.pk, "name": "gone", "query": "DELETE FROM shop"},
            format="json",
        )
    )
    assert "not DELETE statements" in refused["detail"]
    response = api.post(
        url,
        {
            "project": project_a.pk,
            "connection": conn.pk,
            "name": "shop items",
            "query": "SELECT item, price FROM shop ORDER BY price",
        },
        format="json",
    )
    assert response.status_code == 202
    job = run_job(response.json()["job"])
    assert job.status == JobStatus.SUCCEEDED, job.message
    version = DatasetVersion.objects.get(dataset__name="shop items")
    assert version.kind == "sql_import" and version.source["connection_name"] == "shop"
    rows = api.get(f"/api/dataset-versions/{version.pk}/rows/").json()["rows"]
    assert rows == [{"item": "pen", "price": 1.5}, {"item": "pad", "price": 3.25}, {"item": "ink", "price": 7.0}]
    with sqlite3.connect(shop_db) as db:
        assert db.execute("SELECT count(*) FROM shop").fetchone() == (3,)

    # A connection not opened to the project is not found; a failing query leaves nothing.
    other = api.post(url, {"project": project_a.pk, "connection": 999, "name": "x", "query": "SELECT 1"}, format="json")
    assert other.status_code == 404
    response = api.post(
        url,
        {"project": project_a.pk, "connection": conn.pk, "name": "broken", "query": "SELECT nope FROM shop"},
        format="json",
    )
    job = run_job(response.json()["job"])
    assert job.status == JobStatus.FAILED and "no such column: nope" in job.message
    assert not Dataset.objects.filter(name="broken").exists()
    conn.projects.set([project_b])
    assert api.get("/api/data-connections/").json()["results"] == []


def test_a_saved_query_that_reaches_for_a_file_fails_in_the_job_and_creates_nothing(
    api_for, ds_user, project_a, run_job
):
    make_version(project_a, frame_sales(5), name="sales")
    response = api_for(ds_user).post(
        "/api/sql/save/",
        {"project": project_a.pk, "name": "stolen", "query": "SELECT * FROM sales, read_csv('/etc/passwd')"},
        format="json",
    )
    assert response.status_code == 202
    job = run_job(response.json()["job"])
    assert job.status == JobStatus.FAILED
    assert job.message.startswith("The query tries to reach files, the network or extensions, which is not allowed")
    assert not Dataset.objects.filter(name="stolen").exists()
    assert len(stored_files(project_a)) == 1  # sales v1 only
