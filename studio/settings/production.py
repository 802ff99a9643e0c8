"""Production: PostgreSQL, Redis, object storage, TLS in front. Only what differs from base."""

from .base import *  # noqa: F403
from .base import env, env_bool, env_int

DEBUG = False
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not env("SECRET_KEY"):
    raise RuntimeError(
        "SECRET_KEY must be set in production (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(64))'`)."
    )
STATIC_BROTLI_QUALITY = env_int("STATIC_BROTLI_QUALITY", 11)  # collectstatic runs once per release: smallest files
