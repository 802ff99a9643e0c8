"""Persona × route matrix over every UI and API route, built by walking Django's URL resolver.

Each named route is classified once in ROUTES: which personas may reach it, how to build its URL
for an object of project A or of project B, and which harmless requests probe it. A route added
later without a classification makes `test_every_route_is_classified` fail.

Expected outcomes:
- anonymous: UI → 302 to the login page with ?next=<path>; API → 401 + `WWW-Authenticate: Token`;
- a persona outside the route's set → 403 (a Labeler on every studio route);
- a member of project A only, asking for an object of project B → 404 (never 403), nothing leaked,
  nothing changed; an admin reaches both projects' objects;
- list pages and list APIs show an A-only member no object of project B.
The Django admin (/admin/) is checked separately: staff only, every registered model's changelist works.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.views.generic.edit import ProcessFormView
from rest_framework.test import APIClient

from apps.accounts.models import APIToken, Invitation, Membership, Project, User, WorkTeam
from apps.accounts.services import api_token_create, invitation_create, work_team_save
from apps.jobs.models import Job

ANON, ADMIN, DS, MLOPS, LABELER = "anonymous", "admin", "data_scientist", "mlops_engineer", "labeler"
SIGNED_IN = frozenset({ADMIN, DS, MLOPS, LABELER})
PUBLIC = SIGNED_IN | {ANON}
STUDIO = frozenset({ADMIN, DS, MLOPS})
LABELING = frozenset({ADMIN, LABELER})
APPROVERS = frozenset({ADMIN, MLOPS})  # personas.APPROVE_MODELS
DEPLOYERS = frozenset({ADMIN, MLOPS})  # personas.DEPLOY_MODELS
WORKTEAM_MANAGERS = frozenset({ADMIN, DS})  # personas.MANAGE_WORKTEAMS
ADMIN_ONLY = frozenset({ADMIN})
MEMBERS_OF_A = (DS, MLOPS, LABELER)  # non-admin personas, members of project A only

# Marks that only project B's objects carry: they must never appear in an A member's response.
B_MARKS = ("Bravo", "bravo-secret-job", "Bravo secret team", "bravo_secret_column", "bravo-secret-model")


@dataclass
class DataWorld:
    """Data Wrangler objects of both projects: a dataset with one version, a profile report, a flow with one step
    and an analysis (built on first use: most routes do not need them)."""

    datasets: dict[str, Any]
    versions: dict[str, Any]
    reports: dict[str, Any]
    flows: dict[str, Any]
    analyses: dict[str, Any]


def _build_data(projects: dict[str, Project], owners: dict[str, User]) -> DataWorld:
    import pandas as pd

    from apps.datasets import services as data_services
    from apps.datasets import storage as data_files
    from apps.datasets.models import FlowAnalysis, ProfileReport

    out: dict[str, dict[str, Any]] = {"datasets": {}, "versions": {}, "reports": {}, "flows": {}, "analyses": {}}
    for side, label in (("a", "Alpha"), ("b", "Bravo")):
        project, owner = projects[side], owners[side]
        column = "alpha_column" if side == "a" else "bravo_secret_column"
        frame = pd.DataFrame({column: [1.0, 2.0, 3.0], "kind": ["x", "y", "x"]})
        with data_files.local_temp_file(".parquet") as tmp:
            data_files.write_frame(frame, tmp)
            version = data_services.dataset_version_create(
                project_id=project.pk,
                dataset_name=f"{label} data",
                local_file=tmp,
                kind="import",
                source={"kind": "import", "filename": f"{label}.csv"},
                created_by_id=owner.pk,
            )
        report_file, size = data_files.write_json(
            {"summary": {"rows": 3, "columns": 2}, "columns": [], "warnings": [], "target": None},
            data_files.report_path(project.pk, version.dataset_id, 1, None),
        )
        report = ProfileReport.objects.create(
            project=project,
            version=version,
            file=report_file,
            bytes=size,
            summary={"rows": 3, "warnings": {"high": 0, "medium": 0, "low": 0}},
        )
        flow = data_services.flow_create(project=project, created_by=owner, name=f"{label} flow", sources=[version])
        flow.definition["steps"] = [
            {
                "id": "s1",
                "op": "drop_columns",
                "op_version": 1,
                "inputs": ["src1"],
                "parameters": {"columns": ["kind"]},
                "trained_parameters": None,
                "label": f"{label} step",
            }
        ]
        flow.save()
        analysis = FlowAnalysis.objects.create(
            flow=flow,
            kind="histogram",
            title=f"{label} analysis",
            step_id="s1",
            params={"column": column},
            figure={"data": []},
        )
        for key, obj in (
            ("datasets", version.dataset),
            ("versions", version),
            ("reports", report),
            ("flows", flow),
            ("analyses", analysis),
        ):
            out[key][side] = obj
    return DataWorld(**out)


@dataclass
class World:
    users: dict[str, User]
    outsider: User  # a data scientist in project B only
    projects: dict[str, Project]  # "a", "b"
    jobs: dict[str, Job]
    teams: dict[str, WorkTeam]
    invitation: Invitation
    invitation_token: str

    @cached_property
    def data(self) -> DataWorld:
        return _build_data(self.projects, {"a": self.users[DS], "b": self.outsider})

    @cached_property
    def builds(self) -> dict[str, Any]:
        """An AutoML build per project (finished report, no fitted model: probes never train)."""
        from apps.automl.models import AutomlBuild

        out = {}
        for side in ("a", "b"):
            out[side] = AutomlBuild.objects.create(
                project=self.projects[side],
                dataset_version=self.data.versions[side],
                target="kind",
                problem_type="binary",
                objective="roc_auc",
                best_candidate="linear-0",
                report={
                    "leaderboard": [
                        {
                            "name": "linear-0",
                            "algorithm": "linear",
                            "metrics": {},
                            "fit_time_s": 0.1,
                            "best": True,
                            "rank": 1,
                            "score": 0.5,
                        }
                    ],
                    "problem_type": "binary",
                    "objective": "roc_auc",
                    "schema": {"features": []},
                },
            )
        return out

    @cached_property
    def runs(self) -> dict[str, Any]:
        """A finished k-means run per project (chart data but no output version: probes never run jobs)."""
        from apps.unsupervised.models import UnsupervisedRun

        out = {}
        for side in ("a", "b"):
            column = "alpha_column" if side == "a" else "bravo_secret_column"
            out[side] = UnsupervisedRun.objects.create(
                project=self.projects[side],
                dataset_version=self.data.versions[side],
                algorithm="kmeans",
                options={"k": 2, "seed": 0},
                columns=[column],
                chart={
                    "k_scores": [],
                    "suggested_k": 2,
                    "sizes": [2, 1],
                    "scatter": {"x": [0.0, 1.0, 2.0], "y": [0.0, 0.5, 1.0], "cluster": [0, 0, 1], "rows": [0, 1, 2]},
                },
                info={"columns_used": [column], "k": 2, "method": "given", "new_columns": ["cluster"], "rows": 3},
            )
        return out

    @cached_property
    def tunings(self) -> dict[str, Any]:
        """A tuning job per project (a saved summary; probes never run the coordinator)."""
        from apps.automl.models import TuningJob

        out = {}
        for side in ("a", "b"):
            out[side] = TuningJob.objects.create(
                project=self.projects[side],
                dataset_version=self.data.versions[side],
                target="kind",
                algorithm="linear",
                problem_type="binary",
                objective="roc_auc",
                study_name=f"matrix-{side}",
                spec={"max_trials": 2, "max_parallel": 1, "ranges": {}},
                trials_done=1,
                summary={
                    "direction": "maximize",
                    "best": {"number": 0, "params": {"C": 1.0}, "value": 0.5},
                    "trials": [{"number": 0, "state": "complete", "params": {"C": 1.0}, "value": 0.5}],
                },
            )
        return out

    @cached_property
    def model_versions(self) -> dict[str, Any]:
        """A registered model version per project (a signed artifact of a few bytes: probes never load it)."""
        import tempfile

        from apps.core.artifacts import artifact_store
        from apps.registry.services import version_create

        out = {}
        for side in ("a", "b"):
            with tempfile.NamedTemporaryFile(suffix=".onnx") as tmp:
                tmp.write(b"probe model bytes")
                tmp.flush()
                artifact = artifact_store(
                    project_id=self.projects[side].pk, kind="registry.model", local_path=tmp.name, filename="model.onnx"
                )
            out[side] = version_create(
                project=self.projects[side],
                created_by=None,
                artifact=artifact,
                fmt="onnx",
                source_kind="import",
                group_name="alpha-model" if side == "a" else "bravo-secret-model",
                signature={"inputs": [{"name": "x", "type": "double"}]},
                description="Alpha model" if side == "a" else "Bravo secret model",
            )
        return out

    @cached_property
    def endpoints(self) -> dict[str, Any]:
        """An endpoint per project serving an approved copy of the project's version, with one key; and a batch
        transform row per project (probes never invoke or run them)."""
        from apps.endpoints.models import BatchTransform, Endpoint, EndpointKey, EndpointVariant
        from apps.registry.models import ModelVersion

        out = {}
        for side in ("a", "b"):
            base = self.model_versions[side]
            approved = ModelVersion.objects.create(
                project=base.project,
                group=base.group,
                version=base.version + 100,
                artifact=base.artifact,
                format=base.format,
                source_kind=base.source_kind,
                signature=base.signature,
                approval_status="Approved",
            )
            endpoint = Endpoint.objects.create(
                project=base.project, name="alpha-endpoint" if side == "a" else "bravo-secret-endpoint"
            )
            EndpointVariant.objects.create(endpoint=endpoint, name="variant-1", model_version=approved)
            EndpointKey.objects.create(
                endpoint=endpoint, name=f"probe-{side}", prefix="ep_probe", key_hash=f"{side}" * 64
            )
            BatchTransform.objects.create(
                project=base.project, model_version=approved, dataset_version=self.data.versions[side]
            )
            out[side] = endpoint
        return out

    @property
    def batch_transforms(self) -> dict[str, Any]:
        from apps.endpoints.models import BatchTransform

        self.endpoints  # noqa: B018 - builds them
        return {side: BatchTransform.objects.filter(project=self.projects[side]).first() for side in ("a", "b")}

    def endpoints_b_state(self) -> tuple[Any, ...]:
        from apps.endpoints.models import BatchTransform, Endpoint, EndpointKey, EndpointVariant

        self.endpoints  # noqa: B018 - built before the "before" snapshot (and before the registry's)
        project = self.projects["b"]
        return (
            sorted(
                Endpoint.objects.filter(project=project).values_list("pk", "name", "config_version", "webhook_secret")
            ),
            sorted(
                EndpointVariant.objects.filter(endpoint__project=project).values_list(
                    "pk", "model_version_id", "weight"
                )
            ),
            sorted(EndpointKey.objects.filter(endpoint__project=project).values_list("pk", "revoked_at")),
            BatchTransform.objects.filter(project=project).count(),
        )

    @property
    def model_groups(self) -> dict[str, Any]:
        return {side: v.group for side, v in self.model_versions.items()}

    def registry_b_state(self) -> tuple[Any, ...]:
        from apps.registry.models import ApprovalEvent, ModelAlias, ModelGroup, ModelVersion

        self.model_versions  # noqa: B018 - built before the "before" snapshot, not during the probe
        project = self.projects["b"]
        return (
            sorted(ModelGroup.objects.filter(project=project).values_list("pk", "description")),
            sorted(ModelVersion.objects.filter(project=project).values_list("pk", "approval_status", "description")),
            sorted(ModelAlias.objects.filter(group__project=project).values_list("pk", "name", "version_id")),
            ApprovalEvent.objects.filter(version__project=project).count(),
        )

    @property
    def datasets(self) -> dict[str, Any]:
        return self.data.datasets

    @property
    def versions(self) -> dict[str, Any]:
        return self.data.versions

    @property
    def flows(self) -> dict[str, Any]:
        return self.data.flows

    def data_b_state(self) -> tuple[Any, ...]:
        from apps.datasets.models import Dataset, DatasetVersion, Flow, FlowAnalysis, ProfileReport

        project = self.projects["b"]
        flow = Flow.objects.filter(pk=self.data.flows["b"].pk).first()
        return (
            sorted(Dataset.objects.filter(project=project).values_list("pk", "name", "latest_version_id")),
            sorted(DatasetVersion.objects.filter(project=project).values_list("pk", flat=True)),
            ProfileReport.objects.filter(project=project).count(),
            flow.definition if flow else None,
            FlowAnalysis.objects.filter(flow__project=project).count(),
        )

    def b_state(self) -> tuple[Any, ...]:
        """What a request must not change in project B when a non-member sends it."""
        job = Job.objects.get(pk=self.jobs["b"].pk)
        team = WorkTeam.objects.get(pk=self.teams["b"].pk)
        return (
            *self.data_b_state(),
            *self.endpoints_b_state(),
            *self.registry_b_state(),
            job.status,
            job.cancel_requested_at,
            Job.objects.filter(project=self.projects["b"]).count(),
            sorted(Membership.objects.filter(project=self.projects["b"]).values_list("user_id", flat=True)),
            team.name,
            sorted(team.members.values_list("pk", flat=True)),
            sorted(APIToken.objects.filter(user=self.outsider, revoked_at__isnull=False).values_list("pk", flat=True)),
        )


@pytest.fixture
def world(project_a, project_b, admin_user, ds_user, mlops_user, labeler_user, outsider, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"  # files of this test only (ids repeat across tests on SQLite)
    jobs = {
        "a": Job.objects.create(kind="core.storage_report", project=project_a, title="alpha-job", created_by=ds_user),
        "b": Job.objects.create(
            kind="core.storage_report", project=project_b, title="bravo-secret-job", created_by=outsider
        ),
    }
    teams = {
        "a": work_team_save(project=project_a, name="Alpha annotators", members=[labeler_user]),
        "b": work_team_save(project=project_b, name="Bravo secret team", members=[outsider]),
    }
    invitation, token = invitation_create(
        email="newcomer@example.test", personas=["labeler"], project=project_a, created_by=admin_user
    )
    return World(
        users={ADMIN: admin_user, DS: ds_user, MLOPS: mlops_user, LABELER: labeler_user},
        outsider=outsider,
        projects={"a": project_a, "b": project_b},
        jobs=jobs,
        teams=teams,
        invitation=invitation,
        invitation_token=token,
    )


# --- how to build a route's URL kwargs and POST data (world, requesting user or None, side "a"/"b") ---------

Builder = Callable[[World, User | None, str], dict[str, Any]]


def project_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.projects[side].pk}


def job_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.jobs[side].pk}


def team_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.teams[side].pk}


def member_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    member = w.users[MLOPS] if side == "a" else w.outsider
    return {"pk": w.projects[side].pk, "user_id": member.pk}


def token_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    """Side A: a token of the requesting user; side B: a token of the project-B outsider."""
    owner = w.outsider if side == "b" else (user or w.users[DS])
    token, _ = api_token_create(user=owner, name=f"probe-{side}")
    return {"pk": token.pk}


def notification_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    """Side A: a notification of the requesting user; side B: one of the project-B outsider."""
    from apps.core.services import notification_create

    owner = w.outsider if side == "b" else (user or w.users[DS])
    return {"pk": notification_create(user_id=owner.pk, title=f"probe-{side}", url="/jobs/").pk}


def invitation_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.invitation.pk}


def invitation_token_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"token": w.invitation_token}


def switch_data(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"project": w.projects[side].pk}


def dataset_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.data.datasets[side].pk}


def version_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.data.versions[side].pk}


def report_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.data.reports[side].pk}


def flow_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.data.flows[side].pk}


def flow_step_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.data.flows[side].pk, "step_id": "s1"}


def flow_source_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.data.flows[side].pk, "source_id": "src1"}


def _spare(w: World, side: str, key: str) -> Any:
    """A fresh object of project A for each probe of a delete route (project B's stays the world's)."""
    if side == "b":
        return getattr(w.data, key)["b"]
    from apps.datasets.models import Dataset, Flow, FlowAnalysis

    project = w.projects["a"]
    n = Dataset.objects.count() + Flow.objects.count() + FlowAnalysis.objects.count()
    flow = Flow.objects.create(project=project, name=f"spare flow {n}", definition=w.data.flows["a"].definition)
    if key == "flows":
        return flow
    if key == "analyses":
        return FlowAnalysis.objects.create(flow=flow, kind="histogram", title="spare", step_id="s1", figure={})
    return Dataset.objects.create(project=project, name=f"spare dataset {n}", latest_version=w.data.versions["a"])


def build_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.builds[side].pk}


def tuning_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.tunings[side].pk}


def run_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.runs[side].pk}


def model_group_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.model_groups[side].pk}


def model_version_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.model_versions[side].pk}


def endpoint_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.endpoints[side].pk}


def spare_endpoint_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    """A fresh endpoint of project A for each probe of the delete route (project B's stays the world's)."""
    if side == "b":
        return {"pk": w.endpoints["b"].pk}
    from apps.endpoints.models import Endpoint

    spare = Endpoint.objects.create(project=w.projects["a"], name=f"spare-{Endpoint.objects.count()}")
    return {"pk": spare.pk}


def endpoint_key_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.endpoints[side].keys.get().pk}


def batch_transform_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.batch_transforms[side].pk}


def spare_dataset_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": _spare(w, side, "datasets").pk}


def spare_flow_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": _spare(w, side, "flows").pk}


def spare_analysis_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": _spare(w, side, "analyses").pk}


@dataclass(frozen=True)
class Probe:
    """One harmless request: who may make it and the status they get (`ok`, or `ok_for[persona]`)."""

    who: frozenset[str]
    method: str = "get"
    ok: int = 200
    ok_for: dict[str, int] = field(default_factory=dict)
    data: Builder | None = None
    anon_next: bool = True  # anonymous UI requests are sent to login with ?next=<this path>

    def expected(self, persona: str) -> int:
        return self.ok_for.get(persona, self.ok)


PROJECT, OWNER = "project", "owner"


@dataclass(frozen=True)
class Route:
    probes: tuple[Probe, ...]
    kwargs: Builder | None = None
    # The URL or data names an object of one project (PROJECT: B's is 404 for members of A only; admins see
    # every project) or of one user (OWNER: another user's is 404 for everyone, admins included).
    foreign: str = ""


def get(who: frozenset[str], **kw: Any) -> Probe:
    return Probe(who, "get", **kw)


def post(who: frozenset[str], ok: int, **kw: Any) -> Probe:
    return Probe(who, "post", ok, **kw)


SIGNED_IN_REDIRECTED = {p: 302 for p in SIGNED_IN}

ROUTES: dict[str, Route] = {
    # public
    "healthz": Route((get(PUBLIC),)),
    "readyz": Route((get(PUBLIC, ok=503),)),  # no worker heartbeat in unit tests
    "accounts:login": Route((get(PUBLIC, ok_for=SIGNED_IN_REDIRECTED), post(PUBLIC, 200, ok_for=SIGNED_IN_REDIRECTED))),
    "accounts:invitation_accept": Route((get(PUBLIC), post(PUBLIC, 400)), kwargs=invitation_token_kw),
    # any signed-in user (account routes)
    "accounts:logout": Route((post(SIGNED_IN, 302, anon_next=False),)),
    "accounts:password_change": Route((get(SIGNED_IN), post(SIGNED_IN, 200))),
    "accounts:profile": Route((get(SIGNED_IN), post(SIGNED_IN, 302))),
    "accounts:token_create": Route((post(SIGNED_IN, 400),)),
    "accounts:token_revoke": Route((post(SIGNED_IN, 302),), kwargs=token_kw, foreign=OWNER),
    "accounts:project_switch": Route((post(SIGNED_IN, 302, data=switch_data),), foreign=PROJECT),
    "core:home": Route((get(SIGNED_IN, ok_for={LABELER: 302}),)),  # a labeler is sent to "My work"
    "core:notifications": Route((get(SIGNED_IN), post(SIGNED_IN, 302))),
    "core:notification_open": Route((get(SIGNED_IN, ok=302),), kwargs=notification_kw, foreign=OWNER),
    "api:root": Route((get(SIGNED_IN),)),
    "api:me": Route((get(SIGNED_IN),)),
    "api:token-list": Route((get(SIGNED_IN), post(SIGNED_IN, 400))),
    "api:token-revoke": Route((post(SIGNED_IN, 200),), kwargs=token_kw, foreign=OWNER),
    "api:schema": Route((get(SIGNED_IN),)),
    "api:docs": Route((get(SIGNED_IN),)),
    # labeling
    "accounts:my_work": Route((get(LABELING),)),
    # studio
    "core:storage_report_start": Route((post(STUDIO, 302),)),
    "accounts:project_list": Route((get(STUDIO), post(STUDIO, 400))),
    "accounts:project_detail": Route((get(STUDIO),), kwargs=project_kw, foreign=PROJECT),
    "accounts:project_member_add": Route((post(ADMIN_ONLY, 302),), kwargs=project_kw, foreign=PROJECT),
    "accounts:project_member_remove": Route((post(ADMIN_ONLY, 302),), kwargs=member_kw, foreign=PROJECT),
    "accounts:workteam_list": Route((get(STUDIO), post(WORKTEAM_MANAGERS, 400))),
    "accounts:workteam_detail": Route((get(STUDIO), post(WORKTEAM_MANAGERS, 400)), kwargs=team_kw, foreign=PROJECT),
    "jobs:list": Route((get(STUDIO),)),
    "jobs:detail": Route((get(STUDIO),), kwargs=job_kw, foreign=PROJECT),
    "jobs:cancel": Route((post(STUDIO, 302),), kwargs=job_kw, foreign=PROJECT),
    "api:project-list": Route((get(STUDIO), post(STUDIO, 400))),
    "api:project-detail": Route((get(STUDIO),), kwargs=project_kw, foreign=PROJECT),
    "api:workteam-list": Route((get(STUDIO),)),
    "api:workteam-detail": Route((get(STUDIO),), kwargs=team_kw, foreign=PROJECT),
    "api:storage-report-start": Route((post(STUDIO, 202),), kwargs=project_kw, foreign=PROJECT),
    "api:job-list": Route((get(STUDIO),)),
    "api:job-detail": Route((get(STUDIO),), kwargs=job_kw, foreign=PROJECT),
    "api:job-cancel": Route((post(STUDIO, 200),), kwargs=job_kw, foreign=PROJECT),
    # Data Wrangler (UI under /data/): pages for studio personas, writes that start jobs need RUN_JOBS (all of them)
    "datasets:index": Route((get(STUDIO, ok=302),)),
    "datasets:list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without a file: the upload form's errors
    "datasets:import_sql": Route((post(STUDIO, 400),)),
    "datasets:detail": Route((get(STUDIO), post(STUDIO, 400)), kwargs=dataset_kw, foreign=PROJECT),
    "datasets:delete": Route((post(STUDIO, 302),), kwargs=spare_dataset_kw, foreign=PROJECT),
    "datasets:retype": Route((post(STUDIO, 400),), kwargs=version_kw, foreign=PROJECT),  # no type changed
    "datasets:profile_start": Route((post(STUDIO, 302),), kwargs=version_kw, foreign=PROJECT),
    "datasets:report": Route((get(STUDIO),), kwargs=version_kw, foreign=PROJECT),
    "datasets:report_download": Route((get(STUDIO),), kwargs=report_kw, foreign=PROJECT),
    "datasets:sql": Route((get(STUDIO), post(STUDIO, 400))),
    "datasets:flow_list": Route((get(STUDIO), post(STUDIO, 400))),
    "datasets:flow_detail": Route((get(STUDIO),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_step_add": Route((post(STUDIO, 302),), kwargs=flow_kw, foreign=PROJECT),  # no operator: back
    "datasets:flow_step_edit": Route((post(STUDIO, 302),), kwargs=flow_step_kw, foreign=PROJECT),
    "datasets:flow_step_delete": Route((post(STUDIO, 302),), kwargs=flow_step_kw, foreign=PROJECT),
    "datasets:flow_source_add": Route((post(STUDIO, 302),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_source_delete": Route((post(STUDIO, 302),), kwargs=flow_source_kw, foreign=PROJECT),
    "datasets:flow_run": Route((post(STUDIO, 302),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_export": Route((get(STUDIO),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_delete": Route((post(STUDIO, 302),), kwargs=spare_flow_kw, foreign=PROJECT),
    "datasets:flow_analysis_add": Route((post(STUDIO, 400),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_analysis_delete": Route((post(STUDIO, 302),), kwargs=spare_analysis_kw, foreign=PROJECT),
    # Data Wrangler API
    "api:dataset-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without project and file
    "api:dataset-detail": Route((get(STUDIO),), kwargs=dataset_kw, foreign=PROJECT),
    "api:dataset-versions": Route((post(STUDIO, 400),), kwargs=dataset_kw, foreign=PROJECT),  # no file
    "api:dataset-import-sql": Route((post(STUDIO, 400),)),
    "api:data-connection-list": Route((get(STUDIO),)),
    "api:dataset-version-list": Route((get(STUDIO),)),
    "api:dataset-version-detail": Route((get(STUDIO),), kwargs=version_kw, foreign=PROJECT),
    "api:dataset-version-rows": Route((get(STUDIO),), kwargs=version_kw, foreign=PROJECT),
    "api:dataset-version-download": Route((get(STUDIO),), kwargs=version_kw, foreign=PROJECT),
    "api:dataset-version-profile": Route((get(STUDIO), post(STUDIO, 202)), kwargs=version_kw, foreign=PROJECT),
    "api:dataset-version-retype": Route((post(STUDIO, 400),), kwargs=version_kw, foreign=PROJECT),
    "api:flow-list": Route((get(STUDIO), post(STUDIO, 400))),
    "api:flow-detail": Route((get(STUDIO),), kwargs=flow_kw, foreign=PROJECT),
    "api:flow-steps": Route((post(STUDIO, 400),), kwargs=flow_kw, foreign=PROJECT),  # no operator
    "api:flow-preview": Route((post(STUDIO, 200),), kwargs=flow_kw, foreign=PROJECT),
    "api:flow-run": Route((post(STUDIO, 202),), kwargs=flow_kw, foreign=PROJECT),
    "api:flow-export": Route((get(STUDIO),), kwargs=flow_kw, foreign=PROJECT),
    "api:operator-list": Route((get(STUDIO),)),
    "api:sql-query": Route((post(STUDIO, 400),)),
    "api:sql-save": Route((post(STUDIO, 400),)),
    # Canvas (AutoML; UI under /canvas/): studio personas; the probes' builds have no fitted model
    "automl:list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without data: the form's errors
    "automl:detail": Route((get(STUDIO),), kwargs=build_kw, foreign=PROJECT),
    "automl:select": Route((post(STUDIO, 302),), kwargs=build_kw, foreign=PROJECT),
    "automl:batch_predict": Route((post(STUDIO, 302),), kwargs=build_kw, foreign=PROJECT),
    "automl:package": Route((post(STUDIO, 302),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without project
    "api:automl-check": Route((post(STUDIO, 400),)),
    "api:automl-detail": Route((get(STUDIO),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-progress": Route((get(STUDIO),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-predict": Route((post(STUDIO, 400),), kwargs=build_kw, foreign=PROJECT),  # no rows
    "api:automl-batch-predict": Route((post(STUDIO, 400),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-select": Route((post(STUDIO, 400),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-package": Route((post(STUDIO, 400),), kwargs=build_kw, foreign=PROJECT),  # no fitted model
    # Tuning jobs: studio personas read; starting needs RUN_JOBS (all studio personas have it)
    "automl:tuning_list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without data: the form's errors
    "automl:tuning_detail": Route((get(STUDIO),), kwargs=tuning_kw, foreign=PROJECT),
    "api:tuning-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without project
    "api:tuning-detail": Route((get(STUDIO),), kwargs=tuning_kw, foreign=PROJECT),
    "api:tuning-trials": Route((get(STUDIO),), kwargs=tuning_kw, foreign=PROJECT),
    "api:tuning-ranges": Route((Probe(STUDIO, "get", 400),)),  # no algorithm given: 400 naming it
    # Built-in algorithms (UI under /canvas/unsupervised/): studio personas; starting needs RUN_JOBS (all of them)
    "unsupervised:list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without data: the form's errors
    "unsupervised:detail": Route((get(STUDIO),), kwargs=run_kw, foreign=PROJECT),
    "api:unsupervised-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without project
    "api:unsupervised-detail": Route((get(STUDIO),), kwargs=run_kw, foreign=PROJECT),
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
    # Endpoints (UI under /deployments/; /endpoints/ is the serving path, outside Django): studio personas read;
    # deploying, updating and keys need DEPLOY_MODELS (MLOps engineers, admins); batch transforms need RUN_JOBS
    "endpoints:list": Route((get(STUDIO),)),
    "endpoints:create": Route((get(DEPLOYERS), post(DEPLOYERS, 400))),  # POST without data: the form's errors
    "endpoints:detail": Route((get(STUDIO),), kwargs=endpoint_kw, foreign=PROJECT),
    "endpoints:update": Route((post(DEPLOYERS, 400),), kwargs=endpoint_kw, foreign=PROJECT),  # no version given
    "endpoints:delete": Route((post(DEPLOYERS, 302),), kwargs=spare_endpoint_kw, foreign=PROJECT),
    "endpoints:key_create": Route((post(DEPLOYERS, 200),), kwargs=endpoint_kw, foreign=PROJECT),  # shown once
    "endpoints:try_key": Route((post(DEPLOYERS, 201),), kwargs=endpoint_kw, foreign=PROJECT),
    "endpoints:key_revoke": Route((post(DEPLOYERS, 302),), kwargs=endpoint_key_kw, foreign=PROJECT),
    "endpoints:webhook_secret_rotate": Route((post(DEPLOYERS, 200),), kwargs=endpoint_kw, foreign=PROJECT),
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
    # admin only (in the studio UI; the Django admin console is checked below)
    "accounts:invitation_list": Route((get(ADMIN_ONLY), post(ADMIN_ONLY, 400))),
    "accounts:invitation_revoke": Route((post(ADMIN_ONLY, 302),), kwargs=invitation_kw),
}

# The Django admin's routes are generated per registered model; tests below cover them.
SEPARATELY_TESTED_NAMESPACES = {"admin"}


def resolver_routes() -> tuple[dict[str, Callable[..., Any]], list[str]]:
    """Every named route as `namespace:name` → its view, and the patterns that have no name."""
    named: dict[str, Callable[..., Any]] = {}
    unnamed: list[str] = []

    def walk(resolver: URLResolver, prefix: str, namespace: str | None) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                ns = namespace
                if entry.namespace:
                    ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry, prefix + str(entry.pattern), ns)
            elif isinstance(entry, URLPattern):
                if (namespace or "").split(":")[0] in SEPARATELY_TESTED_NAMESPACES:
                    continue
                if entry.name:
                    named[f"{namespace}:{entry.name}" if namespace else entry.name] = entry.callback
                else:
                    unnamed.append(prefix + str(entry.pattern))

    walk(get_resolver(), "", None)
    return named, unnamed


def handled_methods(view: Callable[..., Any]) -> set[str] | None:
    """The HTTP methods a view answers (None for function views, which are probed as declared)."""
    if getattr(view, "actions", None):  # a DRF viewset route
        return set(view.actions) - {"head", "options"}  # type: ignore[attr-defined]
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if view_class is None:
        return None
    methods = {m for m in view_class.http_method_names if m not in {"head", "options"} and hasattr(view_class, m)}
    if getattr(view_class, "put", None) is ProcessFormView.put:  # Django's form views answer PUT with post()
        methods.discard("put")
    return methods


def test_every_route_is_classified() -> None:
    named, unnamed = resolver_routes()
    assert not unnamed, f"URL patterns without a name cannot be classified: {unnamed}"
    unclassified = sorted(named.keys() - ROUTES.keys())
    assert not unclassified, f"Routes missing from ROUTES in {__name__} (classify who may reach them): {unclassified}"
    stale = sorted(ROUTES.keys() - named.keys())
    assert not stale, f"ROUTES lists routes that no longer exist: {stale}"


def test_every_method_of_every_route_is_probed() -> None:
    """A view that starts answering PUT or DELETE, say, needs its probe (and its persona rule) here."""
    named, _ = resolver_routes()
    unprobed = {}
    for name, view in named.items():
        methods = handled_methods(view)
        probed = {probe.method for probe in ROUTES[name].probes} if name in ROUTES else set()
        if methods is not None and methods - probed:
            unprobed[name] = sorted(methods - probed)
    assert not unprobed, f"methods without a probe in ROUTES: {unprobed}"


def test_route_table_is_well_formed() -> None:
    for name, route in ROUTES.items():
        assert route.probes, name
        for probe in route.probes:
            assert probe.who and probe.who <= PUBLIC, name
            assert probe.method in {"get", "post", "patch", "delete"}, name
            assert probe.method in {"get", "post"} or is_api(name), name
            assert set(probe.ok_for) <= probe.who, name
        assert bool(route.foreign) <= bool(route.kwargs or any(p.data for p in route.probes)), name


# --- probing ----------------------------------------------------------------------------------------------

CASES = [(name, i) for name, route in ROUTES.items() for i in range(len(route.probes))]
CASE_IDS = [f"{name}-{ROUTES[name].probes[i].method}" for name, i in CASES]


def foreign_personas(name: str, index: int) -> list[str]:
    """Who must get 404 for the other side's object: members of A only, and admins for another user's object."""
    candidates = (*MEMBERS_OF_A, ADMIN) if ROUTES[name].foreign == OWNER else MEMBERS_OF_A
    return [p for p in candidates if p in ROUTES[name].probes[index].who]


FOREIGN_CASES = [(name, i) for name, i in CASES if ROUTES[name].foreign]
FOREIGN_IDS = [f"{name}-{ROUTES[name].probes[i].method}" for name, i in FOREIGN_CASES]
NON_JSON_API = {"api:schema", "api:docs"}  # OpenAPI document and Swagger UI page


def is_api(name: str) -> bool:
    return name.startswith("api:")


def client_of(name: str, user: User | None) -> Client | APIClient:
    """UI routes: a session client. API routes: a real API token."""
    if is_api(name):
        client = APIClient()
        if user is not None:
            _, key = api_token_create(user=user, name="matrix")
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def probe_route(world: World, name: str, index: int, persona: str, side: str = "a"):  # type: ignore[no-untyped-def]
    route, probe = ROUTES[name], ROUTES[name].probes[index]
    user = world.users.get(persona)
    url = reverse(name, kwargs=route.kwargs(world, user, side) if route.kwargs else None)
    data = probe.data(world, user, side) if probe.data else {}
    client = client_of(name, user)
    if probe.method == "get":
        return url, client.get(url)
    if is_api(name):
        return url, getattr(client, probe.method)(url, data, format="json")
    return url, client.post(url, data)


def body(response) -> str:  # type: ignore[no-untyped-def]
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


# Admin last, so that the other personas probe the world as the fixture built it.
PROBE_ORDER = (ANON, LABELER, MLOPS, DS, ADMIN)


def outcome_problems(name: str, probe: Probe, persona: str, url: str, response: Any) -> list[str]:
    """What is wrong with `response` to `persona` (empty when the matrix holds)."""
    got = response.status_code
    if persona in probe.who:
        want = probe.expected(persona)
        return [] if got == want else [f"{persona}: expected {want}, got {got}: {body(response)[:300]}"]
    if persona != ANON:
        if got != 403:
            return [f"{persona}: expected 403, got {got}: {body(response)[:300]}"]
        if is_api(name) and (set(response.json()) != {"detail", "errors", "code"} or not response.json()["detail"]):
            return [f"{persona}: 403 without the error shape: {response.json()}"]
        return []
    if is_api(name):
        problems = [] if got == 401 else [f"anonymous: expected 401, got {got}"]
        if response.get("WWW-Authenticate") != "Token":
            problems.append(f"anonymous: WWW-Authenticate is {response.get('WWW-Authenticate')!r}")
        if got == 401 and name not in NON_JSON_API:
            if response.json() != {
                "detail": "Authentication credentials were not provided.",
                "errors": {},
                "code": "not_authenticated",
            }:
                problems.append(f"anonymous: {response.json()}")
        return problems
    if got != 302:
        return [f"anonymous: expected a redirect to the login page, got {got}"]
    target = urlparse(response["Location"])
    next_param = parse_qs(target.query).get("next")
    if target.path != reverse("accounts:login") or next_param != ([url] if probe.anon_next else None):
        return [f"anonymous: redirected to {response['Location']}"]
    return []


@pytest.mark.parametrize(("name", "index"), CASES, ids=CASE_IDS)
def test_who_may_reach_the_route(world: World, name: str, index: int) -> None:
    """One row of the matrix: anonymous and every persona, against project A's objects."""
    probe = ROUTES[name].probes[index]
    problems: list[str] = []
    for persona in PROBE_ORDER:
        url, response = probe_route(world, name, index, persona)
        problems += outcome_problems(name, probe, persona, url, response)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("name", "index"), FOREIGN_CASES, ids=FOREIGN_IDS)
