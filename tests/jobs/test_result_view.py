"""A job's result on its page is read as data (issue 13, item 10: it was a Python dict, `{'a': 1}`): objects as
definition lists, lists of records as tables, JSON's null/true/false, sizes for *_bytes, everything escaped."""

from __future__ import annotations

from apps.jobs.models import Job

RESULT = {
    "dataset_version": 12,
    "metrics": {"auc": 0.912345678, "calibrated": True, "notes": None},
    "columns": ["age", "income"],
    "folders": [{"name": "datasets", "files": 3}, {"name": "<b>models</b>", "files": 1}],
    "output_bytes": 2048,
    "steps": [{"a": 1}, {"b": [1, 2]}],
}


def test_a_nested_result_is_shown_as_lists_and_tables(client_for, project_a, ds_user):
    job = Job.objects.create(
        kind="tests.steps", project=project_a, created_by=ds_user, status="succeeded", result=RESULT
    )
    page = client_for(ds_user).get(f"/jobs/{job.pk}/").content.decode()
    result = page[page.index('id="job-result"') : page.index("<h2", page.index('id="job-result"') + 30)]
    assert "{&#x27;" not in result and "{'" not in result
    assert "<dt>dataset_version</dt><dd>12</dd>" in result
    assert '<dt>metrics</dt><dd><dl class="kv value-view"><dt>auc</dt><dd>0.912346</dd>' in result
    assert (
        "<dt>calibrated</dt><dd>true</dd>" in result and '<dt>notes</dt><dd><span class="muted">null</span>' in result
    )
    assert "<dt>columns</dt><dd>age, income</dd>" in result
    assert "<thead><tr><th>name</th><th>files</th></tr></thead>" in result
    assert "<td>&lt;b&gt;models&lt;/b&gt;</td><td>1</td>" in result
    assert '<span title="2048 bytes">2.0\xa0KB</span>' in result
    assert '<ol class="value-list"><li><dl class="kv value-view"><dt>a</dt><dd>1</dd></dl></li>' in result


def test_long_results_are_capped(client_for, project_a, ds_user):
    job = Job.objects.create(
        kind="tests.steps", project=project_a, created_by=ds_user, status="succeeded", result={"ids": list(range(250))}
    )
    page = client_for(ds_user).get(f"/jobs/{job.pk}/").content.decode()
    assert "97, 98, 99" in page and "100, 101" not in page and "… and 150 more" in page
