"""Built-in algorithm pages: empty states, the start form (errors next to their field, 400), the run page live
while the job runs and with its charts once it succeeded, failures, hostile names escaped, who may see what, and
pinned query counts on the list page."""

from __future__ import annotations

import json
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.unsupervised import services
from apps.unsupervised.models import UnsupervisedRun
from tests.unsupervised.data import blobs_frame, make_version

HOSTILE = "<script>alert(1)</script>"


def _figure(html: str, name: str) -> dict:
    match = re.search(rf'<script id="fig-{name}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no figure {name}"
    return json.loads(match.group(1))


def _run(project, user, version, algorithm, options=None, columns=None):  # type: ignore[no-untyped-def]
    return services.unsupervised_run_start(
        project=project,
        created_by=user,
        version=version,
        algorithm=algorithm,
        options=options or {},
        columns=columns or [],
    )


def test_empty_states(client_for, ds_user, project_a, media) -> None:
    html = client_for(ds_user).get("/canvas/unsupervised/").content.decode()
    assert "No data yet" in html and "No runs yet" in html and 'id="run-form"' not in html
    make_version(project_a, ds_user, blobs_frame())
    html = client_for(ds_user).get("/canvas/unsupervised/").content.decode()
    assert 'id="run-form"' in html and "No runs yet" in html
    assert '<optgroup label="points v1"' in html and '<option value="row_id">row_id</option>' in html
    assert 'href="/canvas/unsupervised/"' in html  # the sidebar entry


def test_the_form_shows_errors_next_to_their_field(client_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    client = client_for(ds_user)
    r = client.post(
        "/canvas/unsupervised/",
        {
            "dataset_version": version.pk,
            "algorithm": "kmeans",
            "k": "1",
            "k_min": "2",
            "k_max": "10",
            "columns": ["a", "ghost"],
        },
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert re.search(r'id="k-error"[^>]*>k must be &#x27;auto&#x27; or a whole number of at least 2', html)
    assert re.search(r'id="columns-error"[^>]*>Column &#x27;ghost&#x27; is not in points v1', html)
    assert '<option value="a" selected>' in html  # the choice is kept
    r = client.post(
        "/canvas/unsupervised/",
        {"dataset_version": version.pk, "algorithm": "isolation_forest", "contamination": "0.9", "k": "1"},
    )  # k is not isolation forest's
    assert r.status_code == 400
    html = r.content.decode()
    assert 'id="contamination-error"' in html and 'id="k-error"' not in html
    r = client.post("/canvas/unsupervised/", {"algorithm": "pca"})
    assert r.status_code == 400 and "This field is required." in r.content.decode()
    assert UnsupervisedRun.objects.count() == 0


def test_start_redirects_to_the_live_run_page(client_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    client = client_for(ds_user)
    r = client.post(
        "/canvas/unsupervised/",
        {
            "dataset_version": version.pk,
            "algorithm": "pca",
            "n_components": "2",
            "variance": "",
            "k": "auto",
            "seed": "4",
            "columns": ["a", "b", "c"],
        },
    )
    run = UnsupervisedRun.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/canvas/unsupervised/{run.pk}/"
    assert run.options == {"n_components": 2, "seed": 4} and run.columns == ["a", "b", "c"]
    html = client.get(r["Location"]).content.decode()
    assert f'data-live-jobs="job:{run.job_id}"' in html and f'data-job-final-reload="{run.job_id}"' in html
    assert 'class="job-progress"' in html and 'id="charts"' not in html
    assert "a new dataset version, once the run succeeds" in html
    listing = client.get("/canvas/unsupervised/").content.decode()
    assert f'href="/canvas/unsupervised/{run.pk}/"' in listing and "No runs yet" not in listing


def test_a_kmeans_run_page_has_its_charts_and_output_link(client_for, ds_user, project_a, media, run_job) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    run = _run(project_a, ds_user, version, "kmeans", {"k_max": 5}, ["a", "b", "c"])
    assert run_job(run.job).status == JobStatus.SUCCEEDED
    run.refresh_from_db()
    html = client_for(ds_user).get(f"/canvas/unsupervised/{run.pk}/").content.decode()
    for name in ("k", "sizes", "scatter"):
        assert f'id="chart-{name}" data-figure="fig-{name}"' in html
    k = _figure(html, "k")
    assert k["data"][0]["x"] == [2, 3, 4, 5] and k["layout"]["shapes"][0]["x0"] == 3
    assert k["layout"]["annotations"][0]["text"] == "chosen k = 3"
    assert sum(_figure(html, "sizes")["data"][0]["y"]) == 150
    assert len(_figure(html, "scatter")["data"]) == 3
    assert re.search(r'id="info-k"><strong>3</strong> \(suggested by silhouette\)', html)
    output = run.output_version
    assert f'href="/data/datasets/{output.dataset_id}/?v={output.pk}">points kmeans v1</a>' in html
    assert "data-live-jobs" not in html
    assert "plotly.min.js" in html


def test_pca_and_isolation_forest_pages(client_for, ds_user, project_a, media, run_job) -> None:
    version = make_version(project_a, ds_user, blobs_frame(outliers=2))
    pca = _run(project_a, ds_user, version, "pca", {"n_components": 2})
    forest = _run(project_a, ds_user, version, "isolation_forest", {"contamination": 0.02}, ["a", "b", "c"])
    assert run_job(pca.job).status == JobStatus.SUCCEEDED
    assert run_job(forest.job).status == JobStatus.SUCCEEDED
    client = client_for(ds_user)
    html = client.get(f"/canvas/unsupervised/{pca.pk}/").content.decode()
    variance = _figure(html, "variance")
    assert variance["data"][0]["x"] == ["pc1", "pc2"] and variance["data"][1]["name"] == "cumulative"
    assert _figure(html, "scatter")["layout"]["xaxis"]["title"]["text"].startswith("pc1 (")
    assert 'id="info-components">2<' in html and 'id="info-variance"' in html
    html = client.get(f"/canvas/unsupervised/{forest.pk}/").content.decode()
    scores = _figure(html, "scores")
    forest.refresh_from_db()
    assert scores["layout"]["shapes"][0]["x0"] == forest.chart["threshold"]
    assert sum(scores["data"][0]["y"]) == 150
    assert html.count('<tr class="anomaly">') == 20
    out = forest.output_version
    top = forest.chart["top_rows"][0]
    assert f'?v={out.pk}&amp;row={top["row"] + 1}">{top["row"] + 1}</a>' in html
    assert re.search(r'id="info-flagged"><strong>\d+</strong> of 150', html)


def test_a_failed_run_shows_its_message(client_for, ds_user, project_a, media, run_job) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    run = _run(project_a, ds_user, version, "pca", {"n_components": 9}, ["a", "b"])
    assert run_job(run.job).status == JobStatus.FAILED
    html = client_for(ds_user).get(f"/canvas/unsupervised/{run.pk}/").content.decode()
    assert "<strong>The run failed:</strong> PCA failed: n_components must be between 1 and 2." in html
    assert "No result" in html and 'id="charts"' not in html


def test_hostile_column_names_are_escaped(client_for, ds_user, project_a, media, run_job) -> None:
    frame = blobs_frame(outliers=1).rename(columns={"a": HOSTILE})
    version = make_version(project_a, ds_user, frame, name="<b>points</b>")
    run = _run(project_a, ds_user, version, "isolation_forest", {}, [HOSTILE, "b"])
    assert run_job(run.job).status == JobStatus.SUCCEEDED
    client = client_for(ds_user)
    for url in (f"/canvas/unsupervised/{run.pk}/", "/canvas/unsupervised/"):
        html = client.get(url).content.decode()
        assert HOSTILE not in html and "<b>points</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # New column names reach the charts' axes through `label` (plotly would read its pseudo-HTML tags).
    pca = _run(project_a, ds_user, version, "pca", {"n_components": 2}, [HOSTILE, "b"])
    assert run_job(pca.job).status == JobStatus.SUCCEEDED
    info = UnsupervisedRun.objects.get(pk=pca.pk).info
    UnsupervisedRun.objects.filter(pk=pca.pk).update(info={**info, "new_columns": [HOSTILE, "pc2"]})
    html = client.get(f"/canvas/unsupervised/{pca.pk}/").content.decode()
    assert HOSTILE not in html
    assert _figure(html, "variance")["data"][0]["x"][0] == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_labelers_are_refused_and_foreign_runs_are_404(
    client_for, ds_user, labeler_user, outsider, project_a, project_b, media
) -> None:
    mine = _run(project_a, ds_user, make_version(project_a, ds_user, blobs_frame()), "pca")
    theirs = _run(project_b, outsider, make_version(project_b, outsider, blobs_frame(), name="bravo"), "pca")
    labeler = client_for(labeler_user)
    assert labeler.get("/canvas/unsupervised/").status_code == 403
    assert labeler.get(f"/canvas/unsupervised/{mine.pk}/").status_code == 403
    assert labeler.post("/canvas/unsupervised/", {"algorithm": "pca"}).status_code == 403
    ds = client_for(ds_user)
    assert ds.get(f"/canvas/unsupervised/{theirs.pk}/").status_code == 404
    assert ds.get(f"/canvas/unsupervised/{mine.pk}/").status_code == 200
    # A version of a project the user is not a member of, posted by hand: 404, nothing started.
    r = ds.post("/canvas/unsupervised/", {"dataset_version": theirs.dataset_version_id, "algorithm": "pca"})
    assert r.status_code == 404
    assert client_for(outsider).get(f"/canvas/unsupervised/{mine.pk}/").status_code == 404
    assert client_for(None).get("/canvas/unsupervised/").status_code == 302
    assert UnsupervisedRun.objects.count() == 2 and Job.objects.count() == 2


def test_list_page_query_count_does_not_grow_with_runs(client_for, ds_user, project_a, media) -> None:
    client = client_for(ds_user)
    version = make_version(project_a, ds_user, blobs_frame())

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/canvas/unsupervised/").status_code == 200
        return len(ctx.captured_queries)

    _run(project_a, ds_user, version, "pca")
    one = count()
    for algorithm in ("kmeans", "isolation_forest", "pca"):
        _run(project_a, ds_user, version, algorithm)
    make_version(project_a, ds_user, blobs_frame(), name="more points")
    assert count() == one
