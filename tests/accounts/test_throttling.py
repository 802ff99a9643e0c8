"""Sign-in throttling (apps/accounts/throttling.py, django-axes): wrong passwords and bad API tokens lock out per
(account, address) and per address; the right password is refused meanwhile; an admin (console or axes_reset) unlocks.
"""

from __future__ import annotations

import io
import logging

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.services import api_token_create
from tests.factories import UserFactory

RIGHT = "correct-horse-battery"  # tests/factories.py
LOCKED = "Too many failed sign-in attempts; try again in 15 minutes or ask an admin."


def sign_in(username: str, password: str, ip: str = "10.1.1.1", **extra: str):  # type: ignore[no-untyped-def]
    client = Client(REMOTE_ADDR=ip, **extra)
    response = client.post(reverse("accounts:login"), {"username": username, "password": password})
    response.signed_in = "_auth_user_id" in client.session  # type: ignore[attr-defined]
    return response


def test_wrong_passwords_lock_the_account_from_that_address_even_for_the_right_password(ds_user, caplog) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    caplog.set_level(logging.WARNING)
    for _ in range(limit - 1):
        response = sign_in("dana", "wrong-password")
        assert response.status_code == 200 and not response.signed_in  # the form again, with its error
    response = sign_in("dana", "wrong-password")  # the limit-th failure locks
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert response["Retry-After"] == "900"

    response = sign_in("dana", RIGHT)  # the right password no longer helps from this address
    assert response.status_code == 429 and not response.signed_in
    assert LOCKED in response.content.decode()
    assert any("Sign-in locked out: account 'dana' from 10.1.1.1" in r.getMessage() for r in caplog.records)

    # The same account from another address, and another account from this one, are not locked.
    assert sign_in("dana", RIGHT, ip="10.2.2.2").signed_in
    UserFactory(username="erin")
    assert sign_in("erin", RIGHT).signed_in


def test_a_locked_account_cannot_get_in_through_the_console_sign_in_either(ds_user) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("dana", "wrong-password")
    client = Client(REMOTE_ADDR="10.1.1.1")
    response = client.post(reverse("admin:login"), {"username": "dana", "password": RIGHT})
    assert response.status_code == 429 and "_auth_user_id" not in client.session


def test_failures_across_many_usernames_lock_the_address(db) -> None:
    UserFactory(username="victim")
    ip_limit = settings.LOGIN_IP_FAILURE_LIMIT
    per_name = settings.AXES_FAILURE_LIMIT - 1  # never enough to lock one account
    names = [f"guess{i}" for i in range(ip_limit // per_name + 1)]
    statuses = [sign_in(name, "wrong-password").status_code for name in names for _ in range(per_name)]
    assert statuses[: ip_limit - 1] == [200] * (ip_limit - 1)
    assert statuses[ip_limit - 1 :] == [429] * (len(statuses) - ip_limit + 1)

    response = sign_in("victim", RIGHT)  # an account never guessed, from the locked address
    assert response.status_code == 429 and not response.signed_in
    assert sign_in("victim", RIGHT, ip="10.9.9.9").signed_in  # from elsewhere: fine


def test_forwarded_headers_are_ignored_unless_configured(ds_user, settings) -> None:
    """A client cannot dodge the lock by claiming another address in X-Forwarded-For."""
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in("dana", "wrong-password", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    assert sign_in("dana", RIGHT, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.1.1.1"}

    settings.CLIENT_IP_HEADER = "X-Real-IP"  # behind a proxy that sets it
    assert sign_in("dana", RIGHT, HTTP_X_REAL_IP="198.51.100.7").signed_in
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("dana", "wrong-password", ip="10.1.1.1", HTTP_X_REAL_IP="198.51.100.8")
    assert sign_in("dana", RIGHT, HTTP_X_REAL_IP="198.51.100.8").status_code == 429
    assert sign_in("dana", RIGHT, HTTP_X_REAL_IP="198.51.100.9").signed_in


def test_api_token_guessing_gets_429_from_that_address(ds_user) -> None:
    _, key = api_token_create(user=ds_user, name="laptop")
    ip_limit = settings.LOGIN_IP_FAILURE_LIMIT
    guesser = APIClient(REMOTE_ADDR="10.3.3.3")
    statuses = []
    for i in range(ip_limit + 3):
        guesser.credentials(HTTP_AUTHORIZATION=f"Token atl_guess{i:04d}")
        statuses.append(guesser.get(reverse("api:me")).status_code)
    assert statuses == [401] * (ip_limit - 1) + [429] * 4

    guesser.credentials(HTTP_AUTHORIZATION="Token atl_one-more-guess")
    response = guesser.get(reverse("api:me"))
    assert response.status_code == 429
    assert response.json()["detail"] == LOCKED
    assert response["Retry-After"] == "900"

    # A valid key is 256 random bits (it cannot be guessed), so it is not checked against the lockout: API requests
    # pay no lockout query (the list APIs' pinned query counts), and the guesses above still get nothing.
    guesser.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert guesser.get(reverse("api:me")).json()["username"] == "dana"

    elsewhere = APIClient(REMOTE_ADDR="10.4.4.4")
    elsewhere.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert elsewhere.get(reverse("api:me")).json()["username"] == "dana"


def test_wrong_current_passwords_on_the_password_change_form_lock_too(ds_user) -> None:
    client = Client(REMOTE_ADDR="10.5.5.5")
    client.force_login(ds_user)
    url = reverse("accounts:password_change")
    form = {"new_password1": "a-new-long-password-1", "new_password2": "a-new-long-password-1"}
    statuses = [client.post(url, {**form, "old_password": f"guess-{i}"}).status_code for i in range(6)]
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1) and set(statuses[limit - 1 :]) == {429}
    response = client.post(url, {**form, "old_password": RIGHT})
    assert response.status_code == 429
    ds_user.refresh_from_db()
    assert ds_user.check_password(RIGHT)  # unchanged


def test_an_admin_unlocks_in_the_console(ds_user, admin_user) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("dana", "wrong-password")
    assert sign_in("dana", RIGHT).status_code == 429

    console = Client()
    console.force_login(admin_user)
    listing = console.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and "dana" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="dana")
    response = console.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="dana").exists()
    assert sign_in("dana", RIGHT).signed_in


@pytest.mark.parametrize("command", [["axes_reset"], ["axes_reset_username", "dana"], ["axes_reset_ip", "10.1.1.1"]])
def test_axes_reset_commands_unlock(ds_user, command) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("dana", "wrong-password")
    assert sign_in("dana", RIGHT).status_code == 429
    out = io.StringIO()
    call_command(*command, stdout=out)
    assert "removed" in out.getvalue()
    assert sign_in("dana", RIGHT).signed_in


def test_unknown_invitation_links_count_per_address(db) -> None:
    client = Client(REMOTE_ADDR="10.6.6.6")
    ip_limit = settings.LOGIN_IP_FAILURE_LIMIT
    statuses = [client.get(f"/accounts/invite/guess-{i}/").status_code for i in range(ip_limit + 1)]
    assert statuses == [404] * (ip_limit - 1) + [429, 429]


def test_a_success_forgives_only_its_own_failures(ds_user) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        sign_in("dana", "wrong-password")
    assert sign_in("dana", RIGHT).signed_in
    for _ in range(limit - 1):  # a fresh allowance after a success
        assert sign_in("dana", "wrong-password").status_code == 200
    assert sign_in("dana", RIGHT).signed_in