def test_objects_of_another_project_or_user(world: World, name: str, index: int) -> None:
    """Members of A only get 404 for B's objects (never 403), see none of B, and change nothing in B.
    Another user's object (an API token) is 404 for everyone, admins included.
    An admin reaches the objects of every project."""
    route, probe = ROUTES[name], ROUTES[name].probes[index]
    for persona in foreign_personas(name, index):
        before = world.b_state()
        _, response = probe_route(world, name, index, persona, side="b")
        assert response.status_code == 404, (persona, body(response)[:500])
        text = body(response)
        for mark in B_MARKS:
            assert mark not in text, (persona, mark)
        assert world.b_state() == before, persona
        if is_api(name):
            assert response.json()["errors"] == {}
            assert response.json()["detail"]
    if route.foreign == PROJECT and ADMIN in probe.who:
        _, response = probe_route(world, name, index, ADMIN, side="b")
        assert response.status_code == probe.expected(ADMIN), body(response)[:500]


def test_foreign_cases_cover_every_project_scoped_persona() -> None:
    """The 404 test is not vacuous: most object routes are open to members of A."""
    covered = {name for name, i in FOREIGN_CASES if set(MEMBERS_OF_A) & ROUTES[name].probes[i].who}
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


# --- lists never contain project B's objects for a member of A only ----------------------------------------


