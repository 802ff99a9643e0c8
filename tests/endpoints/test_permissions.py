"""The persona × route matrix's rows for endpoints (UI under /deployments/; /endpoints/ is the serving path,
outside Django).

The harness, and what a row means: tests/permissions.py."""

from __future__ import annotations

from tests.permissions import (
    DEPLOYERS,
    PROJECT,
    STUDIO,
    ListRow,
    Route,
    batch_transform_kw,
    endpoint_key_kw,
    endpoint_kw,
    get,
    matrix_tests,
    post,
    spare_endpoint_kw,
)

ROUTES: dict[str, Route] = {
    # Endpoints (UI under /deployments/; /endpoints/ is the serving path, outside Django): studio personas read;
    # deploying, updating and keys need DEPLOY_MODELS (MLOps engineers, admins); batch transforms need RUN_JOBS
    "endpoints:list": Route((get(STUDIO),)),
    "endpoints:create": Route((get(DEPLOYERS), post(DEPLOYERS, 400))),  # POST without data: the form's errors
    "endpoints:detail": Route((get(STUDIO),), kwargs=endpoint_kw, foreign=PROJECT),
    "endpoints:update": Route((post(DEPLOYERS, 400),), kwargs=endpoint_kw, foreign=PROJECT),  # no version given
    "endpoints:delete": Route((post(DEPLOYERS, 302),), kwargs=spare_endpoint_kw, foreign=PROJECT),
    "endpoints:key_create": Route((post(DEPLOYERS, 302),), kwargs=endpoint_kw, foreign=PROJECT),  # shown once
    "endpoints:try_key": Route((post(DEPLOYERS, 201),), kwargs=endpoint_kw, foreign=PROJECT),
    "endpoints:key_revoke": Route((post(DEPLOYERS, 302),), kwargs=endpoint_key_kw, foreign=PROJECT),
    "endpoints:webhook_secret_rotate": Route((post(DEPLOYERS, 302),), kwargs=endpoint_kw, foreign=PROJECT),
    "endpoints:batch_list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without data: the form's errors
    "endpoints:batch_detail": Route((get(STUDIO),), kwargs=batch_transform_kw, foreign=PROJECT),
    "api:endpoint-list": Route((get(STUDIO), post(DEPLOYERS, 400))),  # POST without project
    "api:endpoint-detail": Route((get(STUDIO),), kwargs=endpoint_kw, foreign=PROJECT),
    "api:endpoint-update": Route((post(DEPLOYERS, 400),), kwargs=endpoint_kw, foreign=PROJECT),  # no version
    "api:endpoint-keys": Route((get(STUDIO), post(DEPLOYERS, 201)), kwargs=endpoint_kw, foreign=PROJECT),
    "api:endpoint-metrics": Route((get(STUDIO),), kwargs=endpoint_kw, foreign=PROJECT),
    "api:endpoint-webhook-deliveries": Route((get(STUDIO),), kwargs=endpoint_kw, foreign=PROJECT),
    "api:endpoint-webhook-secret": Route((get(DEPLOYERS), post(DEPLOYERS, 200)), kwargs=endpoint_kw, foreign=PROJECT),
    "api:endpoint-key-revoke": Route((post(DEPLOYERS, 200),), kwargs=endpoint_key_kw, foreign=PROJECT),
    "api:batch-transform-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without data
    "api:batch-transform-detail": Route((get(STUDIO),), kwargs=batch_transform_kw, foreign=PROJECT),
}

LISTS: list[ListRow] = [
    ("api:endpoint-list", "", None, "endpoints"),
    ("api:batch-transform-list", "", None, "batch_transforms"),
]

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests
