"""The persona × route matrix's shared harness: each app declares its rows in tests/<app>/test_permissions.py.

A row (`Route`) says, for one named route, which personas may reach it, how to build its URL for an object of project A
or of project B, and which harmless requests probe it. `matrix_tests(ROUTES, LISTS)` turns an app's rows into its tests;
tests/core/test_permissions.py checks that every route of the URL resolver has a row, in the file of the app whose
view answers it, and that every method a view answers is probed.

Expected outcomes:
- anonymous: UI → 302 to the login page with ?next=<path>; API → 401 + `WWW-Authenticate: Token`;
- a persona outside the route's set → 403 (a Labeler on every studio route);
- a member of project A only, asking for an object of project B → 404 (never 403), nothing leaked,
  nothing changed; an admin reaches both projects' objects;
- list pages and list APIs show an A-only member no object of project B.
The Django admin (/admin/) is checked separately (tests/core/test_permissions.py): staff only, every registered model's
changelist works.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
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

    from apps.core.tempfiles import temp_path
    from apps.datasets import services as data_services
    from apps.datasets import storage as data_files
    from apps.datasets.models import FlowAnalysis, ProfileReport

    out: dict[str, dict[str, Any]] = {"datasets": {}, "versions": {}, "reports": {}, "flows": {}, "analyses": {}}
    for side, label in (("a", "Alpha"), ("b", "Bravo")):
        project, owner = projects[side], owners[side]
        column = "alpha_column" if side == "a" else "bravo_secret_column"
        frame = pd.DataFrame({column: [1.0, 2.0, 3.0], "kind": ["x", "y", "x"]})
        with temp_path(".parquet") as tmp:
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
    def clarify_reports(self) -> dict[str, Any]:
        """A finished Clarify data report per project (a small analysis.json; probes never run jobs)."""
        from apps.clarify.models import ClarifyReport

        out = {}
        for side in ("a", "b"):
            column = "alpha_column" if side == "a" else "bravo_secret_column"
            metrics = [{"name": "CI", "description": "Class Imbalance (CI)", "value": 0.2}]
            out[side] = ClarifyReport.objects.create(
                project=self.projects[side],
                dataset_version=self.data.versions[side],
                name="Alpha report" if side == "a" else "Bravo secret report",
                config={"label": "kind", "positive_label_values": ["x"], "facets": [{"name": column, "values": [1.0]}]},
                analysis={
                    "version": "1.0",
                    "pre_training_bias_metrics": {
                        "label": "kind",
                        "label_value_or_threshold": "x",
                        "facets": {column: [{"value_or_threshold": "1.0", "metrics": metrics}]},
                    },
                },
                details={"sample": {"data": {"rows_total": 3, "rows": 3, "sampled": False}}},
            )
        return out

    def clarify_b_state(self) -> tuple[Any, ...]:
        from apps.clarify.models import ClarifyReport

        self.clarify_reports  # noqa: B018 - built before the "before" snapshot
        rows = ClarifyReport.objects.filter(project=self.projects["b"]).order_by("pk")
        return (list(rows.values_list("pk", "thresholds", "analysis", "job_id")),)

    @cached_property
    def labeling_jobs(self) -> dict[str, Any]:
        """A text-classification labeling job per project, open for work, for its project's team, with two items; the
        first item is claimed by a member of that team (project A: the Labeler; B: the outsider). Probes never
        consolidate or export."""
        from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask

        out = {}
        for side in ("a", "b"):
            word = "alpha" if side == "a" else "bravo-secret"
            worker = self.users[LABELER] if side == "a" else self.outsider
            job = LabelingJob.objects.create(
                project=self.projects[side],
                name="Alpha labels" if side == "a" else "Bravo secret labels",
                task_type="text_classification",
                status="active",
                source_kind="dataset",
                labels=["pos", "neg"],
                team=self.teams[side],
                attribute_name=f"{word}-sentiment",
                item_count=2,
                created_by=self.users[DS] if side == "a" else self.outsider,
            )
            items = LabelingItem.objects.bulk_create(
                [LabelingItem(job=job, position=i, data={"text": f"{word} text {i}"}) for i in range(2)]
            )
            LabelingItem.objects.filter(pk=items[0].pk).update(seats_taken=1)
            LabelingTask.objects.create(
                job=job, item=items[0], worker=worker, expires_at=timezone.now() + timedelta(hours=1)
            )
            out[side] = job
        return out

    def labeling_items(self, side: str) -> Any:
        return self.labeling_jobs[side].items.order_by("position").first()

    def labeling_tasks(self, side: str) -> Any:
        return self.labeling_jobs[side].tasks.order_by("pk").first()

    def labeling_b_state(self) -> tuple[Any, ...]:
        from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask

        self.labeling_jobs  # noqa: B018 - built before the "before" snapshot
        project = self.projects["b"]
        return (
            sorted(LabelingJob.objects.filter(project=project).values_list("pk", "name", "status", "labels", "stats")),
            sorted(
                LabelingItem.objects.filter(job__project=project).values_list(
                    "pk", "seats_taken", "answer_count", "consolidated", "review_status"
                )
            ),
            sorted(LabelingTask.objects.filter(job__project=project).values_list("pk", "status", "answer")),
        )

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
            *self.clarify_b_state(),
            *self.labeling_b_state(),
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


def labeling_job_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.labeling_jobs[side].pk}


def labeling_item_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.labeling_items(side).pk}


def labeling_task_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.labeling_tasks(side).pk}


def member_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    member = w.users[MLOPS] if side == "a" else w.outsider
    return {"pk": w.projects[side].pk, "user_id": member.pk}


def token_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    """Side A: a token of the requesting user; side B: a token of the project-B outsider."""
    owner = w.outsider if side == "b" else (user or w.users[DS])
    token, _ = api_token_create(user=owner, name=f"probe-{side}")
    return {"pk": token.pk}


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


def clarify_report_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    return {"pk": w.clarify_reports[side].pk}


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


# --- probing ---

NON_JSON_API = {"api:schema", "api:docs"}  # OpenAPI document and Swagger UI page


def foreign_personas(route: Route, index: int) -> list[str]:
    """Who must get 404 for the other side's object: members of A only, and admins for another user's object."""
    candidates = (*MEMBERS_OF_A, ADMIN) if route.foreign == OWNER else MEMBERS_OF_A
    return [p for p in candidates if p in route.probes[index].who]


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
    session = Client()
    if user is not None:
        session.force_login(user)
    return session


def probe_route(world: World, name: str, route: Route, index: int, persona: str, side: str = "a"):  # type: ignore[no-untyped-def]
    probe = route.probes[index]
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


def linked_ids(html: str, name: str) -> set[int]:
    """Ids of the objects the page links to through the URL named `name`."""
    pattern = re.escape(reverse(name, kwargs={"pk": 987654321})).replace("987654321", r"(\d+)")
    return {int(m) for m in re.findall(f'href="{pattern}"', html)}


def api_ids(response) -> set[int]:  # type: ignore[no-untyped-def]
    data = response.json()
    rows = data["results"] if isinstance(data, dict) else data
    return {row["id"] for row in rows}


# --- the tests an app's rows make ------------------------------------------------------------------------------

# (list route, query string, detail route the page links to (UI) or None (API), which World objects)
ListRow = tuple[str, str, str | None, str]


def matrix_tests(routes: dict[str, Route], lists: Sequence[ListRow] = ()) -> dict[str, Any]:
    """The `world` fixture and the matrix's tests for one app's rows, for the app's module globals:
    `globals().update(matrix_tests(ROUTES, LISTS))`."""
    cases = [(name, i) for name, route in routes.items() for i in range(len(route.probes))]
    case_ids = [f"{name}-{routes[name].probes[i].method}" for name, i in cases]
    foreign_cases = [(name, i) for name, i in cases if routes[name].foreign]
    foreign_ids = [f"{name}-{routes[name].probes[i].method}" for name, i in foreign_cases]

    def test_route_table_is_well_formed() -> None:
        for name, route in routes.items():
            assert route.probes, name
            for probe in route.probes:
                assert probe.who and probe.who <= PUBLIC, name
                assert probe.method in {"get", "post", "patch", "delete"}, name
                assert probe.method in {"get", "post"} or is_api(name), name
                assert set(probe.ok_for) <= probe.who, name
            assert bool(route.foreign) <= bool(route.kwargs or any(p.data for p in route.probes)), name

    @pytest.mark.parametrize(("name", "index"), cases, ids=case_ids)
    def test_who_may_reach_the_route(world: World, name: str, index: int) -> None:
        """One row of the matrix: anonymous and every persona, against project A's objects."""
        route = routes[name]
        probe = route.probes[index]
        problems: list[str] = []
        for persona in PROBE_ORDER:
            url, response = probe_route(world, name, route, index, persona)
            problems += outcome_problems(name, probe, persona, url, response)
        assert not problems, "\n".join(problems)

    @pytest.mark.parametrize(("name", "index"), foreign_cases, ids=foreign_ids)
    def test_objects_of_another_project_or_user(world: World, name: str, index: int) -> None:
        """Members of A only get 404 for B's objects (never 403), see none of B, and change nothing in B.
        Another user's object (an API token) is 404 for everyone, admins included.
        An admin reaches the objects of every project."""
        route, probe = routes[name], routes[name].probes[index]
        for persona in foreign_personas(route, index):
            before = world.b_state()
            _, response = probe_route(world, name, route, index, persona, side="b")
            assert response.status_code == 404, (persona, body(response)[:500])
            text = body(response)
            for mark in B_MARKS:
                assert mark not in text, (persona, mark)
            assert world.b_state() == before, persona
            if is_api(name):
                assert response.json()["errors"] == {}
                assert response.json()["detail"]
        if route.foreign == PROJECT and ADMIN in probe.who:
            _, response = probe_route(world, name, route, index, ADMIN, side="b")
            assert response.status_code == probe.expected(ADMIN), body(response)[:500]

    @pytest.mark.parametrize(("name", "query", "detail", "attr"), lists, ids=[row[0] for row in lists])
    def test_lists_are_scoped(world: World, name: str, query: str, detail: str | None, attr: str) -> None:
        """Lists never contain project B's objects for a member of A only."""
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

    tests: dict[str, Any] = {"world": world, "test_route_table_is_well_formed": test_route_table_is_well_formed}
    if cases:
        tests["test_who_may_reach_the_route"] = test_who_may_reach_the_route
    if foreign_cases:
        tests["test_objects_of_another_project_or_user"] = test_objects_of_another_project_or_user
    if lists:
        tests["test_lists_are_scoped"] = test_lists_are_scoped
    return tests


# --- every app's rows, for the checks across apps (tests/core/test_permissions.py) ----------------------------

APPS_DIR = Path(__file__).resolve().parent


def app_routes() -> dict[str, dict[str, Route]]:
    """Each app's ROUTES, from tests/<app>/test_permissions.py, by app label."""
    out = {}
    for path in sorted(APPS_DIR.glob("*/test_permissions.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.test_permissions")
        out[path.parent.name] = module.ROUTES
    return out


def view_app(view: Callable[..., Any]) -> str:
    """The app (label) whose code answers a route: `apps.<label>....`, or the module for others."""
    target = getattr(view, "view_class", None) or getattr(view, "cls", None) or view
    module = target.__module__
    return module.split(".")[1] if module.startswith("apps.") else module
