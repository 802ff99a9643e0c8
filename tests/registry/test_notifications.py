"""A model version that waits for approval is told to the project's members who may approve it (MLOps engineers and
admins among its members), once each, with a link to the version; not to the person who registered it, not to other
personas, not outside the project. Approving or rejecting it tells no one again."""

from __future__ import annotations

import io

from django.urls import reverse

from apps.core.models import Notification
from tests.factories import UserFactory
from tests.registry.conftest import logistic_skops


def test_an_imported_version_tells_the_projects_approvers_once(
    api_for, client_for, project_a, project_b, ds_user, mlops_user, labeler_user, admin_user, outsider
):
    admin_member = UserFactory(username="ines", personas=["admin"], projects=[project_a])
    UserFactory(username="otto", personas=["mlops_engineer"], projects=[project_b])  # another project's engineer
    response = api_for(ds_user).post(
        reverse("api:model-version-import"),
        {"project": project_a.pk, "group": "notebook-model", "file": io.BytesIO(logistic_skops())},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    version_id = response.json()["id"]

    told = Notification.objects.order_by("user__username")
    assert [n.user.username for n in told] == ["ines", "omar"]
    assert {(n.title, n.url) for n in told} == {
        ("notebook-model v1 waits for approval", f"/registry/versions/{version_id}/")
    }
    assert "dana registered notebook-model v1 in Alpha" in told[0].body

    page = client_for(mlops_user).get("/")
    assert b'id="unread-count" aria-label="1 unread">1<' in page.content
    opened = client_for(mlops_user).get(f"/notifications/{told[1].pk}/")
    assert opened["Location"] == f"/registry/versions/{version_id}/"

    approve = api_for(mlops_user).post(
        reverse("api:model-version-approval", args=[version_id]), {"status": "Approved"}, format="json"
    )
    assert approve.status_code == 200, approve.json()
    assert Notification.objects.count() == 2
    assert admin_member.notifications.count() == 1


def test_an_engineer_who_registers_is_not_told_about_their_own_version(api_for, project_a, mlops_user):
    response = api_for(mlops_user).post(
        reverse("api:model-version-import"),
        {"project": project_a.pk, "group": "mine", "file": io.BytesIO(logistic_skops())},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert not Notification.objects.exists()
