from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.choices import Persona
from apps.accounts.models import Project
from apps.accounts.services import user_create


class Command(BaseCommand):
    help = "Create a user non-interactively. Prints the password last when it was generated."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--persona",
            action="append",
            choices=[p.value for p in Persona],
            default=[],
            help="admin, data_scientist, mlops_engineer or labeler (repeatable)",
        )
        parser.add_argument("--project", action="append", default=[], help="project name or id (repeatable)")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default=None, help="default: a generated one, printed once")

    def handle(self, *args: Any, **opts: Any) -> None:
        projects = []
        for ref in opts["project"]:
            project = (
                Project.objects.filter(pk=int(ref)).first()
                if ref.isdigit()
                else Project.objects.filter(name=ref).first()
            )
            if project is None:
                raise CommandError(f"No project {ref!r}.")
            projects.append(project)
        password = opts["password"] or secrets.token_urlsafe(12)
        try:
            user = user_create(
                username=opts["username"],
                email=opts["email"],
                password=password,
                personas=opts["persona"],
                projects=projects,
                validate=bool(opts["password"]),
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Created {user.username} ({', '.join(user.persona_labels) or 'no persona'})")
        if not opts["password"]:
            self.stdout.write(password)
