"""`manage.py prepare_serving`: compile the forests of deployed models to native code before serving starts.

Serving processes never compile: the first time one loads a forest that is not compiled, it asks a worker to compile
it (`registry.compile_forests`) and serves it with FastForest meanwhile. This command does that work ahead of time,
into the cache they read (SERVING_NATIVE_DIR on this machine), so that the first requests after a deploy or a
restart already run the compiled code; on a serving host with no worker beside it, it is the way to compile."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.endpoints.models import Endpoint
from apps.registry import native
from apps.registry.acceleration import FastForest
from apps.registry.loading import forests_of, load_version


class Command(BaseCommand):
    help = "Compile the forests of the models deployed on endpoints (all, or those named) to native code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("endpoints", nargs="*", help="endpoint names (default: every endpoint)")

    def handle(self, *args: Any, **opts: Any) -> None:
        native.set_role(native.ROLE_COMMAND)  # this command compiles; serving processes only load
        if not settings.SERVING_NATIVE_TREES:
            self.stdout.write("SERVING_NATIVE_TREES is off: nothing to compile.")
            return
        endpoints = Endpoint.objects.prefetch_related("variants__model_version__artifact").order_by("name")
        if opts["endpoints"]:
            endpoints = endpoints.filter(name__in=opts["endpoints"])
            missing = sorted(set(opts["endpoints"]) - {e.name for e in endpoints})
            if missing:
                raise CommandError(f"No endpoint named {', '.join(missing)}.")
        seen: set[int] = set()
        for endpoint in endpoints:
            for variant in endpoint.variants.all():
                version = variant.model_version
                if version.pk in seen:
                    continue
                seen.add(version.pk)
                self.stdout.write(f"{endpoint.name} / {version}: {self._prepare(version)}")

    def _prepare(self, version: Any) -> str:
        started = time.monotonic()
        forests: list[FastForest] = forests_of(load_version(version))  # verified, as every load is
        if not forests:
            return "no forest to compile"
        native.wait()
        statuses = sorted({f.native_status for f in forests})
        return f"{len(forests)} forest(s): {', '.join(statuses)} ({time.monotonic() - started:.1f} s)"
