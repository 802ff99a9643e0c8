"""Management commands: create_user, create_api_token, bootstrap_admin."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest  # axes needs a request to authenticate
from django.test import Client
from rest_framework.test import APIClient

import apps.accounts.management.commands.bootstrap_admin as bootstrap_module
from apps.accounts.models import Membership, Project, User


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return [line for line in out.getvalue().splitlines() if line.strip()]


# --- create_user --------------------------------------------------------------------------------------------


def test_create_user_with_persona_and_project(project_a) -> None:
    lines = run("create_user", "ines", "--persona", "data_scientist", "--project", "Alpha", "--email", "i@example.test")
    user = User.objects.get(username="ines")
    assert user.persona_names == ["data_scientist"]
    assert list(Membership.objects.filter(user=user).values_list("project__name", flat=True)) == ["Alpha"]
    assert user.email == "i@example.test"
    assert lines[0] == "Created ines (Data Scientist)"
    password = lines[-1]  # generated, printed last
    assert len(password) >= 12
    assert Client().login(request=HttpRequest(), username="ines", password=password)


def test_create_user_with_several_personas_and_a_project_id(project_a, project_b) -> None:
    args = "--persona mlops_engineer --persona labeler --project Alpha --password plum-orchard-velvet-42".split()
    run("create_user", "omar2", "--project", str(project_b.pk), *args)
    user = User.objects.get(username="omar2")
    assert sorted(user.persona_names) == ["labeler", "mlops_engineer"]
    assert set(user.projects.all()) == {project_a, project_b}
    assert user.check_password("plum-orchard-velvet-42")


def test_generated_passwords_differ(db) -> None:
    first = run("create_user", "u1")[-1]
    second = run("create_user", "u2")[-1]
    assert first != second


@pytest.mark.parametrize(
    ("username", "args", "message"),
    [
        ("zoe", ["--project", "Nowhere"], "No project 'Nowhere'."),
        ("zoe", ["--password", "short"], "This password is too short"),
        ("DANA", ["--password", "plum-orchard-velvet-42"], "A user named 'DANA' already exists."),
    ],
)
def test_create_user_refuses_bad_input(project_a, ds_user, username: str, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        run("create_user", username, *args)
    assert User.objects.filter(username__iexact=username).count() == (1 if username == "DANA" else 0)


def test_create_user_refuses_an_unknown_persona(db) -> None:
    with pytest.raises(CommandError, match="invalid choice: 'root'"):
        run("create_user", "zoe", "--persona", "root")
    assert not User.objects.filter(username="zoe").exists()


# --- create_api_token ---------------------------------------------------------------------------------------


def test_create_api_token_prints_a_working_key_last(ds_user) -> None:
    lines = run("create_api_token", "dana", "--name", "ci")
    key = lines[-1]
    assert re.fullmatch(r"atl_[A-Za-z0-9_-]{40,}", key)
    assert key not in "\n".join(lines[:-1])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/me/")
    assert response.status_code == 200
    assert response.json()["username"] == "dana"
    assert ds_user.api_tokens.get().name == "ci"


def test_create_api_token_for_an_unknown_user_fails(db) -> None:
    with pytest.raises(CommandError, match=re.escape("No user 'ghost'.")):
        run("create_api_token", "ghost")


# --- bootstrap_admin ------------------------------------------------------------------------------------------


def bootstrap_password(lines: list[str]) -> str:
    found = [re.fullmatch(r"\s*password: (\S+)", line) for line in lines]
    passwords = [m.group(1) for m in found if m]
    assert len(passwords) == 1, lines
    return passwords[0]


def test_bootstrap_admin_creates_the_first_admin_once(db) -> None:
    lines = run("bootstrap_admin")
    password = bootstrap_password(lines)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.persona_names == ["admin"]
    assert len(password) >= 16
    assert Client().login(request=HttpRequest(), username="admin", password=password)
    assert Project.objects.filter(name="Default", memberships__user=admin).exists()
    assert run("bootstrap_admin") == []  # a no-op once an admin exists
    assert User.objects.filter(is_superuser=True).count() == 1
    assert Client().login(request=HttpRequest(), username="admin", password=password)


def test_bootstrap_admin_never_uses_a_fixed_password(db) -> None:
    first = bootstrap_password(run("bootstrap_admin"))
    User.objects.all().delete()  # as if on a fresh database
    second = bootstrap_password(run("bootstrap_admin", "--username", "root"))
    assert first != second
    assert User.objects.get().username == "root"
    assert Client().login(request=HttpRequest(), username="root", password=second)
    source = Path(bootstrap_module.__file__).read_text()
    assert first not in source and second not in source
