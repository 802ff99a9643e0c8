"""Post/Redirect/Get on every HTML form: a POST that succeeds answers with a redirect, so a refresh never sends the
form again ("already exists" after Deploy) and what the POST started is shown by a GET page. The URL resolver is
walked for every UI view that accepts POST; each is classified below with a request that succeeds (real fixtures),
and a view added later without a row makes `test_every_post_view_is_classified` fail.

Not redirects, on purpose (NOT_PAGES): JSON answers to the page's own scripts, and the flow editor's step
preview, which computes an unsaved draft's output and writes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.accounts.models import APIToken, Invitation, User
from apps.accounts.services import api_token_create, invitation_create, work_team_invitation_create, work_team_save
from apps.jobs.models import Job

NOT_PAGES = {
    "endpoints:try_key": "JSON for the endpoint page's try-it box (fetch), not a form submission",
    "labeling:preview": "HTML of the new-job form's Markdown preview (fetch), writes nothing",
}


def post_views() -> dict[str, Any]:
    """Every named, non-API, non-admin route whose view accepts POST: {namespace:name: view class}."""
    out: dict[str, Any] = {}

    def walk(resolver: URLResolver, namespace: str) -> None:
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                ns = ":".join(x for x in (namespace, p.namespace or "") if x)
                if ns.split(":")[0] not in ("admin", "api"):
                    walk(p, ns)
            elif isinstance(p, URLPattern) and p.name:
                view = getattr(p.callback, "view_class", None)
                module = getattr(view, "__module__", "")
                if view is not None and hasattr(view, "post") and ".api" not in module:
                    out[f"{namespace}:{p.name}" if namespace else p.name] = view

    walk(get_resolver(), "")
    return out


@dataclass
class World:
    admin: User
    ds: User
    mlops: User
    project: Any
    other_project: Any
    media: Any

    @cached_property
    def version(self) -> Any:
        from tests.factories import DatasetVersionFactory

        rng = range(40)
        frame = pd.DataFrame(
            {
                "x": [float(i % 7) for i in rng],
                "kind": ["a" if i % 3 else "b" for i in rng],
                "churn": ["yes" if i % 2 else "no" for i in rng],
            }
        )
        return DatasetVersionFactory(project=self.project, created_by=self.ds, frame=frame, name="customers")

    @cached_property
    def flow(self) -> Any:
        from apps.datasets import services as data_services

        flow = data_services.flow_create(project=self.project, created_by=self.ds, name="prep", sources=[self.version])
        flow, _, _ = data_services.flow_step_add(
            flow=flow, op="drop_columns", parameters={"columns": ["kind"]}, inputs=[flow.sources[0]["id"]], label=""
        )
        return flow

    @cached_property
    def analysis(self) -> Any:
        from apps.datasets import services as data_services

        return data_services.flow_analysis_add(
            flow=self.flow,
            created_by=self.ds,
            kind="histogram",
            step_id=self.flow.steps[0]["id"],
            params={"column": "x"},
        )

    @cached_property
    def build(self) -> Any:
        from tests.factories import binary_frame, trained_build

        return trained_build(self.project, self.ds, binary_frame(60), "churn", budget=15.0)

    @cached_property
    def scoring_version(self) -> Any:
        """Rows with the columns `model_version` reads (x1, x2, colour)."""
        from tests.factories import DatasetVersionFactory, training_frame

        return DatasetVersionFactory(project=self.project, created_by=self.ds, frame=training_frame(n=20), name="score")

    @cached_property
    def model_version(self) -> Any:
        from tests.factories import binary_model, register

        return register(self.project, self.mlops, binary_model(), approve_by=self.mlops)

    @cached_property
    def endpoint(self) -> tuple[Any, str]:
        from apps.endpoints import services

        return services.endpoint_create(
            project=self.project, user=self.mlops, name="prg-endpoint", variants=[{"model_version": self.model_version}]
        )

    @cached_property
    def clarify_report(self) -> Any:
        """A finished data-only bias report (its job run here) on `version`: churn = yes, facet kind = b."""
        from apps.clarify.services import report_start
        from apps.jobs.services import job_run

        report = report_start(
            project=self.project,
            created_by=self.ds,
            dataset_version=self.version,
            config={
                "label": "churn",
                "positive_label_values": ["yes"],
                "label_threshold": None,
                "facets": [{"name": "kind", "values": ["b"], "threshold": None}],
                "group": None,
                "reference": None,
                "probability_threshold": 0.5,
                "explain": {"shap": False, "pdp_features": 0, "pdp_pairs": []},
            },
        )
        job_run(job_id=report.job_id)
        report.refresh_from_db()
        return report

    @cached_property
    def job(self) -> Job:
        return Job.objects.create(kind="core.storage_report", project=self.project, created_by=self.ds)


# Each row: (who posts, URL kwargs, POST data); all three from the world. Files go in the data as uploads.
Row = Callable[[World], tuple[User | None, dict[str, Any], dict[str, Any]]]


def _csv() -> SimpleUploadedFile:
    return SimpleUploadedFile("sales.csv", b"region,qty\neast,1\nwest,2\n", content_type="text/csv")


def _skops() -> SimpleUploadedFile:
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}), np.array([0, 0, 1, 1]))
    return SimpleUploadedFile("model.skops", skops.io.dumps(model), content_type="application/octet-stream")


def _invitation(w: World) -> str:
    _, token = invitation_create(email="new@example.test", personas=["labeler"], project=w.project, created_by=w.admin)
    return token


def _token(w: World) -> APIToken:
    return api_token_create(user=w.ds, name="script")[0]


def _connection(w: World) -> Any:
    from apps.datasets.models import DataConnection

    connection = DataConnection.objects.create(name="warehouse", url=f"sqlite:///{w.media}/none.db")
    connection.projects.set([w.project])
    return connection


def _step_data(w: World) -> dict[str, Any]:
    return {"op": "drop_columns", "inputs": [w.flow.sources[0]["id"]], "p_columns": ["x"], "action": "save"}


SUCCESS: dict[str, Row] = {
    "accounts:login": lambda w: (None, {}, {"username": w.ds.username, "password": "pw-Secret-123"}),
    "accounts:logout": lambda w: (w.ds, {}, {}),
    "accounts:password_change": lambda w: (
        w.ds,
        {},
        {"old_password": "pw-Secret-123", "new_password1": "An0ther-long-pass", "new_password2": "An0ther-long-pass"},
    ),
    "accounts:profile": lambda w: (w.ds, {}, {"time_zone": "Europe/Paris"}),
    "accounts:token_create": lambda w: (w.ds, {}, {"name": "notebook"}),
    "accounts:token_revoke": lambda w: (w.ds, {"pk": _token(w).pk}, {}),
    "accounts:project_list": lambda w: (w.admin, {}, {"name": "Gamma"}),
    "accounts:project_switch": lambda w: (w.admin, {}, {"project": w.other_project.pk, "next": "/"}),
    "accounts:project_member_add": lambda w: (w.admin, {"pk": w.other_project.pk}, {"username": w.ds.username}),
    "accounts:project_member_remove": lambda w: (w.admin, {"pk": w.project.pk, "user_id": w.mlops.pk}, {}),
    "accounts:workteam_list": lambda w: (w.admin, {}, {"name": "Annotators", "members": []}),
    "accounts:workteam_detail": lambda w: (
        w.admin,
        {"pk": work_team_save(project=w.project, name="Team", members=[]).pk},
        {"name": "Team 2", "members": []},
    ),
    "accounts:workteam_invite": lambda w: (
        w.ds,
        {"pk": work_team_save(project=w.project, name="Vendors", kind="vendor").pk},
        {"email": "vendor@example.test"},
    ),
    "accounts:workteam_invitation_revoke": lambda w: (
        w.ds,
        {
            "pk": work_team_invitation_create(
                team=work_team_save(project=w.project, name="Vendors", kind="vendor"),
                email="vendor@example.test",
                created_by=w.ds,
            )[0].pk
        },
        {},
    ),
    "accounts:invitation_list": lambda w: (
        w.admin,
        {},
        {"email": "friend@example.test", "personas": ["labeler"], "project": w.project.pk},
    ),
    "accounts:invitation_revoke": lambda w: (
        w.admin,
        {"pk": _invite_pk(w)},
        {},
    ),
    "accounts:invitation_accept": lambda w: (
        None,
        {"token": _invitation(w)},
        {"username": "newcomer", "password1": "A-long-pass-2024", "password2": "A-long-pass-2024"},
    ),
    "jobs:cancel": lambda w: (w.ds, {"pk": w.job.pk}, {}),
    "datasets:list": lambda w: (w.ds, {}, {"file": _csv(), "name": "sales"}),
    "datasets:import_sql": lambda w: (
        w.ds,
        {},
        {"connection": _connection(w).pk, "name": "orders", "query": "SELECT 1 AS x"},
    ),
    "datasets:detail": lambda w: (w.ds, {"pk": w.version.dataset_id}, {"file": _csv()}),
    "datasets:delete": lambda w: (w.ds, {"pk": w.version.dataset_id}, {}),
    "datasets:retype": lambda w: (w.ds, {"pk": w.version.pk}, {"col_0": "text"}),
    "datasets:profile_start": lambda w: (w.ds, {"pk": w.version.pk}, {"target": "churn"}),
    "datasets:sql": lambda w: (w.ds, {}, {"query": f"SELECT * FROM {_table(w)}", "action": "run"}),
    "datasets:flow_list": lambda w: (w.ds, {}, {"name": "cleanup", "sources": [w.version.pk]}),
    "datasets:flow_step_add": lambda w: (w.ds, {"pk": w.flow.pk}, _step_data(w)),
    "datasets:flow_step_edit": lambda w: (w.ds, {"pk": w.flow.pk, "step_id": w.flow.steps[0]["id"]}, _step_data(w)),
    "datasets:flow_step_delete": lambda w: (w.ds, {"pk": w.flow.pk, "step_id": w.flow.steps[0]["id"]}, {}),
    "datasets:flow_source_add": lambda w: (w.ds, {"pk": w.flow.pk}, {"version": w.version.pk}),
    "datasets:flow_source_delete": lambda w: (w.ds, {"pk": w.flow.pk, "source_id": _extra_source(w)}, {}),
    "datasets:flow_run": lambda w: (w.ds, {"pk": w.flow.pk}, {"output_name": "prepared"}),
    "datasets:flow_delete": lambda w: (w.ds, {"pk": w.flow.pk}, {}),
    "datasets:flow_analysis_add": lambda w: (
        w.ds,
        {"pk": w.flow.pk},
        {"kind": "histogram", "step": w.flow.steps[0]["id"], "column": "x", "agg": "count"},
    ),
    "datasets:flow_analysis_delete": lambda w: (w.ds, {"pk": w.analysis.pk}, {}),
    "unsupervised:list": lambda w: (
        w.ds,
        {},
        {"dataset_version": w.version.pk, "algorithm": "kmeans", "columns": "x", "k": "2", "seed": "0"},
    ),
    "automl:list": lambda w: (
        w.ds,
        {},
        {"dataset_version": w.version.pk, "target": "churn", "mode": "quick", "action": "start"},
    ),
    "automl:select": lambda w: (w.ds, {"pk": w.build.pk}, {"candidate": w.build.best_candidate}),
    "automl:batch_predict": lambda w: (w.ds, {"pk": w.build.pk}, {"dataset_version": w.build.dataset_version_id}),
    "automl:package": lambda w: (w.ds, {"pk": w.build.pk}, {"name": "churn-model"}),
    "automl:tuning_list": lambda w: (
        w.ds,
        {},
        {
            "dataset_version": w.version.pk,
            "target": "churn",
            "algorithm": "linear",
            "strategy": "random",
            "max_trials": 2,
            "max_parallel": 1,
            "seed": 0,
            "ranges": "{}",
        },
    ),
    "clarify:list": lambda w: (
        w.ds,
        {},
        {
            "dataset_version": w.version.pk,
            "label": "churn",
            "label_values": ["yes"],
            "facet_1": "kind",
            "facet_1_values": ["b"],
        },
    ),
    "clarify:thresholds": lambda w: (w.ds, {"pk": w.clarify_report.pk}, {"t_DPL": "0.2"}),
    "clarify:mitigate": lambda w: (w.ds, {"pk": w.clarify_report.pk}, {"kind": "reweigh", "facet": "kind"}),
    "registry:import": lambda w: (w.mlops, {}, {"file": _skops(), "group": "imported", "problem_type": "binary"}),
    "registry:group": lambda w: (w.mlops, {"pk": w.model_version.group_id}, {"description": "d", "tags": ""}),
    "registry:version_approval": lambda w: (w.mlops, {"pk": w.model_version.pk}, {"status": "Rejected"}),
    "registry:version_alias": lambda w: (w.mlops, {"pk": w.model_version.pk}, {"alias": "champion"}),
    "registry:version_edit": lambda w: (
        w.mlops,
        {"pk": w.model_version.pk},
        {"description": "better", "tags": "", "metadata": ""},
    ),
    "endpoints:create": lambda w: (
        w.mlops,
        {},
        {
            "name": "churn-live",
            "type": "realtime",
            "model_version": w.model_version.pk,
            "weight": 1,
            "capture_percent": 0,
            "idle_timeout_s": 300,
            "max_concurrency": 5,
        },
    ),
    "endpoints:update": lambda w: (
        w.mlops,
        {"pk": w.endpoint[0].pk},
        {"variant_version": [w.model_version.pk], "variant_weight": ["1"], "variant_name": ["a"]},
    ),
    "endpoints:webhook_secret_rotate": lambda w: (w.mlops, {"pk": w.endpoint[0].pk}, {}),
    "endpoints:delete": lambda w: (w.mlops, {"pk": w.endpoint[0].pk}, {}),
    "endpoints:key_create": lambda w: (w.mlops, {"pk": w.endpoint[0].pk}, {"name": "app"}),
    "endpoints:key_revoke": lambda w: (w.mlops, {"pk": w.endpoint[0].keys.first().pk}, {}),
    "endpoints:batch_list": lambda w: (
        w.ds,
        {},
        {"model_version": _approved_for_batch(w), "dataset_version": w.scoring_version.pk, "probabilities": "on"},
    ),
    "labeling:create": lambda w: (
        w.ds,
        {},
        {
            "name": "Churn reasons",
            "task_type": "text_classification",
            "source_kind": "dataset",
            "dataset_version": w.version.pk,
            "text_column": "kind",
            "labels_text": "price\nservice",
            "team": _labeling_job(w).team_id,
            "time_limit_s": "600",
        },
    ),
    "labeling:action": lambda w: (w.ds, {"pk": _labeling_job(w).pk}, {"action": "consolidate"}),
    "labeling:review": lambda w: (w.ds, {"pk": _labeling_job(w).pk}, {"item": _reviewable(w), "decision": "accept"}),
    "workspace:storage_report_start": lambda w: (w.ds, {}, {}),
    "workspace:notifications": lambda w: (w.ds, {}, {}),
}


def _invite_pk(w: World) -> int:
    _invitation(w)
    return Invitation.objects.latest("pk").pk


def _table(w: World) -> str:
    from apps.datasets import selectors

    return selectors.sql_table_listing(project=w.project)[0]["name"] if w.version else ""


def _extra_source(w: World) -> str:
    from apps.datasets import services as data_services

    flow = data_services.flow_source_add(flow=w.flow, version=w.version)
    return flow.sources[-1]["id"]


def _labeling_job(w: World) -> Any:
    from tests.factories import labeling_job

    return labeling_job(w.project, created_by=w.ds, workers=[w.mlops], name="PRG labels")


def _reviewable(w: World) -> int:
    """An item of the PRG job consolidated and waiting for review."""
    from apps.labeling.models import LabelingJob

    job = LabelingJob.objects.filter(name="PRG labels").first() or _labeling_job(w)
    item = job.items.order_by("position").first()
    job.items.filter(pk=item.pk).update(consolidated={"label": "pos"}, label_source="human", review_status="pending")
    return item.pk


def _approved_for_batch(w: World) -> int:
    return w.model_version.pk


def _errors(page: str) -> list[str]:
    found = re.findall(r'class="(?:errorlist|messages|error)[^"]*"[^>]*>(.*?)</(?:ul|span|p)>', page, re.S)
    return [re.sub(r"<[^>]+>", " ", f).strip() for f in found] or [page[:300]]


@pytest.fixture
def world(project_a, project_b, admin_user, ds_user, mlops_user, media) -> World:
    for user in (ds_user, mlops_user, admin_user):
        user.set_password("pw-Secret-123")
        user.save()
    return World(
        admin=admin_user, ds=ds_user, mlops=mlops_user, project=project_a, other_project=project_b, media=media
    )


def test_every_post_view_is_classified() -> None:
    """A new form view gets a row in SUCCESS (or a reason in NOT_PAGES)."""
    missing = sorted(set(post_views()) - set(SUCCESS) - set(NOT_PAGES))
    assert not missing, f"classify these POST views in SUCCESS with a request that succeeds: {missing}"
    stale = sorted((set(SUCCESS) | set(NOT_PAGES)) - set(post_views()))
    assert not stale, f"rows for routes that no longer accept POST: {stale}"


@pytest.mark.parametrize("name", sorted(SUCCESS))
def test_a_successful_post_redirects(world: World, name: str) -> None:
    user, kwargs, data = SUCCESS[name](world)
    client = Client()
    if user is not None:
        client.force_login(user)
    url = reverse(name, kwargs=kwargs)
    if name == "registry:import":
        url += f"?project={world.project.pk}"
    response = client.post(url, data)
    assert response.status_code in (302, 303), (
        f"POST {url} answered {response.status_code}, not a redirect: {_errors(response.content.decode())}"
    )
    assert response["Location"], name
    page = client.get(response["Location"])
    assert page.status_code in (200, 302), (name, response["Location"], page.status_code)
