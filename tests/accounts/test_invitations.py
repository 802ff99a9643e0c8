"""No open sign-up: the only way in without an admin is a single-use, expiring invitation link."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone

from apps.accounts.models import Invitation, Membership, User
from apps.accounts.services import invitation_accept, invitation_create, invitation_get_open

GOOD_PASSWORD = "plum-orchard-velvet-42"


def all_route_names() -> list[str]:
    names: list[str] = []

    def walk(resolver, namespace: str | None) -> None:  # type: ignore[no-untyped-def]
        for entry in resolver.url_patterns:
            if hasattr(entry, "url_patterns"):
                ns = entry.namespace and (f"{namespace}:{entry.namespace}" if namespace else entry.namespace)
                walk(entry, ns or namespace)
            elif entry.name:
                names.append(f"{namespace}:{entry.name}" if namespace else entry.name)

    walk(get_resolver(), None)
    return names


def test_there_is_no_registration_route() -> None:
    names = all_route_names()
    assert "accounts:login" in names  # the walk sees the account routes
    assert "registry:list" in names  # the Model Registry's routes are not sign-up routes
    assert [n for n in names if re.search(r"sign_?up|regist(?!ry)", n, re.I)] == []


@pytest.mark.parametrize(
    "path", ["/accounts/signup/", "/accounts/register/", "/signup/", "/register/", "/api/register/", "/api/users/"]
)
def test_posting_to_a_sign_up_path_is_404(db, path: str) -> None:
    response = Client().post(path, {"username": "mallory", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert response.status_code == 404
    assert not User.objects.filter(username="mallory").exists()


def test_login_page_offers_no_sign_up(db) -> None:
    html = Client().get(reverse("accounts:login")).content.decode()
    assert "no open sign-up" in html
    assert not re.search(r'href="[^"]*(signup|register)', html, re.I)


# --- the invitation flow ------------------------------------------------------------------------------------


def invite_via_ui(admin_client: Client, project_id: int | None, personas: list[str]) -> str:
    """Create an invitation in the admin UI; return the raw token from the link shown once."""
    data = {"email": "newcomer@example.test", "personas": personas, "project": project_id or ""}
    response = admin_client.post(reverse("accounts:invitation_list"), data)
    assert response.status_code == 302  # Post/Redirect/Get: the list shows the link once
    response = admin_client.get(response["Location"])
    link = re.search(r'<code id="invite-url">([^<]+)</code>', response.content.decode())
    assert link, "the link is shown on creation"
    assert "invite-url" not in admin_client.get(reverse("accounts:invitation_list")).content.decode(), "only once"
    match = re.fullmatch(r"http://testserver/accounts/invite/([A-Za-z0-9_-]+)/", link.group(1))
    assert match, link.group(1)
    return match.group(1)


def accept(token: str, username: str = "newcomer", password: str = GOOD_PASSWORD, client: Client | None = None):  # type: ignore[no-untyped-def]
    client = client or Client()
    return client.post(
        reverse("accounts:invitation_accept", args=[token]),
        {"username": username, "password1": password, "password2": password},
    )


def test_accepted_invitation_creates_the_user_with_personas_and_membership(client_for, admin_user, project_a) -> None:
    token = invite_via_ui(client_for(admin_user), project_a.pk, ["data_scientist", "labeler"])
    visitor = Client()
    page = visitor.get(reverse("accounts:invitation_accept", args=[token]))
    assert page.status_code == 200
    assert "newcomer@example.test" in page.content.decode()

    response = accept(token, client=visitor)
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace:home")
    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@example.test"
    assert sorted(user.persona_names) == ["data_scientist", "labeler"]
    assert not user.is_superuser and not user.is_staff
    assert list(Membership.objects.filter(user=user).values_list("project_id", flat=True)) == [project_a.pk]
    assert user.check_password(GOOD_PASSWORD)
    assert int(visitor.session[SESSION_KEY]) == user.pk  # signed in
    invitation = Invitation.objects.get()
    assert (invitation.state, invitation.accepted_by) == ("accepted", user)


def test_invitation_without_project_gives_no_membership(client_for, admin_user, project_a) -> None:
    token = invite_via_ui(client_for(admin_user), None, ["mlops_engineer"])
    assert accept(token).status_code == 302
    user = User.objects.get(username="newcomer")
    assert user.persona_names == ["mlops_engineer"]
    assert not Membership.objects.filter(user=user).exists()


def test_only_the_tokens_hash_is_stored(client_for, admin_user, project_a) -> None:
    token = invite_via_ui(client_for(admin_user), project_a.pk, ["labeler"])
    invitation = Invitation.objects.get()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(v) for v in Invitation.objects.values().get().values()]
    assert not any(token in value for value in stored)
    listing = client_for(admin_user).get(reverse("accounts:invitation_list")).content.decode()
    assert token not in listing  # the link is shown once, at creation


def test_invitation_link_is_single_use(client_for, admin_user, project_a) -> None:
    token = invite_via_ui(client_for(admin_user), project_a.pk, ["labeler"])
    assert accept(token).status_code == 302
    second_get = Client().get(reverse("accounts:invitation_accept", args=[token]))
    assert second_get.status_code == 404
    assert "does not work" in second_get.content.decode()
    second_post = accept(token, username="someone-else")
    assert second_post.status_code == 404
    assert not User.objects.filter(username="someone-else").exists()
    with pytest.raises(ValidationError, match="invalid, expired or already used"):
        invitation_accept(token=token, username="third", password=GOOD_PASSWORD)


@pytest.mark.parametrize("state", ["expired", "revoked", "unknown"])
def test_expired_revoked_or_unknown_link_is_404(client_for, admin_user, project_a, state: str) -> None:
    token = invite_via_ui(client_for(admin_user), project_a.pk, ["labeler"])
    invitation = Invitation.objects.get()
    if state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif state == "revoked":
        response = client_for(admin_user).post(reverse("accounts:invitation_revoke", args=[invitation.pk]))
        assert response.status_code == 302
        assert Invitation.objects.get().state == "revoked"
    else:
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    url = reverse("accounts:invitation_accept", args=[token])
    page = Client().get(url)
    assert page.status_code == 404
    assert "does not work" in page.content.decode()
    assert "newcomer@example.test" not in page.content.decode()
    assert accept(token).status_code == 404
    assert not User.objects.filter(username="newcomer").exists()
    assert invitation_get_open(token=token) is None


def test_invitations_expire_after_the_configured_ttl(settings, admin_user, project_a) -> None:
    settings.INVITATION_TTL = timedelta(hours=2)
    before = timezone.now()
    invitation, _ = invitation_create(
        email="a@example.test", personas=["labeler"], project=project_a, created_by=admin_user
    )
    assert before + timedelta(hours=2) <= invitation.expires_at <= timezone.now() + timedelta(hours=2)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "This password is too short. It must contain at least 10 characters."),
        ("password123", "This password is too common."),
        ("1234567890123", "This password is entirely numeric."),
        ("newcomer-2024", "The password is too similar to the username."),
    ],
)
def test_weak_password_is_refused_with_the_validators_message(
    client_for, admin_user, project_a, password: str, message: str
) -> None:
    token = invite_via_ui(client_for(admin_user), project_a.pk, ["labeler"])
    response = accept(token, password=password)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not User.objects.filter(username="newcomer").exists()
    assert Invitation.objects.get().state == "open"  # still usable with a good password
    assert accept(token).status_code == 302


def test_mismatched_passwords_are_refused(client_for, admin_user, project_a) -> None:
    token = invite_via_ui(client_for(admin_user), project_a.pk, ["labeler"])
    response = Client().post(
        reverse("accounts:invitation_accept", args=[token]),
        {"username": "newcomer", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD + "x"},
    )
    assert response.status_code == 400
    assert "The two passwords differ." in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


def test_taken_username_is_refused_and_the_invitation_stays_open(client_for, admin_user, ds_user, project_a) -> None:
    token = invite_via_ui(client_for(admin_user), project_a.pk, ["labeler"])
    response = accept(token, username="DANA")
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Invitation.objects.get().state == "open"
    assert User.objects.filter(username__iexact="dana").count() == 1


def test_non_admins_cannot_create_invitations(client_for, ds_user, project_a) -> None:
    response = client_for(ds_user).post(
        reverse("accounts:invitation_list"),
        {"email": "friend@example.test", "personas": ["admin"], "project": project_a.pk},
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_an_invitation_needs_a_persona(admin_user, project_a) -> None:
    with pytest.raises(ValidationError) as exc:
        invitation_create(email="a@example.test", personas=[], project=project_a, created_by=admin_user)
    assert exc.value.message_dict == {"personas": ["Choose at least one persona."]}
