"""Mitigation in the data (apps/clarify/mitigation_data.py): on a biased generated dataset of 20,000 rows, the
reweighted and the resampled versions are written through a Data Wrangler flow step, with lineage, and move the label
DPL (q_a - q_d, computed here with pandas) to about 0. Real files and database, the caller's job context."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError

from apps.clarify.mitigation_data import mitigated_version_create
from apps.datasets import selectors as data_selectors
from apps.datasets.models import Dataset, DatasetVersion, Flow
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.jobs.runtime import JobContext
from tests.factories import DatasetVersionFactory, make_version

N = 20_000
MIN_DPL_DROP = 0.25  # the generated DPL is ~0.35; a mitigation must remove at least this much of it


def biased_frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Women (30% of rows) are approved at 25%, men at 60%: DPL = q_men - q_women ~ 0.35."""
    rng = np.random.default_rng(seed)
    sex = np.where(rng.random(n) < 0.3, "female", "male")
    income = rng.normal(50_000, 12_000, n).round(0)
    rate = np.where(sex == "female", 0.25, 0.6)
    approved = np.where(rng.random(n) < rate, "Yes", "No")
    return pd.DataFrame({"applicant": np.arange(n), "sex": sex, "income": income, "approved": approved})


def dpl(df: pd.DataFrame, weights: str | None = None) -> float:
    """DPL = q_a - q_d: positive label rate of the other group minus that of the sensitive group (female)."""
    w = df[weights].astype(float) if weights else pd.Series(1.0, index=df.index)
    positive = df["approved"].astype(str).isin(["Yes", "True"]).astype(float)
    female = df["sex"] == "female"
    q_a = (w[~female] * positive[~female]).sum() / w[~female].sum()
    q_d = (w[female] * positive[female]).sum() / w[female].sum()
    return float(q_a - q_d)


def create(version: DatasetVersion, user: Any, method: str, **kw: Any) -> DatasetVersion:
    args: dict[str, Any] = {
        "label_column": "approved",
        "positive_values": ["Yes"],
        "facet_column": "sex",
        "facet_values": ["female"],
    }
    return mitigated_version_create(version=version, method=method, created_by=user, **{**args, **kw})


@pytest.fixture
def biased_version(project_a, ds_user, media) -> DatasetVersion:  # type: ignore[no-untyped-def]
    return make_version(project_a, ds_user, biased_frame(), name="loans")


