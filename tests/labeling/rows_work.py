"""Permission-matrix rows for the labeling routes of the work part (joined in tests/labeling/test_permissions.py).

The work pages are the Labeler persona's (and admins'); another team's job is a 404 for a labeler (the world's
project-B job belongs to B's team). That My work lists only the user's teams' jobs is tested in
tests/labeling/test_work_views.py (the matrix's list check probes studio personas, who have no My work)."""

from __future__ import annotations

from tests.permissions import LABELING, PROJECT, ListRow, Route, get, labeling_job_kw

ROUTES: dict[str, Route] = {
    "labeling:my_work": Route((get(LABELING),)),
    "labeling:work": Route((get(LABELING),), kwargs=labeling_job_kw, foreign=PROJECT),
}
LISTS: list[ListRow] = []
