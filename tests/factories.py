"""factory_boy factories and the data they are made of, for every app's tests (one place: a test module never
imports another test module's helpers).

- ProjectFactory, UserFactory
- DatasetVersionFactory: a DataFrame stored as the next version of a dataset, through the import service
  (`make_version(project, user, frame)` is the short form)
- AutomlBuildFactory: a finished Canvas build trained here (`trained_build(project, user, frame, target)`)
- ModelVersionFactory: a small engine model (no Canvas build) signed into storage and registered, approved when
  `approved_by` is given (`register(project, user, model, approve_by=...)`)
- EndpointFactory: a real-time endpoint serving one model version (`endpoint_create` returns its one-time key too:
  `EndpointFactory(...)` gives the endpoint; the key is on `endpoint.raw_key`)
- frames: binary_frame, multiclass_frame, regression_frame (Canvas), training_frame and ROWS (the endpoints' churn
  model)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import factory
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from apps.accounts.models import Project, User
from apps.accounts.services import membership_add, user_set_personas
from apps.automl import engine
from apps.automl.engine import AtelierModel, save_model
from apps.automl.engine.model import Member
from apps.automl.models import AutomlBuild
from apps.core.artifacts import artifact_store
from apps.core.tempfiles import temp_path
from apps.datasets import storage as data_files
from apps.datasets.inference import apply_schema, infer_schema
from apps.datasets.models import DatasetVersion
from apps.datasets.services import dataset_version_create
from apps.endpoints.models import Endpoint
from apps.registry.models import ModelVersion
from apps.registry.services import version_approval_update, version_create
from tests.frames import (  # noqa: F401  (the frames, for tests that take everything from the factories)
    binary_frame,
    make_binary,
    make_iris,
    make_regression,
    multiclass_frame,
    regression_frame,
)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def personas(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create and extracted:
            user_set_personas(user=self, personas=extracted)

    @factory.post_generation
    def projects(self, create: bool, extracted: list[Project] | None, **kwargs: object) -> None:
        if create and extracted:
            for project in extracted:
                membership_add(project=project, user=self)


# --- dataset versions -------------------------------------------------------------------------------------------


class DatasetVersionFactory(factory.Factory):
    """`frame` stored as the next version of dataset `name` in `project`, through the service the import jobs use."""

    class Meta:
        model = DatasetVersion

    project = factory.SubFactory(ProjectFactory)
    created_by = None
    frame = factory.LazyFunction(binary_frame)
    name = "customers"
    kind = "import"
    parents: tuple[DatasetVersion, ...] = ()
    typed = False  # True: typed and schema'd as an import stores a file (yes/no as booleans with their tokens)

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kw: Any) -> DatasetVersion:
        name, kind, user, frame = kw["name"], kw["kind"], kw["created_by"], kw["frame"]
        schema = infer_schema(frame) if kw["typed"] else None
        with temp_path(".parquet") as tmp:
            data_files.write_frame(apply_schema(frame, schema) if schema is not None else frame, tmp)
            return dataset_version_create(
                project_id=kw["project"].pk,
                dataset_name=name,
                local_file=tmp,
                kind=kind,
                parents=kw["parents"],
                source={"kind": kind, "filename": f"{name}.csv"},
                created_by_id=user.pk if user else None,
                **({"schema": schema} if schema is not None else {}),
            )


def make_version(project: Any, user: Any, frame: pd.DataFrame, name: str = "customers") -> DatasetVersion:
    return DatasetVersionFactory(project=project, created_by=user, frame=frame, name=name)


# --- AutoML builds ----------------------------------------------------------------------------------------------


class AutomlBuildFactory(factory.Factory):
    """A finished build whose model was trained here on `frame` (the job's own path is covered by
    tests/automl/test_jobs.py). It stops after max_trials, so the generous budget only matters on a loaded machine,
    where 2 s once left a single candidate."""

    class Meta:
        model = AutomlBuild

    project = factory.SubFactory(ProjectFactory)
    created_by = None
    frame = factory.LazyFunction(binary_frame)
    target = "churn"
    budget = 60.0
    dataset_version = factory.LazyAttribute(lambda o: make_version(o.project, o.created_by, o.frame))

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kw: Any) -> AutomlBuild:
        project, frame, target = kw["project"], kw["frame"], kw["target"]
        result = engine.build(
            frame,
            engine.BuildConfig(
                target=target, time_budget_s=kw["budget"], seed=0, max_trials=4, algorithms=["linear", "lightgbm"]
            ),
        )
        with temp_path(".joblib", prefix="test-model-") as tmp:
            engine.save_model(result.model, tmp)
            artifact = artifact_store(
                project_id=project.pk, kind="automl.model", local_path=tmp, filename="model.joblib"
            )
        report = result.report
        return AutomlBuild.objects.create(
            project=project,
            created_by=kw["created_by"],
            dataset_version=kw["dataset_version"],
            target=target,
            problem_type=report["problem_type"],
            objective=report["objective"],
            report=report,
            best_candidate=report["best"],
            artifact=artifact,
            best_score=report["best_score"],
        )


def trained_build(project: Any, user: Any, frame: pd.DataFrame, target: str, budget: float = 60.0) -> AutomlBuild:
    return AutomlBuildFactory(project=project, created_by=user, frame=frame, target=target, budget=budget)


# --- model versions (no Canvas build): a small fitted engine model ------------------------------------------------


FEATURES = [
    {"name": "x1", "kind": "numeric", "dtype": "float64"},
    {"name": "x2", "kind": "numeric", "dtype": "float64"},
    {"name": "colour", "kind": "categorical", "dtype": "string"},
]
SIGNATURE_BINARY = {
    "inputs": [
        {"name": "x1", "type": "double"},
        {"name": "x2", "type": "double"},
        {"name": "colour", "type": "string"},
    ],
    "outputs": [{"name": "prediction", "type": "string"}],
}


def training_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    churn = np.where(x1 + 0.5 * x2 + (colour == "red") > 0.3, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "churn": churn})


def pipeline(estimator: Any) -> Pipeline:
    pre = ColumnTransformer(
        [("num", "passthrough", ["x1", "x2"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])]
    )
    return Pipeline([("pre", pre), ("model", estimator)])


def binary_model(seed: int = 0, flip: bool = False) -> AtelierModel:
    """A logistic regression on x1, x2, colour; `flip` swaps what it learns (a distinguishable second model)."""
    df = training_frame(seed=seed)
    y = (df["churn"] == ("no" if flip else "yes")).astype(int)
    pipe = pipeline(LogisticRegression(max_iter=200)).fit(df[["x1", "x2", "colour"]], y)
    return AtelierModel(
        problem_type="binary",
        target="churn",
        objective="roc_auc",
        classes=["no", "yes"],
        features=list(FEATURES),
        ignored_columns=["churn"],
        members=[Member("linear-0", "linear", 1.0, pipe)],
    )


def regression_model(offset: float = 0.0) -> AtelierModel:
    df = training_frame()
    y = 2 * df["x1"] - df["x2"] + offset
    pipe = pipeline(LinearRegression()).fit(df[["x1", "x2", "colour"]], y)
    return AtelierModel(
        problem_type="regression",
        target="score",
        objective="rmse",
        classes=[],
        features=list(FEATURES),
        ignored_columns=[],
        members=[Member("linear-0", "linear", 1.0, pipe)],
    )


def register(
    project: Any,
    user: Any,
    model: AtelierModel | None = None,
    *,
    group: str = "churn",
    approve_by: Any = None,
    dataset_version: Any = None,
) -> Any:
    """The model as the next version of `group` in `project`; approved when `approve_by` (an MLOps user) is given."""
    model = model or binary_model()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        save_model(model, path)
        artifact = artifact_store(
            project_id=project.pk, kind="automl.model", local_path=path, filename="model.joblib", created_by_id=user.pk
        )
    regression = model.problem_type == "regression"
    signature = {
        "inputs": SIGNATURE_BINARY["inputs"],
        "outputs": [{"name": "prediction", "type": "double" if regression else "string"}],
    }
    version = version_create(
        project=project,
        created_by=user,
        group_name=group,
        artifact=artifact,
        fmt="atelier",
        source_kind="automl",
        signature=signature,
        classes=list(model.classes),
        problem_type=model.problem_type,
        target=model.target,
        dataset_version=dataset_version,
    )
    if approve_by is not None:
        version = version_approval_update(
            version=version, user=approve_by, status="Approved", description="ok for tests"
        )
    return version


ROWS = [
    {"x1": 1.5, "x2": 0.2, "colour": "red"},
    {"x1": -2.0, "x2": -1.0, "colour": "blue"},
    {"x1": 0.1, "x2": 0.3, "colour": "green"},
]


class ModelVersionFactory(factory.Factory):
    """`model` (the churn classifier by default) registered as the next version of `group`; Approved by
    `approved_by` when given."""

    class Meta:
        model = ModelVersion

    project = factory.SubFactory(ProjectFactory)
    created_by = factory.SubFactory(UserFactory)
    model = factory.LazyFunction(binary_model)
    group = "churn"
    approved_by = None
    dataset_version = None

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kw: Any) -> ModelVersion:
        return register(
            kw["project"],
            kw["created_by"],
            kw["model"],
            group=kw["group"],
            approve_by=kw["approved_by"],
            dataset_version=kw["dataset_version"],
        )


# --- endpoints ------------------------------------------------------------------------------------------------


class EndpointFactory(factory.Factory):
    """A real-time endpoint of `model_version` (Approved), created by `created_by` (an MLOps engineer or an admin).
    The one-time key is kept on the instance as `raw_key`."""

    class Meta:
        model = Endpoint

    project = factory.SelfAttribute("model_version.project")
    created_by = None
    model_version = None
    name = factory.Sequence(lambda n: f"endpoint-{n}")
    endpoint_type = "realtime"

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kw: Any) -> Endpoint:
        from apps.endpoints.services import endpoint_create

        endpoint, key = endpoint_create(
            project=kw["project"],
            user=kw["created_by"],
            name=kw["name"],
            endpoint_type=kw["endpoint_type"],
            variants=[{"model_version": kw["model_version"]}],
        )
        endpoint.raw_key = key  # type: ignore[attr-defined]
        return endpoint


# --- labeling (Ground Truth) ------------------------------------------------------------------------------------

# One item's data per task type (LABELING.md "Item data"), for jobs built directly in tests.
LABELING_ITEM_DATA: dict[str, dict[str, Any]] = {
    "text_classification": {"text": "a fine day"},
    "text_classification_multi": {"text": "a fine day"},
    "named_entity": {"text": "Ada Lovelace lived in London"},
    "image_classification": {"image": "", "name": "cat.png", "width": 40, "height": 30},
    "image_classification_multi": {"image": "", "name": "cat.png", "width": 40, "height": 30},
    "bounding_box": {"image": "", "name": "cat.png", "width": 40, "height": 30},
    "tabular_classification": {"row": {"age": 41, "plan": "gold", "churned": "yes"}},
    "label_verification": {"text": "a fine day", "label": {"label": "pos"}, "source_item": 0},
    "rating": {"prompt": "Say hello", "responses": [{"text": "Hello!", "model": "m1"}]},
    "pairwise_preference": {
        "prompt": "Say hello",
        "responses": [{"text": "Hello!", "model": "m1"}, {"text": "Go away.", "model": "m2"}],
    },
    "ranking": {
        "prompt": "Say hello",
        "responses": [{"text": "Hello!", "model": "m1"}, {"text": "Hi.", "model": "m2"}, {"text": "No.", "model": ""}],
    },
    "rewrite": {"prompt": "Say hello", "responses": [{"text": "Go away.", "model": "m1"}]},
}
LABELING_SOURCE_KIND = {
    "image_classification": "images",
    "image_classification_multi": "images",
    "bounding_box": "images",
    "label_verification": "job",
    "rating": "prompts",
    "pairwise_preference": "prompts",
    "ranking": "prompts",
    "rewrite": "prompts",
}


def labeling_job(
    project: Any = None,
    *,
    created_by: Any = None,
    team: Any = None,
    workers: Any = (),
    task_type: str = "text_classification",
    items: Any = None,
    n_items: int = 3,
    status: str = "active",
    **fields: Any,
) -> Any:
    """A labeling job built directly (no prepare Job), ready for the queue: `n_items` items of `task_type`'s example
    data (or `items`: a list of data dicts), for `team` (default: a new employees team of `project` holding `workers`,
    who become project members). `fields` override the job's columns (labels, criteria, workers_per_item, ...).

        job = labeling_job(project, workers=[labeler1, labeler2], labels=["pos", "neg"], n_items=10)
    """
    from apps.accounts.models import WorkTeam
    from apps.labeling.models import LabelingItem, LabelingJob

    project = project or ProjectFactory()
    workers = list(workers)
    if team is None:
        for worker in workers:
            membership_add(project=project, user=worker)
        team = WorkTeam.objects.create(project=project, name=f"Team {WorkTeam.objects.count() + 1}")
        team.members.add(*workers)
    elif workers:
        team.members.add(*workers)
    created_by = created_by or UserFactory(personas=["data_scientist"], projects=[project])
    defaults: dict[str, Any] = {
        "name": f"Labeling job {LabelingJob.objects.count() + 1}",
        "source_kind": LABELING_SOURCE_KIND.get(task_type, "dataset"),
        "labels": [] if task_type in ("rating", "pairwise_preference", "ranking", "rewrite") else ["pos", "neg"],
        "workers_per_item": 5 if task_type == "bounding_box" else 3,
        "attribute_name": "label",
    }
    if task_type == "named_entity":
        defaults["labels"] = ["PER", "LOC"]
    if task_type == "label_verification":
        defaults["labels"] = ["Correct", "Incorrect"]
    if task_type == "rating":
        defaults["criteria"] = [{"name": "helpfulness", "description": ""}, {"name": "humour", "description": ""}]
    defaults.update(fields)
    data = items if items is not None else [dict(LABELING_ITEM_DATA[task_type]) for _ in range(n_items)]
    job = LabelingJob.objects.create(
        project=project,
        created_by=created_by,
        team=team,
        task_type=task_type,
        status=status,
        item_count=len(data),
        **defaults,
    )
    LabelingItem.objects.bulk_create(
        [LabelingItem(job=job, position=i, data=d, source_ref=f"row {i}") for i, d in enumerate(data)]
    )
    return job