def test_resampling_moves_dpl_to_about_zero_through_a_flow_step(biased_version, ds_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = data_selectors.version_frame(version=biased_version)
    new = create(biased_version, ds_user, "resample", seed=3)
    after = data_selectors.version_frame(version=new)

    assert dpl(before) > 0.3
    assert abs(dpl(after)) < 0.002
    assert dpl(before) - abs(dpl(after)) >= MIN_DPL_DROP
    # every (group, label) cell has its expected size round(n_s n_y / n)
    for (sex, approved), size in after.groupby(["sex", "approved"]).size().items():
        expected = (before["sex"] == sex).sum() * (before["approved"] == approved).sum() / len(before)
        assert size == round(expected), (sex, approved)
    assert set(after["applicant"]) <= set(before["applicant"])  # rows copied or dropped, never made up

    # lineage: a Flow with the operator, the parent version, the mitigation described
    assert new.dataset.name == "loans resampled" and new.kind == "flow"
    assert list(new.parents.all()) == [biased_version]
    flow = Flow.objects.get(pk=new.source["flow"])
    assert new.source["flow_name"] == flow.name
    assert [s["op"] for s in flow.steps] == ["fairness_resample"]
    assert flow.steps[0]["parameters"]["seed"] == 3 and flow.steps[0]["parameters"]["facet_values"] == ["female"]
    assert flow.source_versions.get() == biased_version
    note = new.source["mitigation"]
    assert note["method"] == "resample" and note["rows_before"] == N and note["rows_after"] == len(after)
    assert note["dpl_before"] == pytest.approx(dpl(before)) and note["dpl_after"] == pytest.approx(dpl(after))
    assert [c["count"] for c in note["cells"]] == [
        int(((before["sex"] == s) & (before["approved"] == a)).sum())
        for s, a in [("female", "Yes"), ("female", "No"), ("male", "Yes"), ("male", "No")]
    ]
    # the flow's exported script, run on the source file, writes the very rows of the new version
    name, script = data_selectors.flow_script(flow=flow)
    (tmp_path / name).write_text(script)
    before.to_parquet(tmp_path / "loans-v1.parquet", index=False)
    completed = subprocess.run(
        [sys.executable, name, "out.parquet"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), after)


def test_reweighing_gives_a_weighted_dpl_of_zero_and_keeps_the_rows(biased_version, ds_user) -> None:  # type: ignore[no-untyped-def]
    before = data_selectors.version_frame(version=biased_version)
    new = create(biased_version, ds_user, "reweigh")
    after = data_selectors.version_frame(version=new)

    column = new.source["mitigation"]["weight_column"]
    assert column == "fairness_weight"
    pd.testing.assert_frame_equal(after.drop(columns=[column]), before)
    assert dpl(after) == pytest.approx(dpl(before))  # unweighted, nothing changed
    assert abs(dpl(after, column)) < 1e-12
    assert dpl(before) - abs(dpl(after, column)) >= MIN_DPL_DROP
    # AIF360's weights: P(S=s) P(Y=y) / P(S=s, Y=y), computed here from the data
    p_s = before["sex"].value_counts(normalize=True)
    p_y = before["approved"].value_counts(normalize=True)
    p_sy = before.groupby(["sex", "approved"]).size() / len(before)
    expected = [p_s[s] * p_y[y] / p_sy[(s, y)] for s, y in zip(before["sex"], before["approved"], strict=True)]
    np.testing.assert_allclose(after[column].to_numpy(), expected, rtol=1e-12)
    assert after[column].sum() == pytest.approx(N)
    assert new.dataset.name == "loans reweighted" and list(new.parents.all()) == [biased_version]
    flow = Flow.objects.get(pk=new.source["flow"])
    assert [s["op"] for s in flow.steps] == ["fairness_reweigh"]
    assert abs(new.source["mitigation"]["dpl_after"]) < 1e-12


def test_a_yes_no_label_is_given_as_the_user_wrote_it(project_a, ds_user, media) -> None:  # type: ignore[no-untyped-def]
    frame = biased_frame(2_000, seed=1)
    version = DatasetVersionFactory(project=project_a, created_by=ds_user, frame=frame, name="typed", typed=True)
    assert version.column("approved")["type"] == "boolean"  # stored as booleans, tokens Yes/No
    new = create(version, ds_user, "resample")
    after = data_selectors.version_frame(version=new, as_written=True)
    assert set(after["approved"]) == {"Yes", "No"}  # the output keeps the user's spelling
    assert new.source["mitigation"]["positive_values"] == ["Yes"]
    assert abs(dpl(after)) < 0.01 < 0.3 < dpl(frame)


def test_a_weight_column_name_that_exists_gets_a_suffix(project_a, ds_user, media) -> None:  # type: ignore[no-untyped-def]
    version = make_version(project_a, ds_user, biased_frame(500).assign(fairness_weight=1.0), name="w")
    new = create(version, ds_user, "reweigh")
    assert new.source["mitigation"]["weight_column"] == "fairness_weight_2"
    assert "fairness_weight_2" in data_selectors.version_frame(version=new).columns


@pytest.mark.parametrize(
    ("kw", "field", "message"),
    [
        ({"method": "smote"}, "method", "Unknown data mitigation 'smote'"),
        ({"label_column": "outcome"}, "label_column", "Column 'outcome' not found"),
        ({"facet_column": "gender"}, "facet_column", "Column 'gender' not found"),
        ({"facet_values": ["nonbinary"]}, "facet_values", "'nonbinary' never occur in column 'sex'"),
        ({"positive_values": ["Yes", "No"]}, "label_column", "has one class only"),
        ({"positive_values": ["Maybe"]}, "positive_values", "'Maybe' never occur"),
        ({"facet_values": [], "facet_threshold": 3.0}, "facet_threshold", "needs a numeric facet column"),
        ({"facet_values": ["female", "male"]}, "facet_values", "split the rows in two"),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_is_written(biased_version, ds_user, kw, field, message) -> None:  # type: ignore[no-untyped-def]
    method = kw.pop("method", "reweigh")
    flows, versions = Flow.objects.count(), DatasetVersion.objects.count()
    with pytest.raises(ValidationError) as caught:
        create(biased_version, ds_user, method, **kw)
    errors = caught.value.message_dict
    assert list(errors) == [field] and message in errors[field][0]
    assert Flow.objects.count() == flows and DatasetVersion.objects.count() == versions


def test_in_a_job_the_version_is_recorded_under_it_and_a_retry_reuses_it(biased_version, ds_user, project_a) -> None:  # type: ignore[no-untyped-def]
    job = Job.objects.create(
        kind="clarify.mitigate", project=project_a, created_by=ds_user, status=JobStatus.RUNNING, attempts=1
    )
    new = mitigated_version_create(
        version=biased_version,
        method="resample",
        label_column="income",
        label_threshold=55_000.0,
        facet_column="sex",
        facet_values=["female"],
        created_by=ds_user,
        ctx=JobContext(job),
    )
    assert new.job_id == job.pk
    job.refresh_from_db()
    assert job.progress >= 0.9  # the flow execution reported its progress on the caller's job
    again = mitigated_version_create(
        version=biased_version,
        method="resample",
        label_column="income",
        label_threshold=55_000.0,
        facet_column="sex",
        facet_values=["female"],
        created_by=ds_user,
        ctx=JobContext(Job.objects.get(pk=job.pk)),
    )
    assert again.pk == new.pk
    assert Dataset.objects.filter(name="loans resampled").get().versions.count() == 1
    # a numeric label by threshold: the income above 55,000 is as frequent in both groups afterwards
    after = data_selectors.version_frame(version=new)
    rich = after["income"] > 55_000
    female = after["sex"] == "female"
    assert abs(rich[female].mean() - rich[~female].mean()) < 0.002
