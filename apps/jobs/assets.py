from __future__ import annotations

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce, Length

from apps.core.assets import AssetCount, register_asset_counter
from apps.jobs.models import Job


@register_asset_counter("jobs")
def count_jobs(project_id: int) -> list[AssetCount]:
    rows = (
        Job.objects.filter(project_id=project_id)
        .values("kind")
        .annotate(n=Count("pk"), size=Coalesce(Sum(Length("log")), 0) + Coalesce(Sum(Length("error")), 0))
        .order_by("kind")
    )
    return [AssetCount(f"job: {row['kind']}", row["n"], int(row["size"])) for row in rows]
