"""The persona × route matrix's rows for core (health, home, storage report, notifications, the API schema).

The harness, and what a row means: tests/permissions.py."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Membership
from apps.accounts.services import api_token_create
from tests.permissions import (
    ADMIN,
    ANON,
    DS,
    LABELER,
    MEMBERS_OF_A,
    ListRow,
    Route,
    World,
    app_routes,
    body,
    client_of,
    handled_methods,
    linked_ids,
    matrix_tests,
    resolver_routes,
    view_app,
)

ROUTES: dict[str, Route] = {}  # core serves no route of its own: its pieces are used by every app

LISTS: list[ListRow] = []

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests


# --- across apps: every route has its row, in its app's file ----------------------------------------------------


def test_every_route_has_a_row_in_its_apps_file() -> None:
    """A route added later without a row fails here; its row goes in tests/<app>/test_permissions.py of the app
    whose view answers it."""
    named, unnamed = resolver_routes()
    assert not unnamed, f"URL patterns without a name cannot be classified: {unnamed}"
    rows = app_routes()
    seen: dict[str, str] = {}
    for app, routes in rows.items():
        for name in routes:
            assert name not in seen, f"{name} has rows in both tests/{seen[name]}/ and tests/{app}/"
            seen[name] = app
    missing = sorted(
        f"{name} (tests/{view_app(view)}/test_permissions.py)" for name, view in named.items() if name not in seen
    )
    assert not missing, f"Routes without a row (classify who may reach them): {missing}"
    misplaced = sorted(
        f"{name}: tests/{seen[name]}/, not tests/{view_app(view)}/"
        for name, view in named.items()
        if seen[name] != view_app(view)
    )
    assert not misplaced, f"Rows in another app's file: {misplaced}"
    stale = sorted(seen.keys() - named.keys())
    assert not stale, f"Rows for routes that no longer exist: {stale}"


def test_every_method_of_every_route_is_probed() -> None:
    """A view that starts answering PUT or DELETE, say, needs its probe (and its persona rule) in its app's rows."""
    named, _ = resolver_routes()
    routes = {name: route for app in app_routes().values() for name, route in app.items()}
    unprobed = {}
    for name, view in named.items():
        methods = handled_methods(view)
        probed = {probe.method for probe in routes[name].probes} if name in routes else set()
        if methods is not None and methods - probed:
            unprobed[name] = sorted(methods - probed)
    assert not unprobed, f"methods without a probe: {unprobed}"


def test_foreign_cases_cover_every_project_scoped_persona() -> None:
    """The 404 test is not vacuous: most object routes are open to members of A."""
    routes = {name: route for app in app_routes().values() for name, route in app.items()}
    covered = {
        name
        for name, route in routes.items()
        if route.foreign and any(set(MEMBERS_OF_A) & probe.who for probe in route.probes)
    }
    assert {
        "jobs:detail",
        "jobs:cancel",
        "api:job-detail",
        "api:job-cancel",
        "accounts:project_detail",
        "api:project-detail",
        "accounts:workteam_detail",
        "api:workteam-detail",
        "api:storage-report-start",
        "accounts:project_switch",
        "datasets:detail",
        "datasets:report",
        "datasets:flow_detail",
        "datasets:flow_run",
        "api:dataset-detail",
        "api:dataset-version-rows",
        "api:dataset-version-download",
        "api:dataset-version-profile",
        "api:flow-preview",
        "api:flow-run",
        "unsupervised:detail",
        "api:unsupervised-detail",
        "automl:tuning_detail",
        "api:tuning-trials",
        "registry:version",
        "registry:version_approval",
        "api:model-version-detail",
        "api:model-version-approval",
        "endpoints:detail",
        "endpoints:update",
        "api:endpoint-detail",
        "api:endpoint-keys",
    } <= covered


def test_home_lists_only_the_current_projects_jobs(world: World) -> None:
    response = client_of("workspace:home", world.users[DS]).get(reverse("workspace:home"))
    assert linked_ids(body(response), "jobs:detail") == {world.jobs["a"].pk}


# --- the Django admin console ---------------------------------------------------------------------------


