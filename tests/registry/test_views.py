"""Registry pages: lists, version page (approval panel only for approvers), approval/aliases/edit forms with CSRF,
compare page, import form (pickles refused), export download, tampering, escaping and membership."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.core.storage import storage
from apps.registry import services
from apps.registry.models import ModelVersion
from tests.registry.conftest import canvas_version, crafted_pickles, forest_skops, logistic_skops

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def version(project_a, ds_user):  # type: ignore[no-untyped-def]
    return canvas_version(project_a, ds_user)


def _page(client, name, *args, **query):  # type: ignore[no-untyped-def]
    response = client.get(reverse(name, args=args), query)
    return response, response.content.decode()


def test_group_list_shows_counts_and_state_and_an_empty_state(client_for, project_a, ds_user):
    response, html = _page(client_for(ds_user), "registry:list")
    assert response.status_code == 200 and "No registered models yet" in html
    canvas_version(project_a, ds_user)
    canvas_version(project_a, ds_user)
    _, html = _page(client_for(ds_user), "registry:list")
    row = re.search(r'<tr data-group="churn">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="num">2</td>' in row and "v2" in row and "Pending approval" in row


def test_version_page_shows_signature_metrics_lineage_and_history(client_for, version):
    response, html = _page(client_for(version.created_by), "registry:version", version.pk)
    assert response.status_code == 200
    for text in ("x1", "colour", "roc_auc", "Registered.", "scikit-learn test", reverse("automl:detail", args=[1])[:8]):
        assert text in html
    assert 'id="approval-form"' not in html and 'id="approval-rule"' in html  # a data scientist cannot approve
    assert reverse("registry:version_export", args=[version.pk]) in html


def test_the_approval_panel_is_for_approvers(client_for, version, mlops_user):
    _, html = _page(client_for(mlops_user), "registry:version", version.pk)
    assert 'id="approval-form"' in html and 'value="Approved"' in html


def test_approve_through_the_form(client_for, version, mlops_user):
    client = client_for(mlops_user)
    response = client.post(
        reverse("registry:version_approval", args=[version.pk]),
        {"status": "Approved", "description": "Latency and bias checked"},
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert (version.approval_status, version.approval_by, version.approval_description) == (
        "Approved",
        mlops_user,
        "Latency and bias checked",
    )
    _, html = _page(client, "registry:version", version.pk)
    assert html.count('class="history-entry"') == 2 and "Latency and bias checked" in html


def test_a_data_scientist_posting_approval_gets_403(client_for, version, ds_user):
    response = client_for(ds_user).post(reverse("registry:version_approval", args=[version.pk]), {"status": "Approved"})
    assert response.status_code == 403
    assert ModelVersion.objects.get(pk=version.pk).approval_status == "PendingManualApproval"


def test_unknown_status_in_the_form_is_400(client_for, version, mlops_user):
    response = client_for(mlops_user).post(
        reverse("registry:version_approval", args=[version.pk]), {"status": "Deployed"}
    )
    assert response.status_code == 400
    assert ModelVersion.objects.get(pk=version.pk).approval_events.count() == 1


def test_forms_need_csrf(version, mlops_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(mlops_user)
    for name, data in (
        ("registry:version_approval", {"status": "Approved"}),
        ("registry:version_alias", {"alias": "champion"}),
        ("registry:version_edit", {"description": "x"}),
    ):
        assert client.post(reverse(name, args=[version.pk]), data).status_code == 403, name
    assert client.post(reverse("registry:import"), {"group": "x"}).status_code == 403
    assert client.post(reverse("registry:group", args=[version.group_id]), {"description": "x"}).status_code == 403
    version.refresh_from_db()
    assert version.approval_status == "PendingManualApproval" and not version.aliases.exists()


def test_alias_and_edit_forms(client_for, version, ds_user):
    client = client_for(ds_user)
    client.post(reverse("registry:version_alias", args=[version.pk]), {"alias": "champion"})
    assert list(version.aliases.values_list("name", flat=True)) == ["champion"]
    response = client.post(reverse("registry:version_alias", args=[version.pk]), {"alias": "../../x"}, follow=True)
    assert "not a valid alias" in response.content.decode()
    client.post(reverse("registry:version_alias", args=[version.pk]), {"alias": "champion", "action": "remove"})
    assert not version.aliases.exists()
    response = client.post(
        reverse("registry:version_edit", args=[version.pk]),
        {"description": "tuned", "tags": "team=risk\nstage=pilot", "metadata": '{"jira": 7}'},
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert (version.description, version.tags, version.metadata) == (
        "tuned",
        {"team": "risk", "stage": "pilot"},
        {"jira": 7},
    )
    bad = client.post(reverse("registry:version_edit", args=[version.pk]), {"metadata": "[1, 2]"})
    assert bad.status_code == 400 and "Metadata must be a JSON object" in bad.content.decode()


def test_hostile_strings_are_escaped(client_for, project_a, ds_user, version):
    services.version_update(version=version, description=HOSTILE, tags={HOSTILE: HOSTILE}, metadata={"note": HOSTILE})
    services.group_update(group=version.group, description=HOSTILE, tags={"k": HOSTILE})
    version.metrics = {HOSTILE: 1.0}
    version.hyperparameters = {HOSTILE: HOSTILE}
    version.save()
    other = canvas_version(project_a, ds_user)
    client = client_for(ds_user)
    pages = [
        _page(client, "registry:version", version.pk)[1],
        _page(client, "registry:group", version.group_id)[1],
        _page(client, "registry:list")[1],
        _page(client, "registry:compare", versions=f"{version.pk},{other.pk}")[1],
    ]
    for html in pages:
        assert HOSTILE not in html
    assert "&lt;script&gt;" in pages[0]


def test_compare_page_marks_best_and_differences(client_for, project_a, ds_user):
    v1, v2 = canvas_version(project_a, ds_user), canvas_version(project_a, ds_user)
    ModelVersion.objects.filter(pk=v1.pk).update(
        metrics={"roc_auc": 0.91, "log_loss": 0.40}, hyperparameters={"C": 1.0, "penalty": "l2"}
    )
    ModelVersion.objects.filter(pk=v2.pk).update(
        metrics={"roc_auc": 0.85, "log_loss": 0.35}, hyperparameters={"C": 0.1, "penalty": "l2"}
    )
    response, html = _page(client_for(ds_user), "registry:compare", versions=f"{v1.pk},{v2.pk}")
    assert response.status_code == 200
    roc = re.search(r'<tr data-metric="roc_auc">(.*?)</tr>', html, re.S).group(1)
    loss = re.search(r'<tr data-metric="log_loss">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'class="num( best)?"', roc) == [" best", ""]
    assert re.findall(r'class="num( best)?"', loss) == ["", " best"]
    assert '<tr data-param="C" class="differs">' in html and '<tr data-param="penalty">' in html
    figure = json.loads(
        re.search(r'<script id="compare-figure" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert [t["name"] for t in figure["data"]] == ["churn v1", "churn v2"]
    assert figure["data"][0]["y"] == [0.4, 0.91] and figure["layout"]["barmode"] == "group"


@pytest.mark.parametrize("query", ["", "1", "a,b", "1,2,3,4,5,6,7"])
def test_compare_needs_two_to_six_ids(client_for, ds_user, query):
    assert client_for(ds_user).get(reverse("registry:compare"), {"versions": query}).status_code == 400


def test_compare_with_a_foreign_version_is_404(client_for, version, project_b, outsider, ds_user):
    theirs = canvas_version(project_b, outsider, group="bravo")
    response = client_for(ds_user).get(reverse("registry:compare"), {"versions": f"{version.pk},{theirs.pk}"})
    assert response.status_code == 404 and "bravo" not in response.content.decode()


def test_import_form_imports_skops(client_for, project_a, ds_user):
    response = client_for(ds_user).post(
        reverse("registry:import"),
        {"group": "notebook", "file": SimpleUploadedFile("p.skops", logistic_skops()), "tags": "origin=notebook"},
    )
    assert response.status_code == 302
    version = ModelVersion.objects.get()
    assert response["Location"] == reverse("registry:version", args=[version.pk])
    assert version.format == "skops" and version.tags == {"origin": "notebook"}


def test_import_form_names_untrusted_types(client_for, project_a, ds_user):
    response = client_for(ds_user).post(
        reverse("registry:import"), {"group": "forest", "file": SimpleUploadedFile("f.skops", forest_skops())}
    )
    assert response.status_code == 400
    assert '<li class="mono">sklearn.tree._tree.Tree</li>' in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_crafted_pickles_are_refused_through_the_import_form(client_for, project_a, ds_user, canary):
    client = client_for(ds_user)
    for name, content in crafted_pickles(canary).items():
        response = client.post(
            reverse("registry:import"),
            {
                "group": "evil",
                "file": SimpleUploadedFile(name, content),
                "signature": '{"inputs": [{"name": "a", "type": "double"}]}',
            },
        )
        assert response.status_code == 400, name
        assert "pickles are never loaded" in response.content.decode(), name
        assert not canary.exists(), name
    assert not ModelVersion.objects.exists()


def test_import_form_is_capped(client_for, project_a, ds_user, settings):
    settings.REGISTRY_MAX_IMPORT_BYTES = 2000
    response = client_for(ds_user).post(
        reverse("registry:import"), {"group": "big", "file": SimpleUploadedFile("p.skops", logistic_skops())}
    )
    assert response.status_code == 413 and "REGISTRY_MAX_IMPORT_BYTES" in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_export_download(client_for, version, ds_user):
    response = client_for(ds_user).get(reverse("registry:version_export", args=[version.pk]))
    assert response.status_code == 200 and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert "churn-v1/model/model.joblib" in names


def test_tampered_artifact_gives_a_clear_error(client_for, version, ds_user):
    path = Path(storage().path(version.artifact.path))
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    response = client_for(ds_user).get(reverse("registry:version_export", args=[version.pk]))
    assert response.status_code == 409
    html = response.content.decode()
    assert "could not be exported" in html and "SHA-256 mismatch" in html


def test_membership_and_personas(client_for, version, outsider, labeler_user):
    for name, pk in (
        ("registry:version", version.pk),
        ("registry:group", version.group_id),
        ("registry:version_export", version.pk),
    ):
        assert client_for(outsider).get(reverse(name, args=[pk])).status_code == 404, name
        assert client_for(labeler_user).get(reverse(name, args=[pk])).status_code == 403, name
    assert (
        client_for(outsider).post(reverse("registry:version_alias", args=[version.pk]), {"alias": "x"}).status_code
        == 404
    )
    assert client_for(labeler_user).get(reverse("registry:list")).status_code == 403
    assert "churn" not in client_for(outsider).get(reverse("registry:list")).content.decode()


def test_version_page_shows_nested_hyperparameters_as_data_not_json(client_for, version) -> None:
    version.hyperparameters = {
        "members": [{"name": "linear-2", "weight": 0.75}, {"name": "lightgbm-1", "weight": 0.25}]
    }
    version.save()
    _, html = _page(client_for(version.created_by), "registry:version", version.pk)
    section = html[html.index('id="hyperparameters"') :]
    section = section[: section.index("</div>")]
    assert '"name":' not in section and "[{" not in section, section  # not a JSON dump
    assert "<table" in section and "linear-2" in section and "lightgbm-1" in section
