"""Flow previews run in the preview sandbox: a step past the time or memory limit is a 400 naming the step, in the
API and in the flow editor, nothing is saved, and the next preview works (real worker processes, real kills)."""

from __future__ import annotations

import html as htmllib

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from apps.datasets import services
from apps.datasets.models import Flow
from tests.datasets.conftest import make_version

pytestmark = [pytest.mark.usefixtures("media"), pytest.mark.timeout(180)]


def texts(rows: int = 20_000, words: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    picks = rng.choice(np.array([f"term{i}" for i in range(10_000)]), size=(rows, words))
    return pd.DataFrame({"review": [" ".join(row) for row in picks], "stars": rng.integers(1, 6, rows)})


def warm(api, flow) -> None:  # type: ignore[no-untyped-def]
    """A cheap preview with no tight limit first: the worker then holds the source sample, so the tight limit below
    is spent on the step (reading 20,000 rows can take a while on a busy machine)."""
    draft = {"draft": {"op": "drop_columns", "parameters": {"columns": ["stars"]}}}
    assert api.post(f"/api/flows/{flow.pk}/preview/", draft, format="json").status_code == 200


@pytest.fixture
def flow(project_a, ds_user):  # type: ignore[no-untyped-def]
    version = make_version(project_a, texts(), name="reviews", user=ds_user)
    return services.flow_create(project=project_a, created_by=ds_user, name="limits", sources=[version])


def test_a_step_past_the_time_limit_is_a_400_naming_it_and_saves_nothing(api_for, ds_user, flow, settings) -> None:
    settings.PREVIEW_TIMEOUT_S = 1.5
    api = api_for(ds_user)
    url = f"/api/flows/{flow.pk}/"
    tfidf = {"op": "tfidf", "parameters": {"column": "review", "max_features": 50}}
    for response in (
        api.post(url + "steps/", tfidf, format="json"),
        api.post(url + "preview/", {"draft": tfidf}, format="json"),
    ):
        assert response.status_code == 400, response.content[:300]
        body = response.json()
        assert body["errors"] == {"step": [body["detail"].removeprefix("step: ")]}
        assert body["detail"].startswith(
            "step: Step 's1' (tfidf) took longer than the preview limit of 1.5 s on the sample and was stopped"
        )
    assert Flow.objects.get(pk=flow.pk).steps == []
    settings.PREVIEW_TIMEOUT_S = 60  # the killed worker was replaced: the next preview answers
    quick = api.post(
        url + "preview/", {"draft": {"op": "word_count", "parameters": {"columns": ["review"]}}}, format="json"
    )
    assert quick.status_code == 200 and quick.json()["rows"][0]["review_words"] == 100


def test_the_flow_editor_shows_the_limit_for_a_draft_step(client_for, api_for, ds_user, flow, settings) -> None:
    warm(api_for(ds_user), flow)
    settings.PREVIEW_TIMEOUT_S = 1.5
    response = client_for(ds_user).post(
        reverse("datasets:flow_step_add", args=[flow.pk]),
        {"op": "tfidf", "inputs": "src1", "p_column": "review", "p_max_features": "50", "action": "preview"},
    )
    assert response.status_code == 400
    assert "Step &#x27;s1&#x27; (tfidf) took longer than the preview limit of 1.5 s" in response.content.decode()
    assert "Step 's1' (tfidf)" in htmllib.unescape(response.content.decode())


def test_a_step_past_the_memory_limit_is_a_400_naming_it(api_for, ds_user, flow, settings) -> None:
    settings.PREVIEW_MEMORY_MB = 400  # reading the sample needs ~150 MB of address space
    pad = {
        "op": "pad_text",
        "parameters": {"columns": ["review"], "width": 10_000},
    }  # 20,000 x 10 kB, ~1 GB of address space
    response = api_for(ds_user).post(f"/api/flows/{flow.pk}/steps/", pad, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["detail"].startswith(
        "step: Step 's1' (pad_text) needed more than the preview memory limit of 400 MB on the sample"
    )
    assert Flow.objects.get(pk=flow.pk).steps == []


def test_a_slow_sql_step_is_stopped_and_names_the_step(api_for, ds_user, flow, settings):  # type: ignore[no-untyped-def]
    warm(api_for(ds_user), flow)
    settings.PREVIEW_TIMEOUT_S = 3.0
    slow = "SELECT sum(a.range * b.range) AS s FROM range(300000) a, range(300000) b, (SELECT 1 FROM df LIMIT 1)"
    response = api_for(ds_user).post(
        f"/api/flows/{flow.pk}/steps/", {"op": "sql", "parameters": {"query": slow}}, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    detail = response.json()["detail"]
    # DuckDB's watchdog (at 80 % of the limit) or, on a busy machine, the hard limit: either way the step is named
    assert "Step 's1'" in detail and "was stopped" in detail, detail
    assert Flow.objects.get(pk=flow.pk).steps == []