def linked_ids(html: str, name: str) -> set[int]:
    """Ids of the objects the page links to through the URL named `name`."""
    pattern = re.escape(reverse(name, kwargs={"pk": 987654321})).replace("987654321", r"(\d+)")
    return {int(m) for m in re.findall(f'href="{pattern}"', html)}


def api_ids(response) -> set[int]:  # type: ignore[no-untyped-def]
    data = response.json()
    rows = data["results"] if isinstance(data, dict) else data
    return {row["id"] for row in rows}


# (list route, query string, detail route the page links to (UI) or None (API), which World objects)
LISTS = [
    ("accounts:project_list", "", "accounts:project_detail", "projects"),
    ("jobs:list", "?project=", "jobs:detail", "jobs"),
    ("accounts:workteam_list", "", "accounts:workteam_detail", "teams"),
    ("api:project-list", "", None, "projects"),
    ("api:job-list", "", None, "jobs"),
    ("api:workteam-list", "", None, "teams"),
    ("api:dataset-list", "", None, "datasets"),
    ("api:dataset-version-list", "", None, "versions"),
    ("api:flow-list", "", None, "flows"),
    ("api:automl-list", "", None, "builds"),
    ("api:unsupervised-list", "", None, "runs"),
    ("api:tuning-list", "", None, "tunings"),
    ("api:model-group-list", "", None, "model_groups"),
    ("api:model-version-list", "", None, "model_versions"),
    ("api:endpoint-list", "", None, "endpoints"),
    ("api:batch-transform-list", "", None, "batch_transforms"),
]


