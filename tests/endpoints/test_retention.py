"""Retention (services.retention_sweep, beat task endpoints.retention): finished asynchronous requests and their
result files, captured request files and per-minute metrics are forgotten after their settings; newer ones and
anything with retention 0 stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.core.storage import storage
from apps.endpoints import services
from apps.endpoints.choices import AsyncStatus
from apps.endpoints.models import AsyncInvocation, EndpointMetric
from apps.endpoints.serving.capture import capture_file
from apps.endpoints.tasks import retention

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 15, 12, 30, tzinfo=UTC)


@pytest.fixture
def endpoint(project_a, mlops_user, version):  # type: ignore[no-untyped-def]
    endpoint, _ = services.endpoint_create(
        project=project_a, user=mlops_user, name="bulk", endpoint_type="async", variants=[{"model_version": version}]
    )
    return endpoint


def finished(endpoint, age: timedelta, status: str = AsyncStatus.SUCCEEDED) -> AsyncInvocation:  # type: ignore[no-untyped-def]
    invocation = AsyncInvocation.objects.create(
        endpoint=endpoint, content_type="text/csv", input_path="", expires_at=NOW, status=status, finished_at=NOW - age
    )
    invocation.output_path = storage().save(
        f"{services.async_dir(endpoint)}/{invocation.inference_id.hex}.out.json", ContentFile(b'{"predictions": [1]}')
    )
    invocation.save()
    return invocation


def captured(project_id: int, name: str, when: datetime) -> str:
    return storage().save(capture_file(project_id, name, when), ContentFile(b'{"inference_id": "x"}\n'))


def test_old_async_requests_go_with_their_files_new_ones_stay(endpoint, settings) -> None:
    settings.SERVING_ASYNC_RETENTION_S = 24 * 3600
    old = finished(endpoint, timedelta(days=2))
    failed = finished(endpoint, timedelta(hours=25), status=AsyncStatus.FAILED)
    fresh = finished(endpoint, timedelta(hours=2))
    queued = AsyncInvocation.objects.create(
        endpoint=endpoint, content_type="text/csv", input_path="x", expires_at=NOW + timedelta(hours=1)
    )
    counts = services.retention_sweep(now=NOW)
    assert counts["async_requests"] == 2
    assert set(AsyncInvocation.objects.values_list("pk", flat=True)) == {fresh.pk, queued.pk}
    assert not storage().exists(old.output_path) and not storage().exists(failed.output_path)
    assert storage().exists(fresh.output_path)


def test_capture_files_older_than_the_retention_are_deleted_by_hour(endpoint, project_a, settings) -> None:
    settings.SERVING_CAPTURE_RETENTION_DAYS = 7
    old = [
        captured(project_a.pk, "bulk", NOW - timedelta(days=8)),
        captured(project_a.pk, "bulk", NOW - timedelta(days=40)),
        captured(project_a.pk, "gone-endpoint", NOW - timedelta(days=9)),
    ]  # an endpoint deleted since
    edge = captured(project_a.pk, "bulk", NOW - timedelta(days=7, minutes=-20))  # its hour ends after the cutoff
    new = captured(project_a.pk, "bulk", NOW - timedelta(hours=1))
    foreign = storage().save(f"projects/{project_a.pk}/endpoints/bulk/capture/notes/readme.txt", ContentFile(b"x"))
    counts = services.retention_sweep(now=NOW)
    assert counts["capture_files"] == 3
    assert [storage().exists(p) for p in old] == [False, False, False]
    assert storage().exists(edge) and storage().exists(new) and storage().exists(foreign)


def test_metrics_older_than_the_retention_are_deleted(endpoint, settings) -> None:
    settings.SERVING_METRICS_RETENTION_DAYS = 30
    for days in (31, 29):
        EndpointMetric.objects.create(
            endpoint=endpoint, variant="variant-1", minute=NOW - timedelta(days=days), invocations=5
        )
    assert services.retention_sweep(now=NOW)["metric_minutes"] == 1
    assert list(EndpointMetric.objects.values_list("minute", flat=True)) == [NOW - timedelta(days=29)]


def test_zero_keeps_everything(endpoint, project_a, settings) -> None:
    settings.SERVING_ASYNC_RETENTION_S = 0
    settings.SERVING_CAPTURE_RETENTION_DAYS = 0
    settings.SERVING_METRICS_RETENTION_DAYS = 0
    finished(endpoint, timedelta(days=400))
    path = captured(project_a.pk, "bulk", NOW - timedelta(days=400))
    EndpointMetric.objects.create(endpoint=endpoint, variant="v", minute=NOW - timedelta(days=400))
    assert services.retention_sweep(now=NOW) == {"async_requests": 0, "capture_files": 0, "metric_minutes": 0}
    assert storage().exists(path) and AsyncInvocation.objects.count() == 1 and EndpointMetric.objects.count() == 1


def test_the_beat_task_runs_the_sweep_and_is_scheduled(endpoint, settings) -> None:
    settings.SERVING_ASYNC_RETENTION_S = 60
    finished(endpoint, timezone.now() - NOW + timedelta(hours=1))
    assert retention() == {"async_requests": 1, "capture_files": 0, "metric_minutes": 0}
    assert settings.CELERY_BEAT_SCHEDULE["endpoints-retention"]["task"] == "endpoints.retention"
