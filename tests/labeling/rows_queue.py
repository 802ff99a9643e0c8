"""Permission-matrix rows for the labeling routes of the queue part (joined in tests/labeling/test_permissions.py).

Worker routes: the Labeler and admins (USE_LABELING). A task is one worker's claim, so another worker's task is a 404
for everyone, admins included (OWNER); a job of another team is a 404 for the Labeler (PROJECT)."""

from __future__ import annotations

from typing import Any

from tests.permissions import (
    ADMIN,
    LABELING,
    OWNER,
    PROJECT,
    ListRow,
    Route,
    User,
    World,
    get,
    labeling_job_kw,
    labeling_task_kw,
    post,
)


def answer_data(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"answer": {"label": "pos"}, "time_spent_ms": 1200}


ROUTES: dict[str, Route] = {
    # The Labeler gets back the claim the world gave them; an admin claims the next item (admins see every job).
    "api:labeling-job-next-task": Route((post(LABELING, 200),), labeling_job_kw, foreign=PROJECT),
    # The world's task is the Labeler's: an admin is not its worker (404).
    "api:labeling-task-answers": Route(
        (post(LABELING, 201, ok_for={ADMIN: 404}, data=answer_data),), labeling_task_kw, foreign=OWNER
    ),
    "api:labeling-task-skip": Route((post(LABELING, 204, ok_for={ADMIN: 404}),), labeling_task_kw, foreign=OWNER),
    "api:labeling-work-list": Route((get(LABELING),)),
}
LISTS: list[ListRow] = []  # the work list is the Labeler's (tests/labeling/test_queue_api.py checks its scope)
