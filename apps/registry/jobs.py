"""Job kinds of the registry. Thin: each calls one service that re-reads its inputs."""

from __future__ import annotations

from typing import Any

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext


@job_kind("registry.compile_forests", title="Compile forests to native code", max_attempts=2)
def compile_forests(ctx: JobContext) -> dict[str, Any]:
    from apps.registry.services import version_forests_compile

    return version_forests_compile(ctx)
