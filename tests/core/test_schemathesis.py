"""A bounded schemathesis run over the whole OpenAPI schema (`/api/schema/`), in this process through the WSGI app,
with an admin's API token: no server error, every response documented (status code) and matching its documented
schema. Deterministic: a fixed number of examples per operation, derandomized generation, no shrinking.

Data is set up first (two projects, a dataset with a version, a flow, an AutoML build row, an approved model
version, an endpoint with a key, jobs) and path ids are drawn half of the time from the real objects' ids, so the
run reaches past the 404s. Job-starting operations answer 202 with a queued job: the test transaction never
commits, so nothing is enqueued and no worker is needed."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import schemathesis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts.services import api_token_create

EXAMPLES_PER_OPERATION = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _fuzz(
    operation: Any,
    real_ids: list[int],
    headers: dict[str, str],
    cases: Counter[str],
    statuses: Counter[int],
    failures: dict[str, dict[str, str]],
) -> None:
    """EXAMPLES_PER_OPERATION generated requests to one operation; every check failure recorded (not raised)."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: Any) -> None:
        case = data.draw(operation.as_strategy())
        if "id" in (case.path_parameters or {}) and real_ids and data.draw(st.booleans()):
            case.path_parameters["id"] = data.draw(st.sampled_from(real_ids))
        response = case.call(headers=headers)
        cases[operation.label] += 1
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = f"{response.status_code} {type(failure).__name__}: {failure.title}"
                message = " ".join(str(getattr(failure, "message", "")).split())[:400]
                failures[operation.label].setdefault(
                    key, f"{message} [{case.path_parameters} {case.query} {case.body!r:.200}]"
                )

    run()


def test_the_whole_api_meets_its_schema(db, wsgi_app, world, admin_user) -> None:  # type: ignore[no-untyped-def]
    _, key = api_token_create(user=admin_user, name="schemathesis")
    headers = {"Authorization": f"Token {key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: dict[str, dict[str, str]] = defaultdict(dict)
    started = time.monotonic()

    for operation in operations:
        _fuzz(operation, world.get(operation.path.split("/")[2], []), headers, cases, statuses, failures)

    elapsed = time.monotonic() - started
    kinds = Counter(key.split(": ")[0].split(" ")[1] for texts in failures.values() for key in texts)
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    summary = (
        f"schemathesis: {len(operations)} operations, {sum(cases.values())} cases "
        f"({EXAMPLES_PER_OPERATION} per operation), {server_errors} server errors, "
        f"{kinds['JsonSchemaError']} response-schema violations, {kinds['UndefinedStatusCode']} undocumented statuses, "
        f"{kinds['UndefinedContentType']} undocumented content types, {elapsed:.0f} s; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    details = [
        f"  {label}: {key}\n      {example}"
        for label, texts in sorted(failures.items())
        for key, example in texts.items()
    ]
    report = "\n".join([summary, *details])
    print(report)
    folder = Path(django_settings.VAR_DIR) / "test"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"schemathesis-{django_settings.TEST_RUN}.txt").write_text(report)  # for pytest's terminal summary
    assert server_errors == 0, report
    assert not failures, report
