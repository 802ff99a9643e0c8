"""Registry API through the real URL conf: lists and filters, the approval rule, aliases, edits, import (pickles
refused), export, tampering (409) and membership (404)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from apps.core.storage import storage
from apps.registry.models import ModelVersion
from tests.registry.conftest import SIGNATURE, canvas_version, crafted_pickles, forest_skops, logistic_skops


@pytest.fixture
def version(project_a, ds_user):  # type: ignore[no-untyped-def]
    return canvas_version(project_a, ds_user)


def _approval(version):  # type: ignore[no-untyped-def]
    return reverse("api:model-version-approval", args=[version.pk])


def test_group_and_version_lists_filter_and_scope(api_for, project_a, project_b, ds_user, outsider, admin_user):
    mine = canvas_version(project_a, ds_user, group="churn")
    canvas_version(project_a, ds_user, group="upsell")
    theirs = canvas_version(project_b, outsider, group="bravo")
    client = api_for(ds_user)
    groups = client.get(reverse("api:model-group-list")).json()["results"]
    assert [(g["name"], g["version_count"], g["latest_approval_status"]) for g in groups] == [
        ("churn", 1, "PendingManualApproval"),
        ("upsell", 1, "PendingManualApproval"),
    ]
    versions = client.get(reverse("api:model-version-list"), {"group": mine.group_id}).json()["results"]
    assert [v["id"] for v in versions] == [mine.pk]
    assert client.get(reverse("api:model-version-list"), {"approval_status": "Approved"}).json()["results"] == []
    assert client.get(reverse("api:model-version-list"), {"project": project_b.pk}).json()["results"] == []
    admin = api_for(admin_user).get(reverse("api:model-version-list"), {"project": project_b.pk}).json()
    assert [v["id"] for v in admin["results"]] == [theirs.pk]


def test_version_detail_has_everything(api_for, version, mlops_user):
    api_for(mlops_user).post(_approval(version), {"status": "Approved", "description": "ok"}, format="json")
    api_for(mlops_user).post(
        reverse("api:model-version-aliases", args=[version.pk]), {"alias": "champion"}, format="json"
    )
    data = api_for(mlops_user).get(reverse("api:model-version-detail", args=[version.pk])).json()
    assert data["group_name"] == "churn" and data["version"] == 1 and data["format"] == "atelier"
    assert [c["name"] for c in data["signature"]["inputs"]] == ["x1", "x2", "colour"]
    assert data["classes"] == ["no", "yes"] and "roc_auc" in data["metrics"] and data["hyperparameters"]
    assert data["lineage"]["source"] == "automl" and data["aliases"] == ["champion"]
    assert data["artifact"]["sha256"] == version.artifact.sha256
    assert data["approval"]["status"] == "Approved" and data["approval"]["by"] == "omar"
    assert [(h["from_status"], h["to_status"], h["created_by"]) for h in data["approval_history"]] == [
        ("PendingManualApproval", "Approved", "omar"),
        ("PendingManualApproval", "PendingManualApproval", "dana"),
    ]


def test_a_data_scientist_gets_403_on_approval(api_for, version, ds_user):
    response = api_for(ds_user).post(_approval(version), {"status": "Approved"}, format="json")
    assert response.status_code == 403
    assert set(response.json()) == {"detail", "errors", "code"}
    assert ModelVersion.objects.get(pk=version.pk).approval_status == "PendingManualApproval"


@pytest.mark.parametrize("who", ["mlops_user", "admin_user"])
def test_mlops_and_admin_approve_through_the_api(api_for, version, who, request):
    user = request.getfixturevalue(who)
    response = api_for(user).post(_approval(version), {"status": "Rejected", "description": "too slow"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["approval"] | {"at": None} == {
        "status": "Rejected",
        "description": "too slow",
        "by": user.username,
        "at": None,
    }
    assert response.json()["approval_history"][0]["to_status"] == "Rejected"


@pytest.mark.parametrize("body", [{"status": "Deployed"}, {"status": "approved"}, {}])
def test_unknown_status_is_a_400_naming_the_field(api_for, version, mlops_user, body):
    response = api_for(mlops_user).post(_approval(version), body, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_aliases_move_and_are_removed(api_for, project_a, ds_user):
    v1, v2 = canvas_version(project_a, ds_user), canvas_version(project_a, ds_user)
    client = api_for(ds_user)
    url1, url2 = (reverse("api:model-version-aliases", args=[v.pk]) for v in (v1, v2))
    assert client.post(url1, {"alias": "champion"}, format="json").json()["aliases"] == ["champion"]
    assert client.post(url2, {"alias": "champion"}, format="json").json()["aliases"] == ["champion"]
    assert client.get(reverse("api:model-version-detail", args=[v1.pk])).json()["aliases"] == []
    bad = client.post(url1, {"alias": "../x"}, format="json")
    assert bad.status_code == 400 and "alias" in bad.json()["errors"]
    assert client.delete(url1, {"alias": "champion"}, format="json").status_code == 400  # not v1's
    assert client.delete(url2, {"alias": "champion"}, format="json").json()["aliases"] == []


def test_patch_edits_description_tags_and_metadata(api_for, version, ds_user):
    url = reverse("api:model-version-detail", args=[version.pk])
    client = api_for(ds_user)
    response = client.patch(
        url, {"description": "<b>v1</b>", "tags": {"team": "risk"}, "metadata": {"jira": 7}}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["description"], response.json()["tags"], response.json()["metadata"]) == (
        "<b>v1</b>",
        {"team": "risk"},
        {"jira": 7},
    )
    bad = client.patch(url, {"tags": ["x"]}, format="json")
    assert bad.status_code == 400 and "tags" in bad.json()["errors"]


def test_import_skops_through_the_api(api_for, project_a, ds_user):
    response = api_for(ds_user).post(
        reverse("api:model-version-import"),
        {
            "project": project_a.pk,
            "group": "notebook-model",
            "file": io.BytesIO(logistic_skops()),
            "description": "imported",
            "tags": '{"origin": "notebook"}',
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["format"] == "skops" and data["signature"]["inputs"] == SIGNATURE["inputs"]
    assert data["tags"] == {"origin": "notebook"}


def test_import_refuses_untrusted_skops_naming_the_type(api_for, project_a, ds_user):
    response = api_for(ds_user).post(
        reverse("api:model-version-import"),
        {"project": project_a.pk, "group": "forest", "file": io.BytesIO(forest_skops())},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["untrusted_types"] == ["sklearn.tree._tree.Tree"]
    assert "sklearn.tree._tree.Tree" in response.json()["detail"]


def test_crafted_pickles_are_refused_through_the_api(api_for, project_a, ds_user, canary):
    client = api_for(ds_user)
    for name, content in crafted_pickles(canary).items():
        upload = io.BytesIO(content)
        upload.name = name
        response = client.post(
            reverse("api:model-version-import"),
            {
                "project": project_a.pk,
                "group": "evil",
                "file": upload,
                "signature": '{"inputs": [{"name": "a", "type": "double"}]}',
            },
            format="multipart",
        )
        assert response.status_code == 400, name
        assert "pickles are never loaded" in response.json()["detail"], name
        assert not canary.exists(), name
    assert not ModelVersion.objects.exists()


def test_import_is_capped(api_for, project_a, ds_user, settings):
    settings.REGISTRY_MAX_IMPORT_BYTES = 2000
    response = api_for(ds_user).post(
        reverse("api:model-version-import"),
        {"project": project_a.pk, "group": "big", "file": io.BytesIO(logistic_skops())},
        format="multipart",
    )
    assert response.status_code == 413
    assert "REGISTRY_MAX_IMPORT_BYTES" in response.json()["detail"]
    assert not ModelVersion.objects.exists()


def test_import_into_a_foreign_project_is_404(api_for, project_b, ds_user):
    response = api_for(ds_user).post(
        reverse("api:model-version-import"),
        {"project": project_b.pk, "group": "x", "file": io.BytesIO(logistic_skops())},
        format="multipart",
    )
    assert response.status_code == 404
    assert not ModelVersion.objects.exists()


def test_export_is_a_zip_attachment(api_for, version, ds_user):
    response = api_for(ds_user).get(reverse("api:model-version-export-mlflow", args=[version.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith('attachment; filename="churn-v1-mlflow.zip"')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "churn-v1/MLmodel" in archive.namelist()


def test_a_tampered_artifact_is_a_409(api_for, version, ds_user):
    path = Path(storage().path(version.artifact.path))
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    response = api_for(ds_user).get(reverse("api:model-version-export-mlflow", args=[version.pk]))
    assert response.status_code == 409
    assert "SHA-256 mismatch" in response.json()["detail"] and "artifact" in response.json()["errors"]


def test_foreign_versions_are_404_and_labelers_403(api_for, version, outsider, labeler_user):
    for name in ("api:model-version-detail", "api:model-version-export-mlflow"):
        response = api_for(outsider).get(reverse(name, args=[version.pk]))
        assert response.status_code == 404 and response.json()["errors"] == {}
    assert api_for(outsider).get(reverse("api:model-group-detail", args=[version.group_id])).status_code == 404
    assert api_for(labeler_user).get(reverse("api:model-version-detail", args=[version.pk])).status_code == 403
    assert api_for(labeler_user).get(reverse("api:model-group-list")).status_code == 403
