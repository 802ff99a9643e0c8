"""What Canvas holds in a project, for the storage report."""

from __future__ import annotations

from apps.automl.models import AutomlBuild, TuningJob
from apps.core.assets import AssetCount, register_asset_counter


@register_asset_counter("automl")
def count_automl(project_id: int) -> list[AssetCount]:
    counts = [
        AssetCount("AutoML builds", AutomlBuild.objects.filter(project_id=project_id).count(), 0),
        AssetCount("tuning jobs", TuningJob.objects.filter(project_id=project_id).count(), 0),
    ]
    return [c for c in counts if c.count]