@pytest.mark.parametrize(("name", "query", "detail", "attr"), LISTS, ids=[row[0] for row in LISTS])
def test_lists_are_scoped(world: World, name: str, query: str, detail: str | None, attr: str) -> None:
    objects = getattr(world, attr)
    for persona in (DS, MLOPS, ADMIN):
        response = client_of(name, world.users[persona]).get(reverse(name) + query)
        assert response.status_code == 200
        ids = linked_ids(body(response), detail) if detail else api_ids(response)
        if persona == ADMIN:
            assert {objects["a"].pk, objects["b"].pk} <= ids
        else:
            assert objects["a"].pk in ids, persona
            assert objects["b"].pk not in ids, persona
            for mark in B_MARKS:
                assert mark not in body(response), (persona, mark)


@pytest.mark.parametrize("name", ["jobs:list", "api:job-list"])
def test_filtering_on_a_foreign_project_shows_nothing(world: World, name: str) -> None:
    url = reverse(name) + f"?project={world.projects['b'].pk}"
    response = client_of(name, world.users[DS]).get(url)
    assert response.status_code == 200
    ids = linked_ids(body(response), "jobs:detail") if name == "jobs:list" else api_ids(response)
    assert ids == set()
    admin_response = client_of(name, world.users[ADMIN]).get(url)
    admin_ids = linked_ids(body(admin_response), "jobs:detail") if name == "jobs:list" else api_ids(admin_response)
    assert admin_ids == {world.jobs["b"].pk}


