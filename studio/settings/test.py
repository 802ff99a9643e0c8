"""Test settings: the embedded shape by default, PostgreSQL + Redis when DATABASE_URL / CELERY_BROKER_URL say so.

Each pytest-xdist worker gets its own broker (folder or Redis database) so runs never cross.
A worker process started by a test gets ATELIER_TEST_DATABASE_NAME so it opens the test database.
"""

import os
import uuid

from .base import *  # noqa: F403
from .base import BROKER_DIR, CELERY_BROKER_URL, DATABASES, STORAGES, VAR_DIR, env, env_bool, redis_db_url

XDIST = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
XDIST_INDEX = int(XDIST[2:]) if XDIST.startswith("gw") and XDIST[2:].isdigit() else 0

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False

# One id per test run (inherited by xdist workers and by the worker/web processes tests start), so two
# test runs on one machine share neither database, broker queue nor media folder.
TEST_RUN = os.environ.setdefault("ATELIER_TEST_RUN", uuid.uuid4().hex[:8])

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test" / f"test_atelier_{TEST_RUN}.sqlite3")}
    (VAR_DIR / "test").mkdir(parents=True, exist_ok=True)
if env("ATELIER_TEST_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = env("ATELIER_TEST_DATABASE_NAME")

if CELERY_BROKER_URL.startswith("filesystem"):
    folder = BROKER_DIR / f"test-{XDIST}"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_URL = redis_db_url(CELERY_BROKER_URL, 1 + XDIST_INDEX)

CELERY_TASK_DEFAULT_QUEUE = f"atelier-test-{TEST_RUN}-{XDIST}"

MEDIA_ROOT = VAR_DIR / "test" / f"media-{TEST_RUN}-{XDIST}"
AUTOML_TUNING_DIR = VAR_DIR / "test" / f"tuning-{TEST_RUN}-{XDIST}"
JOB_HEARTBEAT_INTERVAL_S = 0.5
JOB_STALE_AFTER_S = 3.0
JOB_STREAM_POLL_S = 0.1
JOB_MODULES = [
    "apps.jobs.jobs",
    "apps.datasets.jobs",
    "apps.automl.jobs",
    "apps.unsupervised.jobs",
    "apps.endpoints.jobs",
    "apps.registry.jobs",
    "apps.clarify.jobs",
    "apps.labeling.jobs",
    "tests.jobkinds",
]
SERVING_CONFIG_REFRESH_S = 0.3
SERVING_METRICS_FLUSH_S = 0.5
SERVING_CAPTURE_FLUSH_S = 0.3
# Compiling every small forest the suite loads would keep a compiler busy in the background of unrelated tests;
# tests/registry/test_native.py turns it on where it is the subject.
SERVING_NATIVE_TREES = False
SERVING_NATIVE_DIR = VAR_DIR / "test" / f"native-{TEST_RUN}-{XDIST}"

# Static files: a live server started by a test (tests/e2e/conftest.py: studio_server) serves them as `make run` does,
# from a STATIC_ROOT that a collectstatic run filled (hashed names, gzip/brotli) and sets ATELIER_STATIC_COLLECTED=1.
# Tests that render pages in this process use the plain names, served from the source folders, with no collectstatic.
STATIC_ROOT = VAR_DIR / "test" / "static"
if not env_bool("ATELIER_STATIC_COLLECTED"):
    STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    WHITENOISE_USE_FINDERS = True
