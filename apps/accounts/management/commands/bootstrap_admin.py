from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from apps.accounts.models import Project, User
from apps.accounts.services import project_create, user_create


class Command(BaseCommand):
    help = "First run only: create the first admin with a generated password, printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **opts: Any) -> None:
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(15)
        # One transaction: an admin whose password was never printed would lock everyone out.
        with transaction.atomic():
            user = user_create(username=opts["username"], password=password, personas=["admin"], validate=False)
            if not Project.objects.filter(name__iexact="Default").exists():
                project_create(name="Default", description="Created on first run.", created_by=user)
        bar = "=" * 72
        self.stdout.write(
            f"\n{bar}\n First run: created the admin account.\n   username: {user.username}\n   password: {password}\n"
            f" This password is shown only now. Change it after signing in (Profile → Change password).\n{bar}\n"
        )
