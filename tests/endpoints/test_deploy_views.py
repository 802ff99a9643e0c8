"""The deploy form and the pages around it: Post/Redirect/Get after Deploy (the key shown once, a refresh is a GET),
the registry's Deploy button on Approved versions for those who may deploy, the form prefilled from it, and the
settings of other endpoint types ignored by the server."""

from __future__ import annotations

import re

from django.urls import reverse

from apps.endpoints.models import Endpoint, EndpointKey
from apps.registry.services import version_approval_update
from tests.factories import UserFactory, binary_model, register

FORM = {"name": "churn-live", "model_version": 0, "weight": 1, "capture_percent": 0}


def test_deploy_redirects_and_shows_the_key_once(client_for, mlops_user, version) -> None:
    client = client_for(mlops_user)
    response = client.post(reverse("endpoints:create"), {**FORM, "type": "realtime", "model_version": version.pk})
    endpoint = Endpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("endpoints:detail", args=[endpoint.pk]) + "#new-key"
    page = client.get(response["Location"]).content.decode()
    key = re.search(r'<code id="new-key-value">(ep_[A-Za-z0-9_-]+)</code>', page).group(1)
    assert EndpointKey.objects.get(endpoint=endpoint).prefix == key[: len(EndpointKey.objects.get().prefix)]
    again = client.get(response["Location"]).content.decode()
    assert key not in again and 'id="new-key-value"' not in again


def test_a_new_key_and_a_rotated_secret_redirect_too(client_for, mlops_user, version) -> None:
    client = client_for(mlops_user)
    client.post(reverse("endpoints:create"), {**FORM, "type": "async", "model_version": version.pk})
    endpoint = Endpoint.objects.get()
    client.get(reverse("endpoints:detail", args=[endpoint.pk]))  # the first key, seen
    response = client.post(reverse("endpoints:key_create", args=[endpoint.pk]), {"name": "app"})
    assert response.status_code == 302 and response["Location"].endswith("#new-key")
    assert 'id="new-key-value"' in client.get(response["Location"]).content.decode()
    response = client.post(reverse("endpoints:webhook_secret_rotate", args=[endpoint.pk]))
    assert response.status_code == 302 and response["Location"].endswith("#webhook-secret")
    assert 'class="secret" id="webhook-secret"' in client.get(response["Location"]).content.decode()
    assert 'class="secret" id="webhook-secret"' not in client.get(response["Location"]).content.decode()


def test_other_types_settings_are_ignored(client_for, mlops_user, version) -> None:
    client = client_for(mlops_user)
    bad_for_others = {"idle_timeout_s": "-4", "max_concurrency": "x", "webhook_url": "http://127.0.0.1/hook"}
    response = client.post(
        reverse("endpoints:create"), {**FORM, **bad_for_others, "type": "realtime", "model_version": version.pk}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    endpoint = Endpoint.objects.get()
    assert endpoint.type == "realtime" and endpoint.webhook_url == ""
    # ...but the chosen type's own settings are still checked
    response = client.post(
        reverse("endpoints:create"),
        {**FORM, **bad_for_others, "name": "churn-sl", "type": "serverless", "model_version": version.pk},
    )
    assert response.status_code == 400
    assert Endpoint.objects.count() == 1


def test_the_registry_offers_deploy_on_approved_versions_and_prefills_the_form(
    client_for, mlops_user, ds_user, project_a
) -> None:
    pending = register(project_a, mlops_user, binary_model(), group="churn")
    page = client_for(mlops_user).get(reverse("registry:version", args=[pending.pk])).content.decode()
    assert 'id="deploy-version"' not in page  # pending: nothing to deploy yet
    approved = version_approval_update(version=pending, user=mlops_user, status="Approved", description="ok")
    page = client_for(mlops_user).get(reverse("registry:version", args=[approved.pk])).content.decode()
    link = re.search(r'<a class="[^"]*" id="deploy-version" href="([^"]+)"', page).group(1)
    assert link == f"{reverse('endpoints:create')}?version={approved.pk}"
    page = client_for(ds_user).get(reverse("registry:version", args=[approved.pk])).content.decode()
    assert 'id="deploy-version"' not in page  # data scientists do not deploy
    form = client_for(mlops_user).get(link.replace("&amp;", "&")).content.decode()
    assert re.search(rf'<option value="{approved.pk}" selected>', form)
    assert 'value="churn-v1"' in form
    assert 'data-endpoint-row-types="serverless"' in form and 'data-endpoint-row-types="async"' in form
    assert "js/endpoint_form.js" in form


def test_the_deploy_button_opens_the_form_in_the_versions_project(
    client_for, mlops_user, project_a, project_b, media
) -> None:
    """An MLOps engineer working in project A follows Deploy on a version of project B (they are a member of both):
    the form opens in project B with that version chosen, not an empty form of project A."""
    from apps.accounts.services import membership_add

    membership_add(project=project_b, user=mlops_user)
    other = register(project_b, mlops_user, binary_model(), approve_by=mlops_user)
    client = client_for(mlops_user)
    client.post(reverse("accounts:project_switch"), {"project": project_a.pk})
    page = client.get(reverse("endpoints:create"), {"version": other.pk}).content.decode()
    assert re.search(rf'<option value="{other.pk}" selected', page), "the version is chosen"
    assert client.session["project_id"] == project_b.pk
    stranger = UserFactory(username="nadia", personas=["mlops_engineer"], projects=[project_a])
    theirs = client_for(stranger)
    page = theirs.get(reverse("endpoints:create"), {"version": other.pk}).content.decode()
    assert theirs.session.get("project_id") in (None, project_a.pk)
    assert not re.search(rf'<option value="{other.pk}"[^>]*>{re.escape(str(other))}', page)
