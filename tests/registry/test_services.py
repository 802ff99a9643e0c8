"""Registry services against the database: numbering, the approval rule and its history, aliases, tags, scoping."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from apps.registry import selectors, services
from apps.registry.choices import ApprovalStatus
from apps.registry.models import ApprovalEvent, ModelAlias
from tests.registry.conftest import canvas_version


@pytest.fixture
def version(project_a, ds_user):  # type: ignore[no-untyped-def]
    return canvas_version(project_a, ds_user)


def test_versions_are_numbered_per_group_and_start_pending(project_a, ds_user):
    first = canvas_version(project_a, ds_user, group="churn")
    second = canvas_version(project_a, ds_user, group="churn")
    other = canvas_version(project_a, ds_user, group="upsell")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.group_id == second.group_id != other.group_id
    assert second.approval_status == ApprovalStatus.PENDING
    assert [c["name"] for c in second.signature["inputs"]] == ["x1", "x2", "colour"]
    assert second.signature["outputs"] == [{"name": "prediction", "type": "string"}]
    assert second.classes == ["no", "yes"] and second.metrics["roc_auc"] > 0.5


@pytest.mark.parametrize(
    "name", ["", "-churn", "churn-", "a" * 64, "churn model", "../etc", "churn/v2", "%2e%2e", "café", "a_b"]
)
def test_group_names_follow_sagemakers_rule(project_a, ds_user, name):
    with pytest.raises(ValidationError) as err:
        canvas_version(project_a, ds_user, group=name)
    assert "name" in err.value.message_dict


def test_a_data_scientist_may_not_approve(version, ds_user):
    with pytest.raises(PermissionDenied):
        services.version_approval_update(version=version, user=ds_user, status=ApprovalStatus.APPROVED)
    version.refresh_from_db()
    assert version.approval_status == ApprovalStatus.PENDING
    assert version.approval_events.count() == 1  # "Registered." only


@pytest.mark.parametrize("who", ["mlops_user", "admin_user"])
def test_mlops_engineers_and_admins_approve_with_history(version, who, request):
    user = request.getfixturevalue(who)
    services.version_approval_update(version=version, user=user, status="Approved", description="Bias review ok")
    services.version_approval_update(version=version, user=user, status="Rejected", description="Drift found")
    version.refresh_from_db()
    assert version.approval_status == "Rejected"
    assert (version.approval_by, version.approval_description) == (user, "Drift found")
    assert version.approval_at is not None
    history = list(version.approval_events.order_by("created_at", "id"))
    assert [(e.from_status, e.to_status, e.description) for e in history] == [
        ("PendingManualApproval", "PendingManualApproval", "Registered."),
        ("PendingManualApproval", "Approved", "Bias review ok"),
        ("Approved", "Rejected", "Drift found"),
    ]
    assert [e.created_by for e in history[1:]] == [user, user]
    assert history[1].created_at <= history[2].created_at


@pytest.mark.parametrize("status", ["approved", "Deployed", "", None, "PendingManualApproval "])
def test_unknown_status_is_refused(version, mlops_user, status):
    with pytest.raises(ValidationError) as err:
        services.version_approval_update(version=version, user=mlops_user, status=status)
    assert "status" in err.value.message_dict
    assert ApprovalEvent.objects.filter(version=version).count() == 1


def test_an_alias_moves_between_versions_of_a_group(project_a, ds_user):
    v1 = canvas_version(project_a, ds_user)
    v2 = canvas_version(project_a, ds_user)
    services.alias_set(version=v1, name="Champion")
    assert list(v1.aliases.values_list("name", flat=True)) == ["champion"]
    services.alias_set(version=v2, name="champion")
    assert not v1.aliases.exists()
    assert ModelAlias.objects.get(group=v1.group, name="champion").version == v2
    services.alias_set(version=v1, name="challenger")
    with pytest.raises(ValidationError):
        services.alias_delete(version=v1, name="champion")  # it points at v2
    services.alias_delete(version=v2, name="champion")
    assert list(ModelAlias.objects.values_list("name", flat=True)) == ["challenger"]


@pytest.mark.parametrize("alias", ["", "1", "42", "-x", "has space", "x" * 64, "../a", "a/b", "%2e"])
def test_invalid_aliases_are_refused(version, alias):
    with pytest.raises(ValidationError) as err:
        services.alias_set(version=version, name=alias)
    assert "alias" in err.value.message_dict


@pytest.mark.parametrize(
    ("tags", "ok"),
    [
        ({"team": "risk", "stage": ""}, True),
        ({}, True),
        (["team"], False),
        ("team=risk", False),
        ({"": "x"}, False),
        ({"k" * 129: "x"}, False),
        ({"k": "v" * 257}, False),
        ({f"k{i}": "v" for i in range(51)}, False),
    ],
)
def test_tags_are_validated(version, tags, ok):
    if ok:
        services.version_update(version=version, tags=tags)
        version.refresh_from_db()
        assert version.tags == tags
    else:
        with pytest.raises(ValidationError) as err:
            services.version_update(version=version, tags=tags)
        assert "tags" in err.value.message_dict


def test_metadata_must_be_a_bounded_object(version):
    services.version_update(version=version, metadata={"owner": "risk team", "ticket": 42})
    version.refresh_from_db()
    assert version.metadata == {"owner": "risk team", "ticket": 42}
    for bad in (["x"], {"blob": "x" * 70_000}):
        with pytest.raises(ValidationError):
            services.version_update(version=version, metadata=bad)


def test_selectors_scope_versions_and_groups_to_members(version, outsider, ds_user, admin_user):
    assert selectors.version_get_for_user(user=ds_user, pk=version.pk) == version
    assert selectors.version_get_for_user(user=admin_user, pk=version.pk) == version
    with pytest.raises(Http404):
        selectors.version_get_for_user(user=outsider, pk=version.pk)
    with pytest.raises(Http404):
        selectors.group_get_for_user(user=outsider, pk=version.group_id)
    assert not selectors.group_list_for_user(user=outsider).exists()
    group = selectors.group_list_for_user(user=ds_user).get()
    assert (group.version_count, group.latest_version, group.latest_status) == (1, 1, "PendingManualApproval")


def test_comparison_marks_the_best_per_metric_and_differing_params(project_a, ds_user):
    v1 = canvas_version(project_a, ds_user)
    v2 = canvas_version(project_a, ds_user)
    services.version_update(version=v1, metadata={})
    v1.metrics, v1.hyperparameters = {"roc_auc": 0.8, "log_loss": 0.3, "custom": "n/a"}, {"C": 1.0, "penalty": "l2"}
    v2.metrics, v2.hyperparameters = {"roc_auc": 0.9, "log_loss": 0.4}, {"C": 0.1, "penalty": "l2"}
    table = selectors.comparison(versions=[v1, v2])
    rows = {r["name"]: r for r in table["metrics"]}
    assert [c["best"] for c in rows["roc_auc"]["cells"]] == [False, True]  # higher is better
    assert [c["best"] for c in rows["log_loss"]["cells"]] == [True, False]  # lower is better
    assert [c["best"] for c in rows["custom"]["cells"]] == [False, False]
    params = {r["name"]: r for r in table["params"]}
    assert params["C"]["differs"] and not params["penalty"]["differs"]


def test_a_flipped_byte_in_storage_refuses_to_load(version):
    from pathlib import Path

    from apps.core.artifacts import ArtifactTampered
    from apps.core.storage import storage
    from apps.registry.loading import load_version

    load_version(version)  # loads while intact
    path = Path(storage().path(version.artifact.path))
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactTampered, match="SHA-256 mismatch"):
        load_version(version)


def test_an_edited_digest_fails_the_hmac(version):
    from apps.core.artifacts import ArtifactTampered
    from apps.core.models import Artifact
    from apps.registry.loading import load_version

    Artifact.objects.filter(pk=version.artifact_id).update(sha256="0" * 64)
    version.artifact.refresh_from_db()
    with pytest.raises(ArtifactTampered, match="signature does not match"):
        load_version(version)


@pytest.mark.parametrize("name", ["api:model-version-list", "api:model-group-list"])
def test_list_queries_do_not_grow_with_rows(api_for, project_a, ds_user, name, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client = api_for(ds_user)
    v = canvas_version(project_a, ds_user, group="churn")
    services.alias_set(version=v, name="champion")
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse(name)).status_code == 200
    for i in range(3):
        w = canvas_version(project_a, ds_user, group=f"model-{i}")
        services.alias_set(version=w, name="champion")
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(reverse(name)).status_code == 200


def test_the_storage_report_counts_registry_assets(version, project_b):
    from apps.core.assets import asset_counters

    counts = {c.asset_type: (c.count, c.bytes) for c in asset_counters()["registry"](version.project_id)}
    assert counts == {"model groups": (1, 0), "model versions": (1, version.artifact.size)}
    assert asset_counters()["registry"](project_b.pk) == []
