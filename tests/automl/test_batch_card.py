"""The build page's batch card follows the batch prediction the user started there: the POST redirects back to the
card with the job (`?job=<id>#batch`), the card shows that job's live progress, and a job id of another build or
project shows nothing."""

from __future__ import annotations

import re

from django.urls import reverse

from apps.jobs.models import Job
from tests.factories import binary_frame, trained_build


def _batch_card(html: str) -> str:
    return re.search(r'<div class="card" id="batch".*?<div class="card" id="register"', html, re.S).group(0)


def test_batch_prediction_redirects_to_the_card_that_shows_its_progress(
    client_for, ds_user, project_a, project_b, outsider, media
) -> None:
    build = trained_build(project_a, ds_user, binary_frame(60), "churn", budget=15.0)
    client = client_for(ds_user)
    response = client.post(
        reverse("automl:batch_predict", args=[build.pk]), {"dataset_version": build.dataset_version_id}
    )
    job = Job.objects.get(kind="automl.batch_predict")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('automl:detail', args=[build.pk])}?job={job.pk}#batch"
    card = _batch_card(client.get(response["Location"]).content.decode())
    assert 'id="started-job"' in card and f'data-live-jobs="job:{job.pk}"' in card
    assert f'data-job-id="{job.pk}" data-job-field="status"' in card
    assert f'data-job-final-reload="{job.pk}"' in card  # the card reloads to show the outcome

    # without ?job the card still lists the build's recent batch predictions
    card = _batch_card(client.get(reverse("automl:detail", args=[build.pk])).content.decode())
    assert 'id="started-job"' not in card and f'id="job-{job.pk}"' in card

    # someone else's job id shows nothing
    foreign = Job.objects.create(kind="automl.batch_predict", project=project_b, created_by=outsider, params={})
    card = _batch_card(client.get(f"{reverse('automl:detail', args=[build.pk])}?job={foreign.pk}").content.decode())
    assert 'id="started-job"' not in card and f"job:{foreign.pk}" not in card and f"job-{foreign.pk}" not in card
