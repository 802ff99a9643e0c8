"""Permission-matrix rows for the labeling routes of the quality part (joined in tests/labeling/test_permissions.py).

Studio routes: reads for every studio persona, consolidation and review for those who manage labeling (data
scientists and admins; an MLOps engineer gets 403, a Labeler 403 everywhere: workers never see others' answers).
Another project's job or item is a 404 (PROJECT)."""

from __future__ import annotations

from typing import Any

from tests.permissions import (
    ADMIN,
    DS,
    PROJECT,
    STUDIO,
    ListRow,
    Route,
    User,
    World,
    get,
    labeling_item_kw,
    labeling_job_kw,
    post,
)

MANAGERS = frozenset({ADMIN, DS})  # personas.MANAGE_LABELING


def review_data(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"answer": {"label": "neg"}}  # an adjustment: the world's items have no consolidated label to accept


ROUTES: dict[str, Route] = {
    # The second manager's probe gets back the consolidation the first one queued (202 both times).
    "api:labeling-job-consolidate": Route((post(MANAGERS, 202),), labeling_job_kw, foreign=PROJECT),
    "api:labeling-job-stats": Route((get(STUDIO),), labeling_job_kw, foreign=PROJECT),
    "api:labeling-job-items": Route((get(STUDIO),), labeling_job_kw, foreign=PROJECT),
    "api:labeling-item-review": Route((post(MANAGERS, 200, data=review_data),), labeling_item_kw, foreign=PROJECT),
}
LISTS: list[ListRow] = []  # the items list is one job's (tests/labeling/test_review_api.py checks its scope)
