"""API tokens: stored hashed, shown once, `Authorization: Token <key>`, revocable, expiring."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import APIToken
from apps.accounts.services import api_token_create, api_token_revoke


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def with_header(value: str | bytes) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


def me(client: APIClient):  # type: ignore[no-untyped-def]
    return client.get(reverse("api:me"))


def test_key_is_stored_only_as_its_hash(ds_user) -> None:
    token, key = api_token_create(user=ds_user, name="laptop")
    assert key.startswith("atl_") and len(key) > 40
    row = APIToken.objects.values().get(pk=token.pk)
    assert row["key_hash"] == sha256(key)
    assert row["prefix"] == key[:10]
    assert not any(key in str(value) for value in row.values())
    dump = io.StringIO()
    call_command("dumpdata", "accounts", stdout=dump)
    assert key not in dump.getvalue()
    assert sha256(key) in dump.getvalue()


def test_token_header_authenticates(ds_user) -> None:
    token, key = api_token_create(user=ds_user, name="laptop")
    response = me(with_header(f"Token {key}"))
    assert response.status_code == 200
    assert response.json()["username"] == "dana"
    assert me(with_header(f"token {key}")).status_code == 200  # the keyword is case-insensitive
    token.refresh_from_db()
    assert token.last_used_at is not None and timezone.now() - token.last_used_at < timedelta(minutes=1)


@pytest.mark.parametrize("state", ["revoked", "expired", "user deactivated", "unknown key", "hash as key"])
def test_unusable_token_gets_401(ds_user, state: str) -> None:
    token, key = api_token_create(user=ds_user, name="laptop")
    if state == "revoked":
        api_token_revoke(token=token)
    elif state == "expired":
        APIToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif state == "user deactivated":
        ds_user.is_active = False
        ds_user.save()
    elif state == "unknown key":
        key = key[:-3] + ("aaa" if not key.endswith("aaa") else "bbb")
    else:
        key = token.key_hash  # a leaked database row does not give access
    response = me(with_header(f"Token {key}"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "detail": "Invalid, expired or revoked API token.",
        "errors": {},
        "code": "authentication_failed",
    }


def test_token_with_a_future_expiry_works(ds_user) -> None:
    _, key = api_token_create(user=ds_user, name="ci", expires_at=timezone.now() + timedelta(days=1))
    assert me(with_header(f"Token {key}")).status_code == 200


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Token", "Malformed Authorization header: expected `Token <key>`."),
        ("Token   ", "Malformed Authorization header: expected `Token <key>`."),
        ("Token abc def", "Malformed Authorization header: expected `Token <key>`."),
        ("Token clé".encode(), "The token contains invalid characters."),
    ],
)
def test_malformed_header_gets_401_with_a_clear_detail(db, header: str | bytes, detail: str) -> None:
    response = me(with_header(header))
    assert response.status_code == 401
    assert response.json() == {"detail": detail, "errors": {}, "code": "authentication_failed"}


def test_other_schemes_are_not_mistaken_for_a_token(ds_user) -> None:
    _, key = api_token_create(user=ds_user, name="laptop")
    response = me(with_header(f"Bearer {key}"))
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."


# --- shown once ---------------------------------------------------------------------------------------------


def test_ui_shows_the_key_once(client_for, ds_user) -> None:
    client = client_for(ds_user)
    response = client.post(reverse("accounts:token_create"), {"name": "notebook"})
    assert response.status_code == 302  # Post/Redirect/Get: a refresh does not create a second token
    html = client.get(response["Location"]).content.decode()
    shown = re.search(r'<code id="new-token-key">(atl_[A-Za-z0-9_-]+)</code>', html)
    assert shown, "the new key is rendered in the page"
    key = shown.group(1)
    token = APIToken.objects.get(user=ds_user, name="notebook")
    assert token.key_hash == sha256(key)
    assert me(with_header(f"Token {key}")).status_code == 200
    later = client.get(reverse("accounts:profile")).content.decode()
    assert key not in later
    assert token.prefix in later  # the prefix identifies it afterwards


def test_api_returns_the_key_on_create_only(api_for, ds_user) -> None:
    client = api_for(ds_user)
    response = client.post(reverse("api:token-list"), {"name": "pipeline"}, format="json")
    assert response.status_code == 201
    created = response.json()
    assert created["key"].startswith(created["prefix"])
    assert APIToken.objects.get(pk=created["id"]).key_hash == sha256(created["key"])
    listed = client.get(reverse("api:token-list")).json()["results"]
    mine = [row for row in listed if row["id"] == created["id"]]
    assert len(mine) == 1
    assert all("key" not in row and "key_hash" not in row for row in listed)
    assert set(mine[0]) == {"id", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"}
    assert me(with_header(f"Token {created['key']}")).status_code == 200


@pytest.mark.parametrize("via", ["ui", "api"])
def test_revoked_token_stops_working_at_once(client_for, api_for, ds_user, via: str) -> None:
    token, key = api_token_create(user=ds_user, name="old")
    assert me(with_header(f"Token {key}")).status_code == 200
    if via == "ui":
        response = client_for(ds_user).post(reverse("accounts:token_revoke", args=[token.pk]))
        assert response.status_code == 302
    else:
        response = api_for(ds_user).post(reverse("api:token-revoke", args=[token.pk]))
        assert response.status_code == 200
        assert response.json()["revoked_at"] is not None
    assert me(with_header(f"Token {key}")).status_code == 401


def test_a_token_can_revoke_itself_but_not_someone_elses(api_for, ds_user, outsider) -> None:
    theirs, their_key = api_token_create(user=outsider, name="theirs")
    mine, my_key = api_token_create(user=ds_user, name="mine")
    client = with_header(f"Token {my_key}")
    assert client.post(reverse("api:token-revoke", args=[theirs.pk])).status_code == 404
    assert me(with_header(f"Token {their_key}")).status_code == 200
    assert client.post(reverse("api:token-revoke", args=[mine.pk])).status_code == 200
    assert me(client).status_code == 401