def _make_rows(world: World) -> dict[str, Callable[[], object]]:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    attempt = {
        "username": "dana",
        "ip_address": "192.0.2.1",
        "user_agent": "probe",
        "http_accept": "*/*",
        "path_info": "/accounts/login/",
    }
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    from apps.core.models import Artifact, Notification
    from apps.jobs.models import WorkerHeartbeat

    def periodic_task() -> object:
        interval = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
        return PeriodicTask.objects.create(name="matrix-task", task="jobs.reap", interval=interval)

    return {
        "auth.Group": lambda: Group.objects.get_or_create(name="Matrix group")[0],
        "django_celery_beat.PeriodicTask": periodic_task,
        "django_celery_beat.ClockedSchedule": lambda: ClockedSchedule.objects.create(clocked_time=timezone.now()),
        "django_celery_beat.CrontabSchedule": lambda: CrontabSchedule.objects.create(minute="5", hour="*"),
        "django_celery_beat.SolarSchedule": lambda: SolarSchedule.objects.create(
            event="sunrise", latitude="48.85", longitude="2.35"
        ),
        "django_celery_beat.IntervalSchedule": lambda: IntervalSchedule.objects.create(every=5, period="minutes"),
        "core.Notification": lambda: Notification.objects.create(user=world.users[DS], title="Job done"),
        "core.Artifact": lambda: Artifact.objects.create(
            project=world.projects["a"],
            kind="automl.model",
            path="projects/1/artifacts/x/model.bin",
            sha256="0" * 64,
            size=1,
            signature="0" * 64,
        ),
        "accounts.User": lambda: world.users[DS],
        "accounts.Project": lambda: world.projects["a"],
        "accounts.Membership": lambda: Membership.objects.first(),
        "accounts.Invitation": lambda: world.invitation,
        "accounts.WorkTeam": lambda: world.teams["a"],
        "accounts.APIToken": lambda: api_token_create(user=world.users[DS], name="console")[0],
        "jobs.Job": lambda: world.jobs["a"],
        "jobs.WorkerHeartbeat": lambda: WorkerHeartbeat.objects.create(hostname="w1@host", pid=1),
        "datasets.Dataset": lambda: world.data.datasets["a"],
        "datasets.DatasetVersion": lambda: world.data.versions["a"],
        "datasets.ProfileReport": lambda: world.data.reports["a"],
        "datasets.Flow": lambda: world.data.flows["a"],
        "datasets.FlowAnalysis": lambda: world.data.analyses["a"],
        "datasets.DataConnection": lambda: _data_connection(world),
        "automl.AutomlBuild": lambda: world.builds["a"],
        "automl.AutomlCandidateModel": lambda: world.builds["a"].fitted_candidates.create(
            project=world.projects["a"], name="linear-0"
        ),
        "unsupervised.UnsupervisedRun": lambda: world.runs["a"],
        "clarify.ClarifyReport": lambda: world.clarify_reports["a"],
        "automl.TuningJob": lambda: world.tunings["a"],
        "registry.ModelGroup": lambda: world.model_groups["a"],
        "registry.ModelVersion": lambda: world.model_versions["a"],
        "registry.ModelAlias": lambda: _model_alias(world),
        "registry.ApprovalEvent": lambda: world.model_versions["a"].approval_events.first(),
        "endpoints.Endpoint": lambda: world.endpoints["a"],
        "endpoints.EndpointVariant": lambda: world.endpoints["a"].variants.first(),
        "endpoints.EndpointKey": lambda: world.endpoints["a"].keys.first(),
        "endpoints.EndpointMetric": lambda: world.endpoints["a"].metrics.create(
            variant="variant-1", minute=timezone.now()
        ),
        "endpoints.AsyncInvocation": lambda: world.endpoints["a"].async_invocations.create(
            content_type="text/csv", input_path="projects/1/endpoints/x/async/in", expires_at=timezone.now()
        ),
        "endpoints.BatchTransform": lambda: world.batch_transforms["a"],
        "core.WebhookDelivery": lambda: _webhook_delivery(world),
        "labeling.LabelingJob": lambda: world.labeling_jobs["a"],
        "labeling.LabelingItem": lambda: world.labeling_items("a"),
        "labeling.LabelingTask": lambda: world.labeling_tasks("a"),
        "labeling.LabelingExport": lambda: world.labeling_jobs["a"].exports.create(
            project=world.projects["a"], format="csv", item_count=2
        ),
        "labeling.AutoLabelRound": lambda: world.labeling_jobs["a"].auto_rounds.create(number=1),
        "axes.AccessAttempt": lambda: AccessAttempt.objects.create(
            **attempt, get_data="", post_data="", failures_since_start=3
        ),
        "axes.AccessLog": lambda: AccessLog.objects.create(**attempt),
        "axes.AccessFailureLog": lambda: AccessFailureLog.objects.create(**attempt),
    }


def _webhook_delivery(world: World) -> object:
    from apps.core.webhooks import webhook_send

    endpoint = world.endpoints["a"]
    return webhook_send(
        subscriber=endpoint,
        project_id=endpoint.project_id,
        url="https://hooks.example.com/in",
        event="async_invocation.completed",
        payload={"status": "succeeded"},
    )


def _model_alias(world: World) -> object:
    from apps.registry.services import alias_set

    return alias_set(version=world.model_versions["a"], name="champion")


def _data_connection(world: World) -> object:
    from apps.datasets.models import DataConnection

    connection = DataConnection.objects.create(name="warehouse", url="sqlite:////srv/none.db")
    connection.projects.set([world.projects["a"]])
    return connection


def changelist_names() -> list[str]:
    return sorted(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist" for model in admin.site._registry
    )


OUR_APPS = {"accounts", "core", "jobs", "datasets", "automl", "unsupervised", "registry", "endpoints"}


def test_every_model_of_our_apps_is_registered_with_a_useful_list_display() -> None:
    from django.apps import apps

    for label in OUR_APPS:
        for model in apps.get_app_config(label).get_models():
            assert model in admin.site._registry, f"{model._meta.label} is not in the admin console"
            columns = admin.site._registry[model].list_display
            assert len(columns) >= 3 and "__str__" not in columns, f"{model._meta.label}: list_display {columns}"


@pytest.mark.parametrize("persona", [ANON, DS, LABELER])
def test_admin_console_is_for_staff_only(world: World, persona: str) -> None:
    client = client_of("admin:index", world.users.get(persona))
    login = reverse("admin:login")
    for name in ["admin:index", *changelist_names()]:
        url = reverse(name)
        response = client.get(url)
        assert response.status_code == 302, name
        target = urlparse(response["Location"])
        assert (target.path, parse_qs(target.query).get("next")) == (login, [url]), name


def test_admin_console_changelists_work_with_rows(world: World) -> None:
    makers = _make_rows(world)
    registered = {model._meta.label: model for model in admin.site._registry}
    assert set(makers) == set(registered), "add a row maker for each newly registered model"
    for make in makers.values():
        make()
    client = client_of("admin:index", world.users[ADMIN])
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    for label, model in sorted(registered.items()):
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url)
        assert response.status_code == 200, label
        assert response.context["cl"].result_count >= 1, label
        assert url in body(index), f"{label} is not linked from the admin index"
