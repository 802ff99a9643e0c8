"""Settings shared by every run shape.

Everything comes from the environment. With nothing set, Atelier runs in its embedded shape:
SQLite in var/, the kombu filesystem broker in var/, files in var/media, a channel layer that
needs no Redis. Production overrides only what it must (see studio/settings/production.py).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("ATELIER_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """SECRET_KEY from the environment, or generated once into var/ with mode 0600."""
    if env("SECRET_KEY"):
        return env("SECRET_KEY")
    path = VAR_DIR / "secret_key"
    if not path.exists():
        key = secrets.token_urlsafe(64)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
    os.chmod(path, 0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "axes",
    "apps.core",
    "apps.workspace",
    "apps.accounts",
    "apps.jobs",
    "apps.datasets",
    "apps.automl",
    "apps.registry",
    "apps.endpoints",
    "apps.unsupervised",
    "apps.clarify",
    "apps.labeling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",  # CONTENT_SECURITY_POLICY below
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.timezones.TimeZoneMiddleware",  # the user's time zone: profile, else browser, else TIME_ZONE
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.accounts.middleware.CurrentProjectMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a sign-in lockout into its 429 page (apps/accounts/throttling.py)
]

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"
ASGI_APPLICATION = "studio.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "workspace:home"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.workspace.context_processors.shell",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# SQLite (embedded): WAL so readers never block the writer, a busy timeout, and IMMEDIATE
# transactions so web + worker + beat take the write lock up front instead of failing with
# "database is locked" when a read transaction tries to upgrade.
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
}
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'atelier.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
# PostgreSQL, web and serving processes: DB_POOL_MAX_SIZE > 0 keeps a pool of connections per process (psycopg_pool,
# Django's "pool" option), so a request does not pay for a new connection (under ASGI each request runs in a thread
# of its own, so CONN_MAX_AGE cannot keep them: they would pile up, one per thread). Off by default (a connection per
# request); leave it off for Celery workers (a pool must not cross their fork). docs/adr/0009-database-pool.md.
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 0)
if DATABASES["default"]["ENGINE"].endswith("postgresql") and DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections; Django's own reuse must be off
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env_int("DB_POOL_TIMEOUT_S", 30),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Passwords, sessions, cookies -------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (django-axes, apps/accounts/throttling.py): failed sign-ins (login form, admin, password change)
# and bad API tokens are counted per (username, address) and per address; past a limit that address, or that account
# from that address, is refused (even with the right password) for the cool-off, or until an admin deletes the
# attempt in the console (Axes > Access attempts) or runs `manage.py axes_reset` (or axes_reset_ip / _username).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out sign-ins before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "apps.accounts.throttling.SignInAttemptHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)  # per account from one address
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 20)  # per address, all accounts and bad tokens together
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_CALLABLE = "apps.accounts.throttling.lockout_response"
AXES_CLIENT_IP_CALLABLE = "apps.accounts.throttling.client_ip"
# The request header (as in request.META, e.g. HTTP_X_REAL_IP) holding the client address set by a reverse proxy you
# trust. Unset: the peer address, which uvicorn --proxy-headers already takes from X-Forwarded-For for the proxies
# listed in its --forwarded-allow-ips (127.0.0.1 by default) and from no one else.
CLIENT_IP_HEADER = env("CLIENT_IP_HEADER")
AXES_RESET_ON_SUCCESS = False  # a success clears only its own (username, address) failures: SignInAttemptHandler
AXES_SENSITIVE_PARAMETERS = ["password"]  # never store passwords; usernames and addresses are what the console shows

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy of every response (django-csp; this host's ws(s):// origin is added to connect-src per
# request, apps/core/middleware.py). Scripts only from our static files: no inline script, no event-handler
# attributes, no eval (plotly, Swagger UI and the admin work without). Inline styles stay allowed: plotly.js
# injects a <style> element and sets style attributes, and so do Swagger UI and the admin. A view with other needs
# sets its own header (the downloadable HTML report, apps/datasets/views/reports.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: downloads go through views that check membership
# Static files in both run shapes: content-hashed names, gzip and brotli variants, a one-year immutable cache
# (apps/core/staticfiles.py). They are served from STATIC_ROOT, which `manage.py collectstatic --noinput` fills:
# `manage.py serve` (make run) runs it first; a production deployment runs it once per release.
WHITENOISE_USE_FINDERS = False
STATIC_BROTLI_QUALITY = env_int("STATIC_BROTLI_QUALITY", 9)  # 11 is ~8% smaller for plotly.js but takes ~30 s
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "apps.core.staticfiles.StaticStorage"},
}


def _static_cache_headers(headers: Any, path: str, url: str) -> None:
    from apps.core.staticfiles import cache_headers

    cache_headers(headers, path, url)


WHITENOISE_ADD_HEADERS_FUNCTION = _static_cache_headers
if env("STORAGE_BACKEND") == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("S3_BUCKET"),
            "endpoint_url": env("S3_ENDPOINT_URL") or None,
            "region_name": env("S3_REGION") or None,
            "access_key": env("S3_ACCESS_KEY_ID") or None,
            "secret_key": env("S3_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
# Our own upload caps (Django's FILE_UPLOAD_MAX_MEMORY_SIZE only decides memory vs disk).
ATELIER_MAX_UPLOAD_BYTES = env_int("ATELIER_MAX_UPLOAD_BYTES", 2 * 1024**3)
# Bodies larger than this are read only from a signed-in session or with a valid API token (studio/asgi.py); a
# sign-in form needs a few KiB. Others get 413 before their body is read.
ATELIER_MAX_ANONYMOUS_BODY_BYTES = env_int("ATELIER_MAX_ANONYMOUS_BODY_BYTES", 64 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024**2
# The one guard for uploaded zip archives (skops models, xlsx workbooks, labeling image zips): apps/core/archives.py.
ARCHIVE_MAX_ENTRIES = env_int("ARCHIVE_MAX_ENTRIES", 10_000)
ARCHIVE_MAX_UNCOMPRESSED_BYTES = env_int("ARCHIVE_MAX_UNCOMPRESSED_BYTES", 1024**3)  # declared total, and bytes read
# Most bytes a Parquet file may decode to in memory: a small file of one long text value repeated through a
# dictionary would otherwise expand past the machine's memory (checked before the values are expanded).
DATASET_MAX_DECODED_BYTES = env_int("DATASET_MAX_DECODED_BYTES", 8 * 1024**3)
ARCHIVE_MAX_MEMBER_BYTES = env_int("ARCHIVE_MAX_MEMBER_BYTES", 512 * 1024**2)
ARCHIVE_MAX_RATIO = float(env("ARCHIVE_MAX_RATIO", "200"))
ARCHIVE_RATIO_FLOOR_BYTES = env_int("ARCHIVE_RATIO_FLOOR_BYTES", 1024**2)  # smaller members are not ratio-checked
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "uploads")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)

# --- REST framework ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.permissions.Declared"],  # the one layer: each view declares
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "apps.core.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_RATES": {"login": "20/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Atelier API",
    "DESCRIPTION": "Everything the Atelier UI does. Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # `<id:pk>` (apps/core/ids.py): a BigAutoField id.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No online validator badge: it would send the schema URL to swagger.io (and the CSP refuses the image).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["apps.accounts.permissions.Declared"],  # apps/core/api/schema.py declares SIGNED_IN
    "SERVE_AUTHENTICATION": [
        "apps.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ApprovalStatusEnum": "apps.registry.choices.ApprovalStatus",
        "ModelFormatEnum": "apps.registry.choices.ModelFormat",
        "FormatEnum": "apps.datasets.choices.ImportFormat",  # keeps its name next to ModelFormat's "format"
        "StatusEnum": "apps.jobs.choices.JobStatus",  # keeps the jobs' name next to EndpointStatus's "status"
        "EndpointStatusEnum": "apps.endpoints.choices.EndpointStatus",
        "EndpointTypeEnum": "apps.endpoints.choices.EndpointType",
        # three choice sets are a model's "kind": each keeps a name of its own
        "VersionKindEnum": "apps.datasets.choices.VersionKind",
        "AnalysisKindEnum": "apps.datasets.choices.AnalysisKind",
        "ReportKindEnum": "apps.clarify.choices.ReportKind",
        # Ground Truth (jobs part): a labeling job's status and source, and the statuses a person may set
        "LabelingJobStatusEnum": "apps.labeling.choices.JobStatus",
        "LabelingSourceKindEnum": "apps.labeling.choices.SourceKind",
        "SourceKindEnum": "apps.registry.choices.SourceKind",  # keeps its name next to the labeling job's
        "LabelingStatusChangeEnum": "apps.labeling.api.serializers.STATUS_CHANGES",
        "WorkTeamKindEnum": "apps.accounts.models.WorkTeam.Kind",  # a work team's kind: employees or vendor
    },
}

# --- Celery -----------------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,  # a look at the queue folder: cheap, and jobs start within a fraction of a second
    }
    # kombu's filesystem transport, stopping at once on shutdown (apps/jobs/broker.py)
    CELERY_BROKER_TRANSPORT = "apps.jobs.broker:FilesystemTransport"
# The longest job we allow; the broker must not redeliver a task that is still running.
JOB_HARD_TIME_LIMIT_S = env_int("JOB_HARD_TIME_LIMIT_S", 6 * 3600)
if CELERY_BROKER_URL.startswith(("redis", "rediss")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": JOB_HARD_TIME_LIMIT_S + 3600}
# No result backend: a job's outcome lives in its Job row (apps/jobs), and no task result is ever read.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = None  # nothing to clean up: beat installs no celery.backend_cleanup entry
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = JOB_HARD_TIME_LIMIT_S
CELERY_TASK_SOFT_TIME_LIMIT = JOB_HARD_TIME_LIMIT_S - 60
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD_KB", 8 * 1024 * 1024)
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 200)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_DEFAULT_QUEUE", "atelier")
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- Jobs -----------------------------------------------------------------------------------------
JOB_HEARTBEAT_INTERVAL_S = float(env("JOB_HEARTBEAT_INTERVAL_S", "5"))
JOB_STALE_AFTER_S = float(env("JOB_STALE_AFTER_S", "60"))
JOB_REAPER_INTERVAL_S = float(env("JOB_REAPER_INTERVAL_S", "30"))
JOB_DEFAULT_MAX_ATTEMPTS = env_int("JOB_DEFAULT_MAX_ATTEMPTS", 3)
WORKER_SEEN_WITHIN_S = float(env("WORKER_SEEN_WITHIN_S", "90"))
# A stopping worker (SIGTERM, Ctrl-C) gives running jobs this long to hand themselves back before it is killed
# (`manage.py serve`; give your process manager at least as long, e.g. systemd TimeoutStopSec).
WORKER_SHUTDOWN_GRACE_S = float(env("WORKER_SHUTDOWN_GRACE_S", "10"))
WORKER_FAST_EXIT = env_bool("WORKER_FAST_EXIT", True)  # skip the interpreter's teardown once the pool has stopped
# Modules that define job kinds, imported by the worker and the web process.
JOB_MODULES = [
    "apps.jobs.jobs",
    "apps.datasets.jobs",
    "apps.automl.jobs",
    "apps.unsupervised.jobs",
    "apps.endpoints.jobs",
    "apps.registry.jobs",
    "apps.clarify.jobs",
    "apps.labeling.jobs",
]

# --- Channels -----------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
else:
    # In-process only. Live job updates do not depend on it: the job consumer follows the
    # job rows in the database, so it works across processes without Redis.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
JOB_STREAM_POLL_S = float(env("JOB_STREAM_POLL_S", "0.5"))
# How often an open job stream re-checks its user's sign-in, persona and membership (lost access closes it).
JOB_STREAM_ACCESS_CHECK_S = float(env("JOB_STREAM_ACCESS_CHECK_S", "2"))

# --- Canvas AutoML and tuning jobs --------------------------------------------------------------------------
# Flow previews (every operator, formulas, the SQL step) run in sandbox worker processes, never in the web process:
# stopped past this wall-clock time or this much memory (on top of the worker's own), answered with a 400 naming
# the step. PREVIEW_WORKERS processes are kept warm per web process.
PREVIEW_TIMEOUT_S = float(env("PREVIEW_TIMEOUT_S", "10"))
PREVIEW_MEMORY_MB = env_int("PREVIEW_MEMORY_MB", 2048)
PREVIEW_WORKERS = env_int("PREVIEW_WORKERS", 2)

AUTOML_N_JOBS = env_int("AUTOML_N_JOBS", 2)  # threads one build or trial may use
# Where tuning jobs keep their shared Optuna studies. Empty: the project database when it is PostgreSQL (workers on
# every host share it), else one journal file per study under AUTOML_TUNING_DIR (workers on this host, or on hosts
# sharing that directory). Any SQLAlchemy URL (postgresql+psycopg://…) or journal:///path.log also works.
AUTOML_TUNING_STORAGE = env("AUTOML_TUNING_STORAGE", "")
AUTOML_TUNING_DIR = Path(env("AUTOML_TUNING_DIR", str(VAR_DIR / "tuning")))
AUTOML_TUNING_MAX_PARALLEL = env_int("AUTOML_TUNING_MAX_PARALLEL", 8)
AUTOML_TUNING_MAX_TRIALS = env_int("AUTOML_TUNING_MAX_TRIALS", 500)
AUTOML_TUNING_TRIAL_TIMEOUT_S = env_int("AUTOML_TUNING_TRIAL_TIMEOUT_S", 900)
# Clarify: the model part of a report (predictions, post-training metrics, SHAP) reads a seeded uniform sample of at
# most this many rows; the pre-training metrics read only their few columns, of at most CLARIFY_DATA_MAX_ROWS rows.
CLARIFY_MODEL_MAX_ROWS = env_int("CLARIFY_MODEL_MAX_ROWS", 100_000)
CLARIFY_DATA_MAX_ROWS = env_int("CLARIFY_DATA_MAX_ROWS", 20_000_000)
CLARIFY_FT_MAX_ROWS = env_int("CLARIFY_FT_MAX_ROWS", 20_000)  # FlipTest's k-NN on a seeded sample of the model rows
CLARIFY_SYNC_CHECK_ROWS = env_int("CLARIFY_SYNC_CHECK_ROWS", 1_000_000)  # label/facet values checked on start

# --- Model Registry ---------------------------------------------------------------------------------------------
# Types a skops file may contain beyond those skops trusts by default. sklearn.tree._tree.Tree is left out on purpose:
# crafted node arrays can crash predict in the server process (import tree models as ONNX instead).
REGISTRY_SKOPS_TRUSTED_TYPES = [t.strip() for t in env("REGISTRY_SKOPS_TRUSTED_TYPES", "").split(",") if t.strip()]
# Our own cap on an imported model file (skops or ONNX), enforced while the upload streams to disk.
REGISTRY_MAX_IMPORT_BYTES = env_int("REGISTRY_MAX_IMPORT_BYTES", 1024**3)
# skops' schema.json is checked before skops reads it: its size and its nesting depth.
REGISTRY_SKOPS_MAX_SCHEMA_BYTES = env_int("REGISTRY_SKOPS_MAX_SCHEMA_BYTES", 16 * 1024**2)
REGISTRY_SKOPS_MAX_SCHEMA_DEPTH = env_int("REGISTRY_SKOPS_MAX_SCHEMA_DEPTH", 200)

# --- Endpoints (serving) -------------------------------------------------------------------------------------
# The hot path (/endpoints/<name>/...) is a raw ASGI app in front of Django (apps/endpoints/serving/). It reads
# endpoints and key hashes from the DB at most every SERVING_CONFIG_REFRESH_S (a revoked key stops working within
# that), never per request. See docs/serving.md.
SERVING_ENABLED = env_bool("SERVING_ENABLED", True)  # False: this process leaves /endpoints/ to others
SERVING_CONFIG_REFRESH_S = float(env("SERVING_CONFIG_REFRESH_S", "2"))
SERVING_MAX_REQUEST_BYTES = env_int("SERVING_MAX_REQUEST_BYTES", 6 * 1024 * 1024)  # 413 above (as SageMaker)
SERVING_TIMEOUT_S = float(env("SERVING_TIMEOUT_S", "60"))  # 504 after this (an endpoint may set its own)
# prediction threads per serving process: predictions are CPU-bound, so run one process per core with one thread each
# (more threads than cores only share the cores and lengthen every request's latency)
SERVING_THREADS = env_int("SERVING_THREADS", 1)
SERVING_THREADS_PER_MODEL = env_int("SERVING_THREADS_PER_MODEL", 2)  # threads for one large prediction while CPU idles
# forests compiled to native code in the background for faster large batches (same answers; needs a C compiler)
SERVING_NATIVE_TREES = env_bool("SERVING_NATIVE_TREES", True)
SERVING_NATIVE_DIR = Path(env("SERVING_NATIVE_DIR", str(VAR_DIR / "native")))  # compiled forests, signed, per machine
SERVING_NATIVE_MAX_NODES = env_int("SERVING_NATIVE_MAX_NODES", 2_000_000)  # larger forests stay on FastForest
SERVING_NATIVE_CC = env("SERVING_NATIVE_CC", "cc")
SERVING_NATIVE_TIMEOUT_S = float(env("SERVING_NATIVE_TIMEOUT_S", "600"))  # a compile is stopped after this long
SERVING_NATIVE_RETRY_AFTER_S = float(env("SERVING_NATIVE_RETRY_AFTER_S", "3600"))  # a timed-out compile is tried again
SERVING_NATIVE_WAIT_EXTRA_S = float(env("SERVING_NATIVE_WAIT_EXTRA_S", "600"))  # a serving process waits for a worker
# The combined web process of `make run` serves forests with FastForest (no compiled code mapped into it) unless this
# is on; dedicated serving processes (studio/serving_asgi.py) and workers load compiled forests (ADR 0003).
SERVING_NATIVE_IN_WEB = env_bool("SERVING_NATIVE_IN_WEB", False)
SERVING_BATCH_MAX_ROWS = env_int("SERVING_BATCH_MAX_ROWS", 1000)  # adaptive batching of smaller requests; 0: off
SERVING_METRICS_FLUSH_S = float(env("SERVING_METRICS_FLUSH_S", "10"))
SERVING_CAPTURE_QUEUE = env_int("SERVING_CAPTURE_QUEUE", 10_000)  # records waiting; dropped beyond
SERVING_CAPTURE_FLUSH_S = float(env("SERVING_CAPTURE_FLUSH_S", "5"))
SERVING_CAPTURE_MAX_RECORD_BYTES = env_int("SERVING_CAPTURE_MAX_RECORD_BYTES", 256 * 1024)
SERVING_ASYNC_MAX_BYTES = env_int("SERVING_ASYNC_MAX_BYTES", 1024**3)  # async bodies, streamed to storage
SERVING_ASYNC_JSON_MAX_BYTES = env_int("SERVING_ASYNC_JSON_MAX_BYTES", 256 * 1024**2)  # parsed whole (CSV: in chunks)
SERVING_ASYNC_TTL_S = env_int("SERVING_ASYNC_TTL_S", 6 * 3600)  # not started by then: expired
# retention (hourly sweep, task endpoints.retention; 0 keeps forever): finished async requests and their results,
# captured request files (by capture hour), per-minute endpoint metrics
SERVING_ASYNC_RETENTION_S = env_int("SERVING_ASYNC_RETENTION_S", 7 * 24 * 3600)
SERVING_CAPTURE_RETENTION_DAYS = env_int("SERVING_CAPTURE_RETENTION_DAYS", 30)
SERVING_METRICS_RETENTION_DAYS = env_int("SERVING_METRICS_RETENTION_DAYS", 90)
SERVING_BATCH_CHUNK_ROWS = env_int("SERVING_BATCH_CHUNK_ROWS", 20_000)  # rows a batch transform reads at once
# Outbound webhooks (apps/core/ssrf.py): private, loopback, link-local, multicast and reserved addresses are
# refused unless listed here (CIDRs, e.g. "10.0.0.0/8").
SSRF_ALLOWED_NETWORKS = env_list("SSRF_ALLOWED_NETWORKS")
SSRF_TIMEOUT_S = float(env("SSRF_TIMEOUT_S", "5"))
# Webhook deliveries (apps/core/webhooks.py): attempts in all, and the wait after attempt n = BASE × FACTOR^(n-1)
# (defaults: 40 s, 2 min, 6 min, 18 min: five attempts over ~27 min); a rotated secret keeps signing beside the new
# one for WEBHOOK_SECRET_GRACE_S; the delivery log is kept WEBHOOK_DELIVERY_RETENTION_DAYS (0: forever).
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 5)
WEBHOOK_RETRY_BASE_S = float(env("WEBHOOK_RETRY_BASE_S", "40"))
WEBHOOK_RETRY_FACTOR = float(env("WEBHOOK_RETRY_FACTOR", "3"))
WEBHOOK_SECRET_GRACE_S = env_int("WEBHOOK_SECRET_GRACE_S", 24 * 3600)
WEBHOOK_DELIVERY_RETENTION_DAYS = env_int("WEBHOOK_DELIVERY_RETENTION_DAYS", 30)

# --- Caches ---------------------------------------------------------------------------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Invitations, tokens ----------------------------------------------------------------------------------
INVITATION_TTL = timedelta(hours=env_int("INVITATION_TTL_HOURS", 72))

# --- Logging --------------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

ATELIER_HOST = env("HOST", "127.0.0.1")
ATELIER_PORT = env_int("PORT", 8000)
ATELIER_PUBLIC_URL = env("PUBLIC_URL", f"http://{ATELIER_HOST}:{ATELIER_PORT}")

# --- Email: notifications (a job you started ended, a model version waits for your approval) are also emailed when
# EMAIL_HOST (or another EMAIL_BACKEND) is set. A worker task sends each; a failed send is logged, never fails a job.
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Atelier <atelier@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_SUBJECT_PREFIX = "[Atelier] "
NOTIFY_BY_EMAIL = bool(EMAIL_HOST or env("EMAIL_BACKEND"))


def redis_db_url(url: str, db: int) -> str:
    """Return a redis URL pointing at another logical database (used by tests to isolate runs)."""
    parsed = urlparse(url)
    return parsed._replace(path=f"/{db}").geturl()


# Ground Truth: how often the beat task releases expired labeling claims (seconds).
LABELING_CLAIM_SWEEP_S = float(env_int("LABELING_CLAIM_SWEEP_S", 60))
# How often beat starts the due automated-labeling rounds of the jobs that have it on (apps/labeling/tasks.py).
LABELING_AUTOLABEL_CHECK_S = float(env_int("LABELING_AUTOLABEL_CHECK_S", 300))

# --- Periodic tasks: declared here only; django-celery-beat copies them into the DB (editable in admin).
CELERY_BEAT_SCHEDULE = {
    "jobs-reap": {
        "task": "jobs.reap",
        "schedule": JOB_REAPER_INTERVAL_S,
        "options": {"expires": JOB_REAPER_INTERVAL_S},
    },
    "endpoints-retention": {"task": "endpoints.retention", "schedule": 3600.0, "options": {"expires": 3600}},
    "webhook-sweep": {"task": "core.webhook_sweep", "schedule": 300.0, "options": {"expires": 300}},
    # Ground Truth: claims past their time limit give their seat back (the claim path also sweeps its own job).
    "labeling-claims-expire": {
        "task": "labeling.claims_expire",
        "schedule": LABELING_CLAIM_SWEEP_S,
        "options": {"expires": LABELING_CLAIM_SWEEP_S},
    },
    "labeling-autolabel-rounds": {
        "task": "labeling.autolabel_rounds",
        "schedule": LABELING_AUTOLABEL_CHECK_S,
        "options": {"expires": LABELING_AUTOLABEL_CHECK_S},
    },
}

# Key for the HMAC on artifacts our workers write (apps/core/artifacts.py); derived from SECRET_KEY if unset.
ARTIFACT_SIGNING_KEY = env("ARTIFACT_SIGNING_KEY")

# Ground Truth (apps/labeling), sources of labeling jobs (jobs part): the most items one job may have; per uploaded
# image a byte cap and a pixel cap (checked from the header before decoding: decompression bombs); a zip of images
# a byte cap of its own (its members still go through ARCHIVE_*); a JSON Lines file of prompts a byte cap.
LABELING_MAX_ITEMS = env_int("LABELING_MAX_ITEMS", 1_000_000)
LABELING_MAX_IMAGE_BYTES = env_int("LABELING_MAX_IMAGE_BYTES", 20 * 1024**2)
LABELING_MAX_IMAGE_PIXELS = env_int("LABELING_MAX_IMAGE_PIXELS", 40_000_000)
LABELING_MAX_ZIP_BYTES = env_int("LABELING_MAX_ZIP_BYTES", 1024**3)
LABELING_MAX_PROMPTS_BYTES = env_int("LABELING_MAX_PROMPTS_BYTES", 256 * 1024**2)

# --- Ground Truth: automated labeling (apps/labeling/services/autolabel.py) ---------------------------------------
# Human labels a job needs before a round may start (a job's auto_labeling["min_human_labels"] overrides it).
LABELING_AUTOLABEL_MIN_HUMAN_LABELS = env_int("LABELING_AUTOLABEL_MIN_HUMAN_LABELS", 200)
# Share of the human labels held out to calibrate the confidence threshold (never trained on).
LABELING_AUTOLABEL_HOLDOUT_SHARE = float(env("LABELING_AUTOLABEL_HOLDOUT_SHARE", "0.3"))
# Held-out labels at or above the threshold it needs at least, and the z of the Wilson lower bound their accuracy
# must bring to the target (1.0: about 84 % one-sided confidence).
LABELING_AUTOLABEL_MIN_SUPPORT = env_int("LABELING_AUTOLABEL_MIN_SUPPORT", 20)
LABELING_AUTOLABEL_Z = float(env("LABELING_AUTOLABEL_Z", "1.0"))
# The Canvas build of a tabular round: its time budget (s) and, if set, a cap on its trials.
LABELING_AUTOLABEL_BUDGET_S = float(env("LABELING_AUTOLABEL_BUDGET_S", "60"))
LABELING_AUTOLABEL_MAX_TRIALS = env_int("LABELING_AUTOLABEL_MAX_TRIALS", 0) or None
# A job with auto_labeling["enabled"] gets its next round (autolabel_start_if_due) after this many new human labels.
LABELING_AUTOLABEL_STEP = env_int("LABELING_AUTOLABEL_STEP", 100)
