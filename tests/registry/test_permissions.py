"""The persona × route matrix's rows for the Model Registry (UI under /registry/).

The harness, and what a row means: tests/permissions.py."""

from __future__ import annotations

from tests.permissions import (
    APPROVERS,
    PROJECT,
    STUDIO,
    ListRow,
    Probe,
    Route,
    get,
    matrix_tests,
    model_group_kw,
    model_version_kw,
    post,
)

ROUTES: dict[str, Route] = {
    # Model Registry (UI under /registry/): studio personas; approval for MLOps engineers and admins only
    "registry:list": Route((get(STUDIO),)),
    "registry:import": Route((get(STUDIO), post(STUDIO, 400))),  # POST without a file: the form's errors
    "registry:compare": Route((Probe(STUDIO, "get", 400),)),  # no ?versions=: 400 naming it
    "registry:group": Route((get(STUDIO), post(STUDIO, 302)), kwargs=model_group_kw, foreign=PROJECT),
    "registry:version": Route((get(STUDIO),), kwargs=model_version_kw, foreign=PROJECT),
    "registry:version_approval": Route((post(APPROVERS, 400),), kwargs=model_version_kw, foreign=PROJECT),
    "registry:version_alias": Route((post(STUDIO, 302),), kwargs=model_version_kw, foreign=PROJECT),  # no alias
    "registry:version_edit": Route((post(STUDIO, 302),), kwargs=model_version_kw, foreign=PROJECT),
    "registry:version_export": Route((get(STUDIO),), kwargs=model_version_kw, foreign=PROJECT),
    "api:model-group-list": Route((get(STUDIO),)),
    "api:model-group-detail": Route((get(STUDIO),), kwargs=model_group_kw, foreign=PROJECT),
    "api:model-version-list": Route((get(STUDIO),)),
    "api:model-version-detail": Route(
        (get(STUDIO), Probe(STUDIO, "patch")), kwargs=model_version_kw, foreign=PROJECT
    ),  # PATCH {}: nothing changes
    "api:model-version-approval": Route((post(APPROVERS, 400),), kwargs=model_version_kw, foreign=PROJECT),
    "api:model-version-aliases": Route(
        (post(STUDIO, 400), Probe(STUDIO, "delete", 400)), kwargs=model_version_kw, foreign=PROJECT
    ),  # no alias given
    "api:model-version-import": Route((post(STUDIO, 400),)),  # no project
    "api:model-version-export-mlflow": Route((get(STUDIO),), kwargs=model_version_kw, foreign=PROJECT),
}

LISTS: list[ListRow] = [
    ("api:model-group-list", "", None, "model_groups"),
    ("api:model-version-list", "", None, "model_versions"),
]

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests
