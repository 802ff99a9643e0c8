"""`manage.py prepare_serving`: compile the forests of deployed models to native code before serving starts.

Serving processes compile a forest in the background the first time they load it and serve it meanwhile; this
command does the same work ahead of time, into the cache they read (SERVING_NATIVE_DIR on this machine), so that the
first requests after a deploy or a restart already run the compiled code."""

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
