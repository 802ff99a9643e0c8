"""What the Data Wrangler holds in a project, for the storage report."""

from __future__ import annotations

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from apps.core.assets import AssetCount, register_asset_counter
from apps.datasets.models import Dataset, DatasetVersion, Flow, FlowAnalysis, ProfileReport


@register_asset_counter("datasets")
def count_datasets(project_id: int) -> list[AssetCount]:
    versions = DatasetVersion.objects.filter(project_id=project_id).aggregate(
        n=Count("pk"), size=Coalesce(Sum("bytes"), 0)
    )
    reports = ProfileReport.objects.filter(project_id=project_id).aggregate(
        n=Count("pk"), size=Coalesce(Sum("bytes"), 0)
    )
    counts = [
        AssetCount("datasets", Dataset.objects.filter(project_id=project_id, latest_version__isnull=False).count(), 0),
        AssetCount("dataset versions", versions["n"], int(versions["size"])),
        AssetCount("flows", Flow.objects.filter(project_id=project_id).count(), 0),
        AssetCount("flow analyses", FlowAnalysis.objects.filter(flow__project_id=project_id).count(), 0),
        AssetCount("profile reports", reports["n"], int(reports["size"])),
    ]
    return [c for c in counts if c.count]  # like the jobs counter: only what the project holds
