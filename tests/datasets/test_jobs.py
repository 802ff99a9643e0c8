"""Data Wrangler jobs through a REAL Celery worker on the real broker and the real test database: imports of every
supported format end to end (API upload -> stored file -> worker -> Parquet version), a failing import that leaves
nothing behind, and a profile report. Kept to one worker start: the in-process service tests cover the rest."""

from __future__ import annotations

import pytest

from apps.core.storage import project_root, walk_files
from apps.datasets.models import Dataset, DatasetVersion, ProfileReport
from apps.jobs.choices import JobStatus
from tests.conftest import clean_project_storage, job_final
from tests.datasets.conftest import upload
from tests.datasets.data import encode, frame_formats

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_imports_of_every_format_and_a_profile_through_a_real_worker(start_worker, api_for, ds_user, project_a):
    clean_project_storage(project_a)
    api = api_for(ds_user)
    try:
        jobs = {}
        for fmt in ("csv", "tsv", "parquet", "json", "jsonl", "xlsx"):
            response = api.post(
                "/api/datasets/",
                {
                    "file": upload(f"scores.{fmt}", encode(fmt, frame_formats())),
                    "name": f"scores {fmt}",
                    "project": project_a.pk,
                },
                format="multipart",
            )
            assert response.status_code == 202, response.content
            jobs[fmt] = response.json()
        bad = api.post(
            "/api/datasets/",
            {"file": upload("bad.csv", b"a,b\n1,2\n3\n"), "name": "bad", "project": project_a.pk},
            format="multipart",
        ).json()
        start_worker()
        for fmt, accepted in jobs.items():
            job = job_final(accepted["job"])
            assert job.status == JobStatus.SUCCEEDED, (fmt, job.message)
            detail = api.get(f"/api/datasets/{accepted['id']}/").json()
            assert detail["latest_version"]["row_count"] == 4, fmt
            assert [c["name"] for c in detail["latest_version"]["schema"]] == ["id", "name", "score"], fmt
            rows = api.get(f"/api/dataset-versions/{detail['latest_version']['id']}/rows/").json()["rows"]
            assert [r["score"] for r in rows] == [0.5, 1.5, None, 3.0], fmt
        failed = job_final(bad["job"])
        assert failed.status == JobStatus.FAILED
        assert failed.message.startswith("Line 3 has 1 fields; expected 2")
        assert not Dataset.objects.filter(pk=bad["id"]).exists()

        version = DatasetVersion.objects.get(dataset__name="scores parquet")
        profile = api.post(f"/api/dataset-versions/{version.pk}/profile/", {"target": "score"}, format="json")
        assert job_final(profile.json()["job"]).status == JobStatus.SUCCEEDED
        report = api.get(f"/api/dataset-versions/{version.pk}/profile/").json()
        assert report["summary"]["rows"] == 4 and report["target"]["name"] == "score"

        names = sorted(path.rsplit("/", 1)[1] for path, _ in walk_files(project_root(project_a.pk)))
        # six versions and one report; no upload is left
        assert names[1:] == ["v1.parquet"] * 6 and names[0].startswith("v1-profile-"), names
        assert ProfileReport.objects.count() == 1
    finally:
        clean_project_storage(project_a)