def test_home_lists_only_the_current_projects_jobs(world: World) -> None:
    response = client_of("core:home", world.users[DS]).get(reverse("core:home"))
    assert linked_ids(body(response), "jobs:detail") == {world.jobs["a"].pk}


def test_token_list_holds_only_the_callers_tokens(world: World) -> None:
    own, _ = api_token_create(user=world.users[DS], name="mine")
    theirs, _ = api_token_create(user=world.outsider, name="theirs")
    response = client_of("api:token-list", world.users[DS]).get(reverse("api:token-list"))
    ids = api_ids(response)
    assert own.pk in ids
    assert theirs.pk not in ids
    assert set(APIToken.objects.filter(pk__in=ids).values_list("user_id", flat=True)) == {world.users[DS].pk}


def test_my_work_lists_only_the_labelers_teams(world: World) -> None:
    response = client_of("accounts:my_work", world.users[LABELER]).get(reverse("accounts:my_work"))
    assert "Alpha annotators" in body(response)
    assert "Bravo secret team" not in body(response)


def test_project_switcher_offers_only_member_projects(world: World) -> None:
    html = body(client_of("core:home", world.users[DS]).get(reverse("core:home")))
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', html.split('id="project-select"')[1])
    assert {int(pk) for pk, _ in options} == {world.projects["a"].pk}


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
    from django_celery_results.models import GroupResult, TaskResult

    from apps.core.models import Artifact, Notification
    from apps.jobs.models import WorkerHeartbeat

    def periodic_task() -> object:
        interval = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
        return PeriodicTask.objects.create(name="matrix-task", task="jobs.reap", interval=interval)

    return {
        "auth.Group": lambda: Group.objects.get_or_create(name="Matrix group")[0],
        "django_celery_results.TaskResult": lambda: TaskResult.objects.create(task_id="t-1", status="SUCCESS"),
        "django_celery_results.GroupResult": lambda: GroupResult.objects.create(group_id="g-1"),
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


# --- redirects after sign-in and project switch stay on this site ------------------------------------------

OFF_SITE = ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_project_switch_never_redirects_off_site(world: World, target: str) -> None:
    response = client_of("accounts:project_switch", world.users[DS]).post(
        reverse("accounts:project_switch"), {"project": world.projects["a"].pk, "next": target}
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location
    assert urlparse(location).netloc == ""


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_never_redirects_off_site(world: World, target: str) -> None:
    response = Client().post(
        reverse("accounts:login"), {"username": "dana", "password": "correct-horse-battery", "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")


def test_project_switch_keeps_a_local_next(world: World) -> None:
    client = client_of("accounts:project_switch", world.users[ADMIN])
    response = client.post(reverse("accounts:project_switch"), {"project": world.projects["b"].pk, "next": "/jobs/"})
    assert response["Location"] == "/jobs/"
    assert client.session["project_id"] == world.projects["b"].pk
