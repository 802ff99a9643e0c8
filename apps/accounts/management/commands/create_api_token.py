from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import User
from apps.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME; the key is the last line of the output (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = User.objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"No user {opts['username']!r}.")
        token, key = api_token_create(user=user, name=opts["name"])
        self.stdout.write(
            f"Token {token.name!r} for {user.username} (prefix {token.prefix}). Use: Authorization: Token <key>"
        )
        self.stdout.write(key)
