"""What the Model Registry holds in a project, for the storage report."""

from __future__ import annotations

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from apps.core.assets import AssetCount, register_asset_counter
from apps.registry.models import ModelGroup, ModelVersion


@register_asset_counter("registry")
def count_registry(project_id: int) -> list[AssetCount]:
    versions = ModelVersion.objects.filter(project_id=project_id).aggregate(
        n=Count("pk"), size=Coalesce(Sum("artifact__size"), 0)
    )
    counts = [
        AssetCount("model groups", ModelGroup.objects.filter(project_id=project_id).count(), 0),
        AssetCount("model versions", versions["n"], int(versions["size"])),
    ]
    return [c for c in counts if c.count]
