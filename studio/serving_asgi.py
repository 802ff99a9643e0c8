"""ASGI entry point for serving processes only: /endpoints/... (the model serving hot path) and nothing else.

Run several of these behind the same URL as the studio (route /endpoints/ to them at the reverse proxy), e.g.
`uvicorn studio.serving_asgi:application --workers 4 --port 8100`. Each reads the endpoint configuration from the
database (see docs/serving.md)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings.base")
django.setup()

from apps.endpoints.serving.app import ServingApp  # noqa: E402
from apps.registry import native  # noqa: E402

native.set_role(native.ROLE_SERVING)  # a dedicated serving process runs compiled forests (never compiles them)

application = ServingApp()
