"""ASGI entry point: HTTP through Django, WebSockets through Channels (session auth, same-origin only).

Paths under /endpoints/ (the model serving hot path) are answered by a raw ASGI app before Django: no sessions,
CSRF, middleware or per-request database reads (apps/endpoints/serving/app.py, docs/serving.md)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings.base")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.accounts.scope_auth import signed_in  # noqa: E402
from apps.core.uploads import BodySizeLimitMiddleware  # noqa: E402
from apps.endpoints.serving.app import ServingApp  # noqa: E402
from studio.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # /endpoints/... served directly (it checks the endpoint key before reading a body, and caps its own bodies);
        # everything else through our body caps, decided before Django spools the body: the upload cap for signed-in
        # senders (session or API token), ATELIER_MAX_ANONYMOUS_BODY_BYTES for anyone else
        "http": ServingApp(BodySizeLimitMiddleware(django_asgi_app, signed_in=signed_in)),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
