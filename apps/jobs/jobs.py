"""Job kinds of the jobs app itself: the project storage report (its kind keeps the name it was created with,
"core.storage_report", which job rows and API clients use)."""

from __future__ import annotations

from typing import Any

from apps.core.assets import asset_counters
from apps.core.storage import project_root, walk_files
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext


@job_kind("core.storage_report", title="Project storage report", max_attempts=3)
def storage_report(ctx: JobContext) -> dict[str, Any]:
    """Counts and bytes per asset type (database records) and per storage folder (files) of one project."""
    counters = asset_counters()
    assets_out: list[dict[str, Any]] = []
    steps = len(counters) + 1
    for i, (name, counter) in enumerate(sorted(counters.items())):
        ctx.progress(i / steps, f"Counting {name}")
        for item in counter(ctx.project_id):
            assets_out.append({"type": item.asset_type, "count": item.count, "bytes": item.bytes})
        ctx.log(f"Counted {name}")
    ctx.progress(len(counters) / steps, "Walking project storage")
    folders: dict[str, dict[str, int]] = {}
    root = project_root(ctx.project_id)
    files = 0
    for path, size in walk_files(root):
        folder = path[len(root) + 1 :].split("/", 1)[0] if "/" in path[len(root) + 1 :] else "(top level)"
        entry = folders.setdefault(folder, {"files": 0, "bytes": 0})
        entry["files"] += 1
        entry["bytes"] += size
        files += 1
        if files % 200 == 0:
            ctx.progress(min(0.99, (len(counters) + 0.5) / steps), f"Walked {files} files")
    ctx.log(f"Walked {files} files in {len(folders)} folders")
    storage = [{"folder": k, **v} for k, v in sorted(folders.items())]
    return {
        "assets": assets_out,
        "storage": storage,
        "total_files": files,
        "total_storage_bytes": sum(f["bytes"] for f in storage),
        "total_record_bytes": sum(a["bytes"] for a in assets_out),
    }
